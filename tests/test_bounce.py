"""Rendering to a file in bounded memory (issue 14): the streamed render is the in-memory one,
its loudness meter is the whole-file one, long files are refused before synthesis, and the
voice-shortage flood is one line.
"""

from __future__ import annotations

import subprocess
import sys

import factories as f
import mido
import numpy as np
import pytest
import soundfile

from composer.render import Renderer, RenderError, check_length, read_sequence
from composer.render.bounce import bounce
from composer.render.loudness import (
    LoudnessMeter,
    gated_loudness,
    integrated_loudness,
    k_weighted,
)

SR = 44100


@pytest.fixture(scope="module")
def dry():
    """No reverb or chorus: their modulation's phase carries over from render to render, so
    only a dry synth renders the same music to the same samples twice."""
    with Renderer(reverb=False, chorus=False) as r:
        yield r


def one_long_note(path, minutes: float, ticks_per_beat: int = 96):
    """The MIDI bomb of the issue: a file of about 60 bytes holding one note `minutes` long."""
    song = mido.MidiFile(ticks_per_beat=ticks_per_beat)
    track = mido.MidiTrack()
    track.append(mido.Message("note_on", note=60, velocity=90, time=0))
    track.append(mido.Message("note_off", note=60, velocity=0,
                              time=round(minutes * 120 * ticks_per_beat)))  # 120 bpm
    song.tracks.append(track)
    song.save(str(path))
    return path


def sparse_piece(path, minutes: float):
    """A note every two seconds for `minutes`: long audio that is cheap to synthesise."""
    notes = [(48 + (i * 7) % 36, 2.0 * i, 2.0 * i + 1.5) for i in range(int(minutes * 30))]
    return f.write_midi(path, notes)


