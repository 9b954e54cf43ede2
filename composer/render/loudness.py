"""Loudness normalisation (ITU-R BS.1770 through pyloudnorm) with a peak ceiling.

A soundfont's presets differ by 20 dB and more, so a flute phrase and a brass phrase rendered
at the same synth gain would not sound equally loud; normalising to a target LUFS evens them
out. Gain alone can push peaks past full scale, so what rises above the ceiling is caught by a
short look-ahead limiter instead of lowering the whole clip (which would miss the target).
"""

from __future__ import annotations

import numpy as np

BLOCK_SECONDS = 0.4  # BS.1770's gating block: shorter audio has no integrated loudness
LIMITER_SECONDS = 0.005  # how far ahead the limiter starts to pull a peak down


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
    import pyloudnorm  # with scipy.signal, a second of import: only when measuring

    if len(audio) < block:
        audio = np.resize(audio, (block, *audio.shape[1:]))  # repeats the rows
    return float(pyloudnorm.Meter(sample_rate).integrated_loudness(audio))


def limit(audio: np.ndarray, sample_rate: int, ceiling_db: float = -1.0) -> np.ndarray:
    """`audio` with no sample above the ceiling, channels linked (the stereo image holds).

    The gain each frame needs is spread to its neighbours by a minimum filter of twice the
    look-ahead, then smoothed by a moving average of the look-ahead: the average of values that
    are each at most the need at the centre is itself at most that need, so the result never
    exceeds the ceiling, and the gain moves over milliseconds rather than in a click.
    """
    from scipy.ndimage import minimum_filter1d, uniform_filter1d

    ceiling = db_to_gain(ceiling_db)
    level = np.max(np.abs(audio), axis=1) if audio.ndim == 2 else np.abs(audio)
    if level.size == 0 or level.max() <= ceiling:
        return audio
    need = np.minimum(1.0, ceiling / np.maximum(level, 1e-30))
    width = max(1, round(LIMITER_SECONDS * sample_rate))
    spread = minimum_filter1d(need, size=2 * width + 1, mode="nearest")
    gain = np.minimum(uniform_filter1d(spread, size=width | 1, mode="nearest"), need)
    gain = gain.astype(audio.dtype)
    out = audio * (gain[:, None] if audio.ndim == 2 else gain)
    return np.clip(out, -ceiling, ceiling)  # float rounding: the last ulp stays under too


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
