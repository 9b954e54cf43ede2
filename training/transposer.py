"""Shift pieces so that they all share one key signature.

Two levels, one rule: a MIDI file is rewritten message by message with mido (so tempo,
programs, controllers, sysex and timing survive byte-for-byte apart from the shifted notes),
and a NoteSequence is shifted in memory for the corpus. Drums (MIDI channel 10) never move;
a pitch pushed out of 0..127 is folded back by octaves so no note is lost.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import mido
import numpy as np
import pretty_midi

from training.keys import (
    Key,
    KeyEstimate,
    estimate_key_from_notes,
    parse_key,
    transposition,
)
from training.score import Score

DRUM_CHANNEL = 9
DEFAULT_TARGET = Key(0, "major")  # no sharps or flats: C major / A minor

_MAJOR_NAMES = ("C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B")
_MINOR_NAMES = ("Cm", "C#m", "Dm", "Ebm", "Em", "Fm", "F#m", "Gm", "G#m", "Am", "Bbm", "Bm")


def fold_pitch(pitch: int) -> int:
    """Bring a pitch into 0..127 by whole octaves."""
    while pitch < 0:
        pitch += 12
    while pitch > 127:
        pitch -= 12
    return pitch


def pitched_notes(pm: pretty_midi.PrettyMIDI) -> tuple[np.ndarray, np.ndarray]:
    """(pitches, durations) of every non-drum note of a pretty_midi object (see Score.pitched)."""
    notes = [n for inst in pm.instruments if not inst.is_drum for n in inst.notes]
    pitches = np.fromiter((n.pitch for n in notes), dtype=np.int64, count=len(notes))
    durations = np.fromiter((n.end - n.start for n in notes), dtype=np.float64, count=len(notes))
    return pitches, durations


def estimate_midi_key(pm: pretty_midi.PrettyMIDI) -> KeyEstimate:
    return estimate_key_from_notes(*pitched_notes(pm))


def mido_key_name(key: Key) -> str:
    return (_MAJOR_NAMES if key.mode == "major" else _MINOR_NAMES)[key.tonic]


def shift_key_name(name: str, shift: int) -> str:
    """Shift a mido key-signature name ('F#m', 'Bb') by `shift` semitones."""
    key = parse_key(name)
    return mido_key_name(Key(key.tonic + shift, key.mode))


def transpose_midi_bytes(data: bytes, shift: int) -> bytes:
    """Shift every pitched note and key signature of a Standard MIDI File by `shift` semitones."""
    midi = mido.MidiFile(file=io.BytesIO(data))
    if shift:
        for track in midi.tracks:
            for i, msg in enumerate(track):
                if msg.type in ("note_on", "note_off", "polytouch"):
                    if msg.channel != DRUM_CHANNEL:
                        track[i] = msg.copy(note=fold_pitch(msg.note + shift))
                elif msg.type == "key_signature":
                    track[i] = msg.copy(key=shift_key_name(msg.key, shift))
    out = io.BytesIO()
    midi.save(file=out)
    return out.getvalue()


def transpose_notesequence(sequence, shift: int):
    """A shifted copy of a NoteSequence: pitched notes and key signatures move, drums stay."""
    out = type(sequence)()
    out.CopyFrom(sequence)
    if shift:
        for note in out.notes:
            if not note.is_drum:
                note.pitch = fold_pitch(note.pitch + shift)
        for signature in out.key_signatures:
            signature.key = (signature.key + shift) % 12
    return out


@dataclass(frozen=True)
class TranspositionPlan:
    estimate: KeyEstimate
    target: Key
    shift: int

    @property
    def result_key(self) -> Key:
        key = self.estimate.key
        return Key(key.tonic + self.shift, key.mode)


def plan_transposition(score: Score, target: Key = DEFAULT_TARGET) -> TranspositionPlan:
    estimate = estimate_key_from_notes(*score.pitched())
    return TranspositionPlan(estimate, target, transposition(estimate.key, target))
