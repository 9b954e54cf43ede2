"""`composer train --model vae-16bar`: the stacked 16-bar VAE (models/vae/stacked.py).

The bottom, a trained 2-bar VAE (`--bottom`, the shipped models/vae-2bar by default), is
frozen: every 2-bar segment of the corpus's 16-bar windows is encoded by it once, before
training, and the top learns from those latents alone. Windows a bar apart share most of their
segments, so each distinct segment is encoded once.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from training.datasets import encode_split
from training.tasks import VaeTask, _save
from training.trainer import TrainConfig, TrainingError

BATCH = 2048  # segments the bottom encodes at a time


def segment_features(runtime, windows: np.ndarray, progress=None, stage: str = "") -> np.ndarray:
    """[windows, segments, 2 * z]: the bottom posterior's mean then scale for each segment.

    `runtime` is a models.vae.stacked.StackedVaeRuntime (its bottom does the encoding)."""
    steps = runtime.bottom.steps
    segments = np.asarray(windows).reshape(-1, steps)
    unique, inverse = np.unique(segments, axis=0, return_inverse=True)
    features = []
    for start in range(0, len(unique), BATCH):
        mu, sigma = runtime.bottom.encode(unique[start:start + BATCH])
        features.append(np.concatenate([mu, sigma], axis=-1))
        if progress:
            progress(stage, min(start + BATCH, len(unique)), len(unique))
    table = np.concatenate(features) if features else np.zeros((0, 2 * runtime.bottom.z_size))
    return table[inverse.ravel()].reshape(len(windows), runtime.segments, -1).astype(np.float32)


class StackedVaeTask(VaeTask):
    """vae-16bar: a VAE over the latents of a frozen 2-bar VAE's segments (VaeTask's build
    and datasets over its own network and examples)."""

    name = "vae-16bar"
    network_module = "models.vae.stacked_network"

    def __init__(self, bottom: Path | None = None, bars: int = 16):
        from models.checkpoint import default_dir

        super().__init__(self.name, bars)  # its encoding is the bottom's, set in prepare()
        self.bottom = Path(bottom) if bottom else default_dir("vae-2bar")
        self.features: dict = {}

    def prepare(self, corpus: Path, config: TrainConfig, progress) -> None:
        from models.checkpoint import load_checkpoint
        from models.vae.encoding import MelodyEncoding
        from models.vae.stacked import BOTTOM, StackedVaeRuntime
        from models.vae.stacked_network import StackedConfig

        self.corpus = corpus
        info, weights = load_checkpoint(self.bottom, ("vae-2bar",))
        if self.bars % info["encoding"]["bars"]:
            raise TrainingError(f"{self.bottom}: its {info['encoding']['bars']}-bar windows do "
                                f"not divide {self.bars} bars")
        self.bottom_weights = {BOTTOM + k: v for k, v in weights.items()}
        self.bottom_info = info
        self.encoding = MelodyEncoding(**{**info["encoding"], "bars": self.bars})
        self.network = StackedConfig(bottom=info["network"],
                                     segments=self.bars // info["encoding"]["bars"])
        runtime = StackedVaeRuntime.from_checkpoint({"network": self.network.to_dict()},
                                                    self.bottom_weights)
        for split in ("train", "valid"):
            encoded = encode_split(corpus, split, self.encoding, workers=config.workers,
                                   progress=progress)
            self.windows[split] = encoded.tokens.astype("int32").reshape(-1, self.encoding.steps)
            if not len(self.windows[split]):
                raise TrainingError(f"{corpus}: no {self.bars}-bar melodies in the {split} split")
            self.features[split] = segment_features(runtime, self.windows[split], progress,
                                                    f"2-bar latents, {split}")

    def examples(self, split: str):
        return self.features[split]

    def export(self, model, out: Path, config: TrainConfig, summary: dict) -> None:
        from models.vae.stacked import StackedVaeRuntime
        from models.vae.stacked_network import weights_of
        from training import vae_prior

        weights = {**weights_of(model), **self.bottom_weights}
        runtime = StackedVaeRuntime.from_checkpoint({"network": self.network.to_dict()}, weights)
        train = self.windows["train"]
        components = vae_prior.mixture_size(len(train))
        limit = vae_prior.MIXTURE_LIMIT if components else vae_prior.LIMIT
        weights.update(vae_prior.fit_mixture(runtime, train, components) if components
                       else vae_prior.fit(runtime, train))
        _save(self, out, config, summary, weights, {"windows": len(train)},
              bottom={"checkpoint": str(self.bottom),
                      "command": self.bottom_info.get("training", {}).get("command")},
              prior={"corpus": str(self.corpus), "split": "train",
                     "windows": min(limit, len(train)),
                     **({"components": components} if components else {})})
