"""Where the beats and bars are: exact from the score when the audio came from MIDI, else
estimated on a mono copy at a reduced rate (fast, and beats need no more than a few
milliseconds of resolution) by composer.loop.beats: a tempo estimate with librosa's prior and
Ellis' dynamic-programming beat tracker as librosa implements it, in numpy alone (importing
librosa and compiling its numba code took 3-6 s of every `composer loop`)."""

from __future__ import annotations

import numpy as np

from composer.audio import Clip, Grid
from composer.loop.beats import beat_track, tempo

ANALYSIS_RATE = 11025
ONSET_HOP = 64  # 5.8 ms at the analysis rate: where beats land
PERIOD_SEARCH, PERIOD_STEPS = 0.03, 61  # the comb's period: within 3 %, in 0.1 % steps
STEADY_STRENGTH = 0.6  # a steady comb collecting this share of the onset strength the
# tracked beats collect means steady music (constant-tempo renders: 0.63-1.07 measured;
# a groove drifting 6 % either way: 0.27)
ATTACK_SECONDS = 0.006  # short-time energy window for placing an attack
ATTACK_SEARCH = 0.025  # how far from the tracked beat the attack may lie


def mono_at(audio: np.ndarray, sample_rate: int, analysis_rate: int = ANALYSIS_RATE) -> np.ndarray:
    """Mono float32 at `analysis_rate` (soxr, the resampler librosa itself uses)."""
    mono = np.asarray(audio, dtype=np.float32)
    if mono.ndim == 2:
        mono = mono.mean(axis=1, dtype=np.float32)
    if sample_rate == analysis_rate:
        return np.ascontiguousarray(mono)
    import soxr

    return soxr.resample(mono, sample_rate, analysis_rate, quality="LQ").astype(np.float32)


