"""The performance LSTM as a generator: each phrase continues the last (or a primer)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from composer.generators import GenerationError
from composer.phrase import Phrase, bar_seconds
from models.checkpoint import load_checkpoint
from models.dynamics import Performer
from models.sampling import sample_logits

PRIMER_EVENTS = 512  # how much of a primer's end conditions the model


class LstmGenerator:
    """Stateful: the recurrent state carries on from phrase to phrase.

    Performance events are in seconds, learned at the training pieces' median tempo
    (`native_qpm`); other tempos are made by scaling time, so bars stay exact. `quantize`
    snaps notes to the sixteenth grid, so they sit on the bars a DAW shows.

    The model learned one velocity (its corpus has no dynamics), so the shipped dynamics
    (models/dynamics) set them: the top line (notes with nothing higher sounding as they
    start), the tune a pianist brings out, is the lead; the notes under it accompaniment."""

    def __init__(self, checkpoint: Path, *, seed: int | None = None, temperature: float = 1.0,
                 top_k: int = 0, quantize: bool = True) -> None:
        from models.lstm.encoding import PerformanceEncoding
        from models.lstm.runtime import LstmRuntime

        self.info, weights = load_checkpoint(checkpoint, ("lstm",))
        self.encoding = PerformanceEncoding(**self.info["encoding"])
        self.runtime = LstmRuntime(weights)
        self.temperature = temperature
        self.top_k = top_k
        self.quantize = quantize
        self.rng = np.random.default_rng(seed)
        self.state = self.runtime.initial_state()
        self.performer = Performer(seed)
        self.shift = 0  # semitones the primer was moved into the model's key
        self.logits = None
        self.event_seconds = self.encoding.event_seconds()
        self.native_qpm = float(self.info.get("native_qpm", 120.0))
        self.kinds = self.encoding.kinds()
        self.fresh = True  # nothing played yet: the first phrase starts on the first note
        self._feed(np.array([self.encoding.velocity_id(80)]))  # music starts with a velocity

    def _feed(self, ids: np.ndarray) -> None:
        for i in ids.tolist():
            self.logits = self.runtime.step(np.array([i]), self.state)

    def prime(self, sequence, shift: int = 0, qpm: float | None = None) -> None:
        """Condition on a NoteSequence already moved by `shift` into the model's key; a primer
        at `qpm` is first scaled to the model's own tempo. It writes one instrument, so generate
        gives it one track of a song (its lead: `ModelSpec.primer_lead`), not every part."""
        if qpm:
            from note_seq import sequences_lib

            sequence = sequences_lib.stretch_note_sequence(sequence, qpm / self.native_qpm)
        ids = self.encoding.encode(sequence)
        if len(ids) == 0:
            raise GenerationError("the primer has no pitched notes")
        self.shift = shift
        self.fresh = False  # continue the primer's own time grid
        self._feed(ids[-PRIMER_EVENTS:])

    def events(self, seconds: float) -> np.ndarray:
        """Sample events until they cover `seconds`.

        The model was trained on windows from anywhere in a piece, so on a fresh start it may
        first "finish" notes or rests it imagines. Those events still condition it but are not
        played: time starts at its first note, which puts the phrase on the bar grid.
        """
        out: list[int] = []
        covered = 0.0
        velocity = None
        while covered < seconds - 1e-9:
            i = int(sample_logits(self.logits, self.rng, self.temperature, self.top_k)[0])
            self.logits = self.runtime.step(np.array([i]), self.state)
            if self.fresh:
                if self.kinds[i] == "vel":
                    velocity = i
                if self.kinds[i] != "on":
                    continue
                self.fresh = False
                if velocity is not None:
                    out.append(velocity)
            out.append(i)
            covered += self.event_seconds[i]
        return np.array(out, dtype=np.int32)

    def phrase(self, bars: int, qpm: float = 120.0) -> Phrase:
        """The next `bars` 4/4 bars at `qpm`: made at the model's tempo, then time-scaled,
        in the primer's key."""
        from note_seq import sequences_lib

        from training.transposer import transpose_notesequence

        length = bars * bar_seconds(self.native_qpm)
        sequence = self.encoding.decode(self.events(length))
        sequence = sequences_lib.trim_note_sequence(sequence, 0.0, length)
        sequence.total_time = length
        if self.shift:
            sequence = transpose_notesequence(sequence, -self.shift)
        if self.quantize:
            sequence = quantized(sequence, 60.0 / self.native_qpm / 4, length)
        sequence = sequences_lib.stretch_note_sequence(sequence, self.native_qpm / qpm)
        phrase = Phrase.make(sequence, qpm, bars)
        self.performer.apply(phrase.sequence, qpm)
        return phrase


def quantized(sequence, step: float, length: float):
    """Notes snapped to a grid of `step` seconds (at least one step long, inside `length`)."""
    out = type(sequence)()
    out.CopyFrom(sequence)
    del out.notes[:]
    seen = set()
    for note in sequence.notes:
        start = round(note.start_time / step) * step
        end = max(round(note.end_time / step) * step, start + step)
        if start >= length - 1e-9 or (note.pitch, start) in seen:
            continue  # snapped past the end, or onto a twin
        seen.add((note.pitch, start))
        new = out.notes.add()
        new.CopyFrom(note)
        new.start_time, new.end_time = start, min(end, length)
    return out
