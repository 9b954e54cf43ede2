"""Tempo and beats from an onset envelope, in numpy alone.

    tempo(envelope, frame_rate) -> bpm         autocorrelation with librosa's 120 bpm prior
    beat_track(envelope, frame_rate, bpm) -> frames    Ellis' dynamic-programming tracker

The tracker follows D. P. W. Ellis, "Beat tracking by dynamic programming", Journal of New
Music Research 36(1), 2007, as librosa 0.11 implements it (librosa.beat.beat_track with a
given `bpm`, tightness 100, trim=False, units="frames"): the same local score, dynamic
programme, choice of the last beat and back-tracking, so it returns librosa's beats. librosa
runs these loops through numba, whose import and compilation cost 3-6 s at the start of
every `composer loop`; here the programme's inner loop (the best predecessor of every frame)
is one numpy operation per half beat instead, which takes milliseconds.
"""

from __future__ import annotations

import numpy as np

PRIOR_BPM, PRIOR_OCTAVES = 120.0, 1.0  # librosa's tempo prior: log-normal around 120 bpm
TIGHTNESS = 100.0  # librosa's default: how strongly beat spacing is held to the tempo


def tempo(envelope: np.ndarray, frame_rate: float, low: float = 40.0,
          high: float = 240.0) -> float:
    """The global tempo: the onset envelope's autocorrelation peak, weighted by librosa's
    log-normal prior (librosa.feature.tempo's default: 120 bpm, one octave) and interpolated
    between lags. librosa's own estimate goes through a windowed tempogram, which at a 5.8 ms
    envelope resolution costs seconds, and at a coarser one misses by several bpm (a 23 ms
    lag step is 5 bpm at 120)."""
    x = envelope.astype(np.float64) - float(np.mean(envelope))
    n = len(x)
    ac = np.fft.irfft(np.abs(np.fft.rfft(x, 2 * n)) ** 2)[:n]
    lags = np.arange(max(1, int(60.0 * frame_rate / high)),
                     min(n - 1, int(np.ceil(60.0 * frame_rate / low))) + 1)
    if len(lags) < 3 or ac[0] <= 0:
        return PRIOR_BPM
    bpm = 60.0 * frame_rate / lags
    weighted = ac[lags] * np.exp(-0.5 * (np.log2(bpm / PRIOR_BPM) / PRIOR_OCTAVES) ** 2)
    i = int(np.argmax(weighted))
    lag = float(lags[i])
    if 0 < i < len(lags) - 1:  # parabola through the peak and its neighbours
        a, b, c = ac[lags[i] - 1], ac[lags[i]], ac[lags[i] + 1]
        if a - 2 * b + c < 0:
            lag += 0.5 * (a - c) / (a - 2 * b + c)
    return 60.0 * frame_rate / lag


def beat_track(envelope: np.ndarray, frame_rate: float, bpm: float,
               tightness: float = TIGHTNESS) -> np.ndarray:
    """Envelope frames of the beats (int64, ascending) at tempo `bpm`: Ellis' tracker, as
    librosa.beat.beat_track(onset_envelope=envelope, bpm=bpm, trim=False) computes it.

    Every frame's cumulative score is its local score (the envelope, normalised and smoothed
    by a Gaussian a beat wide) plus the best cumulative score of a predecessor half a beat to
    two beats earlier, less `tightness` times the squared log ratio of that gap to the beat.
    The beats are the chain of best predecessors back from the last strong frame."""
    onsets = np.asarray(envelope)
    if onsets.dtype not in (np.float32, np.float64):
        onsets = onsets.astype(np.float64)
    n = len(onsets)
    if n < 2 or not onsets.any():
        return np.zeros(0, dtype=np.int64)
    if bpm <= 0 or tightness <= 0:
        raise ValueError(f"bpm {bpm} and tightness {tightness} must be positive")
    period = max(1.0, float(np.round(frame_rate * 60.0 / bpm)))  # frames per beat, whole
    local = _local_score(onsets, period)
    cumulative, backlink = _programme(local, period, tightness)
    beats = []
    at = _last_beat(cumulative)
    while at >= 0:
        beats.append(at)
        at = int(backlink[at])
    beats = np.array(beats[::-1], dtype=np.int64)
    # librosa's trim=False still drops beats on the silent (zero local score) ends.
    strong = np.flatnonzero(local > 0.0)
    if len(strong) == 0:
        return beats[:0]
    return beats[(beats >= strong[0]) & (beats <= strong[-1])]


