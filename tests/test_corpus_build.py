"""`composer corpus build / info / plot` run as a user runs them, on real and broken files."""

import csv
import hashlib
import json
import shutil
from collections import Counter
from pathlib import Path

import factories as f
import mido
import pytest

from training.ingest import split_for
from training.keys import estimate_key_from_notes
from training.shards import dataset, iter_notesequences

BAD = {  # file name -> reason the build must give
    "empty.mid": ("empty", f.empty),
    "page.mid": ("not-midi", f.html_named_mid),
    "header.mid": ("corrupt", f.truncated_header),
    "garbage.midi": ("corrupt", f.garbage),
    "silent.mid": ("no-notes", f.zero_notes),
    "tempo-storm.mid": ("tempo-events", f.many_tempo_events),
    "warp.mid": ("absurd-tempo", f.absurd_tempo),
    "huge.mid": ("timeout", f.huge_but_valid),
}


def _renamed_copy(src: Path, dest: Path) -> Path:
    """Same music, different bytes: a track name added, as Lakh's duplicates often differ."""
    mid = mido.MidiFile(str(src))
    mid.tracks[0].insert(0, mido.MetaMessage("track_name", name="another upload"))
    mid.save(str(dest))
    return dest


@pytest.fixture(scope="module")
def collection(tmp_path_factory, chorales, folk_tunes) -> dict:
    root = tmp_path_factory.mktemp("collection")
    good = f.copy_tree(chorales[:5], root / "bach") + f.copy_tree(folk_tunes[:6], root / "folk" / "deep")
    shutil.copy(good[0], root / "bach" / "same-bytes.mid")
    _renamed_copy(good[1], root / "bach" / "same-music.mid")
    (root / "bad").mkdir()
    f.truncated_track(good[2], root / "bad" / "cut.mid")
    for name, (_, make) in BAD.items():
        make(root / "bad" / name)
    (root / "bad" / "readme.txt").write_text("not a MIDI file and not named like one")
    return {"root": root, "good": good}


@pytest.fixture(scope="module")
def built(tmp_path_factory, collection) -> dict:
    out = tmp_path_factory.mktemp("corpus") / "c"
    result = f.run_cli("corpus", "build", f"dir:{collection['root']}", "-o", out,
                       "--time-limit", "0.1", check=True)
    return {"out": out, "result": result, **collection}


