"""NoteSequence <-> multi-track phrase piano rolls, as MuseGAN sees music.

A phrase is `bars` 4/4 bars on a sixteenth-note grid, a binary roll [time, pitch, track]:
a cell is on while a note of that pitch sounds in that track. Two track layouts:
- "satb": the four voices of a chorale, highest to lowest (pieces with exactly four pitched
  parts only), pitches 36..83;
- "lakh5": Lakh Pianoroll Dataset's five tracks (drums, piano, guitar, bass, strings) by
  General MIDI program family, every other instrument folded into strings, pitches 24..107.
Phrases start on every bar; phrases where a track is silent throughout are dropped.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass

import numpy as np

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from note_seq import sequences_lib
    from note_seq.protobuf import music_pb2

LAYOUTS = {
    "satb": {"names": ("soprano", "alto", "tenor", "bass"), "min_pitch": 36, "pitches": 48,
             "programs": (52, 52, 52, 52),  # Choir Aahs
             "monophonic": True},  # a voice sings one note at a time
    "lakh5": {"names": ("drums", "piano", "guitar", "bass", "strings"), "min_pitch": 24,
              "pitches": 84, "programs": (0, 0, 24, 32, 48), "monophonic": False},
}


class NoPhrase(ValueError):
    """The sequence has no phrase in this layout."""


@dataclass(frozen=True)
class PianorollEncoding:
    layout: str = "satb"
    bars: int = 4
    steps_per_bar: int = 16

    @property
    def tracks(self) -> int:
        return len(LAYOUTS[self.layout]["names"])

    @property
    def pitches(self) -> int:
        return LAYOUTS[self.layout]["pitches"]

    @property
    def min_pitch(self) -> int:
        return LAYOUTS[self.layout]["min_pitch"]

    @property
    def monophonic(self) -> bool:
        return LAYOUTS[self.layout]["monophonic"]

    def binarize(self, probabilities: np.ndarray, threshold: float = 0.5) -> np.ndarray:
        """Generator output [..., time, pitch, track] to notes: MuseGAN's hard threshold, and
        for monophonic layouts only the likeliest pitch of each voice at each step."""
        if not self.monophonic:
            return probabilities > threshold
        best = probabilities.argmax(axis=-2)  # [..., time, track]
        top = np.take_along_axis(probabilities, best[..., None, :], axis=-2)
        out = np.zeros(probabilities.shape, dtype=bool)
        np.put_along_axis(out, best[..., None, :], top > threshold, axis=-2)
        return out

    @property
    def steps(self) -> int:
        return self.bars * self.steps_per_bar

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.steps, self.pitches, self.tracks

    def to_dict(self) -> dict:
        return asdict(self)

    def _track_of(self, sequence) -> dict[int, int]:
        """Instrument number -> track index, for the instruments that have one."""
        pitched = {}
        for n in sequence.notes:
            pitched.setdefault((n.instrument, n.program, n.is_drum), []).append(n.pitch)
        if self.layout == "satb":
            voices = [(np.mean(p), inst) for (inst, _, drum), p in pitched.items() if not drum]
            if len(voices) != 4:
                return {}
            return {inst: i for i, (_, inst) in enumerate(sorted(voices, reverse=True))}
        tracks = {}
        for inst, program, drum in pitched:
            if drum:
                tracks[inst] = 0
            elif program < 8:
                tracks[inst] = 1
            elif 24 <= program < 32:
                tracks[inst] = 2
            elif 32 <= program < 40:
                tracks[inst] = 3
            else:
                tracks[inst] = 4
        return tracks

    def roll(self, sequence: music_pb2.NoteSequence) -> np.ndarray:
        """The whole piece as one binary roll [time, pitch, track] (empty if unusable)."""
        track_of = self._track_of(sequence)
        signatures = {(t.numerator, t.denominator) for t in sequence.time_signatures}
        if not track_of or not signatures <= {(4, 4)}:
            return np.zeros((0, self.pitches, self.tracks), dtype=bool)
        try:
            quantized = sequences_lib.quantize_note_sequence(sequence, self.steps_per_bar // 4)
        except Exception:  # noqa: BLE001 - tempo changes and the like: skip the piece
            return np.zeros((0, self.pitches, self.tracks), dtype=bool)
        length = max((n.quantized_end_step for n in quantized.notes), default=0)
        roll = np.zeros((length, self.pitches, self.tracks), dtype=bool)
        for n in quantized.notes:
            track = track_of.get(n.instrument)
            if track is None:
                continue
            pitch = n.pitch - self.min_pitch
            while pitch < 0:
                pitch += 12
            while pitch >= self.pitches:
                pitch -= 12
            roll[n.quantized_start_step:max(n.quantized_end_step, n.quantized_start_step + 1),
                 pitch, track] = True
        return roll

    def phrases(self, sequence: music_pb2.NoteSequence) -> np.ndarray:
        """[n, time, pitch, track] phrases starting on every bar, each with every track heard."""
        roll = self.roll(sequence)
        starts = range(0, len(roll) - self.steps + 1, self.steps_per_bar)
        keep = [roll[s:s + self.steps] for s in starts
                if roll[s:s + self.steps].any(axis=(0, 1)).all()]
        return np.stack(keep) if keep else np.zeros((0, *self.shape), dtype=bool)

    def encode(self, sequence: music_pb2.NoteSequence) -> np.ndarray:
        """Phrases flattened to uint8 (for the shared split cache)."""
        return self.phrases(sequence).astype(np.int16).ravel()

    def decode(self, roll: np.ndarray, qpm: float = 120.0, velocity: int = 80,
               start_time: float = 0.0) -> music_pb2.NoteSequence:
        """A NoteSequence from a binary roll [time, pitch, track]: one instrument per track."""
        roll = np.asarray(roll, dtype=bool)
        step = 60.0 / qpm / (self.steps_per_bar // 4)
        layout = LAYOUTS[self.layout]
        seq = music_pb2.NoteSequence(ticks_per_quarter=220)
        seq.tempos.add(qpm=qpm)
        seq.time_signatures.add(numerator=4, denominator=4)
        padded = np.concatenate([np.zeros((1, *roll.shape[1:]), bool), roll,
                                 np.zeros((1, *roll.shape[1:]), bool)])
        change = np.diff(padded.astype(np.int8), axis=0)
        for track in range(roll.shape[2]):
            drum = layout["names"][track] == "drums"
            for pitch in range(roll.shape[1]):
                ons = np.flatnonzero(change[:, pitch, track] == 1)
                offs = np.flatnonzero(change[:, pitch, track] == -1)
                for on, off in zip(ons, offs):
                    seq.notes.add(pitch=pitch + self.min_pitch, velocity=velocity,
                                  start_time=start_time + on * step,
                                  end_time=start_time + off * step, instrument=track,
                                  program=layout["programs"][track], is_drum=drum)
        seq.total_time = start_time + len(roll) * step
        return seq
