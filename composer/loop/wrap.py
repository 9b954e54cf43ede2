"""Where a circular period should wrap: the seam of a loop that has no fixed ends.

A phrase rendered with its tail folded onto its start is sample-continuous all round, so any
frame can be its seam. On the downbeat the seam meets the phrase's first attack, which can
out-flux the music's 99th percentile; a few milliseconds earlier it falls in the last bar's
sustain. A melody that rests before its downbeat dips there wherever the seam goes, while
another bar line may sit in the middle of a held chord. So: the downbeat first, then a few
milliseconds before it, then any bar line (and just before it), best first.
"""

from __future__ import annotations

import itertools

import numpy as np

from composer.audio import SeamScores
from composer.loop.seam import SeamProfile, seam_scores

SHIFTS_MS = (8.7, 4.35, 13.0, 17.4)  # before a bar line: inside the previous bar's sustain
TRIES = 4  # positions scored in full once the downbeat's have failed


def choose_wrap(period: np.ndarray, sample_rate: int, bars: int,
                shifts_ms: tuple[float, ...] = SHIFTS_MS) -> tuple[int, SeamScores]:
    """(where the loop starts, the seam scores of `period` rolled to start there).

    The start is a frame of `period`, counted back from its end (negative) when it lies in
    the second half, so a seam just before the downbeat reads as a few frames before it.

    Bar lines are `bars` equal divisions of the period. The first position whose scores are
    all <= 1 wins, in this order: the downbeat, then `shifts_ms` before it, then the other
    bar lines and their shifts ranked by an estimate; if none is, the best one measured.
    The scores returned are `seam_scores` of the rolled period, as any loop's are.
    """
    profile = SeamProfile(period, sample_rate)
    frames = profile.frames
    shifts = np.array([round(ms * sample_rate / 1000.0) for ms in (0.0, *shifts_ms)])
    downbeat = -shifts % frames  # the downbeat and just before it: bar 1 starts the period

    def others():  # ranked only when the downbeat's positions have all failed
        lines = np.round(np.arange(1, max(1, bars)) * frames / max(1, bars)).astype(np.int64)
        where = (lines[:, None] - shifts[None, :]).ravel() % frames
        yield from where[np.argsort(profile.estimate(where), kind="stable")][:TRIES]

    def measured(position: int) -> SeamScores:  # what anyone measuring the loop will find
        if position == 0:
            return profile.at(0)  # the same measurement
        return seam_scores(np.roll(period, -position, axis=0), sample_rate)

    best: tuple[float, int, SeamScores, bool] | None = None
    for position in map(int, itertools.chain(downbeat, others())):
        scores = profile.at(position)  # on the profile's grid, a few samples out of phase
        exact = scores.ok
        if exact:
            scores = measured(position)
        if best is None or scores.worst < best[0]:
            best = (scores.worst, position, scores, exact)
        if scores.ok:
            break
    _, position, scores, exact = best
    if not exact:
        scores = measured(position)
    return (position - frames if position > frames // 2 else position), scores
