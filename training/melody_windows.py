"""Statistics of monophonic melody windows (MelodyEncoding class ids), generated or real.

What a listener hears first in a melody VAE's samples: how many bars are silent, how busy
the line is, how it sits on the beat, how far it ranges and leaps, how many pitch classes it
uses. Pure functions, so a model's samples and a corpus' windows are measured the same way.
"""

from __future__ import annotations

import numpy as np

from models.vae.encoding import NOTE_OFF, MelodyEncoding

FIRST_PITCH_ID = NOTE_OFF + 1  # pitches follow no-event and note-off
STEPS_PER_BAR = 16
STATISTICS = ("silent_bars", "onsets_per_bar", "on_beat", "pitch_range", "mean_interval",
              "pitch_class_entropy")


def statistics(ids: np.ndarray, encoding: MelodyEncoding | None = None) -> dict[str, float]:
    """Means over [windows, steps] class ids of `encoding` (default: the VAEs' own). A silent
    bar is one where no note starts."""
    min_pitch = (encoding or MelodyEncoding()).min_pitch
    ids = np.atleast_2d(np.asarray(ids))
    onsets = ids >= FIRST_PITCH_ID
    bars = onsets.reshape(len(ids), -1, STEPS_PER_BAR)
    ranges, intervals, entropies = [], [], []
    for row in ids:
        pitches = row[row >= FIRST_PITCH_ID] - FIRST_PITCH_ID + min_pitch
        if len(pitches) < 2:
            continue
        ranges.append(np.ptp(pitches))
        intervals.append(np.abs(np.diff(pitches)).mean())
        share = np.bincount(pitches % 12, minlength=12) / len(pitches)
        share = share[share > 0]
        entropies.append(-(share * np.log2(share)).sum())
    return {"silent_bars": float((~bars.any(-1)).mean()),
            "onsets_per_bar": float(onsets.sum() / bars.shape[0] / bars.shape[1]),
            "on_beat": float(onsets[:, ::4].sum() / max(onsets.sum(), 1)),
            "pitch_range": float(np.mean(ranges)) if ranges else 0.0,
            "mean_interval": float(np.mean(intervals)) if intervals else 0.0,
            "pitch_class_entropy": float(np.mean(entropies)) if entropies else 0.0}


def distance(made: dict[str, float], real: dict[str, float]) -> float:
    """Mean relative difference over the statistics (0: the same means). A share the real
    windows hardly have (under 0.05: silent bars in 2-bar windows) is left out, where any
    difference would count as thousands of percent."""
    return float(np.mean([abs(made[k] - real[k]) / abs(real[k])
                          for k in STATISTICS if abs(real[k]) >= 0.05]))
