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
from hostile_midi import vlq

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


def _every_field() -> bytes:
    """A file with every kind of thing a NoteSequence holds from MIDI: tempo, time and key
    signature changes, a Latin-1 track name, drums, controllers, bends both ways, program
    changes, an empty track, and 130 instruments (numbers that need two-byte varints)."""
    midi = mido.MidiFile(type=1, ticks_per_beat=220)
    conductor = mido.MidiTrack([
        mido.MetaMessage("set_tempo", tempo=600_000),
        mido.MetaMessage("time_signature", numerator=3, denominator=4),
        mido.MetaMessage("key_signature", key="Eb"),
        mido.MetaMessage("set_tempo", tempo=450_000, time=700),
        mido.MetaMessage("key_signature", key="F#m", time=10)])
    flute = mido.MidiTrack([
        mido.MetaMessage("track_name", name="Flûte à bec"),
        mido.Message("control_change", control=7, value=100),
        mido.Message("pitchwheel", pitch=-8192, time=5),
        mido.Message("program_change", program=73),
        mido.Message("note_on", note=0, velocity=1, time=3),
        mido.Message("note_on", note=127, velocity=127),
        mido.Message("pitchwheel", pitch=8191, time=20),
        mido.Message("note_off", note=0, time=200),
        mido.Message("note_on", note=127, velocity=0, time=1),
        mido.Message("control_change", control=64, value=0, time=2)])
    kit = mido.MidiTrack([mido.Message("note_on", channel=9, note=36, velocity=90),
                          mido.Message("note_off", channel=9, note=36, time=60)])
    midi.tracks += [conductor, flute, mido.MidiTrack(), kit]
    for i in range(130):
        midi.tracks.append(mido.MidiTrack([
            mido.Message("program_change", channel=i % 9, program=i % 128),
            mido.Message("note_on", channel=i % 9, note=30 + i % 60, velocity=64, time=i),
            mido.Message("note_off", channel=i % 9, note=30 + i % 60, time=50)]))
    out = io.BytesIO()
    midi.save(file=out)
    return out.getvalue()


def test_notesequence_with_every_field_type():
    """to_notesequence writes notes, controllers and bends as wire bytes: every field type,
    wide instrument numbers and negative bends must come out as note-seq makes them."""
    from training.transposer import transpose_notesequence

    data = _every_field()
    score = read_score(data)
    ours, theirs = to_notesequence(score), reference(data)
    assert len(theirs.notes) == 133 and theirs.instrument_infos[0].name == "Flûte à bec"
    assert min(b.bend for b in theirs.pitch_bends) == -8192 and len(theirs.control_changes) == 2
    assert ours == theirs
    for shift in (5, -7):
        assert to_notesequence(score, shift) == transpose_notesequence(theirs, shift)


def test_whole_file_pass_equals_the_sequential_reader():
    """read_smf decodes all of a file's tracks in one pass; every track, offsets and metas
    included, must be what the sequential reader makes of it alone, also when a track between
    others needs the fallback (a system common message) or is empty."""
    odd = b"\x00\x90\x3c\x40\x00\xf2\x01\x02\x10\x80\x3c\x00\x00\xff\x2f\x00"
    for data in [f.tangled_midi(seed) for seed in range(20)] + [_every_field()]:
        chunks = _track_chunks(data)
        data = data[:10] + len(chunks[:2] + [odd] + chunks[2:]).to_bytes(2, "big") + data[12:]
        head = 14 + sum(8 + len(c) for c in chunks[:2])
        data = data[:head] + b"MTrk" + len(odd).to_bytes(4, "big") + odd + data[head:]
        for fast, chunk in zip(read_smf(data).tracks, _track_chunks(data), strict=True):
            slow = decode_track_sequential(chunk)
            for field in ("index", "tick", "status", "data1", "data2", "offset"):
                assert np.array_equal(getattr(fast, field), getattr(slow, field)), field
                assert getattr(fast, field).dtype == np.int64
            assert fast.metas == slow.metas and fast.last_tick == slow.last_tick


@pytest.mark.parametrize("body", [
    b"\x00\xff\x01" + vlq(1_000_000) + b"x" * 1_000_000,  # one 1 MB text event
    b"".join(bytes([0, 0x90, 40 + i % 40, 80, 1, 0x80, 40 + i % 40, 0]) for i in range(125_000)),
])
def test_decoding_memory_is_a_few_bytes_per_file_byte(body):
    """Issue 14: per-byte tables were int64 and Python lists, 94 to 137 bytes of memory per
    byte of file (a 3 MB text event took 281 MB)."""
    import tracemalloc

    body += b"\x00\xff\x2f\x00"
    data = (b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x01\xe0MTrk" + len(body).to_bytes(4, "big")
            + body)
    tracemalloc.start()
    try:
        smf = read_smf(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(smf.tracks[0].tick) in (0, 250_000)
    assert peak < 32 * len(data), peak / len(data)
