"""RIFF-wrapped MIDI (RMID, the Windows container) is read like the MIDI inside it."""

from __future__ import annotations

import struct

import factories as f
import pretty_midi
import pytest

from training.score import read_score
from training.validate import BadMidi, parse_midi


def rmid(smf: bytes, *, info_first: bool = True) -> bytes:
    """The SMF in a RIFF RMID container, after an odd-sized LIST chunk (padded) if asked."""
    chunks = b""
    if info_first:
        chunks += b"LIST" + struct.pack("<L", 5) + b"INFOx" + b"\0"
    chunks += b"data" + struct.pack("<L", len(smf)) + smf
    return b"RIFF" + struct.pack("<L", 4 + len(chunks)) + b"RMID" + chunks


def song(path):
    return f.write_midi(path, f.scale_notes([60, 62, 64, 65, 67, 69, 71, 72]),
                        drums=[(36, 0.0, 0.1), (38, 0.5, 0.6)])


def test_rmid_reads_as_the_midi_inside(tmp_path):
    smf = song(tmp_path / "song.mid").read_bytes()
    inner = parse_midi(smf)
    for wrapped in (rmid(smf), rmid(smf, info_first=False)):
        score = parse_midi(wrapped)
        assert score.notes.tolist() == inner.notes.tolist()
    assert read_score(rmid(smf)).notes.tolist() == inner.notes.tolist()


def test_an_rmid_without_midi_data_is_refused_with_a_reason():
    empty = b"RIFF" + struct.pack("<L", 4) + b"RMID"
    with pytest.raises(BadMidi, match="RIFF RMID file without a MIDI data chunk"):
        parse_midi(empty)


def test_transpose_keeps_the_rmid_wrapper_and_shifts_its_notes(tmp_path):
    smf = song(tmp_path / "song.mid").read_bytes()
    source = tmp_path / "song.rmi"
    source.write_bytes(rmid(smf))
    out = tmp_path / "out.rmi"
    result = f.run_cli("transpose", source, out, "--to", "D")
    assert result.returncode == 0, result.stderr
    data = out.read_bytes()
    assert data[:4] == b"RIFF" and data[8:12] == b"RMID" and len(data) == len(rmid(smf))
    moved = pretty_midi.PrettyMIDI(tmp_path / "song.mid")
    data_start = data.index(b"MThd")
    (tmp_path / "inner.mid").write_bytes(data[data_start:])
    shifted = pretty_midi.PrettyMIDI(str(tmp_path / "inner.mid"))
    pitched = lambda pm: [n.pitch for i in pm.instruments if not i.is_drum for n in i.notes]
    drums = lambda pm: [n.pitch for i in pm.instruments if i.is_drum for n in i.notes]
    assert [b - a for a, b in zip(pitched(moved), pitched(shifted))] == [2] * 8
    assert drums(shifted) == drums(moved)


def test_render_plays_an_rmid(tmp_path):
    source = tmp_path / "song.rmi"
    source.write_bytes(rmid(song(tmp_path / "song.mid").read_bytes()))
    result = f.run_cli("render", source, "-o", tmp_path / "song.wav")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "song.wav").stat().st_size > 44100


def test_corpus_build_takes_rmid_files_from_a_folder(tmp_path):
    import csv

    folder = tmp_path / "mine"
    folder.mkdir()
    smf = song(tmp_path / "song.mid").read_bytes()
    (folder / "song.rmi").write_bytes(rmid(smf))
    result = f.run_cli("corpus", "build", f"dir:{folder}", "-o", tmp_path / "corpus",
                       "--split", "100/0/0")
    assert result.returncode == 0, result.stderr
    with open(tmp_path / "corpus" / "manifest.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["path"].endswith("song.rmi") for r in rows] == [True]
