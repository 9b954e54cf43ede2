"""`composer fetch pop909` against a loopback server serving a generated POP909-shaped zip,
then `composer corpus build pop909:DIR`: roles, chords, beats and keys kept, by song.

The songs are made here (three tracks named MELODY, BRIDGE and PIANO, as POP909's are) with
annotation files in POP909's formats; the real dataset is not needed (a user's clone has none).
"""

from __future__ import annotations

import io
import uuid
import zipfile
from pathlib import Path

import factories as f
import pretty_midi
import pytest
from test_fetch_lakh import mirror  # noqa: F401 - the loopback server fixture, shared

from training.pop909 import pitch_class, transpose_label

ROOT = "POP909-Dataset-master"
ESCAPE = f"composer-pop909-escape-{uuid.uuid4().hex[:8]}"
FAST = ("--retry-delay", "0.05", "--timeout", "5")


def song_midi(tonic: int) -> bytes:
    """Four bars in the major key on `tonic`: a melody, a bridge line and piano chords."""
    pm = pretty_midi.PrettyMIDI(initial_tempo=100)
    scale = [0, 2, 4, 5, 7, 9, 11, 12]
    tracks = {name: pretty_midi.Instrument(program=0, name=name)
              for name in ("MELODY", "BRIDGE", "PIANO")}
    beat = 0.6
    for i in range(16):
        degree = scale[(i * 3) % len(scale)]
        tracks["MELODY"].notes.append(pretty_midi.Note(90, 72 + tonic + degree, i * beat,
                                                       (i + 0.9) * beat))
        if i % 2:
            tracks["BRIDGE"].notes.append(pretty_midi.Note(60, 67 + tonic + scale[i % 5],
                                                           i * beat, (i + 1.8) * beat))
    for bar, root in enumerate((0, 5, 7, 0)):
        for third in (0, 4, 7):
            tracks["PIANO"].notes.append(pretty_midi.Note(70, 48 + tonic + root + third,
                                                          bar * 4 * beat, (bar + 1) * 4 * beat))
    pm.instruments.extend(tracks.values())
    buffer = io.BytesIO()
    pm.write(buffer)
    return buffer.getvalue()


def annotation_files(tonic: int) -> dict[str, str]:
    names = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
    chords = "".join(f"{bar * 2.4:.3f}\t{(bar + 1) * 2.4:.3f}\t"
                     f"{names[(tonic + root) % 12]}:{kind}\n"
                     for bar, (root, kind) in enumerate(((0, "maj"), (5, "maj/3"), (7, "7"),
                                                         (0, "maj"))))
    beats = "".join(f"{i * 0.6} {1.0 if i % 2 == 0 else 0.0} {1.0 if i % 4 == 0 else 0.0}\n"
                    for i in range(16))
    return {"chord_midi.txt": chords, "beat_midi.txt": beats,
            "key_audio.txt": f"0.0\t9.6\t{names[tonic]}:maj\n"}


def pop909_zip(tonics: dict[str, int], hostile: bool = True) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{ROOT}/LICENSE", "MIT License\n")
        zf.writestr(f"{ROOT}/README.md", "# POP909 Dataset\n")
        zf.writestr(f"{ROOT}/data_process.ipynb", "{}")
        for number, tonic in tonics.items():
            folder = f"{ROOT}/POP909/{number}"
            zf.writestr(f"{folder}/{number}.mid", song_midi(tonic))
            for name, text in annotation_files(tonic).items():
                zf.writestr(f"{folder}/{name}", text)
            zf.writestr(f"{folder}/chord_audio.txt", "0\t1\tN\n")  # audio-derived: left out
            zf.writestr(f"{folder}/versions/{number}-v1.mid", song_midi(tonic))
        if hostile:
            zf.writestr(f"{ROOT}/../{ESCAPE}.mid", song_midi(0))
            zf.writestr(f"/tmp/{ESCAPE}.mid", song_midi(0))
            zf.writestr(f"{ROOT}/POP909/001/../../../{ESCAPE}.txt", "x")
            zf.writestr(f"{ROOT}/POP909/002/001.mid", song_midi(0))  # not its own song
    return buffer.getvalue()