def _local_score(onsets: np.ndarray, period: float) -> np.ndarray:
    """The envelope over its standard deviation, smoothed by a Gaussian of +-period frames
    (sd period / 32), centred ("same" convolution), in float64 as librosa computes it. As in
    librosa's loop, the envelope's first frame never enters the sum."""
    scaled = onsets / (onsets.std(ddof=1) + np.finfo(onsets.dtype).tiny)
    scaled = scaled.astype(np.float64)
    scaled[0] = 0.0
    offsets = np.arange(-period, period + 1)
    window = np.exp(-0.5 * (offsets * 32.0 / period) ** 2)
    full = np.convolve(scaled, window)  # "same", also for an envelope shorter than the window
    return full[len(window) // 2:len(window) // 2 + len(onsets)]


def _programme(local: np.ndarray, period: float, tightness: float
               ) -> tuple[np.ndarray, np.ndarray]:
    """(cumulative score, best predecessor or -1) of every frame.

    A frame's predecessor lies `near` = round(period / 2) to 2 * period frames back, so the
    scores of `near` consecutive frames depend only on frames before them: each such block is
    one vectorised step. Ties go to the nearest predecessor, as in librosa's search (which
    walks back from the nearest and keeps the first maximum). Before the first frame whose
    local score reaches 1 % of the largest, no frame links back (the first beat needs an
    onset)."""
    n = len(local)
    near = max(1, int(np.round(period / 2)))
    far = int(2 * period)
    gaps = np.arange(near, far + 1)  # predecessor distances, nearest first
    penalty = tightness * (np.log(gaps.astype(np.float64)) - np.log(period)) ** 2
    cumulative = np.empty(n, dtype=np.float64)
    backlink = np.full(n, -1, dtype=np.int64)
    first = min(near, n)
    cumulative[:first] = local[:first]  # no predecessor yet
    for start in range(first, n, near):
        frames = np.arange(start, min(start + near, n))
        candidates = frames[:, None] - gaps[None, :]
        valid = candidates >= 0
        score = np.where(valid, cumulative[np.maximum(candidates, 0)] - penalty[None, :],
                         -np.inf)
        best = np.argmax(score, axis=1)
        found = valid[np.arange(len(frames)), best]
        best_score = score[np.arange(len(frames)), best]
        cumulative[frames] = np.where(found, local[frames] + best_score, local[frames])
        backlink[frames] = np.where(found, candidates[np.arange(len(frames)), best], -1)
    onset = np.flatnonzero(local >= 0.01 * local.max())
    backlink[:onset[0] if len(onset) else n] = -1
    return cumulative, backlink


def _last_beat(cumulative: np.ndarray) -> int:
    """The last local maximum of the cumulative score that reaches half the median of all
    its local maxima (librosa.util.localmax: x[i] > x[i-1] and x[i] >= x[i+1]; never the
    first frame; the last frame when it rises); the last frame when there is none."""
    n = len(cumulative)
    if n < 2:
        return n - 1
    peaks = np.zeros(n, dtype=bool)
    peaks[1:-1] = (cumulative[1:-1] > cumulative[:-2]) & (cumulative[1:-1] >= cumulative[2:])
    peaks[-1] = cumulative[-1] > cumulative[-2]
    if not peaks.any():
        return n - 1
    threshold = 0.5 * np.median(cumulative[peaks])
    chosen = np.flatnonzero(peaks & (cumulative >= threshold))
    return int(chosen[-1]) if len(chosen) else n - 1