def onset_envelope(mono: np.ndarray, analysis_rate: int, hop: int = ONSET_HOP) -> np.ndarray:
    """Spectral flux on log-spaced bands (rectified dB rise), one value per hop. Numpy only:
    librosa's onset_strength would add its feature module's start-up to every run."""
    from composer.loop.seam import band_db

    n_fft = 8 * hop  # 46 ms at 11025 Hz
    count = max(1, (len(mono) - n_fft) // hop + 1)
    padded = np.pad(mono, (n_fft // 2, n_fft // 2))
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop][:count + 1]
    level = band_db(frames, analysis_rate)
    rise = np.maximum(np.diff(level, axis=0, prepend=level[:1]), 0.0).mean(axis=1)
    return rise.astype(np.float32)


def attacks(mono: np.ndarray, analysis_rate: int, beats: np.ndarray) -> np.ndarray:
    """Each beat moved to the steepest rise of short-time (high-frequency weighted) energy
    within ATTACK_SEARCH of it. The tracker's beats sit on a 5.8 ms hop and its spectral
    frames see an attack before it happens; loop points belong where the attack starts."""
    if len(beats) == 0:
        return beats
    width = max(2, int(ATTACK_SECONDS * analysis_rate))
    search = int(ATTACK_SEARCH * analysis_rate)
    edge = np.diff(mono, prepend=mono[:1]).astype(np.float64) ** 2
    c = np.concatenate([[0.0], np.cumsum(edge)])
    offsets = np.arange(-search, search + 1)
    t = np.clip(beats[:, None] + offsets[None, :], width, len(mono) - width)
    after = c[t + width] - c[t]
    before = c[t] - c[t - width]
    floor = 1e-10 * (c[-1] / max(len(mono), 1)) * width + 1e-20
    rise = np.log(after + floor) - np.log(before + floor)
    return t[np.arange(len(t)), np.argmax(rise, axis=1)]


def steady_grid(envelope: np.ndarray, period: float, count: int) -> np.ndarray:
    """Envelope frames (float) phase + k * period' below `count`: the comb, with its period
    within PERIOD_SEARCH of `period` and its phase, that collects the most onset strength.
    Over a whole clip this pins the tempo down far more finely than one autocorrelation
    peak: the beats of music that keeps its tempo."""
    peak = np.maximum.reduce([np.roll(envelope, k) for k in (-1, 0, 1)])  # +-1 frame slack
    periods = period * (1.0 + np.linspace(-PERIOD_SEARCH, PERIOD_SEARCH, PERIOD_STEPS))
    phases = np.arange(max(1, int(period)))
    ticks = np.arange(int((count - 1) / period) + 1)
    best, strongest = None, -1.0
    for p in periods:  # a few dozen candidate tempi, each one vectorised comb
        at = np.round(phases[:, None] + ticks[None, :] * p).astype(np.int64)
        strength = np.where(at < count, peak[np.minimum(at, count - 1)], 0.0).sum(axis=1)
        i = int(np.argmax(strength))
        if strength[i] > strongest:
            strongest, best = float(strength[i]), phases[i] + ticks * p
    return best[best < count - 0.5]


def track(mono: np.ndarray, sample_rate: int, beats_per_bar: int = 4) -> tuple[Grid, np.ndarray]:
    """(grid, onset envelope) of mono audio at ANALYSIS_RATE; beats in `sample_rate` frames.

    Beats by Ellis' dynamic-programming tracker (composer.loop.beats, librosa's algorithm)
    at the global tempo. Where the music keeps that tempo (a steady comb at it hears nearly
    as much onset strength as the tracked beats) the comb is used instead: the tracker lets
    single beats wander after legato onsets, and a loop's length should be a whole number of
    *steady* beats. Each beat is then placed on its attack; the downbeat is the beat phase
    with the strongest onsets on average (bars most often begin with the loudest attack)."""
    envelope = onset_envelope(mono, ANALYSIS_RATE)
    bpm = tempo(envelope, ANALYSIS_RATE / ONSET_HOP)
    frames = beat_track(envelope, ANALYSIS_RATE / ONSET_HOP, bpm)
    period = 60.0 * ANALYSIS_RATE / ONSET_HOP / bpm
    if len(frames) <= beats_per_bar:
        # No pulse to track (a drone, noise, a lone chord): any loop is as good as any other
        # rhythmically, so lay a steady grid at the estimated tempo over the whole clip.
        bpm = bpm if 30.0 <= bpm <= 300.0 else 120.0
        frames_total = round(len(mono) * sample_rate / ANALYSIS_RATE)
        grid = Grid.from_tempo(bpm, frames_total, sample_rate, beats_per_bar)
        return Grid(beats=grid.beats, beats_per_bar=beats_per_bar), envelope
    comb = steady_grid(envelope, period, len(envelope))
    peak = np.maximum.reduce([np.roll(envelope, k) for k in (-1, 0, 1)])
    if peak[np.round(comb).astype(np.int64)].mean() >= STEADY_STRENGTH * peak[frames].mean():
        # Steady: keep the comb's exact spacing, moved as a whole onto the attacks.
        samples = comb * ONSET_HOP
        moved = attacks(mono, ANALYSIS_RATE, np.round(samples).astype(np.int64)) - samples
        at = samples + float(np.median(moved))
        frames = np.round(comb).astype(np.int64)
    else:
        at = attacks(mono, ANALYSIS_RATE, frames * ONSET_HOP)
    beats = np.unique(np.round(at * (sample_rate / ANALYSIS_RATE)).astype(np.int64))
    downbeat = _downbeat(envelope, frames, beats_per_bar)
    return Grid(beats=beats, beats_per_bar=beats_per_bar, downbeat=downbeat), envelope


def estimate_grid(audio: np.ndarray, sample_rate: int, beats_per_bar: int = 4) -> Grid:
    """The beat grid of audio (frames[, channels]) without a score."""
    return track(mono_at(audio, sample_rate), sample_rate, beats_per_bar)[0]


def _downbeat(envelope: np.ndarray, frames: np.ndarray, beats_per_bar: int) -> int:
    if len(frames) < 2 * beats_per_bar:
        return 0
    strength = envelope[np.clip(frames, 0, len(envelope) - 1)]
    usable = len(strength) // beats_per_bar * beats_per_bar
    per_phase = strength[:usable].reshape(-1, beats_per_bar).mean(axis=0)
    return int(np.argmax(per_phase))


def grid_for(clip: Clip, mono: np.ndarray) -> tuple[Grid, np.ndarray | None]:
    """The clip's exact grid when its tempo is known, else an estimate from `mono` (the clip
    at ANALYSIS_RATE); with the onset envelope when one was computed."""
    exact = clip.grid()
    if exact is not None:
        return exact, None
    return track(mono, clip.sample_rate, clip.beats_per_bar)
