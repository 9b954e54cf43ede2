"""Where the melody VAEs draw new latents from: a Gaussian fitted to their training windows.

Free bits let the encoder keep its posteriors well away from N(0, I) (the 16-bar model spends
~250 nats of KL), so latents drawn from N(0, I) land where the decoder has seen little data
and come out as mostly rests. A diagonal Gaussian matched to the aggregate posterior
(the mean of the posterior means; variance of the means plus the mean posterior variance)
keeps samples in the region the decoder was trained on. `composer train` fits it when it
exports a VAE; `python -m training.vae_prior CHECKPOINT --corpus DIR` adds it to a
checkpoint trained before that.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from models.vae.stacked import load_runtime


LIMIT = 4096  # windows encoded: enough for a stable mean and scale in a few seconds


def fit(runtime, windows: np.ndarray, *, limit: int = LIMIT, batch: int = 256,
        seed: int = 0) -> dict[str, np.ndarray]:
    """"prior/mean" and "prior/scale" for `runtime`'s weights, from up to `limit` windows."""
    windows = np.asarray(windows)
    if not len(windows):
        raise ValueError("no windows to fit the prior on")
    rng = np.random.default_rng(seed)
    chosen = windows[rng.choice(len(windows), min(limit, len(windows)), replace=False)]
    encoded = [runtime.encode(chosen[i:i + batch]) for i in range(0, len(chosen), batch)]
    mu = np.concatenate([m for m, _ in encoded])
    sigma = np.concatenate([s for _, s in encoded])
    return {"prior/mean": mu.mean(0).astype(np.float32),
            "prior/scale": np.sqrt(mu.var(0) + (sigma ** 2).mean(0)).astype(np.float32)}


def add_to_checkpoint(folder: Path, corpus: Path, *, split: str = "train",
                      limit: int = LIMIT) -> dict:
    """Fit the prior on `corpus`'s `split` and rewrite the checkpoint with it (atomically)."""
    from models.checkpoint import VAES, load_checkpoint, save_checkpoint
    from models.vae.encoding import MelodyEncoding
    from training.datasets import encode_split

    info, weights = load_checkpoint(folder, VAES)
    encoding = MelodyEncoding(**info["encoding"])
    windows = encode_split(corpus, split, encoding).tokens.reshape(-1, encoding.steps)
    runtime = load_runtime(info, weights)
    weights = {k: v for k, v in weights.items() if not k.startswith("prior/")}
    weights.update(fit(runtime, windows, limit=limit))
    spread = info.get("prior", {}).get("spread")  # a sampling choice made on the model: kept
    info["prior"] = {"corpus": str(corpus), "split": split,
                     "windows": int(min(limit, len(windows))),
                     **({"spread": spread} if spread is not None else {})}
    save_checkpoint(folder, {k: v for k, v in info.items() if k != "weights_dtype"}, weights,
                    info.get("weights_dtype", "float32"))
    return info["prior"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--split", default="train")
    args = parser.parse_args(argv)
    from models.checkpoint import CheckpointError

    try:
        print(json.dumps(add_to_checkpoint(args.checkpoint, args.corpus, split=args.split)))
    except (OSError, ValueError, CheckpointError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
