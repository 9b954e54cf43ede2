"""Seamless joins: phrase tails ring into what follows, a loop's tail into its own start.

A phrase cut at its last bar line would drop the releases and reverb still sounding there, and
fading them out is audible as a gap. FluidSynth is (up to voice stealing and chorus modulation)
linear, so the sound of phrase B following phrase A equals A's audio, tail and all, plus B's
audio started at A's musical end: overlap-add. A loop follows itself, so its tail folds onto
its own start, modulo the period.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from composer.audio import Clip


def starts(clips: Sequence[Clip]) -> np.ndarray:
    """The frame at which each clip begins when they play back to back (musical lengths)."""
    lengths = np.array([clip.length for clip in clips], dtype=np.int64)
    return np.concatenate([[0], np.cumsum(lengths)[:-1]]) if len(clips) else lengths


def overlap_add(clips: Sequence[Clip]) -> np.ndarray:
    """Clips one after another, each starting at the previous one's musical end, each tail
    summed onto what follows. The result runs to the end of the longest-reaching tail."""
    if not clips:
        return np.zeros((0, 2), np.float32)
    rates = {clip.sample_rate for clip in clips}
    if len(rates) > 1:
        raise ValueError(f"clips at different sample rates {sorted(rates)} cannot be joined")
    offsets = starts(clips)
    channels = clips[0].audio.shape[1]
    total = int(max(o + len(c.audio) for o, c in zip(offsets.tolist(), clips)))
    out = np.zeros((total, channels), np.float32)
    for offset, clip in zip(offsets.tolist(), clips):
        out[offset:offset + len(clip.audio)] += clip.audio
    return out


def wrap_tail(clip: Clip) -> np.ndarray:
    """One period of `clip.frames` frames with everything past it folded back onto the start
    (modulo the period, however many periods the tail spans). Played end to start forever it
    sounds like the phrase rendered back to back without end: no gap, no fade."""
    period = clip.length
    if period <= 0:
        raise ValueError("a loop needs a musical length of at least one frame")
    audio = clip.audio
    laps = -(-len(audio) // period)
    padded = np.zeros((laps * period, *audio.shape[1:]), np.float32)
    padded[:len(audio)] = audio
    return padded.reshape(laps, period, *audio.shape[1:]).sum(axis=0, dtype=np.float32)
