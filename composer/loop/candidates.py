"""Every loop the grid allows, scored at once: starts on beats, lengths in whole bars.

A seam sounds right when the loop's end leads into its start the way the music led into it
the first time. So for a loop [s, e) each score compares the audio around e with the audio
around s, all of it as array operations over the (start, length) matrix:

    spectral     band levels just before / after e vs just before / after s, and of the
                 whole beats on either side (what leads in, what follows)
    continuity   normalised cross-correlation of the waveforms across the two points,
                 best over a small lag (the lag is kept: it is the length correction)
    phase        magnitude-weighted phase agreement of the two spectra at that lag
    beat         how much the points look like beats (estimated grids only)
    priors       a small preference for bar lines and 1, 2, 4, 8-bar lengths
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from composer.audio import Grid
from composer.fir import fft
from composer.loop.seam import band_db, band_power, to_db

CONTEXT = 1024  # samples at the analysis rate (93 ms at 11025 Hz) on each side of a point
WAVE = 512  # half-window for the waveform correlation
SPECTRAL_DB = 6.0  # band-level difference at which spectral similarity falls to 1/e
WEIGHTS = {"spectral": 0.45, "continuity": 0.25, "phase": 0.15, "beat": 0.15}
PRIOR_POWER_OF_TWO = 0.05  # added to the score of 1, 2, 4 and 8-bar loops
PRIOR_BAR_LINE = 0.02  # and of loops that start on a bar line


@dataclass(frozen=True)
class Candidates:
    """Loops on the grid, best first. Frames are at the clip's own sample rate."""

    start: np.ndarray  # frame where the period begins
    end: np.ndarray  # frame where it ends (exclusive), lag correction applied
    bars: np.ndarray
    start_beat: np.ndarray  # index into grid.beats
    score: np.ndarray
    parts: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.start)

    def take(self, index: np.ndarray) -> Candidates:
        return Candidates(self.start[index], self.end[index], self.bars[index],
                          self.start_beat[index], self.score[index],
                          {k: v[index] for k, v in self.parts.items()})


