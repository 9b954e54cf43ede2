"""FIR filtering by FFT in numpy: what the loop detector's click measure and the loudness
meter need from scipy.signal, without its import (about a second on two cores, at the start
of every `composer loop` and before the player's first sound). numpy's FFT keeps float32
(numpy >= 2), so float32 audio is filtered in float32.
"""

from __future__ import annotations

import numpy as np


def convolve_valid(x: np.ndarray, kernel: np.ndarray, size: int = 1024) -> np.ndarray:
    """x (..., frames) convolved with a short kernel along the last axis, "valid" part only,
    by overlap-save: FFT blocks of `size` frames (at least twice the kernel), each giving
    size - len(kernel) + 1 outputs."""
    k = len(kernel)
    count = x.shape[-1] - k + 1
    size = max(size, 1 << (2 * k - 1).bit_length())
    step = size - k + 1
    blocks = -(-count // step)
    padded = np.zeros(x.shape[:-1] + ((blocks - 1) * step + size,), dtype=x.dtype)
    padded[..., :x.shape[-1]] = x
    segments = np.lib.stride_tricks.sliding_window_view(padded, size, axis=-1)[..., ::step, :]
    spectrum = np.fft.rfft(segments, axis=-1) * np.fft.rfft(kernel, size)
    out = np.fft.irfft(spectrum, size, axis=-1)[..., k - 1:]
    return out.reshape(x.shape[:-1] + (blocks * step,))[..., :count].astype(x.dtype, copy=False)
