"""NoteSequence <-> performance event ids, exactly as note-seq's performance encoding defines them.

A performance is a stream of NOTE_ON(pitch), NOTE_OFF(pitch), TIME_SHIFT(steps) and
VELOCITY(bin) events on an absolute 10 ms grid (Performance RNN's representation): it keeps
expressive timing and dynamics, and polyphony is just interleaved events. The event order and
ids are note-seq's PerformanceOneHotEncoding, so checkpoints and data agree with Magenta's tools.
Drums are dropped (they are not pitches) and the sustain pedal is applied to note lengths.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass

import numpy as np

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # pydub warns about ffmpeg, which is never used here
    from note_seq import performance_lib, sequences_lib
    from note_seq.performance_encoder_decoder import PerformanceOneHotEncoding
    from note_seq.protobuf import music_pb2


@dataclass(frozen=True)
class PerformanceEncoding:
    steps_per_second: int = 100
    max_shift_steps: int = 100  # one TIME_SHIFT covers up to 1 s; longer rests repeat it
    velocity_bins: int = 16

    @property
    def vocab_size(self) -> int:
        return self._onehot.num_classes

    @property
    def _onehot(self) -> PerformanceOneHotEncoding:
        return PerformanceOneHotEncoding(num_velocity_bins=self.velocity_bins,
                                         max_shift_steps=self.max_shift_steps)

    def to_dict(self) -> dict:
        return asdict(self)

    def encode(self, sequence: music_pb2.NoteSequence) -> np.ndarray:
        """Event ids (int32) of the pitched notes of `sequence`, sustain pedal applied."""
        pitched = music_pb2.NoteSequence()
        pitched.CopyFrom(sequence)
        del pitched.notes[:]
        pitched.notes.extend(n for n in sequence.notes if not n.is_drum)
        if not pitched.notes:
            return np.zeros(0, dtype=np.int32)
        pitched = sequences_lib.apply_sustain_control_changes(pitched)
        quantized = sequences_lib.quantize_note_sequence_absolute(pitched, self.steps_per_second)
        performance = performance_lib.Performance(
            quantized, num_velocity_bins=self.velocity_bins, max_shift_steps=self.max_shift_steps)
        encode = self._onehot.encode_event
        return np.fromiter((encode(e) for e in performance), dtype=np.int32, count=len(performance))

    def decode(self, ids, program: int = 0, max_note_duration: float | None = 5.0
               ) -> music_pb2.NoteSequence:
        """A NoteSequence from event ids. Notes never switched off end after `max_note_duration`."""
        performance = performance_lib.Performance(
            steps_per_second=self.steps_per_second, num_velocity_bins=self.velocity_bins,
            max_shift_steps=self.max_shift_steps)
        decode = self._onehot.decode_event
        for i in np.asarray(ids).tolist():
            performance.append(decode(i))
        return performance.to_sequence(program=program, max_note_duration=max_note_duration)

    def event_seconds(self) -> np.ndarray:
        """For every id, the time it moves the clock by (non-zero only for TIME_SHIFTs)."""
        onehot = self._onehot
        return np.array([onehot.event_to_num_steps(onehot.decode_event(i))
                         for i in range(self.vocab_size)]) / self.steps_per_second

    def seconds(self, ids) -> float:
        """How much time the events cover (the sum of their time shifts)."""
        return float(self.event_seconds()[np.asarray(ids, dtype=np.int64)].sum())

    def kinds(self) -> np.ndarray:
        """For every id, its event type name: 'on', 'off', 'shift' or 'vel'."""
        return np.array([self.describe(i).split(":")[0] for i in range(self.vocab_size)])

    def velocity_id(self, velocity: int) -> int:
        """The VELOCITY event for a MIDI velocity (1..127)."""
        bin_ = performance_lib.velocity_to_bin(velocity, self.velocity_bins)
        return self._onehot.encode_event(performance_lib.PerformanceEvent(
            performance_lib.PerformanceEvent.VELOCITY, bin_))

    def describe(self, i: int) -> str:
        event = self._onehot.decode_event(int(i))
        names = {performance_lib.PerformanceEvent.NOTE_ON: "on",
                 performance_lib.PerformanceEvent.NOTE_OFF: "off",
                 performance_lib.PerformanceEvent.TIME_SHIFT: "shift",
                 performance_lib.PerformanceEvent.VELOCITY: "vel"}
        return f"{names[event.event_type]}:{event.event_value}"
