"""A NoteSequence's tempo map, flattened: the same beats on one tempo.

Quantizing needs one tempo (note-seq splits a piece wherever the tempo changes), and songs
transcribed from recordings change it every few bars (POP909: up to dozens of changes), which
cuts their melodies into pieces shorter than a model's window. Moving every event to where its
beat falls at one tempo keeps the music and its grid and loses only the drift.
"""

from __future__ import annotations

import numpy as np


def main_qpm(sequence) -> float:
    """The tempo in force for the longest time."""
    tempos = sorted(sequence.tempos, key=lambda t: t.time)
    if not tempos:
        return 120.0
    ends = [t.time for t in tempos[1:]] + [max(sequence.total_time, tempos[-1].time)]
    spans: dict[float, float] = {}
    for tempo, end in zip(tempos, ends):
        spans[round(tempo.qpm, 2)] = spans.get(round(tempo.qpm, 2), 0.0) + end - tempo.time
    return max(spans, key=spans.get)


def beats_of(sequence, times) -> np.ndarray:
    """Seconds as quarter-note beats from the start, through the tempo map."""
    tempos = sorted(sequence.tempos, key=lambda t: t.time) or [None]
    starts = np.array([t.time if t else 0.0 for t in tempos], dtype=np.float64)
    starts[0] = 0.0  # the first tempo holds from the start
    rates = np.array([t.qpm / 60.0 if t else 2.0 for t in tempos], dtype=np.float64)
    at_change = np.concatenate([[0.0], np.cumsum(np.diff(starts) * rates[:-1])])
    times = np.asarray(times, dtype=np.float64)
    i = np.clip(np.searchsorted(starts, times, side="right") - 1, 0, len(starts) - 1)
    return at_change[i] + (times - starts[i]) * rates[i]


def one_tempo(sequence, qpm: float | None = None):
    """A copy on one tempo (default: the main one), every event on its own beat."""
    qpm = qpm or main_qpm(sequence)
    out = type(sequence)()
    out.CopyFrom(sequence)
    scale = 60.0 / qpm

    def moved(times) -> list[float]:
        return (beats_of(sequence, times) * scale).tolist()

    starts = moved([n.start_time for n in out.notes])
    ends = moved([n.end_time for n in out.notes])
    for note, start, end in zip(out.notes, starts, ends):
        note.start_time, note.end_time = start, max(end, start + 1e-3)
    for events in (out.time_signatures, out.key_signatures, out.control_changes,
                   out.pitch_bends, out.text_annotations):
        for event, time in zip(events, moved([e.time for e in events])):
            event.time = time
    del out.tempos[:]
    out.tempos.add(time=0.0, qpm=qpm)
    out.total_time = moved([sequence.total_time])[0]
    return out
