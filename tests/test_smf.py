"""The fast MIDI reader (training.smf + training.score) against pretty_midi + note-seq.

Ingest trusts it to give the very NoteSequence note-seq's midi_to_note_sequence gives through
pretty_midi, only faster, so the tests compare whole protos, on real corpus pieces and on
random files full of what real collections contain (see factories.tangled_midi).
"""

from __future__ import annotations

import io
import warnings

import factories as f
import mido
import numpy as np
import pretty_midi
import pytest

from training.score import fold_pitches, read_score, to_notesequence
from training.smf import (
    SmfError,
    _decode_vectorised,
    _Unsure,
    decode_track_sequential,
    read_smf,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from note_seq import midi_io


def reference(data: bytes):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return midi_io.midi_to_note_sequence(pretty_midi.PrettyMIDI(io.BytesIO(data)))


def test_same_notesequence_as_pretty_midi_on_corpus(chorales, folk_tunes):
    for path in chorales + folk_tunes:
        data = path.read_bytes()
        ours = to_notesequence(read_score(data))
        assert ours == reference(data), path.name
        assert len(ours.notes) > 10


@pytest.mark.parametrize("seed", range(60))
def test_same_notesequence_as_pretty_midi_on_tangled_files(seed):
    data = f.tangled_midi(seed)
    ours, theirs = to_notesequence(read_score(data)), reference(data)
    assert list(ours.notes) == list(theirs.notes)
    assert list(ours.control_changes) == list(theirs.control_changes)
    assert list(ours.pitch_bends) == list(theirs.pitch_bends)
    assert ours == theirs


def test_vectorised_and_sequential_decoders_agree():
    checked = 0
    for seed in range(40):
        data = f.tangled_midi(seed)
        mid = mido.MidiFile(file=io.BytesIO(data))
        chunks = _track_chunks(data)
        assert len(chunks) == len(mid.tracks)
        for chunk in chunks:
            slow = decode_track_sequential(chunk)
            try:
                fast = _decode_vectorised(np.frombuffer(chunk, dtype=np.uint8))
            except _Unsure:
                continue
            checked += 1
            for field in ("index", "tick", "status", "data1", "data2"):
                assert np.array_equal(getattr(fast, field), getattr(slow, field)), field
            assert fast.metas == slow.metas and fast.last_tick == slow.last_tick
    assert checked > 20


def _track_chunks(data: bytes) -> list[bytes]:
    chunks, pos = [], 14
    while pos < len(data):
        length = int.from_bytes(data[pos + 4:pos + 8], "big")
        chunks.append(data[pos + 8:pos + 8 + length])
        pos += 8 + length
    return chunks


def test_transposed_notesequence_moves_pitched_notes_only(chorales):
    data = chorales[0].read_bytes()
    score = read_score(data)
    plain, moved = to_notesequence(score), to_notesequence(score, 5)
    for a, b in zip(plain.notes, moved.notes):
        assert b.pitch == (a.pitch if a.is_drum else fold_pitches(np.array([a.pitch + 5]))[0])
    assert [k.key for k in moved.key_signatures] == [(k.key + 5) % 12 for k in plain.key_signatures]


def test_fold_pitches():
    pitches = np.array([-13, -12, -1, 0, 64, 127, 128, 139, 140])
    assert fold_pitches(pitches).tolist() == [11, 0, 11, 0, 64, 127, 116, 127, 116]


@pytest.mark.parametrize("data, message", [
    (b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x01\xe0MTrk\x00\x00\x00\x10\x00\x90", "ends after"),
    (b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x01\xe0MTrk\x00\x00\x00\x02\x00\x90", "truncated"),
    (b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x01\xe0MTrk\x00\x00\x00\x03\x00\x40\x40",
     "running status"),
    (b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\xe7\x28MTrk\x00\x00\x00\x00", "SMPTE"),
    (b"MThd\xff\xff\x00\x06\x00\x01\x00\x01\x01\xe0", "claims"),
    (b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x01\xe0MTrk\x00\x00\x00\x04\x00\x90\x40\x80",
     "out of range"),
])
def test_corrupt_bytes_raise_one_clear_error(data, message):
    with pytest.raises(SmfError, match=message):
        read_smf(data)


def test_ordinary_files_take_the_vectorised_path(chorales, folk_tunes, monkeypatch):
    """Speed comes from the vectorised decoder; the sequential one is only for odd tracks.
    A silent fallback on every track would still give right answers, so check it directly."""
    from training import smf

    def refuse(data):
        raise AssertionError("sequential fallback used for an ordinary track")

    monkeypatch.setattr(smf, "decode_track_sequential", refuse)
    for path in chorales + folk_tunes:
        assert len(read_score(path.read_bytes()).notes) > 10