def _csv(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_good_files_in_manifest(built):
    rows = _csv(built["out"] / "manifest.csv")
    assert len(rows) == len(built["good"])
    assert {r["path"] for r in rows} == {str(p) for p in built["good"]}
    for row in rows:
        assert row["id"].startswith("dir:") and row["source"].startswith("dir:")
        assert row["split"] == split_for(row["hash"], (0.9, 0.05, 0.05))
        assert -6 <= int(row["transpose"]) <= 5
        assert float(row["duration"]) > 5 and int(row["notes"]) > 10
        assert 0 < float(row["key_confidence"]) <= 1
        assert row["time_signature"] and float(row["tempo"]) > 0
        assert row["instruments"]
    assert f"{len(rows)} pieces" in built["result"].stdout


def test_bad_files_and_duplicates_reported(built):
    rejected = {Path(r["path"]).name: r for r in _csv(built["out"] / "rejected.csv")}
    for name, (reason, _) in BAD.items():
        assert rejected[name]["reason"] == reason, rejected[name]
    assert rejected["cut.mid"]["reason"] == "corrupt"
    assert rejected["same-bytes.mid"]["reason"] == "duplicate"
    assert rejected["same-music.mid"]["reason"] == "duplicate"
    assert "readme.txt" not in rejected
    report = json.loads((built["out"] / "report.json").read_text())
    assert report["rejected"]["duplicate"] == 2
    assert report["pieces"] == len(built["good"])
    assert "skipped by reason" in built["result"].stdout


def test_shards_hold_transposed_notesequences(built):
    rows = {r["id"]: r for r in _csv(built["out"] / "manifest.csv")}
    seen = 0
    for split in ("train", "valid", "test"):
        for seq in iter_notesequences(built["out"], split):
            seen += 1
            pitched = [n for n in seq.notes if not n.is_drum]
            est = estimate_key_from_notes([n.pitch for n in pitched],
                                          [n.end_time - n.start_time for n in pitched])
            assert est.key.fifths == 0  # every stored piece shares C major / A minor
    assert seen == len(rows)
    count = sum(1 for _ in dataset(built["out"], "train"))
    assert count == sum(r["split"] == "train" for r in rows.values())


def test_rerun_skips_done_and_adds_new(built, tmp_path, chorales):
    out, root = built["out"], built["root"]
    before = (out / "manifest.csv").read_text()
    again = f.run_cli("corpus", "build", f"dir:{root}", "-o", out, "--time-limit", "0.1", check=True)
    assert "added 0" in again.stdout and "skipped 0" in again.stdout
    assert (out / "manifest.csv").read_text() == before
    new = root / "late" / "new.mid"
    new.parent.mkdir()
    shutil.copy(chorales[6], new)
    third = f.run_cli("corpus", "build", f"dir:{root}", "-o", out, "--time-limit", "0.1", check=True)
    assert "added 1," in third.stdout
    assert str(new) in (out / "manifest.csv").read_text()


def test_interrupted_part_is_redone(tmp_path, collection):
    out = tmp_path / "c"
    args = ("corpus", "build", f"dir:{collection['root'] / 'bach'}", "-o", out)
    f.run_cli(*args, check=True)
    first = sorted(r["id"] for r in _csv(out / "manifest.csv"))
    # A build killed after writing shards but before committing the part's CSV:
    (out / "parts" / "part-00000.csv").unlink()
    (out / "parts" / "part-00000.rejected.csv").unlink()
    again = f.run_cli(*args, check=True)
    assert f"added {len(first)}," in again.stdout
    assert sorted(r["id"] for r in _csv(out / "manifest.csv")) == first
    shards = list((out / "shards").rglob("*.tfrecord"))
    assert sum(1 for s in ("train", "valid", "test") for _ in iter_notesequences(out, s)) == len(first)
    assert all(not p.name.startswith(".") for p in shards)


def test_keep_key_and_option_mismatch(tmp_path, collection):
    out = tmp_path / "kept"
    f.run_cli("corpus", "build", f"dir:{collection['root'] / 'folk'}", "-o", out, "--keep-key",
              check=True)
    assert {r["transpose"] for r in _csv(out / "manifest.csv")} == {"0"}
    clash = f.run_cli("corpus", "build", f"dir:{collection['root'] / 'folk'}", "-o", out)
    assert clash.returncode == 1
    assert "built with" in clash.stderr and len(clash.stderr.strip().splitlines()) == 1


def test_lakh_layout(tmp_path, chorales, folk_tunes):
    """lmd_full keeps md5 names in one-letter folders; lmd_matched repeats a file per track."""
    lmd = tmp_path / "lmd_matched"
    md5s = []
    for i, path in enumerate(chorales[:3] + folk_tunes[:2]):
        data = path.read_bytes()
        md5 = hashlib.md5(data).hexdigest()
        md5s.append(md5)
        for track in (f"TRA{i:02d}", f"TRB{i:02d}"):
            dest = lmd / "A" / "B" / "C" / track / f"{md5}.mid"
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
    out = tmp_path / "lakh-corpus"
    f.run_cli("corpus", "build", f"lakh:{lmd}", "-o", out, check=True)
    rows = _csv(out / "manifest.csv")
    assert sorted(r["id"] for r in rows) == sorted(f"lakh:{m}" for m in md5s)
    assert not (out / "rejected.csv").read_text().strip().count("\n")


def test_music21_source_and_info_and_plot(tmp_path):
    out = tmp_path / "m21"
    build = f.run_cli("corpus", "build", "music21:bach", "music21:nottingham", "--limit", "4",
                      "-o", out, check=True)
    assert "6 pieces" in build.stdout
    rows = _csv(out / "manifest.csv")
    assert Counter(r["source"] for r in rows) == {"music21:bach": 4, "music21:nottingham": 2}
    assert all(r["id"].startswith("music21:") for r in rows)

    info = f.run_cli("corpus", "info", out, check=True)
    assert "music21:bach" in info.stdout and "music21:nottingham" in info.stdout
    assert "total" in info.stdout and "most common keys" in info.stdout

    plot = f.run_cli("corpus", "plot", out, check=True)
    pngs = sorted((out / "plots").glob("*.png"))
    assert [p.name for p in pngs] == ["keys.png", "lengths.png", "pitch_range.png", "tempi.png"]
    for png in pngs:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
        assert str(png) in plot.stdout


@pytest.mark.parametrize("args,needle", [
    (("corpus", "build", "nonsense:x", "-o", "/tmp/never"), "nonsense:x"),
    (("corpus", "build", "dir:/no/such/folder", "-o", "/tmp/never"), "/no/such/folder"),
    (("corpus", "build", "music21:mozartt", "-o", "/tmp/never"), "mozartt"),
    (("corpus", "info", "/no/such/corpus"), "/no/such/corpus"),
    (("corpus", "plot", "/no/such/corpus"), "/no/such/corpus"),
])
def test_cli_errors_are_one_line(args, needle):
    result = f.run_cli(*args)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], result.stderr


def test_ctrl_c_then_rerun_gives_the_same_corpus(tmp_path, chorales, folk_tunes):
    """Wherever Ctrl-C lands, a rerun ends with exactly what one uninterrupted build makes."""
    import signal
    import subprocess
    import sys
    import time

    from training.transposer import transpose_midi_bytes

    root = tmp_path / "many"
    root.mkdir()
    for i, src in enumerate(chorales[:6] + folk_tunes[:10]):
        for shift in range(-6, 6):
            (root / f"{i:02d}_{shift + 6:02d}.mid").write_bytes(
                transpose_midi_bytes(src.read_bytes(), shift))
    args = ["corpus", "build", f"dir:{root}", "--workers", "2"]
    f.run_cli(*args, "-o", tmp_path / "whole", check=True)

    out = tmp_path / "interrupted"
    proc = subprocess.Popen([sys.executable, "-m", "composer", *args, "-o", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=f.ROOT)
    time.sleep(4)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    # 130: stopped mid-build; 0: finished first; -SIGINT: caught by Python's exit after finishing
    assert proc.returncode in (0, 130, -signal.SIGINT), stderr
    if proc.returncode == 130:
        assert "run the same command again to resume" in stderr
        assert "Traceback" not in stderr
    f.run_cli(*args, "-o", out, check=True)
    whole = sorted((r["id"], r["hash"], r["split"]) for r in _csv(tmp_path / "whole" / "manifest.csv"))
    again = sorted((r["id"], r["hash"], r["split"]) for r in _csv(out / "manifest.csv"))
    assert again == whole and len(whole) == 16 * 12
    total = sum(1 for s in ("train", "valid", "test") for _ in iter_notesequences(out, s))
    assert total == len(whole)
