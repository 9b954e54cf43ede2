"""Music statistics of every shipped model's phrases against held-out POP909 songs (issue 12).

    .venv/bin/python benchmarks/music_stats.py CORPUS [--phrases 100] [--bars 8] [--seed 0]
        [--markdown FILE] [--cards]

CORPUS is a corpus built from POP909 (`composer corpus build pop909:DIR`). For each shipped
model of the registry (pop too once models/pop/model.json exists) it generates --phrases
phrases and compares ten music statistics with those of windows of the corpus' test split,
each as the overlapping area (OA) of the two distributions (training.music_stats, as
`composer eval --music` does, corpus read once for all models). The ceiling column is the test
split against the train split. Prints one Markdown table for docs/BENCHMARKS.md (also to
--markdown); raw numbers in benchmarks/results/music_stats.json. --cards also writes each
model's music.json and MODEL_CARD.md into its shipped folder.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def shipped_models() -> dict[str, Path | None]:
    """Registry models that can run here: name -> checkpoint folder (None: built from others)."""
    from composer.generators import GENERATORS
    from models.checkpoint import default_dir

    out = {}
    for name, spec in GENERATORS.items():
        folder = default_dir(name) if spec.takes_checkpoint else None
        if folder is None or (folder / "model.json").exists():
            out[name] = folder
    return out


def markdown(reports: dict[str, dict]) -> str:
    """Rows: statistics, then the mean and lowest OA; columns: each model's OA, the ceiling."""
    from training.music_stats import STATISTICS

    first = next(iter(reports.values()))
    lines = ["| statistic | " + " | ".join(reports) + " | ceiling (held-out vs train) |",
             "|---|" + "---:|" * (len(reports) + 1)]
    for name in STATISTICS:
        lines.append(f"| {name.replace('_', ' ')} | "
                     + " | ".join(f"{r['statistics'][name]['oa']:.2f}" for r in reports.values())
                     + f" | {first['statistics'][name]['ceiling_oa']:.2f} |")
    lines.append("| **mean** | " + " | ".join(f"**{r['mean_oa']:.2f}**" for r in reports.values())
                 + f" | **{first['mean_ceiling_oa']:.2f}** |")
    lines.append("| lowest | " + " | ".join(f"{r['min_oa']:.2f}" for r in reports.values())
                 + f" | {min(s['ceiling_oa'] for s in first['statistics'].values()):.2f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path, help="corpus built from POP909")
    parser.add_argument("--phrases", type=int, default=100)
    parser.add_argument("--bars", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--markdown", type=Path, help="also write the table here")
    parser.add_argument("--cards", action="store_true",
                        help="write music.json and MODEL_CARD.md into each shipped folder")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/music_stats.json")
    args = parser.parse_args()

    from composer.generators import load
    from training import music_stats
    from training.fileio import atomic_write_text
    from training.model_card import write_model_card

    started = time.perf_counter()
    held_out, training = (music_stats.corpus_statistics(args.corpus, split, bars=args.bars,
                                                        seed=args.seed)
                          for split in ("test", "train"))
    print(f"{args.corpus}: {len(held_out)} held-out and {len(training)} training windows "
          f"({time.perf_counter() - started:.1f} s)", file=sys.stderr, flush=True)
    reports = {}
    for name, folder in shipped_models().items():
        started = time.perf_counter()
        generated = music_stats.generated_statistics(
            lambda seed, name=name: load(name, seed=seed), phrases=args.phrases,
            bars=args.bars, seed=args.seed)
        reports[name] = {"model": name, "checkpoint": str(folder) if folder else None,
                         "corpus": str(args.corpus), "bars": args.bars, "seed": args.seed,
                         **music_stats.music_report(generated, held_out, training)}
        print(f"{name}: mean OA {reports[name]['mean_oa']:.2f} "
              f"({time.perf_counter() - started:.1f} s)", file=sys.stderr, flush=True)
        if args.cards and folder is not None:
            atomic_write_text(folder / "music.json", json.dumps(reports[name], indent=1) + "\n")
            write_model_card(folder)
    table = markdown(reports)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(reports, indent=1) + "\n")
    if args.markdown:
        args.markdown.write_text(table)
    print(table, end="")


if __name__ == "__main__":
    main()
