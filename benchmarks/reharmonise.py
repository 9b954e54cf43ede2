"""Re-harmonised fusion on real pop songs: does the accompaniment stop clashing with the melody?

    .venv/bin/python benchmarks/reharmonise.py POP909_DIR [--pairs 10] [--corpus CORPUS]

For --pairs pairs of POP909 songs (fixed by seed; --corpus: only that corpus' test split, the
songs held out from the VAEs; only songs whose MIDI is in 4/4, below), `interpolate(a, b,
steps=8)` runs twice, with the songs' parts as they are (`--keep-harmony`) and re-harmonised
(the default), and each fused output is measured (composer.reharmonise.agreement, 4/4 beats
from the first bar line):

- strong-beat fit: the share of melody notes starting on beat 1 or 3 whose pitch class the
  accompaniment sounds at that moment (among those with accompaniment under them);
- clash rate: the share of the melody's time over the accompaniment during which it sounds
  against an accompaniment note a semitone or a tritone away;
- for reference, the same figures for each song's own section melody over its own parts
  (the songs as written; their melody on the sixteenth grid, as the VAE's is);
- moved: accompaniment notes not at their own pitch (a double dropped counts), over all
  pitched accompaniment notes; at the ends (steps 1 and 8, where the melody is the songs' own)
  and in between.

Two thirds of POP909's files are marked 1/4 (617 of 909; 31 of the 49 test songs), and the
fusion takes a song's bars from its time signatures, so for those it lays one beat of
accompaniment in each 4/4 bar: a fusion problem of its own, not re-harmonisation's, so they are
left out here (`--any-meter` keeps them). A song may be in more than one pair.

Raw numbers in benchmarks/results/reharmonise.json; prints Markdown.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

STEPS = 8


def step_notes(phrase, offset: float):
    """(melody, accompaniment) of one step, in beats from the fusion's first bar line."""
    from composer.interpolation import Backing
    from composer.reharmonise import Note

    per_second = phrase.qpm / 60.0
    melody, part = [], []
    for n in phrase.sequence.notes:
        beat, beats = offset + n.start_time * per_second, (n.end_time - n.start_time) * per_second
        if n.instrument == 0:
            melody.append(Note(n.pitch, beat, beats))
        else:
            part.append(Backing(n.instrument, n.pitch, n.velocity, beat, beats, n.program,
                                n.is_drum))
    return melody, part


def figures(result) -> dict:
    """The fused output's agreement, summed over its steps."""
    from composer.reharmonise import agreement

    totals = Counter()
    offset = 0.0
    for phrase in result.steps:
        found = agreement(*step_notes(phrase, offset))
        totals.update({"strong": found.strong, "strong_on_part": found.strong_on_part,
                       "sounding": found.sounding, "clashing": found.clashing})
        offset += phrase.bars * 4
    return dict(totals)


def moved(kept, changed) -> list[tuple[int, int]]:
    """Per step, (accompaniment notes, of those not at their own pitch): notes matched by
    track, onset, end and velocity, which re-harmonising never changes."""
    out = []
    for before, after in zip(kept.steps, changed.steps):
        def groups(phrase):
            found: dict[tuple, Counter] = {}
            for n in phrase.sequence.notes:
                if n.instrument != 0 and not n.is_drum:
                    key = (n.instrument, round(n.start_time, 4), round(n.end_time, 4), n.velocity)
                    found.setdefault(key, Counter())[n.pitch] += 1
            return found

        a, b = groups(before), groups(after)
        total = sum(sum(c.values()) for c in a.values())
        same = sum(sum((c & b.get(key, Counter())).values()) for key, c in a.items())
        out.append((total, total - same))
    return out


def song_figures(path: Path, song) -> dict:
    """The song's own section melody over its own parts (`song`: interpolate's read of it)."""
    from composer.generation import melody_track, read_primer
    from composer.interpolation import Backing
    from composer.reharmonise import Note, agreement
    from composer.sections import bar_grid
    from models.timing import one_tempo

    sequence, _, qpm = read_primer(path)
    if len(sequence.tempos) > 1:
        sequence = one_tempo(sequence, qpm)
    grid, lead = bar_grid(sequence), melody_track(sequence, None, path)
    first, last = (grid.downbeats[song.section.start],
                   grid.downbeats[song.section.start + song.section.bars])
    notes = [n for n in sequence.notes if n.instrument == lead]
    start, end = (grid.beat_of([n.start_time for n in notes]),
                  grid.beat_of([n.end_time for n in notes]))
    melody = [Note(n.pitch, round(b * 4) / 4 - first, e - b) for n, b, e in zip(notes, start, end)
              if first <= b < last]
    part = [Backing(n.track, n.pitch, n.velocity, grid.downbeats[song.section.start + k] - first
                    + n.beat, n.beats, n.program, n.is_drum)
            for k, bar in enumerate(song.backing) for n in bar]
    found = agreement(melody, part)
    return {"strong": found.strong, "strong_on_part": found.strong_on_part,
            "sounding": found.sounding, "clashing": found.clashing}


