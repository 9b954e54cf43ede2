"""Pure analysis behind the waveform and spectrum views: arrays in, arrays out.

Both run every frame on a few thousand samples, so each is a handful of vectorised NumPy
calls (well under a millisecond), and neither knows about pygame.
"""

from __future__ import annotations

import functools

import numpy as np

FLOOR_DB = -80.0


def envelope(samples: np.ndarray, columns: int) -> tuple[np.ndarray, np.ndarray]:
    """(lowest, highest) sample in each of `columns` equal slices: a waveform as drawn one
    pixel column at a time, so no peak falls between columns."""
    per = max(1, len(samples) // max(1, columns))
    need = per * columns  # the newest samples that fill whole columns; padded when short
    used = samples[-need:] if len(samples) >= need else np.pad(samples, (need - len(samples), 0))
    shaped = used.reshape(columns, per)
    return shaped.min(axis=1), shaped.max(axis=1)


def band_edges(sample_rate: int, count: int, low: float = 40.0, high: float = 16000.0
               ) -> np.ndarray:
    """`count` + 1 band edges in Hz, evenly spaced in pitch (as ears hear them)."""
    return np.geomspace(low, min(high, sample_rate / 2), count + 1)


@functools.lru_cache(maxsize=8)
def _plan(frames: int, sample_rate: int, count: int) -> tuple[np.ndarray, float, np.ndarray]:
    """The Hann window, its full-scale gain and each band's first FFT bin: the same every
    frame, so made once per (length, rate, bands)."""
    window = np.hanning(frames)
    freqs = np.fft.rfftfreq(frames, 1.0 / sample_rate)
    starts = np.minimum(np.searchsorted(freqs, band_edges(sample_rate, count)[:-1]),
                        len(freqs) - 1)
    window.flags.writeable = starts.flags.writeable = False
    return window, float(window.sum() / 2), starts


def bands(samples: np.ndarray, sample_rate: int, count: int) -> np.ndarray:
    """Level of each of `count` bands in dB of full scale (a full-scale sine reads 0), the
    loudest bin in each band, floored at FLOOR_DB; a Hann window keeps leakage down."""
    window, gain, starts = _plan(len(samples), sample_rate, count)
    spectrum = np.abs(np.fft.rfft(samples * window)) / gain
    loudest = np.maximum.reduceat(spectrum, starts)  # an empty band reads its first bin
    return np.maximum(20 * np.log10(loudest + 1e-12), FLOOR_DB)
