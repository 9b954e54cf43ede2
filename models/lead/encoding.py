"""A melody over chords <-> one int16 token stream: (chord, bar position), then the melody event,
for every sixteenth note.

The melody is one line on the sixteenth grid of the song's own beats (POP909's beat
annotations, else the tempo map; models.pop.encoding.beat_clock), 4/4 bars. Each sixteenth has
one event, as in Magenta's Melody/Improv RNN:

    HOLD (0)    nothing new: the sounding note goes on, or the rest does
    REST (1)    the sounding note stops
    NOTE (2+k)  a note of pitch PITCH_LOW + k starts (it stops the one before)

and one condition: the chord sounding there (models.lead.chords id) and the sixteenth's place
in its bar. The stream interleaves them, condition first: [c0, e0, c1, e1, ...], so a song fits
training.datasets' int16 cache and the model reads "the chord now, what I played last" and
writes the event now. Pitches outside the range move by octaves into it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from models.lead.chords import CHORDS, NO_CHORD, parse_chord, shift_table

HOLD, REST, FIRST_NOTE = 0, 1, 2
STEPS_PER_BEAT, BEATS_PER_BAR = 4, 4
STEPS_PER_BAR = STEPS_PER_BEAT * BEATS_PER_BAR


@dataclass(frozen=True)
class LeadEncoding:
    pitch_low: int = 48  # C3
    pitch_high: int = 91  # G6, inclusive

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def events(self) -> int:
        return FIRST_NOTE + self.pitch_high - self.pitch_low + 1

    @property
    def conditions(self) -> int:
        return CHORDS * STEPS_PER_BAR

    def note(self, pitch: int) -> int:
        """The NOTE event of a MIDI pitch, moved by octaves into range."""
        while pitch < self.pitch_low:
            pitch += 12
        while pitch > self.pitch_high:
            pitch -= 12
        return FIRST_NOTE + pitch - self.pitch_low

    def pitch(self, event: int) -> int:
        return self.pitch_low + int(event) - FIRST_NOTE

    def encode(self, sequence) -> np.ndarray:
        """A song's melody and chords as the interleaved stream (empty when it has no melody,
        no chords, or bars that are not 4/4), from the bar of its first melody note to the
        bar of its last."""
        melody = melody_notes(sequence)
        if not melody:
            return np.zeros(0, np.int16)
        grid = step_grid(sequence)
        if grid is None:
            return np.zeros(0, np.int16)
        to_step, offset = grid
        onsets = np.round(to_step([n.start_time for n in melody])).astype(np.int64) + offset
        ends = np.round(to_step([n.end_time for n in melody])).astype(np.int64) + offset
        first = (onsets.min() // STEPS_PER_BAR) * STEPS_PER_BAR
        if first < 0:
            return np.zeros(0, np.int16)
        last = -(-max(onsets.max() + 1, ends.max()) // STEPS_PER_BAR) * STEPS_PER_BAR
        events = self.events_of(onsets - first, ends - first, [n.pitch for n in melody],
                                last - first)
        chords = chords_per_step(sequence, to_step, offset, first, last)
        if (chords == NO_CHORD).mean() > 0.5:  # no chord annotations: nothing to condition on
            return np.zeros(0, np.int16)
        positions = (np.arange(first, last) % STEPS_PER_BAR)
        return interleave(chords * STEPS_PER_BAR + positions, events)

    def events_of(self, onsets: np.ndarray, ends: np.ndarray, pitches, steps: int) -> np.ndarray:
        """One event per step from note onsets and ends in steps (a monophonic line: a note
        that starts cuts the one before; two on one step keep the highest)."""
        events = np.full(steps, HOLD, np.int16)
        order = np.lexsort((np.asarray(pitches), onsets))
        for onset, end, pitch in zip(onsets[order], ends[order], np.asarray(pitches)[order]):
            events[onset] = self.note(int(pitch))
            stop = max(int(end), int(onset) + 1)
            if stop < steps and events[stop] == HOLD:
                events[stop] = REST
        # a REST written by an earlier note inside a later one would cut it: drop those
        sounding = False
        for i, event in enumerate(events):
            if event >= FIRST_NOTE:
                sounding = True
            elif event == REST:
                if not sounding:
                    events[i] = HOLD
                sounding = False
        return events

    def shift(self, stream: np.ndarray, semitones: int) -> np.ndarray:
        """The stream moved up `semitones` (chords and melody; notes fold into range)."""
        k = semitones % 12
        cond, events = stream[0::2].astype(np.int64), stream[1::2].astype(np.int64)
        chords, positions = np.divmod(cond, STEPS_PER_BAR)
        chords = shift_table()[k][chords]
        moved = events.copy()
        notes = events >= FIRST_NOTE
        moved[notes] = [self.note(self.pitch(e) + semitones) for e in events[notes]]
        return interleave(chords * STEPS_PER_BAR + positions, moved)


def interleave(conditions: np.ndarray, events: np.ndarray) -> np.ndarray:
    out = np.empty(2 * len(events), np.int16)
    out[0::2], out[1::2] = conditions, events
    return out


def melody_notes(sequence) -> list:
    """The melody track's notes: POP909's MELODY, else the one models/melody_track names."""
    names = {i.instrument: i.name.upper() for i in sequence.instrument_infos}
    melody = next((i for i, name in names.items() if name == "MELODY"), None)
    if melody is None:
        from models.melody_track import melody_instrument

        melody = melody_instrument(sequence)
    return [n for n in sequence.notes if n.instrument == melody and not n.is_drum]


def step_grid(sequence):
    """(seconds -> steps, steps before the first bar line) on the song's beats, or None when
    its annotated bars are not mostly four beats long."""
    from models.pop.encoding import beat_clock

    to_beats, pickup, downbeats = beat_clock(sequence)
    if downbeats is not None and len(downbeats) > 2:
        if np.mean(np.diff(downbeats) == BEATS_PER_BAR) < 0.8:
            return None
    offset = (BEATS_PER_BAR - pickup) * STEPS_PER_BEAT if pickup else 0

    def to_step(times):
        return np.asarray(to_beats(times)) * STEPS_PER_BEAT

    return to_step, offset


def chords_per_step(sequence, to_step, offset: int, first: int, last: int) -> np.ndarray:
    """The chord id in force at each step first..last-1 from CHORD_SYMBOL annotations (no
    chord before the first)."""
    from note_seq.protobuf import music_pb2

    kind = music_pb2.NoteSequence.TextAnnotation.CHORD_SYMBOL
    marks = sorted((a.time, a.text) for a in sequence.text_annotations
                   if a.annotation_type == kind)
    out = np.full(last - first, NO_CHORD, np.int16)
    if not marks:
        return out
    steps = np.round(to_step([t for t, _ in marks])).astype(np.int64) + offset - first
    for step, (_, label) in zip(steps, marks):
        if step < len(out):
            out[max(step, 0):] = parse_chord(label).id
    return out