def four_four(path: Path) -> bool:
    """Whether every time signature the file has is 4/4 (none at all counts: MIDI's default)."""
    import pretty_midi

    return all((t.numerator, t.denominator) == (4, 4)
               for t in pretty_midi.PrettyMIDI(str(path)).time_signature_changes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pop909", type=Path)
    parser.add_argument("--pairs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--corpus", type=Path, help="only songs in this corpus' test split")
    parser.add_argument("--any-meter", action="store_true",
                        help="keep songs marked 1/4, 2/4, ... (see above)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/reharmonise.json")
    args = parser.parse_args()

    import composer.interpolation as fusion
    from composer.generators import GenerationError

    spent = [0.0]  # seconds inside re-harmonising, timed where arrange calls it
    inner = fusion.reharmonise

    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - start

    fusion.reharmonise = timed

    from training.pop909 import song_files

    songs = song_files(args.pop909, args.corpus)
    if not args.any_meter:
        songs = [s for s in songs if four_four(s)]
    if len(songs) < 2:
        raise SystemExit(f"{args.pop909}: fewer than two POP909/NNN/NNN.mid songs to pair")
    rng = np.random.default_rng(args.seed)
    pairs = [(i, j) for i in range(len(songs)) for j in range(len(songs)) if i != j]
    picks = [pairs[k] for k in rng.choice(len(pairs), size=min(args.pairs, len(pairs)),
                                          replace=False)]
    rows = []
    for i, j in picks:
        a, b = songs[i], songs[j]
        row = {"a": a.name, "b": b.name}
        try:
            results = {}
            for mode, keep in (("kept", True), ("reharmonised", False)):
                spent[0] = 0.0
                results[mode] = fusion.interpolate(a, b, steps=STEPS, keep_harmony=keep)
                row[mode] = figures(results[mode])
            row["reharmonise_s"] = spent[0]
        except GenerationError as exc:
            print(f"{a.name} + {b.name}: skipped ({exc})", flush=True)
            continue
        row["moved"] = moved(results["kept"], results["reharmonised"])
        songs_own = [song_figures(path, song) for path, song in zip((a, b), results["kept"].songs)]
        row["songs"] = {k: sum(f[k] for f in songs_own) for k in songs_own[0]}
        rows.append(row)
        print(f"{a.name} + {b.name}: clash {rate(row['kept'])[1]:.3f} -> "
              f"{rate(row['reharmonised'])[1]:.3f}", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=1) + "\n")
    report(rows)


def rate(totals: dict) -> tuple[float, float]:
    """(strong-beat fit, clash rate) of summed agreement figures."""
    return (totals.get("strong_on_part", 0) / max(totals.get("strong", 0), 1),
            totals.get("clashing", 0) / max(totals.get("sounding", 0), 1e-9))


def report(rows: list[dict]) -> None:
    print(f"\n{len(rows)} pairs, {STEPS} steps each (pooled over all pairs; per pair: median)")
    print("| accompaniment | strong-beat melody notes on its pitch classes | clash rate |"
          "\n|---|---:|---:|")
    for mode, label in (("songs", "the songs as written: own melody over own parts"),
                        ("kept", "fusion, parts kept (`--keep-harmony`)"),
                        ("reharmonised", "fusion, parts re-harmonised (default)")):
        pooled = rate({k: sum(r[mode].get(k, 0) for r in rows) for k in
                       ("strong", "strong_on_part", "sounding", "clashing")})
        per = np.array([rate(r[mode]) for r in rows])
        print(f"| {label} | {pooled[0]:.2f} (median {np.median(per[:, 0]):.2f}) | "
              f"{pooled[1]:.3f} (median {np.median(per[:, 1]):.3f}) |")
    better = sum(rate(r["reharmonised"])[1] < rate(r["kept"])[1] for r in rows)
    print(f"\nclash rate lower in {better} of {len(rows)} pairs")
    steps = np.array([r["moved"] for r in rows])  # [pair, step, (total, moved)]
    ends, middle = steps[:, [0, -1]].sum(axis=(0, 1)), steps[:, 1:-1].sum(axis=(0, 1))
    whole = steps.sum(axis=(0, 1))
    print(f"accompaniment notes moved: {whole[1]} of {whole[0]} ({whole[1] / whole[0]:.0%}); "
          f"steps 1 and {STEPS} {ends[1] / ends[0]:.0%}, steps 2-{STEPS - 1} "
          f"{middle[1] / middle[0]:.0%}")
    spent = statistics.median(r["reharmonise_s"] for r in rows)
    print(f"time re-harmonising one fusion ({STEPS} steps of vae-2bar: 16 bars): median "
          f"{spent * 1000:.0f} ms")


if __name__ == "__main__":
    main()
