"""FFTs and FIR filtering for the audio analyses, without scipy.signal's import (about a
second on two cores, at the start of every `composer loop` and before the player's first
sound).

`fft()` is numpy.fft until `use_scipy_fft()` has run, then scipy.fft: the same transforms
(float32 kept as float32 by both), scipy's 4-5x faster on the analyses' shapes but 0.35 s to
import. A short command keeps numpy's; the player switches once its first sound is out, so
the producer analyses its loops at full speed.
"""

from __future__ import annotations

import numpy as np

_fft = np.fft


def fft():
    """The FFT module to use now: numpy.fft, or scipy.fft once it is loaded."""
    return _fft


def use_scipy_fft() -> None:
    """Import scipy.fft (in a background thread, say) and use it from now on."""
    global _fft
    import scipy.fft

    _fft = scipy.fft  # set only once the import is complete


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
    transforms = fft()
    spectrum = transforms.rfft(segments, axis=-1) * transforms.rfft(kernel, size)
    out = transforms.irfft(spectrum, size, axis=-1)[..., k - 1:]
    return out.reshape(x.shape[:-1] + (blocks * step,))[..., :count].astype(x.dtype, copy=False)
