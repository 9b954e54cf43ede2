"""MIDI reader speed: the project's reader against symusic (and pretty_midi), per file.

    .venv/bin/python benchmarks/reader_speed.py [--folder DIR] [--runs 3] [--limit N]
                                                [--pretty-midi] [--root CHECKOUT] [--label NAME]
                                                [--before CHECKOUT]

Every .mid/.midi/.rmi file under --folder (default: the POP909 songs on the standard machine)
is read into memory first, so no disk time is counted; then each file is read by every reader in
turn, --runs passes in this one process, and each reader's median pass is reported (files/s,
mean and median ms per file). Readers, each skipped if its package is missing:

    ours: parse_midi                 training.validate.parse_midi: decode, pair notes, validate
    ours: + to_notesequence          what every command reads a file into (read_sequence)
    before: ...                      the same two from the --before checkout
    symusic: Score.from_midi         symusic's C++ parser, to its own score (no validation)
    symusic: + NoteSequence          the same NoteSequence fields filled from symusic's score
    pretty_midi + note-seq           the reader before issue 2 (--pretty-midi: slow, ~40 ms/file)

symusic's NoteSequence here is a sketch for timing only: it does not give our NoteSequences
(overlapping notes, zero-length notes, programs, tempo maps differ; docs/midi-reader.md). --root
times another checkout's reader with this venv (the commit before a change, from `git worktree
add /tmp/before REV`), so a "before" and an "after" sit side by side under their --label in
benchmarks/results/reader.json; a Markdown table is printed. --before CHECKOUT times that
checkout's reader in the same process, file by file between the others: on a shared machine,
whose load changes between runs by more than a speed-up, that is the fair comparison.
--memory adds the peak memory (ru_maxrss over the process's own after imports) of parse_midi +
to_notesequence on the two costliest files per byte under the 4 MB limit, each in a fresh
process, for --root and --before.
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POP909 = Path("/work/shared/datasets/POP909-Dataset/POP909")  # the standard machine's copy
SUFFIXES = {".mid", ".midi", ".rmi"}


def midi_files(folder: Path, limit: int | None) -> list[tuple[str, bytes]]:
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in SUFFIXES)[:limit]
    if not paths:
        raise SystemExit(f"{folder}: no MIDI files")
    return [(str(p), p.read_bytes()) for p in paths]


def ours() -> dict[str, Callable[[bytes], object]]:
    from training.score import to_notesequence
    from training.validate import BadMidi, Limits, parse_midi

    limits = Limits(min_duration=0.0)  # as commands read: a short file is not refused

    def parse(data: bytes):
        try:
            return parse_midi(data, limits)
        except BadMidi:
            return None

    def sequence(data: bytes):
        score = parse(data)
        return None if score is None else to_notesequence(score)

    return {"ours: parse_midi": parse, "ours: + to_notesequence": sequence}


def ours_from(root: Path, label: str) -> dict[str, Callable[[bytes], object]]:
    """ours() as the checkout at `root` has it, its `training` modules imported apart from
    (and removed again before) the ones under test, renamed "label: ..."."""
    def forget() -> dict:
        return {name: sys.modules.pop(name) for name in list(sys.modules)
                if name == "training" or name.startswith("training.")}

    kept = forget()
    sys.path.insert(0, str(root.resolve()))
    try:
        readers = ours()
    finally:
        sys.path.remove(str(root.resolve()))
        forget()
        sys.modules.update(kept)
    return {name.replace("ours", label, 1): read for name, read in readers.items()}


def symusic_readers() -> dict[str, Callable[[bytes], object]]:
    try:
        from symusic import Score
    except ImportError:
        print("symusic is not installed: skipped", file=sys.stderr)
        return {}

    def parse(data: bytes):
        try:
            return Score.from_midi(data)
        except RuntimeError:  # every refusal of symusic's parser is one
            return None

    def sequence(data: bytes):
        score = parse(data)
        try:
            return None if score is None else symusic_notesequence(score)
        except ZeroDivisionError:  # a tempo or a division of 0, which symusic lets through
            return None

    return {"symusic: Score.from_midi": parse, "symusic: + NoteSequence": sequence}


def symusic_notesequence(score):
    """Notes, controllers, bends, tempi and signatures of a symusic tick score in a
    NoteSequence, seconds through pretty_midi's arithmetic (float64; symusic's own seconds are
    float32, off by up to 0.1 ms in a pop song)."""
    import numpy as np
    from note_seq.protobuf import music_pb2

    seq = music_pb2.NoteSequence(ticks_per_quarter=score.ticks_per_quarter)
    tempos = score.tempos.numpy()
    ticks, scales = [0], [0.5 / score.ticks_per_quarter]  # 120 qpm until told otherwise
    for tick, mspq in zip(tempos["time"].tolist(), tempos["mspq"].tolist()):
        scale = 60.0 / ((6e7 / mspq) * score.ticks_per_quarter)
        if tick == 0:
            scales[0] = scale
        elif scale != scales[-1]:
            ticks.append(tick)
            scales.append(scale)
    starts = np.concatenate([[0.0], np.cumsum(np.diff(ticks) * np.array(scales[:-1]))])
    ticks, scales = np.array(ticks), np.array(scales)

    def seconds(at):
        k = np.searchsorted(ticks, at, side="right") - 1
        return starts[k] + scales[k] * (at - ticks[k])

    for time_, scale in zip(seconds(ticks).tolist(), scales.tolist()):
        seq.tempos.add(time=time_, qpm=60.0 / (scale * score.ticks_per_quarter))
    for ts in score.time_signatures:
        seq.time_signatures.add(time=float(seconds(ts.time)), numerator=ts.numerator,
                                denominator=ts.denominator)
    for ks in score.key_signatures:
        if -7 <= ks.key <= 7 and ks.tonality in (0, 1):
            seq.key_signatures.add(time=float(seconds(ks.time)), mode=ks.tonality,
                                   key=(7 * ks.key + 9 * ks.tonality) % 12)
    for number, track in enumerate(score.tracks):
        kind = {"instrument": number, "program": track.program, "is_drum": track.is_drum}
        notes = track.notes.numpy()
        start = notes["time"].astype(np.int64)
        for pitch, velocity, on, off in zip(
                notes["pitch"].tolist(), notes["velocity"].tolist(), seconds(start).tolist(),
                seconds(start + notes["duration"]).tolist()):
            seq.notes.add(pitch=pitch, velocity=velocity, start_time=on, end_time=off, **kind)
        controls = track.controls.numpy()
        for number_, value, at in zip(controls["number"].tolist(), controls["value"].tolist(),
                                      seconds(controls["time"].astype(np.int64)).tolist()):
            seq.control_changes.add(control_number=number_, control_value=value, time=at,
                                    **kind)
        bends = track.pitch_bends.numpy()
        for value, at in zip(bends["value"].tolist(),
                             seconds(bends["time"].astype(np.int64)).tolist()):
            seq.pitch_bends.add(bend=value, time=at, **kind)
    if len(seq.notes):
        seq.total_time = max(note.end_time for note in seq.notes)
    return seq


def pretty_midi_reader() -> dict[str, Callable[[bytes], object]]:
    import pretty_midi
    from note_seq import midi_io

    def sequence(data: bytes):
        try:
            return midi_io.midi_to_note_sequence(pretty_midi.PrettyMIDI(io.BytesIO(data)))
        except Exception:  # noqa: BLE001 - pretty_midi raises anything on a bad file
            return None

    return {"pretty_midi + note-seq": sequence}


def time_readers(readers: dict[str, Callable[[bytes], object]],
                 files: list[tuple[str, bytes]], runs: int) -> dict[str, dict]:
    """Each file read by every reader in turn, so a busy machine slows them all alike."""
    seconds = {name: [[0.0] * len(files) for _ in range(runs)] for name in readers}
    for run in range(runs):
        for i, (_, data) in enumerate(files):
            for name, read in readers.items():
                started = time.perf_counter()
                read(data)
                seconds[name][run][i] = time.perf_counter() - started
    results = {}
    for name, read in readers.items():
        totals = [sum(each) for each in seconds[name]]
        median_pass = seconds[name][totals.index(statistics.median_low(totals))]
        total = sum(median_pass)
        results[name] = {
            "runs_s": totals, "median_s": total, "files_per_s": len(files) / total,
            "mean_ms": total / len(files) * 1e3,
            "median_ms": statistics.median(median_pass) * 1e3,
            "slowest_ms": max(median_pass) * 1e3,
            "refused": sum(read(data) is None for _, data in files)}
    return results


def hostile_files() -> dict[str, bytes]:
    """The costliest files per byte that parse_midi's 4 MB limit lets through (issue 14)."""
    def song(body: bytes) -> bytes:
        body += b"\x00\xff\x2f\x00"
        return (b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x01\xe0MTrk"
                + len(body).to_bytes(4, "big") + body)

    text = b"x" * 3_000_000  # size 3,000,000 as a variable-length quantity: 81 B7 8D 40
    return {"3 MB text event": song(b"\x00\xff\x01\x81\xb7\x8d\x40" + text
                                    + b"\x00\x90\x3c\x50\x60\x80\x3c\x00"),
            "600,000 notes": song(b"\x00\x90\x3c\x50\x01\x3c\x00"  # then running status
                                  + bytes([0, 60, 80, 1, 60, 0]) * 599_999)}


