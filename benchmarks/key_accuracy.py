"""Key-signature accuracy and speed: our estimator against music21's analyze('key').

    .venv/bin/python benchmarks/key_accuracy.py [--collections essen bach nottingham] [--limit N]

Ground truth is the key signature written in each score as music21 parses it (ABC `K:` field,
MusicXML key signature). Transposition needs the signature, so a key counts as right when its
signature matches (relative major/minor are one). music21 analyses its own parsed score; ours
reads the MIDI file the corpus converter made from the same score, notes only (the key-signature
meta event in it is ignored). Times are per piece, single process, analysis only ("estimate")
and, for ours, including parsing the MIDI file ("parse+estimate").

Disagreements with the annotation are judged by the notes: for each, the share of the music's
duration inside the annotated signature's scale is compared with the share inside ours. Writes
benchmarks/results/key_accuracy.json and prints a Markdown table for docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from training import music21_corpus
from training.keys import _SCALES, Key, pitch_class_histogram


def _m21_key(k) -> Key:
    return Key(k.tonic.pitchClass, "minor" if k.mode == "minor" else "major")


def evaluate(piece: music21_corpus.Music21Piece) -> dict | None:
    """One piece: annotation, music21's key and time, our key and times. None if unannotated."""
    from music21 import key as m21key

    from training.keys import estimate_key_from_notes
    from training.score import read_score

    warnings.simplefilter("ignore")
    if not music21_corpus.is_converted(piece):
        music21_corpus.convert_piece(piece)
    if music21_corpus.failure_reason(piece) is not None:
        return None
    score = music21_corpus.parse_piece(piece)
    signatures = list(score.recurse().getElementsByClass(m21key.KeySignature))
    if not signatures:
        return None
    annotated = signatures[0].sharps
    start = time.perf_counter()
    theirs = _m21_key(score.analyze("key"))
    m21_seconds = time.perf_counter() - start

    data = Path(piece.midi_path).read_bytes()
    start = time.perf_counter()
    notes = read_score(data).pitched()  # the reader ingest uses
    parsed = time.perf_counter()
    ours = estimate_key_from_notes(*notes).key
    done = time.perf_counter()

    hist = pitch_class_histogram(*notes)
    share = _SCALES @ hist / max(hist.sum(), 1e-12)
    return {
        "id": piece.piece_id, "collection": piece.collection, "annotated_fifths": annotated,
        "ours": ours.name, "ours_fifths": ours.fifths, "music21": theirs.name,
        "music21_fifths": theirs.fifths,
        "ours_seconds": done - parsed, "ours_with_parse_seconds": done - start,
        "music21_seconds": m21_seconds,
        "in_scale_annotated": float(share[(annotated * 7) % 12]),
        "in_scale_ours": float(share[ours.relative_major]),
    }


def same(a: int, b: int) -> bool:
    return a % 12 == b % 12  # 6 sharps == 6 flats


def summarise(rows: list[dict]) -> dict:
    groups = defaultdict(list)
    for row in rows:
        groups[row["collection"]].append(row)
    groups["all"] = rows
    out = {}
    for name, mine in groups.items():
        n = len(mine)
        wrong = [r for r in mine if not same(r["ours_fifths"], r["annotated_fifths"])]
        out[name] = {
            "pieces": n,
            "ours_accuracy": sum(same(r["ours_fifths"], r["annotated_fifths"]) for r in mine) / n,
            "music21_accuracy": sum(same(r["music21_fifths"], r["annotated_fifths"]) for r in mine) / n,
            "ours_pieces_per_s": n / sum(r["ours_seconds"] for r in mine),
            "ours_with_parse_pieces_per_s": n / sum(r["ours_with_parse_seconds"] for r in mine),
            "music21_pieces_per_s": n / sum(r["music21_seconds"] for r in mine),
            "disagreements": len(wrong),
            "disagreements_music21_sides_with_ours": sum(
                same(r["music21_fifths"], r["ours_fifths"]) for r in wrong),
            "disagreements_music21_sides_with_annotation": sum(
                same(r["music21_fifths"], r["annotated_fifths"]) for r in wrong),
            "disagreements_notes_fit_ours_better": sum(
                r["in_scale_ours"] > r["in_scale_annotated"] + 1e-9 for r in wrong),
            "disagreements_notes_fit_equally": sum(
                abs(r["in_scale_ours"] - r["in_scale_annotated"]) <= 1e-9 for r in wrong),
            "median_in_scale_annotated_when_wrong": statistics.median(
                r["in_scale_annotated"] for r in wrong) if wrong else None,
            "median_in_scale_ours_when_wrong": statistics.median(
                r["in_scale_ours"] for r in wrong) if wrong else None,
        }
    return out


def table(summary: dict) -> str:
    lines = ["| collection | pieces | ours | music21 | ours pieces/s (estimate) | ours pieces/s "
             "(parse+estimate) | music21 pieces/s | speed ratio (estimate / with parse) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, s in summary.items():
        lines.append(
            f"| {name} | {s['pieces']} | {s['ours_accuracy']:.3f} | {s['music21_accuracy']:.3f} | "
            f"{s['ours_pieces_per_s']:,.0f} | {s['ours_with_parse_pieces_per_s']:,.0f} | "
            f"{s['music21_pieces_per_s']:,.1f} | "
            f"{s['ours_pieces_per_s'] / s['music21_pieces_per_s']:,.0f}x / "
            f"{s['ours_with_parse_pieces_per_s'] / s['music21_pieces_per_s']:,.0f}x |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--collections", nargs="+", default=["nottingham", "essen", "bach"])
    parser.add_argument("--limit", type=int, default=None, help="pieces per collection")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/key_accuracy.json")
    args = parser.parse_args()

    pieces = [p for c in args.collections for p in music21_corpus.list_pieces(c, args.limit)]
    started = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        rows = [r for r in pool.map(evaluate, pieces, chunksize=8) if r is not None]
    summary = summarise(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    examples = [r for r in rows if not same(r["ours_fifths"], r["annotated_fifths"])][:40]
    args.out.write_text(json.dumps({"summary": summary, "disagreement_examples": examples},
                                   indent=1) + "\n")
    print(table(summary))
    print(json.dumps({k: {kk: v for kk, v in s.items() if kk.startswith(("disag", "median"))}
                      for k, s in summary.items()}, indent=1))
    print(f"{len(rows)} annotated pieces of {len(pieces)} in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
