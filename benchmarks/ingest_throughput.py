"""Corpus ingest throughput on this machine, and what it means for Lakh MIDI's 178,561 files.

    .venv/bin/python benchmarks/ingest_throughput.py [--runs 3] [--workers 2] [--band-files 200]

Two workloads, each built from scratch into a fresh folder `--runs` times (median reported):
  1. corpus: music21's bach + nottingham + essen, already converted to MIDI (the conversion is
     a one-off cached step and is not timed here);
  2. band: Lakh-sized multi-track files made from the same pieces (six pitched instruments
     playing different tunes back to back for about three minutes, plus a drum track), because
     a Lakh file is a whole arranged song, far larger than a folk tune.
Timed: `training.corpus.build_corpus` end to end (process pool start, TensorFlow import for the
shard writer, parse, validate, key, transpose, hash, shards, manifest). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

LAKH_FILES = 178_561
SOURCES = ["music21:bach", "music21:nottingham", "music21:essen"]


def convert_sources() -> list[Path]:
    from training import music21_corpus
    from training.corpus import make_executor

    pieces = [p for s in SOURCES for p in music21_corpus.list_pieces(s.split(":")[1])]
    todo = [p for p in pieces if not music21_corpus.is_converted(p)]
    if todo:
        with make_executor(None) as pool:
            list(pool.map(music21_corpus.convert_piece, todo, chunksize=8))
    return [Path(p.midi_path) for p in music21_corpus.iter_converted(pieces)]


def make_band_files(pieces: list[Path], folder: Path, count: int, seed: int = 0) -> list[Path]:
    """Multi-track songs of about three minutes: six instruments and drums."""
    import pretty_midi

    rng = random.Random(seed)
    programs = [0, 33, 25, 48, 73, 81]
    out = []
    for i in range(count):
        song = pretty_midi.PrettyMIDI(resolution=480, initial_tempo=120)
        for program in programs:
            inst = pretty_midi.Instrument(program=program)
            t = 0.0
            while t < 180:
                src = pretty_midi.PrettyMIDI(str(rng.choice(pieces)))
                for n in (n for x in src.instruments for n in x.notes):
                    if t + n.start < 180:
                        inst.notes.append(pretty_midi.Note(n.velocity, n.pitch, t + n.start,
                                                           min(t + n.end, 180)))
                t += max(src.get_end_time(), 1.0)
            song.instruments.append(inst)
        drums = pretty_midi.Instrument(program=0, is_drum=True)
        for beat in range(360):
            drums.notes.append(pretty_midi.Note(100, 36 if beat % 2 == 0 else 38, beat * 0.5,
                                                beat * 0.5 + 0.1))
            drums.notes += [pretty_midi.Note(70, 42, beat * 0.5 + k * 0.25, beat * 0.5 + k * 0.25 + 0.05)
                            for k in range(2)]
        song.instruments.append(drums)
        path = folder / f"band{i:04d}.mid"
        song.write(str(path))
        out.append(path)
    return out


def time_build(sources: list[str], workers: int) -> tuple[float, dict]:
    from training.corpus import build_corpus

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        summary = build_corpus(sources, Path(tmp) / "corpus", workers=workers)
        seconds = time.perf_counter() - start
        report = json.loads((Path(tmp) / "corpus" / "report.json").read_text())
    files = summary.added + sum(summary.rejected.values())
    return seconds, {"files": files, "pieces": report["pieces"], "notes": report["notes"]}


def measure(name: str, sources: list[str], files: list[Path], runs: int, workers: int) -> dict:
    times, info = [], {}
    for _ in range(runs):
        seconds, info = time_build(sources, workers)
        times.append(seconds)
        print(f"  {name}: {seconds:.1f} s", flush=True)
    median = statistics.median(times)
    size = sum(f.stat().st_size for f in files)
    return {
        "workload": name, "runs": times, "median_s": median, **info,
        "mean_file_kb": size / len(files) / 1024,
        "files_per_s": info["files"] / median, "notes_per_s": info["notes"] / median,
        "lakh_minutes": LAKH_FILES / (info["files"] / median) / 60,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--band-files", type=int, default=200)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/ingest.json")
    args = parser.parse_args()

    pieces = convert_sources()
    results = [measure("corpus", SOURCES, pieces, args.runs, args.workers)]
    with tempfile.TemporaryDirectory() as tmp:
        band = make_band_files(pieces, Path(tmp), args.band_files)
        results.append(measure("band", [f"dir:{tmp}"], band, args.runs, args.workers))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print("| workload | files | mean file | notes | median wall | files/s | notes/s | "
          "Lakh 178,561 files at this rate |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['workload']} | {r['files']:,} | {r['mean_file_kb']:.1f} KB | {r['notes']:,} | "
              f"{r['median_s']:.1f} s | {r['files_per_s']:.0f} | {r['notes_per_s']:,.0f} | "
              f"{r['lakh_minutes']:.0f} min |")


if __name__ == "__main__":
    main()