def test_fetch_resumes_keeps_only_songs_and_annotations_then_builds_a_corpus(mirror, tmp_path):
    tonics = {"001": 2, "002": 7, "003": 9}  # D, G and A major
    data = pop909_zip(tonics)
    mirror.files["/pop909.zip"] = data
    mirror.cut["/pop909.zip"] = [len(data) // 3]  # the first connection drops a third in
    out = tmp_path / "pop909"
    result = f.run_cli("fetch", "pop909", "-o", out, "--url", f"{mirror.url}/pop909.zip", *FAST,
                       check=True)
    assert f"next: composer corpus build pop909:{out} -o CORPUS" in result.stdout
    assert "3 songs" in result.stdout
    ranges = [e["range"] for e in mirror.log if e["path"] == "/pop909.zip"]
    assert ranges[0] is None and ranges[1] == f"bytes={len(data) // 3}-"  # resumed, not redone
    kept = sorted(p.relative_to(out).as_posix() for p in out.rglob("*")
                  if p.is_file() and ".pop909" not in p.parts)
    expected = ["LICENSE", "README.md"] + [
        f"POP909/{n}/{name}" for n in tonics
        for name in (f"{n}.mid", "beat_midi.txt", "chord_midi.txt", "key_audio.txt")]
    assert kept == sorted(expected)
    assert not any(p.name.startswith(ESCAPE) for p in tmp_path.parent.rglob(f"{ESCAPE}*"))
    assert not Path(f"/tmp/{ESCAPE}.mid").exists()
    assert not (out / ".pop909" / "POP909-Dataset.zip").exists()  # removed once extracted
    again = f.run_cli("fetch", "pop909", "-o", out, "--url", f"{mirror.url}/pop909.zip",
                      check=True)
    assert "already fetched" in again.stdout

    corpus = tmp_path / "corpus"
    f.run_cli("corpus", "build", f"pop909:{out}", "-o", corpus, "--split", "34/33/33",
              check=True)
    from training.corpus import read_manifest
    from training.shards import iter_notesequences

    rows = {r["id"]: r for r in read_manifest(corpus)}
    assert sorted(rows) == ["pop909:001", "pop909:002", "pop909:003"]
    assert {r["split"] for r in rows.values()} <= {"train", "valid", "test"}
    seen = 0
    for split in ("train", "valid", "test"):
        for sequence in iter_notesequences(corpus, split):
            seen += 1
            row = next(r for r in rows.values() if r["split"] == split
                       and int(r["notes"]) == len(sequence.notes))
            shift = int(row["transpose"])
            tonic = tonics[row["id"].split(":")[1]]
            # roles are the instruments' names
            assert {i.name for i in sequence.instrument_infos} == {"MELODY", "BRIDGE", "PIANO"}
            # chords, beats and the key moved with the notes
            chords = [t.text for t in sequence.text_annotations if t.annotation_type == 1]
            originals = [line.split("\t")[2] for line in
                         annotation_files(tonic)["chord_midi.txt"].splitlines()]
            assert chords == [transpose_label(c, shift) for c in originals]
            assert pitch_class(chords[0].split(":")[0]) == (tonic + shift) % 12
            assert chords[1].endswith(":maj/3")  # the bass degree stays a degree
            beats = [t.text for t in sequence.text_annotations if t.annotation_type == 2]
            assert len(beats) == 16 and beats.count("downbeat") == 4
            assert [k.key for k in sequence.key_signatures] == [(tonic + shift) % 12]
    assert seen == 3


def test_a_broken_annotation_rejects_its_song_and_names_it(tmp_path):
    folder = tmp_path / "POP909" / "004"
    folder.mkdir(parents=True)
    (folder / "004.mid").write_bytes(song_midi(0))
    (folder / "chord_midi.txt").write_text("0.0\tnot-a-time\tC:maj\n")
    good = tmp_path / "POP909" / "005"
    good.mkdir()
    (good / "005.mid").write_bytes(song_midi(5))
    corpus = tmp_path / "corpus"
    result = f.run_cli("corpus", "build", f"pop909:{tmp_path}", "-o", corpus, "--split",
                       "50/25/25", check=True)
    assert "bad-annotation 1" in result.stdout
    rejected = (corpus / "rejected.csv").read_text()
    assert "004" in rejected and "bad-annotation" in rejected


def test_pop909_source_needs_songs(tmp_path):
    result = f.run_cli("corpus", "build", f"pop909:{tmp_path}", "-o", tmp_path / "c")
    assert result.returncode == 1 and "no POP909 songs there" in result.stderr
    assert "composer fetch pop909" in result.stderr
