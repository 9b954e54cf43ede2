"""Song fusion on real pop songs: sections, interpolation ends and steps, and the command's time.

    .venv/bin/python benchmarks/fusion.py POP909_DIR [--pairs 10] [--runs 3] [--corpus CORPUS]

POP909_DIR is the dataset folder (`composer fetch pop909`), whose POP909/NNN/NNN.mid songs are
arranged with melody, bridge and piano. For --pairs pairs of songs (fixed by seed):

- Section choice. POP909 has no structure labels, so the chosen section is judged by what it
  is meant to be: how closely its 8 bars recur elsewhere in the song (the best diagonal
  similarity, 0..1), against the song's intro and a random start; and whether it starts
  where the melody sounds (never a count-in or silent intro).
- The interpolation (vae-2bar and vae-16bar): how well each end reconstructs its song's
  section melody (accuracy over its sixteenths and over its notes alone, goal >= 0.9), and the per-step distance curve (the share of
  sixteenths that change from one step to the next; even steps make a flat curve).
- The whole `composer interpolate a b --steps 8 -o x.mid` process, timed from outside
  (median of --runs per pair, cold start included).

--corpus: draw the songs from that corpus' test split only (the corpus the VAEs were trained
on, so the songs are held out from them). Raw numbers in benchmarks/results/fusion.json;
prints Markdown.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def best_recurrence(similarity: np.ndarray, start: int, unit: int = 8) -> float:
    """The closest any other `unit`-bar stretch, at least `unit` bars away, comes to this one."""
    n = len(similarity)
    best = 0.0
    for other in range(0, n - unit + 1):
        if abs(other - start) >= unit and start + unit <= n:
            best = max(best, float(np.mean([similarity[start + k, other + k]
                                            for k in range(unit)])))
    return best


def section_figures(path: Path, rng: np.random.Generator) -> dict:
    from composer.generation import read_primer
    from composer.sections import bar_features, bar_grid, choose_section, self_similarity
    from models.melody_track import melody_instrument

    sequence, _, _ = read_primer(path)
    melody = melody_instrument(sequence)
    grid = bar_grid(sequence)
    line, chroma = bar_features(sequence, grid, melody)
    similarity = self_similarity(line, chroma)
    auto = choose_section(sequence, melody, 16, "auto", grid)
    intro = choose_section(sequence, melody, 16, "intro", grid)
    random_start = int(rng.integers(0, max(1, grid.bars - 16)))
    return {"bars": grid.bars, "auto_start": auto.start, "auto_how": auto.how,
            "auto_melody_at_start": bool((line[auto.start] >= 0).any()),
            "recurrence": {"auto": best_recurrence(similarity, auto.start),
                           "intro": best_recurrence(similarity, intro.start),
                           "random": best_recurrence(similarity, random_start)}}


def interpolation_figures(a: Path, b: Path, model: str) -> dict:
    from composer.interpolation import interpolate

    result = interpolate(a, b, steps=8, model=model)
    ends, notes = [], []
    for made, song in zip((result.melodies[0], result.melodies[-1]), result.songs):
        ends.append(float((made == song.melody).mean()))
        notes.append(float((made == song.melody)[song.melody >= 2].mean()))
    change = [float((result.melodies[k] != result.melodies[k + 1]).mean())
              for k in range(len(result.melodies) - 1)]
    return {"end_accuracy": ends, "end_note_accuracy": notes, "step_change": change,
            "tracks": len({n.instrument for n in result.phrase.sequence.notes}),
            "tempi": list(result.tempos)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pop909", type=Path)
    parser.add_argument("--pairs", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--corpus", type=Path, help="only songs in this corpus' test split")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/fusion.json")
    args = parser.parse_args()

    from training.pop909 import song_files

    songs = song_files(args.pop909, args.corpus)
    if len(songs) < 2:
        raise SystemExit(f"{args.pop909}: no POP909/NNN/NNN.mid songs")
    rng = np.random.default_rng(args.seed)
    picks = rng.choice(len(songs), size=(args.pairs, 2), replace=False)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, j in picks:
            a, b = songs[i], songs[j]
            row = {"a": a.name, "b": b.name, "sections": [section_figures(a, rng),
                                                          section_figures(b, rng)]}
            for model in ("vae-2bar", "vae-16bar"):
                row[model] = interpolation_figures(a, b, model)
            times = []
            for _ in range(args.runs):
                start = time.perf_counter()
                subprocess.run([sys.executable, "-m", "composer", "interpolate", str(a), str(b),
                                "--steps", "8", "-o", f"{tmp}/x.mid"], check=True,
                               capture_output=True, cwd=ROOT)
                times.append(time.perf_counter() - start)
            row["command_s"] = statistics.median(times)
            rows.append(row)
            print(f"{a.name} + {b.name}: {row['command_s']:.2f} s, ends "
                  f"{row['vae-2bar']['end_accuracy']}", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=1) + "\n")

    sections = [s for r in rows for s in r["sections"]]
    print(f"\n{len(rows)} pairs, {len(sections)} songs")
    print("| section | recurrence of its 8 bars (median) |\n|---|---:|")
    for how in ("auto", "intro", "random"):
        print(f"| {how} | {statistics.median(s['recurrence'][how] for s in sections):.2f} |")
    print(f"\nauto sections starting where the melody sounds: "
          f"{sum(s['auto_melody_at_start'] for s in sections)} of {len(sections)}")
    print("\n| model | end accuracy, a / b (median) | over the notes | step change, min-max of "
          "the median curve |\n|---|---:|---:|---:|")
    for model in ("vae-2bar", "vae-16bar"):
        ends = np.array([r[model]["end_accuracy"] for r in rows])
        notes = np.array([r[model]["end_note_accuracy"] for r in rows])
        curve = np.median(np.array([r[model]["step_change"] for r in rows]), axis=0)
        print(f"| {model} | {np.median(ends[:, 0]):.2f} / {np.median(ends[:, 1]):.2f} | "
              f"{np.median(notes[:, 0]):.2f} / {np.median(notes[:, 1]):.2f} | "
              f"{curve.min():.2f}-{curve.max():.2f} ({', '.join(f'{c:.2f}' for c in curve)}) |")
    print(f"\n`composer interpolate a b --steps 8` whole process: median "
          f"{statistics.median(r['command_s'] for r in rows):.2f} s "
          f"(tracks in the result: {statistics.median(r['vae-2bar']['tracks'] for r in rows):.0f})")


if __name__ == "__main__":
    main()
