"""The last few samples: how well the waveform joins itself at a seam.

Playing a loop [s, e) end -> start replaces what followed e - 1 in the source, x[e:], with
x[s:]. The join is continuous when the two agree around the join: a small normalised squared
difference over a fraction of a millisecond either side. Among equally continuous joins a
zero crossing is best, where whatever mismatch is left is smallest in absolute terms.
"""

from __future__ import annotations

import numpy as np

WIDTH_SECONDS = 0.0005  # compared on each side of the join
ZERO_CROSSING_WEIGHT = 1e-3


def mismatch(audio: np.ndarray, starts: np.ndarray, ends: np.ndarray,
             sample_rate: int = 44100, width: float = WIDTH_SECONDS) -> np.ndarray:
    """0 where x[s + j] == x[e + j] around each join (a perfect continuation), about 1 for
    unrelated audio, 2 for opposite; plus a small preference for zero crossings."""
    x = np.asarray(audio, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    n = len(x)
    w = max(2, int(width * sample_rate))
    j = np.arange(-w, w)
    a = x[np.clip(starts[:, None] + j, 0, n - 1)]  # (joins, 2w, channels)
    b = x[np.clip(ends[:, None] + j, 0, n - 1)]
    power = np.sum(a ** 2 + b ** 2, axis=(1, 2)) + 1e-20
    difference = np.sum((a - b) ** 2, axis=(1, 2)) / power
    at = x[np.clip(starts, 0, n - 1)]
    zero = np.sum(at ** 2, axis=-1) * (2 * w * x.shape[1]) / power
    return difference + ZERO_CROSSING_WEIGHT * zero


def best_lengths(audio: np.ndarray, starts: np.ndarray, ends: np.ndarray, sample_rate: int,
                 lag: int, width: float = 0.002) -> np.ndarray:
    """Each end moved by up to `lag` frames to where the waveform around it best matches the
    waveform around its start: the length at which the two meet in phase."""
    shifts = np.arange(-lag, lag + 1)
    candidates = ends[:, None] + shifts[None, :]
    cost = mismatch(audio, np.repeat(starts, len(shifts)), candidates.ravel(), sample_rate,
                    width).reshape(candidates.shape)
    cost += 0.02 * np.abs(shifts)[None, :] / max(lag, 1)  # no reason to move: stay
    return candidates[np.arange(len(ends)), np.argmin(cost, axis=1)]
