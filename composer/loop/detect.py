"""find_loop: the best loop in a clip, from the beat grid to the last sample.

    grid        exact from the clip's tempo (MIDI path) or estimated (librosa)
    candidates  every start beat x whole-bar length, scored at a reduced rate
    join        the best few, each tried shifted a little either way, judged by the seam
                measures predicted at full rate; then snapped to the best-matching samples
    seam        the chosen period measured exactly as anyone else would measure it
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from composer.audio import Clip, Grid, Loop
from composer.loop.candidates import Candidates, score_candidates
from composer.loop.errors import LoopError
from composer.loop.grid import ANALYSIS_RATE, grid_for, mono_at
from composer.loop.refine import (
    Reference,
    half_width,
    predicted_scores,
    reference_levels,
)
from composer.loop.seam import seam_scores
from composer.loop.zero import best_lengths, mismatch
from composer.phrase import Phrase

FINALISTS = 4  # candidates whose joins are tried at full rate, at a time ...
MAX_FINALISTS = 32  # ... until one is predicted seamless, or this many were tried
SHIFT_BEATS = 0.125  # how far (in beats) a join may move to avoid an attack ...
SHIFT_SECONDS = 0.060  # ... and at most this far
SHIFT_STEP = 0.004  # coarse steps, then every millisecond around the best
GOOD_ENOUGH = 0.5  # predicted seam scores below this are not worth moving further for
LAG_SECONDS = 0.015  # estimated grids: how far the end may move to line the waveforms up
SNAP_SECONDS = 0.001  # the last, sample-by-sample search around the chosen join
LENGTH_LAG = 12  # estimated grids: frames the end may move to match the waveform at full
# rate (the lag was found at a quarter of the rate, from beats placed at that rate)
EXACT_LAG_SECONDS = 0.002  # exact grids: how much a loop may be longer or shorter than its
# bars so that sustained tones meet in phase (0.05 % of a 4 s loop; without it a held
# string or flute note clicks at the seam whatever the join)
SNAP_LAG = 2  # and then in the sample-by-sample search
SNAP_FINALISTS = 16  # joins of that search measured in full
SILENCE = 1e-5  # peak below this (-100 dBFS) is silence


def check_audio(clip: Clip, name: str = "audio") -> None:
    """LoopError naming `name` when the clip holds nothing to loop."""
    audio = clip.audio
    if audio.ndim != 2 or audio.shape[0] == 0 or audio.shape[1] == 0:
        raise LoopError(f"{name}: no audio")
    if not np.all(np.isfinite(audio)):
        raise LoopError(f"{name}: audio contains NaN or infinite samples")
    if float(np.max(np.abs(audio))) < SILENCE:
        raise LoopError(f"{name}: silent, nothing to loop")


def find_loop(clip: Clip, *, bars: int | None = None, max_bars: int = 8, min_bars: int = 1,
              name: str = "audio") -> Loop:
    """The best loop of whole bars in `clip`, with its seam scores. `bars` fixes the length;
    otherwise every length from min_bars to max_bars is considered. `name` is used in
    errors (the file the clip came from)."""
    check_audio(clip, name)
    if bars is not None and bars < 1:
        raise LoopError(f"{name}: --bars must be at least 1, not {bars}")
    if min_bars < 1 or max_bars < min_bars:
        raise LoopError(f"{name}: bar range {min_bars}..{max_bars} is empty")
    lengths = [bars] if bars is not None else list(range(min_bars, max_bars + 1))
    sample_rate = clip.sample_rate
    mono = mono_at(clip.audio, sample_rate, ANALYSIS_RATE)
    grid, envelope = grid_for(clip, mono)
    limit = min(clip.length, len(clip.audio) - half_width(sample_rate))
    lag = EXACT_LAG_SECONDS if grid.exact else LAG_SECONDS
    found = score_candidates(mono, ANALYSIS_RATE, grid, sample_rate, limit, lengths, lag, envelope)
    if len(found) == 0:
        raise LoopError(_too_short(name, clip, grid, min(lengths)))
    join = _choose_join(clip, grid, found)
    index = join.index
    start, end, predicted = _snap(clip, join.reference, join.start, join.end, SNAP_LAG)
    shift = start - int(found.start[index])
    period = np.ascontiguousarray(clip.audio[start:end], dtype=np.float32)
    length = int(found.bars[index])
    # The tempo the file plays at: its length is `length` bars (up to a few ms on exact grids).
    qpm = 60.0 * sample_rate * length * grid.beats_per_bar / (end - start)
    if grid.exact and abs(qpm - clip.qpm) < 1e-6 * clip.qpm:
        qpm = clip.qpm
    scores = {k: float(v[index]) for k, v in found.parts.items()}
    scores.update(score=float(found.score[index]), predicted_seam=float(predicted),
                  shift_ms=1000.0 * shift / sample_rate, exact_grid=float(grid.exact))
    return Loop(audio=period, sample_rate=sample_rate, source_start=start, bars=length, qpm=qpm,
                beats_per_bar=grid.beats_per_bar, seam=seam_scores(period, sample_rate),
                scores=scores,
                phrase=_notes(clip.phrase, start / sample_rate, end / sample_rate, length))


@dataclass(frozen=True)
class _Join:
    cost: float
    start: int
    end: int
    index: int  # into the candidates
    worst: float  # predicted worst seam score
    reference: Reference


def _choose_join(clip: Clip, grid: Grid, found: Candidates) -> _Join:
    """The best join among the top candidates, FINALISTS at a time: only when none of them
    gives a seam predicted at <= 1 are the next ones tried (hard material, more effort)."""
    best = None
    for first in range(0, MAX_FINALISTS, FINALISTS):
        batch = np.arange(first, min(first + FINALISTS, len(found)))
        if len(batch) == 0:
            break
        join = _best_join(clip, grid, found, batch)
        if best is None or join.cost < best.cost:
            best = join
        if best.worst <= 1.0:
            break
    return best


def _best_join(clip: Clip, grid: Grid, found: Candidates, batch: np.ndarray) -> _Join:
    """For each candidate of the batch: its length matched to the waveform, then every
    shift within reach, coarse then fine. The smoothest predicted seam wins; the candidate
    score and a short shift break ties, so clean material keeps its loop on the grid."""
    sample_rate = clip.sample_rate
    beat = float(np.median(np.diff(grid.beats))) if len(grid.beats) > 1 else sample_rate
    reach = int(min(SHIFT_BEATS * beat, SHIFT_SECONDS * sample_rate))
    coarse, fine = max(1, int(SHIFT_STEP * sample_rate)), max(1, sample_rate // 1000)
    half = half_width(sample_rate)
    lag = round(EXACT_LAG_SECONDS * sample_rate) if grid.exact else LENGTH_LAG
    starts = found.start[batch]
    ends = best_lengths(clip.audio, starts, found.end[batch], sample_rate, lag)
    spans = np.stack([np.maximum(starts - reach - half, 0),
                      np.minimum(ends + reach + half, len(clip.audio))], axis=1)
    union = (int(spans[:, 0].min()), int(spans[:, 1].max()))
    shared = None
    if union[1] - union[0] <= 2 * int(np.max(spans[:, 1] - spans[:, 0])):
        shared = reference_levels(clip.audio, sample_rate, *union)  # they overlap: measure once
    best = None
    for k, i in enumerate(batch):
        s, e = int(starts[k]), int(ends[k])
        lo, hi = max(-reach, -s, half - e), min(reach, len(clip.audio) - half - e)
        reference = shared or reference_levels(clip.audio, sample_rate, *map(int, spans[k]))
        score = float(found.score[i])
        shifts = np.union1d(np.arange(0, hi + 1, coarse), -np.arange(0, -lo + 1, coarse))
        cost, _ = _shift_cost(clip, reference, s, e, shifts, score, reach)
        around = shifts[int(np.argmin(cost))] + np.arange(-coarse + fine, coarse, fine)
        shifts = np.union1d([0], around[(around >= lo) & (around <= hi)])
        cost, worst = _shift_cost(clip, reference, s, e, shifts, score, reach)
        j = int(np.argmin(cost))
        if best is None or cost[j] < best.cost:
            best = _Join(float(cost[j]), s + int(shifts[j]), e + int(shifts[j]), int(i),
                         float(worst[j]), reference)
    return best


def _shift_cost(clip: Clip, reference: Reference, start: int, end: int, shifts: np.ndarray,
                score: float, reach: int) -> tuple[np.ndarray, np.ndarray]:
    """(cost, predicted worst seam score) of each shift. Below GOOD_ENOUGH seams are equally
    good; above 1 they are audible, which outweighs any candidate score; a little is added
    for every millisecond off the grid."""
    worst = predicted_scores(clip.audio, clip.sample_rate, reference, start + shifts,
                             end + shifts)
    cost = (np.maximum(worst, GOOD_ENOUGH) + 2.0 * np.maximum(worst - 1.0, 0.0)
            - 0.5 * score + 0.05 * np.abs(shifts) / max(reach, 1))
    return cost, worst


def _snap(clip: Clip, reference: Reference, start: int, end: int,
          lag: int) -> tuple[int, int, float]:
    """Every sample within SNAP_SECONDS (and, on estimated grids, every end within `lag`
    frames): the smoothest predicted seam, then the most continuous waveform."""
    sample_rate = clip.sample_rate
    r = max(1, int(SNAP_SECONDS * sample_rate))
    k = np.arange(-r, r + 1)
    ell = np.arange(-lag, lag + 1)
    starts = (start + k[None, :] + 0 * ell[:, None]).ravel()
    ends = (end + k[None, :] + ell[:, None]).ravel()
    half = half_width(sample_rate)
    ok = (starts >= 0) & (ends + half <= len(clip.audio)) & (ends - half >= 0)
    starts, ends = starts[ok], ends[ok]
    # The seam measures cost an FFT per join: only the most continuous joins get them.
    continuity = mismatch(clip.audio, starts, ends, sample_rate)
    keep = np.argsort(continuity, kind="stable")[:SNAP_FINALISTS]
    starts, ends = np.append([start], starts[keep]), np.append([end], ends[keep])
    continuity = mismatch(clip.audio, starts, ends, sample_rate)
    worst = predicted_scores(clip.audio, sample_rate, reference, starts, ends)
    cost = np.maximum(worst, GOOD_ENOUGH) + 0.1 * continuity + 1e-4 * np.abs(starts - start) / r
    i = int(np.argmin(cost))
    return int(starts[i]), int(ends[i]), float(worst[i])


def _too_short(name: str, clip: Clip, grid: Grid, bars: int) -> str:
    if len(grid.beats) < 2:
        return f"{name}: no beat found in {clip.seconds:.1f} s of audio; nothing to loop"
    bpm = 60.0 * clip.sample_rate / float(np.median(np.diff(grid.beats)))
    return (f"{name}: {clip.seconds:.1f} s at {bpm:.0f} bpm is too short for a {bars}-bar loop "
            f"({bars * grid.beats_per_bar * 60.0 / bpm:.1f} s plus a little either side)")


def _notes(phrase: Phrase | None, start: float, end: float, bars: int) -> Phrase | None:
    """The notes of [start, end) seconds, shifted to begin at 0 (MIDI path only)."""
    if phrase is None:
        return None
    from note_seq import sequences_lib

    part = sequences_lib.extract_subsequence(phrase.sequence, start, end)
    part.total_time = end - start
    return replace(phrase, sequence=part, bars=bars)
