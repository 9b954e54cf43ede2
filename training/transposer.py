"""Shift pieces so that they all share one key signature.

Two levels, one rule: a MIDI file is copied byte for byte with only its note numbers and key
signatures changed in place, found by the project's own reader (training.smf), so whatever that
reader accepts is written back as it was (unknown chunks, odd meta events, sysex, timing); and
a NoteSequence is shifted in memory for the corpus. Drums (MIDI channel 10) never move;
a pitch pushed out of 0..127 is folded back by octaves so no note is lost.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pretty_midi

from training.keys import (
    Key,
    KeyEstimate,
    estimate_key_from_notes,
    key_from_signature,
    transposition,
)
from training.score import Score, fold_pitches
from training.smf import decode_track, track_spans

DRUM_CHANNEL = 9
DEFAULT_TARGET = Key(0, "major")  # no sharps or flats: C major / A minor


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


def transpose_midi_bytes(data: bytes, shift: int) -> bytes:
    """Shift every pitched note and key signature of a Standard MIDI File by `shift` semitones.

    Only the key bytes of note-on, note-off and polyphonic aftertouch off channel 10, and the
    two data bytes of well-formed key signatures, change; the result has the same length and
    every other byte. Raises SmfError where training.smf.read_smf would.
    """
    out = np.frombuffer(data, dtype=np.uint8).copy()
    buf = np.frombuffer(data, dtype=np.uint8)
    for start, end in track_spans(data):
        track = decode_track(buf[start:end])
        kind, channel = track.status & 0xF0, track.status & 0x0F
        keyed = ((kind == 0x80) | (kind == 0x90) | (kind == 0xA0)) & (channel != DRUM_CHANNEL)
        out[start + track.offset[keyed]] = fold_pitches(track.data1[keyed] + shift)
        for meta in track.metas:
            if shift and meta.type == 0x59 and (signature := shift_signature(meta.data, shift)):
                out[start + meta.offset:start + meta.offset + 2] = list(signature)
    return out.tobytes()


def shift_signature(data: bytes, shift: int) -> bytes | None:
    """A key-signature meta's (sharps, mode) bytes moved by `shift`; None if they are not a key.

    Spelled as mido spells keys (Gb major, Eb minor: six flats) so the output is what the
    mido-based transposer used to write.
    """
    if len(data) < 2:
        return None
    sharps, minor = data[0] - 256 if data[0] > 127 else data[0], data[1]
    if not -7 <= sharps <= 7 or minor not in (0, 1):
        return None
    key = key_from_signature(sharps, bool(minor))
    return bytes([Key(key.tonic + shift, key.mode).fifths & 0xFF, minor])


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
