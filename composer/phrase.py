"""The symbolic hand-off: what a generator writes and the renderer plays.

    Phrase   a NoteSequence of exactly `bars` bars, plus its tempo, meter, key and programs

The tempo travels here once: `Phrase.make` writes it into the sequence (so a saved MIDI file
is tempo-exact in a DAW) and every later stage reads `phrase.qpm`, never the sequence's own
tempo list. A MIDI file from anywhere becomes a Phrase through `Phrase.from_sequence`, which
reads its tempo and meter the one way the renderer always has (composer.render.midi).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

TICKS_PER_QUARTER = 220


@dataclass(frozen=True)
class Phrase:
    """A NoteSequence (note_seq's proto, times in seconds from 0) with its musical facts.

    `qpm` is None only for a file whose tempo changes (it has no single beat grid). `meter`
    is the time signature as written; `beats_per_bar` and `grid_qpm` are the beat grid the
    renderer and the loop detector count in (composer.render.midi.meter: a 6/8 bar is three
    quarter notes, a 7/8 bar seven eighths)."""

    sequence: object  # note_seq.NoteSequence
    qpm: float | None
    bars: int | None = None  # None: not cut to whole bars (a file read as it is)
    meter: tuple[int, int] = (4, 4)
    programs: tuple[int, ...] = field(default=())  # GM programs of the pitched tracks
    known_key: str | None = None  # set when the generator knows it (else estimated on use)

    @classmethod
    def make(cls, sequence, qpm: float, bars: int, *, meter: tuple[int, int] = (4, 4),
             program: int | None = None, key: str | None = None) -> Phrase:
        """A generator's output made tempo-exact: tempo, meter and length written into the
        sequence (in place), every pitched note on `program` unless it is None."""
        sequence.ticks_per_quarter = TICKS_PER_QUARTER
        del sequence.tempos[:]
        sequence.tempos.add(time=0.0, qpm=qpm)
        del sequence.time_signatures[:]
        sequence.time_signatures.add(time=0.0, numerator=meter[0], denominator=meter[1])
        sequence.total_time = bars * bar_seconds(qpm, meter)
        if program is not None:
            for note in sequence.notes:
                if not note.is_drum:
                    note.program = program
        return cls(sequence=sequence, qpm=float(qpm), bars=bars, meter=meter,
                   programs=_programs(sequence), known_key=key)

    @classmethod
    def from_sequence(cls, sequence) -> Phrase:
        """Any NoteSequence (a MIDI file read by composer.render.read_sequence) as a Phrase:
        its constant tempo if it has one, its only time signature, else 4/4."""
        from composer.render.midi import constant_tempo

        meters = {(t.numerator, t.denominator) for t in sequence.time_signatures}
        meter = meters.pop() if len(meters) == 1 else (4, 4)
        return cls(sequence=sequence, qpm=constant_tempo(sequence), meter=meter,
                   programs=_programs(sequence))

    @property
    def seconds(self) -> float:
        return float(self.sequence.total_time)

    @property
    def beats_per_bar(self) -> int:
        """Beats in a bar of the grid (quarter notes when a bar holds a whole number)."""
        from composer.render.midi import meter_beats

        return meter_beats(self.meter)[0]

    @property
    def grid_qpm(self) -> float | None:
        """Beats a minute of that grid: qpm, or the meter's own unit in 3/8, 7/8 and the like."""
        from composer.render.midi import meter_beats

        return None if self.qpm is None else self.qpm * meter_beats(self.meter)[1] / 4

    @cached_property
    def key(self) -> str | None:
        """The key: the generator's word for it, else estimated from the pitched notes."""
        if self.known_key is not None:
            return self.known_key
        notes = [n for n in self.sequence.notes if not n.is_drum]
        if not notes:
            return None
        import numpy as np

        from training.keys import estimate_key_from_notes

        pitches = np.array([n.pitch for n in notes])
        durations = np.array([n.end_time - n.start_time for n in notes])
        return estimate_key_from_notes(pitches, durations).key.name

    def with_program(self, program: int | tuple[int, ...] | None) -> Phrase:
        """A copy with every pitched note on `program`, or with track i (the model's
        instrument i: the pop model's melody, bridge and accompaniment) on `program[i]`
        when it is a tuple; None: this phrase itself."""
        if program is None:
            return self
        sequence = type(self.sequence)()
        sequence.CopyFrom(self.sequence)
        per_track = isinstance(program, tuple)
        for note in sequence.notes:
            if note.is_drum:
                continue
            if not per_track:
                note.program = program
            elif note.instrument < len(program):
                note.program = program[note.instrument]
        return Phrase(sequence, self.qpm, self.bars, self.meter, _programs(sequence),
                      self.known_key)

    def with_mode(self, mode: str | None) -> Phrase:
        """A copy in the parallel `mode` ("major" or "minor") of its key (composer.modes);
        None, or the mode it is already in: this phrase itself."""
        if mode is None:
            return self
        from composer.modes import to_mode

        sequence, key = to_mode(self.sequence, mode)
        return Phrase(sequence, self.qpm, self.bars, self.meter, self.programs, key)


def bar_seconds(qpm: float, meter: tuple[int, int] = (4, 4)) -> float:
    """One bar's length in seconds at `qpm` quarter notes a minute."""
    numerator, denominator = meter
    return numerator * 4.0 / denominator * 60.0 / qpm


def _programs(sequence) -> tuple[int, ...]:
    return tuple(sorted({n.program for n in sequence.notes if not n.is_drum}))
