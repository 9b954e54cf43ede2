"""`composer transpose` on files the project's reader accepts but stricter libraries do not.

Each file is built byte by byte around a small valid song, so the test knows where every note
key byte lies without asking any MIDI library. What the reader accepts must come back with the
same length and every byte equal except pitched note keys (and well-formed key signatures);
what it refuses must be refused in one line naming the file, with nothing written.
"""

from __future__ import annotations

import re
import struct

import factories as f
import numpy as np
import pytest

from training.score import fold_pitches
from training.validate import BadMidi, parse_midi

DRUMS = 9


def _vlq(value: int) -> bytes:
    out = [value & 0x7F]
    while value > 0x7F:
        value >>= 7
        out.append(0x80 | (value & 0x7F))
    return bytes(reversed(out))


def _meta(kind: int, body: bytes) -> bytes:
    return bytes([0xFF, kind]) + _vlq(len(body)) + body


class Track:
    """Raw MTrk events; remembers where each note key byte is (offset in the events)."""

    def __init__(self) -> None:
        self.events = bytearray()
        self.keys: list[tuple[int, int]] = []  # (offset, channel)
        self.signatures: list[int] = []  # offsets of well-formed key-signature data

    def raw(self, delta: int, body: bytes) -> Track:
        self.events += _vlq(delta) + body
        return self

    def note(self, delta: int, status: int | None, key: int, value: int, channel: int) -> Track:
        """A keyed channel message; `status` None means running status."""
        self.events += _vlq(delta) + (bytes([status]) if status is not None else b"")
        self.keys.append((len(self.events), channel))
        self.events += bytes([key, value])
        return self

    def key_signature(self, sharps: int, minor: int) -> Track:
        self.events += b"\x00\xff\x59\x02"
        self.signatures.append(len(self.events))
        self.events += bytes([sharps & 0xFF, minor])
        return self

    def chunk(self) -> bytes:
        events = bytes(self.events) + b"\x00\xff\x2f\x00"
        return b"MTrk" + struct.pack(">L", len(events)) + events


def song(conductor_extra: bytes = b"", *, between: bytes = b"", n_tracks: int | None = None,
         signature: bool = False) -> tuple[bytes, list[tuple[int, int]], list[int]]:
    """(file, [(offset, channel) of every note key byte], [key-signature data offsets])."""
    conductor = Track().raw(0, _meta(0x51, b"\x07\xa1\x20"))  # 120 qpm
    if signature:
        conductor.key_signature(-2, 0)  # Bb major
    if conductor_extra:
        conductor.raw(0, conductor_extra)
    band = Track().raw(0, b"\xc0\x00").raw(0, b"\xf0\x05\x7e\x7f\x09\x01\xf7")  # program, sysex
    for i, pitch in enumerate((58, 62, 65, 70, 127)):
        band.note(0, 0x90, pitch, 90, 0).note(0, 0x99, 36 + i, 100, DRUMS)
        band.note(240, 0xA0, pitch, 30, 0)  # polyphonic aftertouch
        band.note(200, 0x80, pitch, 64, 0).note(0, 0x89, 36 + i, 64, DRUMS)
        band.note(40, 0x90, pitch - 12, 80, 0).note(480, None, pitch - 12, 0, 0)  # running
    chunks = [conductor, band]
    header = b"MThd" + struct.pack(">LHHH", 6, 1, n_tracks or len(chunks), 480)
    data, keys, signatures = header + between, [], []
    for track in chunks:
        start = len(data) + 8
        keys += [(start + at, channel) for at, channel in track.keys]
        signatures += [start + at for at in track.signatures]
        data += track.chunk()
    return data, keys, signatures


def _unknown_chunk() -> bytes:
    return b"XFIH" + struct.pack(">L", 5) + b"\x00\x01\x02\xff\x90"