def test_the_streaming_meter_measures_what_the_whole_does():
    rng = np.random.default_rng(1)
    for rate in (22050, 44100, 48000):
        audio = (rng.standard_normal((rate * 37, 2)) * 0.1).astype(np.float32)
        audio[rate * 5:rate * 12] *= 0.001  # a quiet stretch the relative gate drops
        audio[rate * 20:rate * 21] = 0.0
        whole = gated_loudness(k_weighted(audio, rate), rate)
        meter = LoudnessMeter(rate)
        start = 0
        while start < len(audio):  # blocks of every size, down to a single frame
            size = int(rng.choice([1, 63, 4410, 30000, 70001]))
            meter.add(audio[start:start + size])
            start += size
        assert meter.loudness() == pytest.approx(whole, abs=1e-4)
        assert meter.peak == pytest.approx(float(np.abs(audio).max()))
        assert integrated_loudness(audio, rate) == pytest.approx(whole, abs=1e-4)
    short = LoudnessMeter(SR)
    short.add(audio[:SR // 10])  # shorter than a gating block: measured as if it repeated
    assert short.loudness() == pytest.approx(integrated_loudness(audio[:SR // 10], SR))
    silent = LoudnessMeter(SR)
    silent.add(np.zeros((SR, 2), np.float32))
    assert silent.loudness() == float("-inf")


@pytest.mark.parametrize("lufs", [-16.0, -7.0])  # -7: the limiter has peaks to catch
def test_a_bounce_is_the_in_memory_render_normalised(dry, chorales, tmp_path, lufs):
    sequence = read_sequence(chorales[1])
    dry.render(sequence)  # the first notes of each preset a synth plays come out a little apart
    dry.lufs = lufs
    try:
        whole = dry.render(sequence)
        done = bounce(dry, sequence, tmp_path / "out.wav", depth="float")
    finally:
        dry.lufs = -16.0
    written, rate = soundfile.read(str(tmp_path / "out.wav"), dtype="float32")
    assert rate == SR and written.shape == whole.audio.shape
    assert np.abs(written - whole.audio).max() < 1e-4
    assert done.limited == (lufs == -7.0)
    assert done.loudness == pytest.approx(integrated_loudness(written, SR), abs=0.01)
    assert done.peak_db <= -1.0 + 1e-4
    assert done.seconds == pytest.approx(sequence.total_time, abs=1e-4) and done.tail > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.wav"]


def test_an_interrupted_bounce_leaves_nothing_and_a_silent_synth(dry, chorales, tmp_path):
    sequence = read_sequence(chorales[0])
    dry.render(sequence)

    def stop(stage, done, total):
        if done >= 3:
            raise KeyboardInterrupt

    first = bounce(dry, sequence, tmp_path / "a.wav", depth="float")
    with pytest.raises(KeyboardInterrupt):
        bounce(dry, sequence, tmp_path / "out.wav", progress=stop)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.wav"]
    again = bounce(dry, sequence, tmp_path / "b.wav", depth="float")  # nothing held over
    a, _ = soundfile.read(str(first.path), dtype="float32")
    b, _ = soundfile.read(str(again.path), dtype="float32")
    assert a.shape == b.shape and np.abs(a - b).max() < 1e-6


def test_an_hour_long_note_is_refused_before_any_synthesis(tmp_path):
    bomb = one_long_note(tmp_path / "bomb.mid", 59)
    assert bomb.stat().st_size < 80
    out = tmp_path / "out.wav"
    result = f.run_cli("render", bomb, "-o", out, timeout=60)
    assert result.returncode == 1 and not out.exists()
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"error: {bomb}: would render 59.1 minutes of audio")
    assert "--max-minutes 60" in result.stderr
    sequence = read_sequence(bomb)
    check_length(sequence, bomb, 60, tail=5.0)  # raising the limit lets it through
    with pytest.raises(RenderError, match="30-minute limit"):
        check_length(sequence, bomb)


def test_a_chord_beyond_the_polyphony_is_one_warning_line(tmp_path):
    chord = tmp_path / "chord.mid"
    song = mido.MidiFile(ticks_per_beat=96)
    for channel in range(16):
        track = mido.MidiTrack()
        track += [mido.Message("note_on", channel=channel, note=n, velocity=100, time=0)
                  for n in range(128)]
        track.append(mido.Message("note_off", channel=channel, note=0, time=192))
        track += [mido.Message("note_off", channel=channel, note=n, time=0)
                  for n in range(1, 128)]
        song.tracks.append(track)
    song.save(str(chord))
    result = f.run_cli("render", chord, "-o", tmp_path / "chord.wav", check=True)
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1, result.stderr[:2000]
    assert warnings[0].startswith(f"warning: {chord}: FluidSynth had no free voice for ")
    assert "Failed to allocate" not in result.stderr


def peak_memory_mb(*args: str) -> float:
    """`composer ARGS` in a fresh process; its peak resident memory in MB."""
    code = ("import resource, sys\nfrom composer.cli import main\n"
            f"sys.argv = ['composer', *{list(args)!r}]\n"
            "try:\n    main()\nexcept SystemExit as exit:\n    assert not exit.code, exit.code\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=600, check=True)
    return int(result.stderr.strip().splitlines()[-1]) / 1024


def test_render_and_loop_memory_does_not_grow_with_the_length(tmp_path):
    """Held in memory, 7 more minutes of audio would cost about 900 MB more."""
    short, long = sparse_piece(tmp_path / "1min.mid", 1), sparse_piece(tmp_path / "8min.mid", 8)
    render = [peak_memory_mb("render", str(song), "-o", str(tmp_path / f"{song.stem}.wav"))
              for song in (short, long)]
    assert render[1] - render[0] < 60, render
    assert soundfile.info(str(tmp_path / "8min.wav")).duration > 7.9 * 60
    loop = [peak_memory_mb("loop", str(tmp_path / f"{name}.wav"), "-o",
                           str(tmp_path / f"{name}-loop.wav"), "--window", "60")
            for name in ("1min", "8min")]
    assert loop[1] - loop[0] < 60, loop
