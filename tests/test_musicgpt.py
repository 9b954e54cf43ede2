"""MusicGPT as the audio generator, against stand-in executables (tests/musicgpt_standin.py):
the real binary downloads its models at run time, which cannot happen here. The stand-ins
check the command line the way MusicGPT parses it, then write a real WAV, or crash, hang,
write garbage, silence, too little or NaN.
"""

from __future__ import annotations

import os
import threading
import time
import warnings

import factories as f
import musicgpt_standin as standin
import pytest
import soundfile

from composer.musicgpt import MusicGptError, MusicGptRequest, find_binary, generate

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from composer.player import Player, PlaySettings, open_sink
    from composer.player.events import LoopStarted, PlayerError


@pytest.fixture
def log(tmp_path, monkeypatch):
    path = tmp_path / "calls.jsonl"
    monkeypatch.setenv("STANDIN_LOG", str(path))
    return path


def test_a_clip_is_asked_for_with_musicgpts_own_flags_and_checked(tmp_path, log):
    binary = standin.write(tmp_path / "musicgpt", "good")
    seen = []
    clip = generate(binary, MusicGptRequest("calm piano", seconds=4, model="small-quant",
                                            data_path=str(tmp_path / "models")),
                    sample_rate=44100, progress=seen.append)
    assert clip.sample_rate == 44100 and clip.audio.shape == (4 * 44100, 2)
    assert clip.qpm is None  # the loop detector estimates the grid
    assert seen and seen[-1] == 1.0  # its "NN%" lines
    [call] = standin.calls(log)
    assert call["prompt"] == "calm piano"
    assert call["args"] == {"--secs": "4", "--model": "small-quant",
                            "--output": call["args"]["--output"], "--no-playback": True,
                            "--no-interactive": True, "--data-path": str(tmp_path / "models")}


@pytest.mark.parametrize("behaviour, words", [
    ("crash", "MusicGPT exited with 3: Error: failed to download model: connection refused"),
    ("garbage", "MusicGPT wrote a file that is not audio"),
    ("silence", "MusicGPT's audio is silent"),
    ("short", "MusicGPT wrote 2.0 s of audio, asked for 6"),
    ("nan", "MusicGPT's audio holds NaN"),
])
def test_every_bad_outcome_is_one_line_that_says_why(tmp_path, behaviour, words):
    binary = standin.write(tmp_path / "musicgpt", behaviour)
    with pytest.raises(MusicGptError) as caught:
        generate(binary, MusicGptRequest("x", seconds=6))
    assert words in str(caught.value) and "\n" not in str(caught.value)


def test_a_hung_musicgpt_is_killed_with_its_children_at_the_timeout(tmp_path, log):
    binary = standin.write(tmp_path / "musicgpt", "hang")
    started = time.monotonic()
    with pytest.raises(MusicGptError, match="took longer than 1.5 s; stopped it"):
        generate(binary, MusicGptRequest("x", seconds=5, timeout=1.5))
    assert time.monotonic() - started < 6
    pids = [c.get("pid") or c.get("grandchild") for c in standin.calls(log)]
    assert len(pids) == 2 and not any(standin.alive(pid) for pid in pids)


def test_the_binary_is_found_in_the_documented_order(tmp_path, monkeypatch):
    named = standin.write(tmp_path / "named", "good")
    env = standin.write(tmp_path / "from-env", "good")
    path_dir = tmp_path / "bin"
    path_dir.mkdir()
    on_path = standin.write(path_dir / "musicgpt", "good")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", f"{path_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("COMPOSER_MUSICGPT", str(env))
    assert find_binary(named) == named.resolve()
    assert find_binary() == env.resolve()
    monkeypatch.delenv("COMPOSER_MUSICGPT")
    assert find_binary() == on_path.resolve()
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    release = standin.write(tmp_path / "musicgpt-x86_64-unknown-linux-gnu", "good")
    assert find_binary() == release.resolve()
    release.unlink()
    with pytest.raises(MusicGptError, match="MusicGPT is not installed .*releases"):
        find_binary()
    with pytest.raises(MusicGptError, match="nowhere: no such file"):
        find_binary(tmp_path / "nowhere")


def _play_file(tmp_path, binary, *extra):
    wav = tmp_path / "out.wav"
    result = f.run_cli("play", "--engine", "musicgpt", "--prompt", "calm piano", "--musicgpt",
                       binary, "-o", wav, "--minutes", "0.4", "--loop-seconds", "6", *extra)
    return result, wav


def test_play_writes_musicgpts_loops_at_their_own_tempo(tmp_path, log):
    result, wav = _play_file(tmp_path, standin.write(tmp_path / "musicgpt", "good"))
    assert result.returncode == 0, result.stderr
    assert "prompt: calm -> major, piano -> program 0" in result.stderr
    assert "failed" not in result.stderr
    assert soundfile.info(str(wav)).duration == pytest.approx(24.0, abs=0.01)
    summary = f.lines(result.stdout)[-1]
    qpm = float(summary.split(" loops at ")[1].split(" qpm")[0])
    assert qpm == pytest.approx(100.0, abs=1.0)  # the clips' beat, estimated, not 120 or 70
    assert {c["prompt"] for c in standin.calls(log)} == {"calm piano"}


def test_play_falls_back_to_the_midi_path_after_two_failures(tmp_path, log):
    result, wav = _play_file(tmp_path, standin.write(tmp_path / "musicgpt", "crash"))
    assert result.returncode == 0, result.stderr
    fallback = ("MusicGPT failed twice (MusicGPT exited with 3: Error: failed to download "
                "model: connection refused); the MIDI path plays this slot")
    slots = f.lines(result.stderr).count(fallback)
    assert slots >= 1
    assert soundfile.info(str(wav)).duration == pytest.approx(24.0, abs=0.01)
    assert len(standin.calls(log)) >= 2 * slots  # each slot tried twice (one more may have
    # begun ahead when the file was full)


def test_play_refuses_a_missing_binary_and_a_missing_prompt_in_one_line(tmp_path):
    missing = f.run_cli("play", "--engine", "musicgpt", "--prompt", "x", "--musicgpt",
                        tmp_path / "none", "-o", tmp_path / "x.wav")
    assert missing.returncode == 1 and not (tmp_path / "x.wav").exists()
    assert f.lines(missing.stderr)[-1].startswith(f"error: {tmp_path / 'none'}: no such file")
    bare = f.run_cli("play", "--engine", "musicgpt", "-o", tmp_path / "x.wav")
    assert bare.returncode == 1 and "give --prompt" in bare.stderr


def _live_player(tmp_path, behaviour: str, delay: float, **settings):
    binary = standin.write(tmp_path / "musicgpt", behaviour, delay)
    values = dict(model="lstm", source="musicgpt", prompt="calm piano", musicgpt=str(binary),
                  clip_seconds=6, bars=2, loop_seconds=4.0, crossfade_beats=1.0, seed=1)
    values.update(settings)
    sink = open_sink("null", 44100, paced=True)  # real time, no device
    player = Player(PlaySettings(**values), sink)
    heard: list[tuple[float, object]] = []
    started = time.monotonic()
    player.subscribe(lambda e: heard.append((time.monotonic() - started, e)))
    return player.start(), heard


def _wait(condition, timeout: float) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)


