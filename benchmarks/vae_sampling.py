"""What the melody VAEs write from their prior, against real melody windows.

    .venv/bin/python benchmarks/vae_sampling.py --corpus /work/data/pop-folk \
        models/vae-2bar models/vae-16bar --samples 200

For each checkpoint: windows decoded from latents drawn from N(0, I) and from the fitted
prior (training/vae_prior.py, where the checkpoint has one; at its own spread, or at each of
--spreads 1,0.5 shares of its scale) at several decoder temperatures, measured by training/melody_windows.py beside the corpus' held-out (valid split) windows.
Raw numbers in benchmarks/results/vae_sampling.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from models.checkpoint import VAES, load_checkpoint
from models.vae.encoding import MelodyEncoding
from models.vae.stacked import load_runtime
from training.datasets import encode_split
from training.melody_windows import STATISTICS, distance, statistics

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("checkpoints", nargs="+", type=Path)
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--temperatures", default="0.5,0.8,1.0")
    parser.add_argument("--spreads", help="fitted prior drawn at these shares of its scale "
                        "(default: the checkpoint's own, model.json prior.spread)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/vae_sampling.json")
    args = parser.parse_args()
    temperatures = [float(t) for t in args.temperatures.split(",")]
    results = []
    for folder in args.checkpoints:
        info, weights = load_checkpoint(folder, VAES)
        encoding = MelodyEncoding(**info["encoding"])
        real = encode_split(args.corpus, "valid", encoding).tokens.reshape(-1, encoding.steps)
        rng = np.random.default_rng(0)
        real = statistics(real[rng.choice(len(real), min(len(real), 2000), replace=False)])
        print(f"\n{folder} ({info['model']}), real valid windows:",
              " ".join(f"{k} {real[k]:.3f}" for k in STATISTICS))
        runtime = load_runtime(info, weights)
        fallback = load_runtime(
            info, {k: v for k, v in weights.items() if not k.startswith("prior/")})
        priors = [("N(0, I)", fallback)]
        if "prior/mean" in weights or "prior/means" in weights:
            spreads = ([float(x) for x in args.spreads.split(",")] if args.spreads
                       else [runtime.spread])
            for spread in spreads:
                rt = load_runtime({**info, "prior": {**info["prior"], "spread": spread}},
                                  weights)
                kind = "mixture" if "prior/means" in weights else "fitted"
                priors.append((f"{kind} x{spread:g}" if spread != 1 else kind, rt))
        for prior, rt in priors:
            for temperature in temperatures:
                started = time.perf_counter()
                made = rt.sample(args.samples, np.random.default_rng(1), temperature)
                seconds = time.perf_counter() - started
                stats = statistics(made)
                row = {"checkpoint": str(folder), "model": info["model"], "prior": prior,
                       "temperature": temperature, "distance": distance(stats, real),
                       "seconds_per_window": seconds / args.samples, **stats}
                results.append({**row, "real": real})
                print(f"  {prior:12s} T {temperature:.1f}  distance {row['distance']:.3f}  ",
                      " ".join(f"{k} {stats[k]:.3f}" for k in STATISTICS))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
