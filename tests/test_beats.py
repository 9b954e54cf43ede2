"""The loop detector's own tempo estimate and beat tracker (composer.loop.beats): the tempo of
rendered MIDI at known tempi, frame-for-frame agreement with librosa's tracker it replaced,
and `composer loop` starting without librosa, numba or scipy.signal."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import soundfile
import factories as f
from factories import ROOT, run_cli

from composer.loop import estimate_grid
from composer.loop.beats import beat_track, tempo
from composer.loop.grid import ANALYSIS_RATE, ONSET_HOP, mono_at, onset_envelope

SR = 44100
FRAME_RATE = ANALYSIS_RATE / ONSET_HOP


@pytest.mark.parametrize("qpm", [90.0, 120.0, 150.0])
def test_the_tempo_and_beats_of_rendered_midi_at_a_known_tempo(tmp_path, qpm):
    mid = f.drum_and_bass(tmp_path / "in.mid", qpm, bars=int(12.0 * qpm / 240.0))
    run_cli("render", mid, "-o", tmp_path / "in.wav", check=True)
    audio, rate = soundfile.read(str(tmp_path / "in.wav"), dtype="float32", always_2d=True)
    audio = audio[:int(12.0 * rate)]
    envelope = onset_envelope(mono_at(audio, rate), ANALYSIS_RATE)
    bpm = tempo(envelope, FRAME_RATE)
    assert bpm == pytest.approx(qpm, rel=0.01)
    frames = beat_track(envelope, FRAME_RATE, bpm)
    assert abs(len(frames) - 12.0 * qpm / 60.0) <= 2
    assert np.median(np.diff(frames)) / FRAME_RATE == pytest.approx(60.0 / qpm, rel=0.01)
    # The detector's grid (the tracker's beats, moved onto their attacks) is on the score's.
    beats = estimate_grid(audio, rate).beats / rate
    beat = 60.0 / qpm
    off = (beats + beat / 2) % beat - beat / 2
    assert len(beats) >= 12.0 / beat - 2 and np.max(np.abs(off)) <= 0.010


def test_the_tracker_returns_librosas_beats_frame_for_frame():
    librosa = pytest.importorskip("librosa")
    rng = np.random.default_rng(0)
    envelopes = []
    for bpm in (90.0, 120.0, 150.0):  # click tracks with a little noise, 8 s
        t = np.arange(int(8 * FRAME_RATE)) / FRAME_RATE
        envelope = (np.abs((t + 0.13) % (60.0 / bpm)) < 0.012).astype(np.float32)
        envelopes.append(envelope + 0.05 * rng.random(len(t), dtype=np.float32))
    for n in (60, 700, 2500):  # sparse random onsets, silent ends
        envelope = np.maximum(rng.standard_normal(n), 0.0).astype(np.float32) ** 3
        envelope[:n // 5] = 0.0
        envelope[-n // 7:] = 0.0
        envelopes.append(envelope)
    for envelope in envelopes:
        for bpm in (tempo(envelope, FRAME_RATE), 77.0, 143.0):
            _, theirs = librosa.beat.beat_track(onset_envelope=envelope, sr=ANALYSIS_RATE,
                                                hop_length=ONSET_HOP, bpm=bpm, trim=False,
                                                units="frames")
            assert np.array_equal(beat_track(envelope, FRAME_RATE, bpm), theirs), bpm
    assert len(beat_track(np.zeros(100, np.float32), FRAME_RATE, 120.0)) == 0


def test_composer_loop_runs_without_librosa_numba_or_scipy_signal(tmp_path):
    """Their imports (and numba's compiling) were 3-5 s of every `composer loop`."""
    t = np.arange(int(8 * SR)) / SR
    clicks = np.sin(2 * np.pi * 1000 * t) * (t % 0.5 < 0.02) * np.exp(-(t % 0.5) * 200)
    clicks += np.sin(2 * np.pi * 110 * t) * 0.2
    soundfile.write(str(tmp_path / "in.wav"), clicks.astype(np.float32), SR)
    code = ("import sys\n"
            f"sys.argv = ['composer', 'loop', {str(tmp_path / 'in.wav')!r}, "
            f"'-o', {str(tmp_path / 'out.wav')!r}]\n"
            "try:\n"
            "    from composer.cli import main\n"
            "    main()\n"
            "finally:\n"
            "    print('LOADED', [m for m in ('librosa', 'numba', 'scipy.signal') "
            "if m in sys.modules])\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out.wav").exists()
    assert "LOADED []" in result.stdout, result.stdout