_PROBE = """
import json, resource, sys, time, warnings
sys.path.insert(0, sys.argv[1])
warnings.simplefilter("ignore")
from note_seq.protobuf import music_pb2  # imports are not a cost of reading
from training.score import to_notesequence
from training.validate import COMMAND_LIMITS, parse_midi
data = open(sys.argv[2], "rb").read()
with open("/proc/self/statm") as statm:  # resident now, not the import's high-water mark
    before = int(statm.read().split()[1]) * resource.getpagesize() / 2**20
started = time.process_time()
to_notesequence(parse_midi(data, COMMAND_LIMITS))
added = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - before
print(json.dumps({"file_mb": len(data) / 1e6, "added_mb": added,
                  "bytes_per_byte": added * 2**20 / len(data),
                  "cpu_s": time.process_time() - started}))
"""


def memory(root: Path) -> dict[str, dict]:
    """Each hostile file read by `root`'s parse_midi + to_notesequence in a fresh process:
    peak resident memory over what the process held before reading (Linux)."""
    out = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, data in hostile_files().items():
            path = Path(folder) / "hostile.mid"
            path.write_bytes(data)
            out[name] = json.loads(subprocess.run(
                [sys.executable, "-c", _PROBE, str(root.resolve()), str(path)], check=True,
                capture_output=True, text=True).stdout)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", type=Path, default=POP909)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--limit", type=int, default=None, help="the first N files only")
    parser.add_argument("--pretty-midi", action="store_true", help="also time pretty_midi")
    parser.add_argument("--root", type=Path, default=ROOT, help="checkout whose reader to time")
    parser.add_argument("--label", default="now")
    parser.add_argument("--before", type=Path, help="also time this checkout's reader, interleaved")
    parser.add_argument("--memory", action="store_true", help="also peak memory, hostile files")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/reader.json")
    args = parser.parse_args()
    sys.path.insert(0, str(args.root.resolve()))

    warnings.simplefilter("ignore")  # note-seq's import warns about ffmpeg, never used here
    files = midi_files(args.folder, args.limit)
    readers = {**(ours_from(args.before, "before") if args.before else {}), **ours(),
               **symusic_readers(),
               **(pretty_midi_reader() if args.pretty_midi else {})}
    size = sum(len(data) for _, data in files)
    print(f"{len(files)} files, {size / len(files) / 1024:.1f} KB mean, {args.runs} runs",
          flush=True)
    for read in readers.values():
        read(files[0][1])  # imports and first-call set-up are not per-file costs
    results = time_readers(readers, files, args.runs)

    saved = json.loads(args.out.read_text()) if args.out.exists() else {}
    saved[args.label] = {"folder": str(args.folder), "files": len(files),
                         "mean_file_kb": size / len(files) / 1024, "root": str(args.root),
                         "before": str(args.before) if args.before else None,
                         "python": platform.python_version(), "readers": results}
    if args.memory:
        roots = {"before": args.before} if args.before else {}
        saved[args.label]["memory"] = {label: memory(root)
                                       for label, root in {**roots, "ours": args.root}.items()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(saved, indent=1) + "\n")
    print("| reader | files/s | mean ms/file | median ms/file | slowest ms | refused |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, r in results.items():
        print(f"| {name} | {r['files_per_s']:,.0f} | {r['mean_ms']:.2f} | {r['median_ms']:.2f} "
              f"| {r['slowest_ms']:.1f} | {r['refused']} |")
    for label, files in saved[args.label].get("memory", {}).items():
        for name, m in files.items():
            print(f"{label}: {name} ({m['file_mb']:.1f} MB): {m['added_mb']:.0f} MB "
                  f"({m['bytes_per_byte']:.0f} per byte of file), {m['cpu_s']:.2f} s CPU")


if __name__ == "__main__":
    main()