CASES = {
    "valid-key-signature": {"signature": True},
    "key-signature-14-05": {"conductor_extra": _meta(0x59, b"\x14\x05")},
    "key-signature-8-flats": {"conductor_extra": _meta(0x59, b"\xf8\x00")},
    "short-tempo": {"conductor_extra": _meta(0x51, b"\x07\xa1")},
    "empty-tempo": {"conductor_extra": _meta(0x51, b"")},
    "short-key-signature": {"conductor_extra": _meta(0x59, b"\x00")},
    "short-time-signature": {"conductor_extra": _meta(0x58, b"\x04")},
    "smpte-frame-rate-7": {"conductor_extra": _meta(0x54, b"\xe0\x00\x00\x00\x00")},
    "unknown-chunk-first": {"between": _unknown_chunk()},
    "3-MB-text": {"conductor_extra": _meta(0x01, b"la " * 1_000_000)},
    "header-promises-more-tracks": {"n_tracks": 5},
    "40000-tracks-promised": {"n_tracks": 40_000},
}


def _transpose(tmp_path, data: bytes, to: str = "G"):
    src, out = tmp_path / "in.mid", tmp_path / "out.mid"
    src.write_bytes(data)
    return src, out, f.run_cli("transpose", src, out, "--to", to)


@pytest.mark.parametrize("case", CASES)
def test_accepted_file_comes_back_shifted_byte_for_byte(tmp_path, case):
    data, keys, signatures = song(**CASES[case])
    parse_midi(data)  # the reader accepts every one of these
    src, out, result = _transpose(tmp_path, data)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "tracks" not in result.stderr
    shift = int(re.search(r"shifted ([+-]\d+) semitones", result.stdout).group(1))
    assert shift != 0
    moved = out.read_bytes()
    assert len(moved) == len(data)

    before, after = np.frombuffer(data, np.uint8), np.frombuffer(moved, np.uint8)
    changed = set(np.flatnonzero(before != after).tolist())
    pitched = [at for at, channel in keys if channel != DRUMS]
    may_change = set(pitched) | {at + i for at in signatures for i in (0, 1)}
    assert changed <= may_change, sorted(changed - may_change)
    expected = fold_pitches(before[pitched].astype(np.int64) + shift)
    assert after[pitched].tolist() == expected.tolist()
    drums = [at for at, channel in keys if channel == DRUMS]
    assert after[drums].tolist() == before[drums].tolist()

    # and the reader sees the same notes, pitched ones moved, drums where they were
    old, new = parse_midi(data), parse_midi(moved)
    assert len(old.notes) == len(new.notes) and new.is_drum.any()
    fields = ["start", "end", "velocity"]
    for drum in (True, False):
        a, b = old.notes[old.is_drum == drum], new.notes[new.is_drum == drum]
        pitches = a["pitch"] if drum else fold_pitches(a["pitch"].astype(np.int64) + shift)
        assert sorted(zip(*(a[k].tolist() for k in fields), pitches.tolist())) == \
            sorted(zip(*(b[k].tolist() for k in fields), b["pitch"].tolist()))
    if signatures:  # Bb major moved with the notes
        assert [k for _, k in new.key_signatures] == [(10 + shift) % 12]


def test_refused_file_is_refused_in_one_line_naming_it(tmp_path):
    data, _, _ = song()
    cut = data[:len(data) - 40]  # the last track ends after the file does
    with pytest.raises(BadMidi):
        parse_midi(cut)
    src, out, result = _transpose(tmp_path, cut)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {src}:"), result.stderr
    assert not out.exists()


@pytest.mark.parametrize("n_tracks", [32_768, 40_000, 65_535])
def test_large_track_counts_are_not_read_as_negative(tmp_path, n_tracks):
    header_only = b"MThd" + struct.pack(">LHHH", 6, 1, n_tracks, 480)
    src, out, result = _transpose(tmp_path, header_only)
    assert result.returncode == 1 and not out.exists()
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {src}:"), result.stderr
    assert f"promises {n_tracks} tracks" in lines[0] and "-" not in lines[0].split(":")[-1]


def test_walker_offsets_agree_between_decoders():
    """The vectorised and sequential decoders put every note key byte at the same offset."""
    from training.smf import _decode_vectorised, _Unsure, decode_track_sequential, track_spans

    checked = 0
    for seed in range(20):
        data = f.tangled_midi(seed)
        for start, end in track_spans(data):
            slow = decode_track_sequential(data[start:end])
            try:
                fast = _decode_vectorised(np.frombuffer(data[start:end], dtype=np.uint8))
            except _Unsure:
                continue
            checked += 1
            assert np.array_equal(fast.offset, slow.offset)
            assert fast.metas == slow.metas
            assert (np.frombuffer(data, np.uint8)[start + slow.offset] == slow.data1).all()
    assert checked > 10
