"""Loudness normalisation (ITU-R BS.1770) with a peak ceiling.

A soundfont's presets differ by 20 dB and more, so a flute phrase and a brass phrase rendered
at the same synth gain would not sound equally loud; normalising to a target LUFS evens them
out. Gain alone can push peaks past full scale, so what rises above the ceiling is caught by a
short look-ahead limiter instead of lowering the whole clip (which would miss the target).

The measure is pyloudnorm's (its K-weighting biquads, blocks and gates), computed with numpy:
pyloudnorm filters through scipy.signal, whose import alone (1.1 s on two cores) was most of
the player's time to first sound. The K-weighting runs as its impulse response (100 ms,
past which it has decayed below float precision) by FFT convolution: the same linear filter
lfilter runs sample by sample. The tests hold the result to pyloudnorm's within 0.01 LU. The limiter's running minimum and mean are numpy
too (scipy.ndimage is another 0.2 s).
"""

from __future__ import annotations

import functools

import numpy as np

from composer.fir import convolve_valid

BLOCK_SECONDS = 0.4  # BS.1770's gating block: shorter audio has no integrated loudness
LIMITER_SECONDS = 0.005  # how far ahead the limiter starts to pull a peak down
KERNEL_SECONDS = 0.1  # the K-weighting's impulse response, as an FIR
KERNEL_BLOCK = 1 << 15  # frames per FFT block when applying it
WHOLE_FRAMES = 1 << 20  # audio up to this long (24 s) is measured in one piece ...
METER_FRAMES = 1 << 16  # ... longer audio block by block, in memory that does not grow


def db_to_gain(db: float) -> float:
    return float(10.0 ** (db / 20.0))


def peak_db(audio: np.ndarray) -> float:
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    return 20.0 * np.log10(peak) if peak > 0 else float("-inf")


def integrated_loudness(audio: np.ndarray, sample_rate: int) -> float:
    """LUFS of (frames, channels) audio; -inf for silence. Audio shorter than one gating
    block is measured as if it repeated, which is what a loop or a repeated phrase does."""
    block = int(np.ceil(BLOCK_SECONDS * sample_rate)) + 1
    if len(audio) == 0 or not np.any(audio):
        return float("-inf")
    if len(audio) < block:
        audio = np.resize(audio, (block, *audio.shape[1:]))  # repeats the rows
    audio = audio.reshape(len(audio), -1)
    if len(audio) <= WHOLE_FRAMES:
        return gated_loudness(k_weighted(audio, sample_rate), sample_rate)
    meter = LoudnessMeter(sample_rate, audio.shape[1])  # a long file: its copies stay small
    for start in range(0, len(audio), METER_FRAMES):
        meter.add(audio[start:start + METER_FRAMES])
    return meter.loudness()


def _biquad(kind: str, gain_db: float, q: float, fc: float, sample_rate: int) -> np.ndarray:
    """RBJ cookbook biquad [b0, b1, b2, a0, a1, a2], as pyloudnorm designs BS.1770's."""
    a = 10.0 ** (gain_db / 40.0)
    w0 = 2.0 * np.pi * fc / sample_rate
    alpha, cos = np.sin(w0) / (2.0 * q), np.cos(w0)
    if kind == "high_shelf":
        root = 2.0 * np.sqrt(a) * alpha
        return np.array([a * ((a + 1) + (a - 1) * cos + root), -2 * a * ((a - 1) + (a + 1) * cos),
                         a * ((a + 1) + (a - 1) * cos - root), (a + 1) - (a - 1) * cos + root,
                         2 * ((a - 1) - (a + 1) * cos), (a + 1) - (a - 1) * cos - root])
    return np.array([(1 + cos) / 2, -(1 + cos), (1 + cos) / 2, 1 + alpha, -2 * cos, 1 - alpha])


