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
from hostile_midi import DRUMS, SONG_CASES, song

from training.score import fold_pitches
from training.validate import BadMidi, parse_midi

CASES = SONG_CASES  # built in tests/hostile_midi.py, which the fuzz corpus starts from


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
