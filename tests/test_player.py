"""The continuous player with the shipped models, the real FluidSynth and the GM soundfont:
into a file, into SDL's dummy speakers, from the command line and with a failing generator."""

from __future__ import annotations

import time

import numpy as np
import pytest
import soundfile
from factories import run_cli

from composer.loop import read_loop_points
from composer.player import FileSink, MidiLoopMaker, Player, PlaySettings, SpeakerSink, parse_setting

RATE = 44100


def window_db(audio: np.ndarray, seconds: float = 0.1) -> np.ndarray:
    w = int(seconds * RATE)
    n = len(audio) // w * w
    power = (audio[:n] ** 2).mean(axis=1).reshape(-1, w).mean(axis=1)
    return 10 * np.log10(power + 1e-20)


def join_jumps(audio: np.ndarray, joins) -> np.ndarray:
    """The largest sample-to-sample step within 2 samples of each join, over the 99.9th
    percentile of steps across the whole recording: a discontinuity made by the player (a
    dropped or repeated block, a crossfade starting at full gain) is a step far above what
    the music itself does from one sample to the next."""
    steps = np.abs(np.diff(audio, axis=0)).max(axis=1)
    reference = np.percentile(steps, 99.9)
    joins = np.array([j for j in joins if 2 < j < len(steps) - 2])
    near = np.stack([steps[joins + k] for k in (-3, -2, -1, 0, 1)]).max(axis=0)
    return near / reference


def test_play_cli_writes_exactly_a_minute_at_the_target_loudness(tmp_path):
    out = tmp_path / "one-minute.wav"
    result = run_cli("play", "--minutes", "1", "-o", out, "--seed", "3",
                     "--loop-seconds", "12", check=True)
    assert "first sound after" in result.stdout and str(out) in result.stdout
    audio, rate = soundfile.read(str(out))
    assert rate == RATE and audio.shape == (60 * RATE, 2)
    import pyloudnorm

    assert abs(pyloudnorm.Meter(RATE).integrated_loudness(audio) + 16.0) < 2.0
    assert np.abs(audio).max() < 0.95
    # Never a gap: a solo line may rest for a moment, but no half second is silent.
    assert window_db(audio, 0.5).min() > -60.0
    # No clicks where the player joins loops: 8-bar loops of 16 s play once each (the
    # 12 s asked for, in whole repetitions) and crossfade over the next bar, so the joins
    # are at 16, 18, 32, 34, 48 and 50 s.
    joins = [round(t * RATE) for k in (1, 2, 3) for t in (16 * k, 16 * k + 2)]
    assert join_jumps(audio, joins).max() <= 1.0


def test_two_minutes_with_a_failing_generator_leave_no_gap_and_no_click(tmp_path):
    settings = PlaySettings(model="gan", seed=5, bars=4, loop_seconds=8.0)
    real = MidiLoopMaker(settings)
    calls = {"n": 0}

    made = []

    def flaky():
        calls["n"] += 1
        if calls["n"] % 2 == 0:
            raise RuntimeError("injected generator failure")
        if calls["n"] % 5 == 0:
            time.sleep(1.0)  # and sometimes slow
        made.append(real())
        return made[-1]

    path = tmp_path / "two-minutes.wav"
    player = Player(settings, FileSink(path), make=flaky)
    player.producer.retry = 0.05
    with player:
        player.run(120.0)
        joins = list(player.stream.joins)
        stream = player.stream
    assert player.producer.errors >= 3
    assert stream.silent_frames == 0 and stream.switches >= 5
    audio, _ = soundfile.read(str(path))
    assert audio.shape == (120 * RATE, 2)
    assert window_db(audio).min() > -70.0
    assert len(joins) > 10
    # Each loop's own seam is no more abrupt than its music (the player starts each period
    # up to 17 ms before its downbeat to keep the seam off the first attack)...
    assert all(loop.seam.ok for loop in made), [loop.seam for loop in made]
    assert all(0 <= loop.downbeat <= 0.02 * RATE for loop in made)
    # ...and the stream adds no discontinuity where it wraps a loop or crossfades.
    assert join_jumps(audio, joins).max() <= 1.0
    # Crossfades keep loudness continuous: no 100 ms window near a switch drops 6 dB below
    # the median level of its neighbourhood.
    level = window_db(audio)
    for join in joins:
        i = join // int(0.1 * RATE)
        around = level[max(0, i - 20):i + 20]
        assert around[18:22].min() > np.median(around) - 10.0


@pytest.fixture
def dummy_speakers(monkeypatch):
    monkeypatch.setenv("SDL_AUDIODRIVER", "dummy")


