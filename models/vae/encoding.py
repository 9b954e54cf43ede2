"""NoteSequence <-> fixed-length melody windows, as MusicVAE's melody models see them.

A melody is note-seq's monophonic Melody on a sixteenth-note grid (4 steps per quarter): each
step is NO_EVENT, NOTE_OFF or a NOTE_ON pitch in 21..108, one-hot over 90 classes
(MelodyOneHotEncoding). Every pitched instrument's top line is a melody (the highest note
wins when several start together), so the four chorale voices give four melodies; a piece
that names a track MELODY (POP909's songs, many Lakh files) gives that track's line alone, not
its accompaniment's. A piece whose tempo drifts is put on its main tempo beat for beat
(models.timing), pieces are split where the meter changes, and melodies are cut into windows
of `bars` 4/4 bars (32 steps for 2 bars) one bar apart; windows with fewer than `min_notes`
onsets are dropped.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from typing import ClassVar

import numpy as np

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # pydub warns about ffmpeg, which is never used here
    from note_seq import melodies_lib, sequences_lib
    from note_seq.melody_encoder_decoder import MelodyOneHotEncoding
    from note_seq.protobuf import music_pb2

NO_EVENT, NOTE_OFF = 0, 1  # class ids; pitches follow


class NoMelody(ValueError):
    """The sequence has no pitched line long enough to use."""


@dataclass(frozen=True)
class MelodyEncoding:
    CACHE_VERSION: ClassVar[int] = 2  # 2: pieces moved onto their beat grid (models.timing)

    bars: int = 2
    steps_per_quarter: int = 4
    min_pitch: int = 21
    max_pitch: int = 108
    min_notes: int = 3

    @property
    def steps(self) -> int:
        return self.bars * 4 * self.steps_per_quarter

    @property
    def vocab_size(self) -> int:
        return self._onehot.num_classes

    @property
    def _onehot(self) -> MelodyOneHotEncoding:
        return MelodyOneHotEncoding(self.min_pitch, self.max_pitch + 1)

    def to_dict(self) -> dict:
        return asdict(self)

    def melodies(self, sequence: music_pb2.NoteSequence) -> list[np.ndarray]:
        """Class ids of every instrument's top line (the named melody's alone when there is
        one), per constant-meter section."""
        from models.timing import one_tempo

        if len(sequence.tempos) > 1:
            sequence = one_tempo(sequence)
        named = {info.instrument for info in sequence.instrument_infos
                 if info.name.strip().lower() == "melody"} & {
            n.instrument for n in sequence.notes if not n.is_drum}
        out = []
        for part in sequences_lib.split_note_sequence_on_time_changes(sequence):
            try:
                quantized = sequences_lib.quantize_note_sequence(part, self.steps_per_quarter)
            except Exception:  # noqa: BLE001 - an unquantizable section is skipped, not fatal
                continue
            pitched = {n.instrument for n in quantized.notes if not n.is_drum}
            for instrument in sorted(pitched & named if named else pitched):
                melody = melodies_lib.Melody()
                try:
                    melody.from_quantized_sequence(quantized, instrument=instrument,
                                                   gap_bars=float("inf"),
                                                   ignore_polyphonic_notes=True, pad_end=True)
                except Exception:  # noqa: BLE001 - e.g. a 1/32 meter note-seq cannot grid
                    continue
                events = np.array(list(melody), dtype=np.int64)
                if len(events) == 0:
                    continue
                pitched = events >= 0
                if ((events[pitched] < self.min_pitch) | (events[pitched] > self.max_pitch)).any():
                    melody.squash(self.min_pitch, self.max_pitch + 1)  # octave-fold outliers
                    events = np.array(list(melody), dtype=np.int64)
                out.append(self._ids(events))
        return out

    def _ids(self, events: np.ndarray) -> np.ndarray:
        return np.where(events == -2, NO_EVENT,
                        np.where(events == -1, NOTE_OFF, events - self.min_pitch + 2)
                        ).astype(np.int32)

    def windows(self, ids: np.ndarray, hop_bars: int = 1) -> np.ndarray:
        """[n, steps] windows of one melody, `hop_bars` apart, each with enough onsets."""
        steps, hop = self.steps, hop_bars * 4 * self.steps_per_quarter
        starts = range(0, len(ids) - steps + 1, hop)
        rows = [ids[s:s + steps] for s in starts]
        rows = [r for r in rows if (r >= 2).sum() >= self.min_notes]
        return np.stack(rows) if rows else np.zeros((0, steps), dtype=np.int32)

    def encode(self, sequence: music_pb2.NoteSequence) -> np.ndarray:
        """All windows of all melodies of a piece, flattened (length a multiple of `steps`),
        its notes moved onto its beat grid first (a performed file's can be off it)."""
        from models.timing import on_one_grid

        windows = [self.windows(m) for m in self.melodies(on_one_grid(sequence))]
        windows = [w for w in windows if len(w)]
        return np.concatenate(windows).ravel() if windows else np.zeros(0, dtype=np.int32)

    def lead(self, sequence: music_pb2.NoteSequence) -> np.ndarray:
        """The first usable window of the piece's lead line (the highest-sounding melody)."""
        best, best_pitch = None, -1.0
        for ids in self.melodies(sequence):
            rows = self.windows(ids)
            if len(rows):
                pitches = ids[ids >= 2]
                if pitches.mean() > best_pitch:
                    best, best_pitch = rows[0], float(pitches.mean())
        if best is None:
            raise NoMelody(f"no {self.bars}-bar melody with at least {self.min_notes} notes")
        return best

    def decode(self, ids, qpm: float = 120.0, velocity: int = 90, program: int = 0,
               start_time: float = 0.0) -> music_pb2.NoteSequence:
        """A NoteSequence of the melody in class ids, `qpm` quarter notes per minute."""
        events = np.asarray(ids, dtype=np.int64)
        events = np.where(events == NO_EVENT, -2,
                          np.where(events == NOTE_OFF, -1, events - 2 + self.min_pitch))
        melody = melodies_lib.Melody(events.tolist(), steps_per_quarter=self.steps_per_quarter)
        return melody.to_sequence(velocity=velocity, program=program, qpm=qpm,
                                  sequence_start_time=start_time)
