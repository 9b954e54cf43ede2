"""Where the melody VAEs draw new latents from: a Gaussian fitted to their training windows.

Free bits let the encoder keep its posteriors well away from N(0, I) (the 16-bar model spends
~250 nats of KL), so latents drawn from N(0, I) land where the decoder has seen little data
and come out as mostly rests. A diagonal Gaussian matched to the aggregate posterior
(the mean of the posterior means; variance of the means plus the mean posterior variance)
keeps samples in the region the decoder was trained on. Where one Gaussian is not enough (the
stacked vae-16bar), a mixture of them. `composer train` fits it when it exports a VAE;
`python -m training.vae_prior CHECKPOINT --corpus DIR [--components N]` adds one to a
checkpoint trained before that, or replaces it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from models.vae.stacked import load_runtime


LIMIT = 4096  # windows encoded: enough for a stable mean and scale in a few seconds
MIXTURE_LIMIT = 16384  # 64 windows a component for 256 components (about a minute)
COMPONENTS = 256  # the stacked vae-16bar's: 0.14 from held-out melodies (1 Gaussian: 0.29)


def mixture_size(windows: int) -> int:
    """Components for a stacked VAE trained on `windows` windows: COMPONENTS where each
    would have 64 of them, else 0 (one Gaussian: a small corpus cannot fill a mixture)."""
    return COMPONENTS if windows >= 64 * COMPONENTS else 0


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


def fit_mixture(runtime, windows: np.ndarray, components: int, *,
                limit: int = MIXTURE_LIMIT, batch: int = 512, seed: int = 0
                ) -> dict[str, np.ndarray]:
    """A mixture of `components` diagonal Gaussians fitted (scikit-learn's EM) to the
    posterior means of up to `limit` windows, for a latent space one Gaussian describes
    poorly: the stacked vae-16bar's z (about 1,060 nats from N(0, I)) decoded from its
    fitted Gaussian at half scale sat 0.29 from held-out melodies, from 256 components
    0.14 (docs/BENCHMARKS.md). Components are stored in walk order, sorted along the
    means' first principal axis, so neighbouring noise picks similar components."""
    from sklearn.mixture import GaussianMixture

    windows = np.asarray(windows)
    if len(windows) < components:
        raise ValueError(f"{len(windows)} windows cannot fit {components} components")
    rng = np.random.default_rng(seed)
    chosen = windows[rng.choice(len(windows), min(limit, len(windows)), replace=False)]
    mu = np.concatenate([runtime.encode(chosen[i:i + batch])[0]
                         for i in range(0, len(chosen), batch)])
    mixture = GaussianMixture(components, covariance_type="diag", max_iter=100,
                              reg_covar=1e-4, random_state=seed).fit(mu)
    centred = mixture.means_ - mixture.means_.mean(0)
    axis = np.linalg.svd(centred, full_matrices=False)[2][0]
    order = np.argsort(centred @ axis)
    return {"prior/means": mixture.means_[order].astype(np.float32),
            "prior/scales": np.sqrt(mixture.covariances_[order]).astype(np.float32),
            "prior/weights": mixture.weights_[order].astype(np.float32)}


def add_to_checkpoint(folder: Path, corpus: Path, *, split: str = "train",
                      limit: int | None = None, components: int = 0) -> dict:
    """Fit the prior on `corpus`'s `split` and rewrite the checkpoint with it (atomically):
    one Gaussian, or a mixture of `components`."""
    from models.checkpoint import VAES, load_checkpoint, save_checkpoint
    from models.vae.encoding import MelodyEncoding
    from training.datasets import encode_split

    info, weights = load_checkpoint(folder, VAES)
    encoding = MelodyEncoding(**info["encoding"])
    windows = encode_split(corpus, split, encoding).tokens.reshape(-1, encoding.steps)
    runtime = load_runtime(info, weights)
    weights = {k: v for k, v in weights.items() if not k.startswith("prior/")}
    limit = limit or (MIXTURE_LIMIT if components else LIMIT)
    weights.update(fit_mixture(runtime, windows, components, limit=limit) if components
                   else fit(runtime, windows, limit=limit))
    spread = info.get("prior", {}).get("spread")  # a sampling choice made on the model: kept
    info["prior"] = {"corpus": str(corpus), "split": split,
                     "windows": int(min(limit, len(windows))),
                     **({"components": components} if components else {}),
                     **({"spread": spread} if spread is not None else {}),
                     "command": f"python -m training.vae_prior {folder} --corpus {corpus}"
                                + (f" --split {split}" if split != "train" else "")
                                + (f" --components {components}" if components else "")}
    save_checkpoint(folder, {k: v for k, v in info.items() if k != "weights_dtype"}, weights,
                    info.get("weights_dtype", "float32"))
    return info["prior"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--split", default="train")
    parser.add_argument("--components", type=int, default=0,
                        help="a mixture of this many diagonal Gaussians (0: one Gaussian)")
    args = parser.parse_args(argv)
    from models.checkpoint import CheckpointError

    try:
        print(json.dumps(add_to_checkpoint(args.checkpoint, args.corpus, split=args.split,
                                           components=args.components)))
    except (OSError, ValueError, CheckpointError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