def test_live_the_midi_path_plays_at_once_and_the_first_clip_comes_in_when_ready(tmp_path, log):
    player, heard = _live_player(tmp_path, "good", delay=3.0)
    try:
        loops = lambda: [(t, e.loop) for t, e in heard if isinstance(e, LoopStarted)]  # noqa: E731
        _wait(lambda: any(loop.phrase is None for _, loop in loops()), 30)
        first_at, first = loops()[0]
        assert first.phrase is not None and first_at < 6  # the MIDI path, within seconds
        audio_at = next(t for t, loop in loops() if loop.phrase is None)
        ready_at = 3.0  # the stand-in's delay; it writes in well under a second more
        assert audio_at < ready_at + 8  # brought in at a bar line, not after the queue
        assert player.status().note.startswith("musicgpt: ")
    finally:
        player.stop()
    assert not any(isinstance(e, PlayerError) for _, e in heard)
    assert not any(standin.alive(c["pid"]) for c in standin.calls(log) if "pid" in c)


def test_live_a_pause_stops_musicgpt_and_a_crash_is_one_line_while_music_goes_on(tmp_path, log):
    player, heard = _live_player(tmp_path, "hang", delay=0.0)
    try:
        _wait(lambda: standin.calls(log), 20)
        pid = standin.calls(log)[0]["pid"]
        player.pause()
        _wait(lambda: not standin.alive(pid), 5)
        player.resume()
    finally:
        player.stop()
    crash, heard = _live_player(tmp_path, "crash", delay=0.0)
    try:
        _wait(lambda: any(isinstance(e, PlayerError) for _, e in heard), 30)
        _wait(lambda: crash.status().seconds_played > 2, 20)  # the MIDI path plays on
    finally:
        crash.stop()
    errors = [e.message for _, e in heard if isinstance(e, PlayerError)]
    assert errors[0].startswith("MusicGPT failed twice (MusicGPT exited with 3")
    assert threading.active_count() < 50


def test_a_playing_player_switches_to_musicgpt_and_back(tmp_path, log):
    binary = standin.write(tmp_path / "musicgpt", "good", 1.0)
    player = Player(PlaySettings(model="lstm", bars=2, loop_seconds=3.0, crossfade_beats=1.0,
                                 seed=2), open_sink("null", 44100, paced=True))
    heard = []
    player.subscribe(heard.append)
    player.start()
    try:
        _wait(lambda: any(isinstance(e, LoopStarted) for e in heard), 20)
        with pytest.raises(MusicGptError):  # not there: the player plays on as it was
            player.set(source="musicgpt", prompt="calm piano", musicgpt=str(tmp_path / "no"))
        assert player.settings.source == "midi"
        player.set(source="musicgpt", prompt="calm piano", musicgpt=str(binary))
        _wait(lambda: any(isinstance(e, LoopStarted) and e.loop.phrase is None
                          for e in heard), 30)
        player.set(source="midi")
        count = len(heard)
        _wait(lambda: any(isinstance(e, LoopStarted) and e.loop.phrase is not None
                          for e in heard[count:]), 30)
    finally:
        player.stop()
    assert not any(standin.alive(c["pid"]) for c in standin.calls(log) if "pid" in c)