def pairs(grid: Grid, limit: int, lengths: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """(start beat, bars) of every loop that ends on a beat at or before `limit`."""
    beats = grid.beats
    usable = int(np.searchsorted(beats, limit, side="right"))
    starts, bars = [], []
    for length in lengths:
        last = usable - length * grid.beats_per_bar
        if last > 0:
            starts.append(np.arange(last))
            bars.append(np.full(last, length))
    if not starts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(starts), np.concatenate(bars)


def _windows(signal: np.ndarray, points: np.ndarray, before: int, after: int) -> np.ndarray:
    """signal[p - before : p + after] for every point, zero outside the signal."""
    padded = np.pad(signal, (before, after))
    index = points[:, None] + np.arange(before + after)[None, :]
    return padded[np.clip(index, 0, len(padded) - 1)]


def _beat_levels(mono: np.ndarray, points: np.ndarray, analysis_rate: int) -> np.ndarray:
    """Mean band level (dB) of each beat-to-beat span, as the average of its frames."""
    n = CONTEXT
    frames = _windows(mono, np.arange(0, len(mono), n // 2), 0, n)
    levels = band_db(frames, analysis_rate)
    centres = np.arange(0, len(mono), n // 2) + n // 2
    edges = np.searchsorted(centres, points)
    sums = np.concatenate([np.zeros((1, levels.shape[1])), np.cumsum(levels, axis=0)])
    lo, hi = edges[:-1], np.maximum(edges[1:], edges[:-1] + 1)
    hi = np.minimum(hi, len(levels))
    lo = np.minimum(lo, hi - 1)
    spans = (sums[hi] - sums[lo]) / (hi - lo)[:, None]
    return np.concatenate([spans, spans[-1:]], axis=0)  # the last beat has no successor


def score_candidates(mono: np.ndarray, analysis_rate: int, grid: Grid, sample_rate: int,
                     limit: int, lengths: list[int], max_lag: float,
                     envelope: np.ndarray | None = None) -> Candidates:
    """Score every (start beat, bars) loop; `mono` is the audio at `analysis_rate`,
    `max_lag` the most seconds the end may move to line the waveforms up, `envelope` the
    onset envelope the beat tracker used (estimated grids)."""
    start_beat, bars = pairs(grid, limit, lengths)
    if len(start_beat) == 0:
        empty = np.zeros(0)
        return Candidates(empty.astype(np.int64), empty.astype(np.int64), empty.astype(np.int64),
                          empty.astype(np.int64), empty, {k: empty for k in WEIGHTS})
    end_beat = start_beat + bars * grid.beats_per_bar
    scale = analysis_rate / sample_rate
    points = np.round(grid.beats * scale).astype(np.int64)

    # Spectral: short contexts on either side of each beat, and whole beats.
    before = band_power(_windows(mono, points, CONTEXT, 0), analysis_rate)
    after = band_power(_windows(mono, points, 0, CONTEXT), analysis_rate)
    top = max(float(before.max()), float(after.max()))
    before, after = to_db(before, top), to_db(after, top)
    spans = _beat_levels(mono, points, analysis_rate)
    silence = np.full_like(spans[:1], spans.min())  # what leads into beat 0: nothing
    spans_before = np.concatenate([silence, spans[:-1]])

    def distance(table: np.ndarray) -> np.ndarray:
        return np.mean(np.abs(table[end_beat] - table[start_beat]), axis=1)

    short = 0.5 * (distance(before) + distance(after))
    long = 0.5 * (distance(spans_before) + distance(spans))
    spectral = np.exp(-(0.5 * short + 0.5 * long) / SPECTRAL_DB)

    # Continuity and phase: one FFT per beat window, one inverse FFT per candidate.
    lag = round(max_lag * analysis_rate)
    size = 1 << int(np.ceil(np.log2(4 * WAVE)))
    window = np.hanning(2 * WAVE)
    windowed = _windows(mono, points, WAVE, WAVE) * window
    spectra = fft().rfft(windowed, size, axis=1)
    energy = np.sum(windowed ** 2, axis=1) + 1e-20
    cross = spectra[end_beat] * np.conj(spectra[start_beat])
    corr = fft().irfft(cross, size, axis=1)
    lags = np.arange(-lag, lag + 1)
    corr = corr[:, lags % size] / np.sqrt(energy[end_beat] * energy[start_beat])[:, None]
    best = np.argmax(corr, axis=1)
    continuity = corr[np.arange(len(corr)), best]
    shift = lags[best]
    omega = 2 * np.pi * np.arange(spectra.shape[1]) / size
    aligned = cross * np.exp(1j * omega[None, :] * shift[:, None])  # corr[l] = irfft(cross)[l]
    phase = np.real(aligned).sum(axis=1) / (np.abs(cross).sum(axis=1) + 1e-20)

    beat = _beat_scores(mono, analysis_rate, points, start_beat, end_beat, grid, envelope)
    parts = {"spectral": spectral, "continuity": np.clip(continuity, -1.0, 1.0),
             "phase": phase, "beat": beat}
    score = sum(WEIGHTS[k] * (v if k == "spectral" or k == "beat" else 0.5 * (v + 1.0))
                for k, v in parts.items()) + _priors(start_beat, bars, grid)
    start = grid.beats[start_beat]
    end = grid.beats[end_beat] + np.round(shift / scale).astype(np.int64)
    order = np.argsort(-score, kind="stable")
    return Candidates(start, end, bars, start_beat, score, parts).take(order)


def _beat_scores(mono: np.ndarray, analysis_rate: int, points: np.ndarray, start_beat: np.ndarray,
                 end_beat: np.ndarray, grid: Grid, envelope: np.ndarray | None) -> np.ndarray:
    """1 on an exact grid. On an estimated one: how strong an onset each point has (against
    the median beat's) and how close the loop's length is to its number of median beats."""
    if grid.exact:
        return np.ones(len(start_beat))
    from composer.loop.grid import ONSET_HOP, onset_envelope

    if envelope is None:
        envelope = onset_envelope(mono, analysis_rate)
    frames = np.clip(np.round(points / ONSET_HOP).astype(np.int64), 0, len(envelope) - 1)
    # The strongest onset within one hop either side: beats sit on hop-quantised frames.
    near = np.maximum.reduce([envelope[np.clip(frames + k, 0, len(envelope) - 1)]
                              for k in (-1, 0, 1)])
    strength = np.clip(near / (np.median(near) + 1e-9), 0.0, 1.0)
    period = np.median(np.diff(points)) if len(points) > 1 else 1.0
    expected = (end_beat - start_beat) * period
    steady = np.exp(-np.abs(points[end_beat] - points[start_beat] - expected) / (0.05 * period))
    return (0.5 * (strength[start_beat] + strength[end_beat]) + steady) / 2.0


def _priors(start_beat: np.ndarray, bars: np.ndarray, grid: Grid) -> np.ndarray:
    """Loops of 1, 2, 4 or 8 bars that start on a bar line are what musicians make and
    expect; among otherwise equal loops, these win."""
    bar_line = (start_beat - grid.downbeat) % grid.beats_per_bar == 0
    power_of_two = (bars & (bars - 1)) == 0
    return PRIOR_POWER_OF_TWO * power_of_two + PRIOR_BAR_LINE * bar_line
