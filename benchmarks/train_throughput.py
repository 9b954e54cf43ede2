"""Training throughput of each model on this machine (examples/s), median of several timings.

    .venv/bin/python benchmarks/train_throughput.py [--corpus build/demo-corpus] [--steps 30]

Builds each task exactly as `composer train` does (same encoding, network, batch and window
sizes as the shipped checkpoints), warms up, then times `--steps` training steps `--runs` times.
The corpus must be built (make demo); its encoded splits are cached after the first run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# The shipped runs' settings (see each MODEL_CARD.md).
SETTINGS = {
    "lstm": {"batch": 32, "seq_len": 256, "unit": "windows of 256 events"},
    "vae-2bar": {"batch": 64, "seq_len": 256, "unit": "2-bar melodies"},
    "vae-16bar": {"batch": 32, "seq_len": 256, "unit": "16-bar melodies"},
    "gan": {"batch": 32, "seq_len": 256, "unit": "4-bar phrases"},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=ROOT / "build/demo-corpus")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/train.json")
    args = parser.parse_args()

    from training.tasks import make_task
    from training.trainer import TrainConfig

    results = {}
    for name, setting in SETTINGS.items():
        task = make_task(name)
        config = TrainConfig(batch=setting["batch"], seq_len=setting["seq_len"])
        task.prepare(args.corpus, config, None)
        model = task.build(config)
        model.fit(task.train_data(config), steps_per_epoch=5, epochs=1, verbose=0)  # warm up
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            model.fit(task.train_data(config), steps_per_epoch=args.steps, epochs=1, verbose=0)
            times.append(time.perf_counter() - start)
        median = statistics.median(times)
        results[name] = {"runs_s": times, "steps": args.steps, "batch": setting["batch"],
                         "examples_per_s": args.steps * setting["batch"] / median,
                         "unit": setting["unit"], "cores": os.cpu_count()}
        print(f"{name}: {results[name]['examples_per_s']:.1f} {setting['unit']}/s", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"| model | batch | examples/s (median) | runs (s per {args.steps} steps) |")
    print("|---|---:|---:|---|")
    for name, r in results.items():
        print(f"| {name} | {r['batch']} | {r['examples_per_s']:.1f} {r['unit']} | "
              f"{', '.join(f'{t:.1f}' for t in r['runs_s'])} |")


if __name__ == "__main__":
    main()