def wait_for(condition, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)


def test_controls_on_the_speakers(dummy_speakers, tmp_path):
    settings = PlaySettings(model="lstm", seed=2, bars=2, loop_seconds=60.0)
    player = Player(settings, SpeakerSink()).start()
    try:
        wait_for(lambda: player.status().seconds_played > 0.5)
        assert player.first_sound is not None and player.first_sound < 10
        status = player.status()
        assert status.state == "playing" and status.qpm == 120 and status.key
        assert status.seconds_ahead > 0
        player.pause()
        time.sleep(0.3)
        paused_at = player.status().seconds_played
        time.sleep(0.5)
        assert player.status().seconds_played == paused_at and player.status().state == "paused"
        player.resume()
        wait_for(lambda: player.status().seconds_played > paused_at + 0.3)
        wait_for(lambda: player.status().next_ready)
        player.next()
        wait_for(lambda: player.stream.switches == 1, timeout=10)
        written = player.save(tmp_path / "loop.wav")
        points = read_loop_points(written[0])
        audio, rate = soundfile.read(str(written[0]))
        assert rate == RATE and len(audio) == 2 * 2 * RATE  # two bars at 120 bpm
        assert points.start == 0 and points.end == len(audio)
        assert written[1].suffix == ".mid" and written[1].stat().st_size > 100
        player.set(qpm=100.0)
        assert player.settings.qpm == 100.0
        with pytest.raises(ValueError, match="qpm must be between"):
            player.set(qpm=1000.0)
        with pytest.raises(ValueError, match="qpm: 'fast' is not a number"):
            parse_setting("qpm", "fast")
    finally:
        player.stop()
    assert player.status().state == "stopped"


def test_no_audio_device_says_so_in_one_line(tmp_path):
    env = {"SDL_AUDIODRIVER": "no-such-driver"}
    result = run_cli("play", "--minutes", "0.05", env=env)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "no audio device" in lines[0] and "-o FILE.wav" in lines[0]
    fallback = tmp_path / "fallback.wav"
    result = run_cli("play", "--minutes", "0.05", "--fallback-out", fallback, env=env)
    assert result.returncode == 0, result.stderr
    assert soundfile.info(str(fallback)).frames == round(0.05 * 60 * RATE)


@pytest.mark.parametrize("args, message", [
    (["--model", "nope"], "unknown model"),
    (["--qpm", "0"], "between"),
    (["-o", "x.mp3"], "x.mp3"),
    (["--minutes", "-1", "-o", "x.wav"], "--minutes"),
])
def test_bad_play_options_are_one_line_errors(tmp_path, args, message):
    result = run_cli("play", *[str(tmp_path / a) if a.startswith("x.") else a for a in args])
    assert result.returncode == 1
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())  # nothing half-written



def test_listeners_hear_loops_crossfades_saves_and_errors(tmp_path):
    from composer.player import (
        CrossfadeStarted,
        LoopSaved,
        LoopStarted,
        NullSink,
        PlayerError,
        StateChanged,
    )

    settings = PlaySettings(model="vae-2bar", seed=1, bars=2, qpm=100.0, loop_seconds=4.0,
                            crossfade_beats=2.0)
    real = MidiLoopMaker(settings)
    calls = {"n": 0}

    def once_failing():
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("injected")
        return real()

    heard = []
    player = Player(settings, NullSink(), make=once_failing)
    player.producer.retry = 0.01
    player.subscribe(heard.append)
    with player:
        player.run(20.0)
        saved = player.save(tmp_path / "now.wav")
    kinds = [type(e) for e in heard]
    assert kinds[0] is StateChanged and heard[0].state == "playing"
    starts = [e for e in heard if isinstance(e, LoopStarted)]
    fades = [e for e in heard if isinstance(e, CrossfadeStarted)]
    assert len(starts) >= 3 and len(fades) == len(starts) - 1
    assert starts[0].frame == 0 and starts[0].qpm == 100.0
    assert starts[0].phrase.bars == 2 and starts[0].phrase.qpm == 100.0
    bar = 2 * 4 * 60 / 100 * RATE / 2
    for fade, start in zip(fades, starts[1:]):
        assert fade.frame == start.frame and fade.frame % round(bar) in (0,)
        assert fade.frames == round(2 * 60 / 100 * RATE)
    assert any(isinstance(e, PlayerError) and "injected" in e.message for e in heard)
    assert [e for e in heard if isinstance(e, LoopSaved)][0].paths == tuple(saved)
    assert isinstance(heard[-1], StateChanged) and heard[-1].state == "stopped"
