"""A NoteSequence's tempo map, flattened: the same beats on one tempo.

Quantizing needs one tempo (note-seq splits a piece wherever the tempo changes), and songs
transcribed from recordings change it every few bars (POP909: up to dozens of changes), which
cuts their melodies into pieces shorter than a model's window. Moving every event to where its
beat falls at one tempo keeps the music and its grid and loses only the drift.

A file transcribed from a performance can also have its whole grid off the notes (POP909's
sits a constant 20-200 ms off): `grid_shift` finds that offset, `onto_grid` moves the notes
onto the grid, so a sixteenth-note quantizer puts downbeat notes on downbeats.
"""

from __future__ import annotations

import numpy as np

PHASE_BINS = 40  # where in the beat notes start, to line the tempo grid up with them
MAX_GRID_ERROR = 0.02  # seconds: a tempo grid this close to the notes is left alone
GRID_HOLDS = 0.5  # a grid whose beats start this share of the busiest phase's notes stays
BASS_BELOW = 55  # notes under G3 (and drums) mark the beat most surely: they weigh double


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


def grid_shift(beats: np.ndarray, times: np.ndarray, weights: np.ndarray) -> float:
    """Seconds to move the beat grid (`beats`, seconds) by so its beats fall where most of
    the notes (`times`, weighted) start. A file from a DAW has its notes on its grid; one
    transcribed from a performance often has the grid a constant 50-200 ms off its notes.
    0 when the grid is within MAX_GRID_ERROR already, or when its beats hold GRID_HOLDS of
    the busiest phase's notes (a jig's or a syncopated line's off-beats are the music's)."""
    beats, times = np.asarray(beats, np.float64), np.asarray(times, np.float64)
    if len(beats) < 2 or not len(times):
        return 0.0
    i = np.clip(np.searchsorted(beats, times, side="right") - 1, 0, len(beats) - 2)
    phase = (times - beats[i]) / (beats[i + 1] - beats[i])
    hist = np.bincount((np.floor(phase * PHASE_BINS) % PHASE_BINS).astype(int),
                       weights=weights, minlength=PHASE_BINS)
    smooth = hist + 0.5 * (np.roll(hist, 1) + np.roll(hist, -1))
    if smooth[0] >= GRID_HOLDS * smooth.max():
        return 0.0  # enough notes start on the grid's beats: off-beats are the music's own
    peak = (int(np.argmax(smooth)) + 0.5) / PHASE_BINS
    near = np.abs((phase - peak + 0.5) % 1.0 - 0.5) <= 1.5 / PHASE_BINS
    peak += np.average((phase[near] - peak + 0.5) % 1.0 - 0.5, weights=weights[near])
    shift = ((peak + 0.5) % 1.0 - 0.5) * float(np.median(np.diff(beats)))
    return 0.0 if abs(shift) < MAX_GRID_ERROR else shift


def onto_grid(sequence):
    """A copy of a one-tempo sequence with every event moved by the same amount, so that
    the notes sit on its beat grid (grid_shift); the sequence itself when they do already.
    A note the move would take before 0 starts at 0: it belonged to the first beat."""
    notes = [n for n in sequence.notes]
    if not notes:
        return sequence
    qpm = sequence.tempos[0].qpm if sequence.tempos else 120.0
    beat = 60.0 / qpm
    end = max(n.end_time for n in notes)
    times = np.array([n.start_time for n in notes])
    low = np.array([n.is_drum or n.pitch < BASS_BELOW for n in notes])
    weights = np.array([n.velocity for n in notes], np.float64) * np.where(low, 2.0, 1.0)
    shift = grid_shift(np.arange(0.0, end + beat, beat), times, weights)
    if not shift:
        return sequence
    out = type(sequence)()
    out.CopyFrom(sequence)
    for note in out.notes:
        note.start_time = max(0.0, note.start_time - shift)
        note.end_time = max(note.end_time - shift, note.start_time + 1e-3)
    for events in (out.control_changes, out.pitch_bends, out.text_annotations):
        for event in events:
            event.time = max(0.0, event.time - shift)
    for events in (out.time_signatures, out.key_signatures):  # those at 0 hold from the start
        for event in events:
            event.time = max(0.0, event.time - shift) if event.time > 0 else 0.0
    out.total_time = max(out.total_time - shift, max(n.end_time for n in out.notes))
    return out


def on_one_grid(sequence):
    """one_tempo (where the tempo changes), then onto_grid: a whole piece's events where a
    sixteenth-note quantizer reads them as the music's own grid. Give it whole pieces: on
    a melody alone, a syncopated line could pull the grid onto its off-beats."""
    return onto_grid(one_tempo(sequence) if len(sequence.tempos) > 1 else sequence)