def k_weighted(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """BS.1770's K-weighting (a +4 dB shelf above 1.5 kHz, a 38 Hz high-pass) of (frames,
    channels) audio, as (frames, channels) float32 (the float64 sums come later)."""
    x = np.ascontiguousarray(audio.T, dtype=np.float32)
    kernel = _k_weighting_kernel(sample_rate)
    x = np.concatenate([np.zeros((len(x), len(kernel) - 1), np.float32), x], axis=1)
    return convolve_valid(x, kernel, KERNEL_BLOCK).T


@functools.lru_cache(maxsize=8)
def _k_weighting_kernel(sample_rate: int) -> np.ndarray:
    """The two biquads' impulse response, cut at KERNEL_SECONDS (where its energy is below
    1e-20 of the whole, so the cut changes no loudness a float32 can show)."""
    size = 1 << 18
    z = np.exp(-1j * np.pi * np.arange(size // 2 + 1) / (size // 2))  # e^{-jw}
    response = np.ones_like(z)
    for coefficients in (_biquad("high_shelf", 4.0, 1 / np.sqrt(2), 1500.0, sample_rate),
                         _biquad("high_pass", 0.0, 0.5, 38.0, sample_rate)):
        b0, b1, b2, a0, a1, a2 = coefficients
        response *= (b0 + b1 * z + b2 * z * z) / (a0 + a1 * z + a2 * z * z)
    taps = round(KERNEL_SECONDS * sample_rate)
    return np.fft.irfft(response, size)[:taps].astype(np.float32)


def gated_loudness(weighted: np.ndarray, sample_rate: int, block: float = BLOCK_SECONDS,
                   overlap: float = 0.75) -> float:
    """BS.1770-4's gated loudness of K-weighted (frames, channels) audio: mean squares over
    400 ms blocks every 100 ms, an absolute gate at -70 LUFS, a relative one 10 LU below."""
    lower, upper = _gating_blocks(len(weighted), sample_rate, block, overlap)
    energy = np.concatenate([np.zeros((1, weighted.shape[1])),
                             np.cumsum(np.square(weighted, dtype=np.float64), axis=0)])
    return _gate((energy[upper] - energy[lower]) / (block * sample_rate))


def _gating_blocks(frames: int, sample_rate: int, block: float = BLOCK_SECONDS,
                   overlap: float = 0.75, first: int = 0,
                   count: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper) frame bounds of gating blocks `first`.. (all of them for `frames` of
    audio when `count` is None), the last one cut at the end, as pyloudnorm places them."""
    if count is None:
        seconds = frames / sample_rate
        count = int(np.round((seconds - block) / (block * (1.0 - overlap)))) + 1 - first
    k = np.arange(first, first + max(count, 0))
    lower = (block * k * (1.0 - overlap) * sample_rate).astype(np.int64)
    upper = (block * (k * (1.0 - overlap) + 1) * sample_rate).astype(np.int64)
    return lower, np.minimum(upper, frames)


def _gate(z: np.ndarray) -> float:
    """Integrated loudness from each gating block's mean square per channel (blocks, channels)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        levels = -0.691 + 10.0 * np.log10(z.sum(axis=1))
        loud = levels >= -70.0
        relative = -0.691 + 10.0 * np.log10(z[loud].mean(axis=0).sum()) - 10.0
        kept = (levels > relative) & (levels > -70.0)
        mean = np.nan_to_num(z[kept].mean(axis=0)) if kept.any() else np.zeros(z.shape[1])
        return float(-0.691 + 10.0 * np.log10(mean.sum()))


class LoudnessMeter:
    """Integrated loudness and peak of audio that arrives in blocks, in memory that does not
    grow with its length: what a render streamed to disk is normalised by.

    The K-weighting FIR carries its last taps from block to block, and only the running
    energy at each gating block's two bounds is kept (2 numbers a channel per 100 ms), so
    the result is integrated_loudness() of the whole, to float rounding.
    """

    def __init__(self, sample_rate: int, channels: int = 2):
        self.sample_rate, self.channels = sample_rate, channels
        self._kernel = _k_weighting_kernel(sample_rate)
        self._history = np.zeros((channels, len(self._kernel) - 1), np.float32)
        self._energy = np.zeros(channels)  # running sum of squares of the weighted audio
        self._marks: dict[int, np.ndarray] = {0: np.zeros(channels)}
        self._short = int(np.ceil(BLOCK_SECONDS * sample_rate)) + 1
        self._head: list[np.ndarray] = []  # audio shorter than one block is measured whole
        self.frames = 0
        self.peak = 0.0

    def add(self, audio: np.ndarray) -> None:
        """The next (frames, channels) block."""
        n = len(audio)
        if n == 0:
            return
        if self.frames < self._short:
            self._head.append(audio[:self._short - self.frames].copy())
        self.peak = max(self.peak, float(np.max(np.abs(audio))))
        x = np.concatenate([self._history, np.ascontiguousarray(audio.T, dtype=np.float32)],
                           axis=1)
        self._history = x[:, n:]
        weighted = convolve_valid(x, self._kernel, KERNEL_BLOCK).T
        running = self._energy + np.cumsum(np.square(weighted, dtype=np.float64), axis=0)
        start, end = self.frames, self.frames + n
        step = BLOCK_SECONDS * 0.25 * self.sample_rate
        first = max(0, int((start - BLOCK_SECONDS * self.sample_rate) // step) - 1)
        lower, upper = _gating_blocks(end, self.sample_rate, first=first,
                                      count=int(end // step) + 2 - first)
        for bound in np.unique(np.concatenate([lower, upper])).tolist():
            if start < bound <= end:
                self._marks[bound] = running[bound - start - 1].copy()  # not a view of it all
        self._energy = running[-1].copy()
        self.frames = end

    def loudness(self) -> float:
        """LUFS of everything added; -inf for silence."""
        if self.peak == 0.0:
            return float("-inf")
        if self.frames < self._short:
            return integrated_loudness(np.concatenate(self._head), self.sample_rate)
        lower, upper = _gating_blocks(self.frames, self.sample_rate)
        marks = {**self._marks, self.frames: self._energy}
        energy = [np.array([marks[int(b)] for b in bounds]) for bounds in (lower, upper)]
        return _gate((energy[1] - energy[0]) / (BLOCK_SECONDS * self.sample_rate))


def limit(audio: np.ndarray, sample_rate: int, ceiling_db: float = -1.0) -> np.ndarray:
    """`audio` with no sample above the ceiling, channels linked (the stereo image holds).

    The gain each frame needs is spread to its neighbours by a minimum filter of twice the
    look-ahead, then smoothed by a moving average of the look-ahead: the average of values that
    are each at most the need at the centre is itself at most that need, so the result never
    exceeds the ceiling, and the gain moves over milliseconds rather than in a click.
    """
    ceiling = db_to_gain(ceiling_db)
    level = np.max(np.abs(audio), axis=1) if audio.ndim == 2 else np.abs(audio)
    if level.size == 0 or level.max() <= ceiling:
        return audio
    need = np.minimum(1.0, ceiling / np.maximum(level, 1e-30))
    width = max(1, round(LIMITER_SECONDS * sample_rate))
    spread = running_min(need, 2 * width + 1)
    gain = np.minimum(running_mean(spread, width | 1), need)
    gain = gain.astype(audio.dtype)
    out = audio * (gain[:, None] if audio.ndim == 2 else gain)
    return np.clip(out, -ceiling, ceiling)  # float rounding: the last ulp stays under too


def limiter_margin(sample_rate: int) -> int:
    """Frames on each side that limit() looks at to decide a frame's gain: limiting a block
    with this much of its neighbours around it gives exactly what limiting the whole would."""
    return 2 * max(1, round(LIMITER_SECONDS * sample_rate)) + 2


def normalize(audio: np.ndarray, sample_rate: int, target_lufs: float = -16.0,
              ceiling_db: float = -1.0) -> tuple[np.ndarray, float]:
    """(audio at `target_lufs` with no peak above `ceiling_db` dBFS, the gain applied).

    Silence stays silence (gain 1). Loudness scales exactly with gain, so one measurement
    suffices unless the limiter had to act; then the loss is measured and made up once.
    """
    loudness = integrated_loudness(audio, sample_rate)
    if not np.isfinite(loudness):
        return audio.copy(), 1.0
    gain = db_to_gain(target_lufs - loudness)
    out = audio * np.float32(gain)
    if peak_db(audio) + 20 * np.log10(gain) > ceiling_db:
        out = limit(out, sample_rate, ceiling_db)
        lost = target_lufs - integrated_loudness(out, sample_rate)
        if lost > 0.05:
            gain *= db_to_gain(lost)
            out = limit(audio * np.float32(gain), sample_rate, ceiling_db)
    return out.astype(np.float32, copy=False), gain


def running_min(values: np.ndarray, size: int) -> np.ndarray:
    """The minimum over a centred window of odd `size`, edges extended (scipy.ndimage's
    minimum_filter1d, mode "nearest"), in O(n): van Herk / Gil-Werman's block-wise prefix and
    suffix minima."""
    half = size // 2
    blocks = -(-(len(values) + 2 * half) // size)
    padded = np.full(blocks * size + size, values[-1], dtype=values.dtype)
    padded[:half] = values[0]
    padded[half:half + len(values)] = values
    shaped = padded.reshape(-1, size)
    prefix = np.minimum.accumulate(shaped, axis=1).ravel()
    suffix = np.minimum.accumulate(shaped[:, ::-1], axis=1)[:, ::-1].ravel()
    start = np.arange(len(values))
    return np.minimum(suffix[start], prefix[start + size - 1])


def running_mean(values: np.ndarray, size: int) -> np.ndarray:
    """The mean over a centred window of odd `size`, edges extended (uniform_filter1d,
    mode "nearest")."""
    half = size // 2
    padded = np.concatenate([np.full(half, values[0]), values, np.full(half, values[-1])])
    total = np.concatenate([[0.0], np.cumsum(padded, dtype=np.float64)])
    return ((total[size:] - total[:-size]) / size).astype(values.dtype, copy=False)
