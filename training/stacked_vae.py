"""`composer train --model vae-16bar`: the stacked 16-bar VAE (models/vae/stacked.py).

The bottom, a trained 2-bar VAE (`--bottom`, the shipped models/vae-2bar by default), is
frozen: every 2-bar segment of the corpus's 16-bar windows is encoded by it once, before
training, and the top learns from those latents alone. Windows a bar apart share most of their
segments, so each distinct segment is encoded once.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from training.datasets import encode_split, example_dataset
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


class StackedVaeTask:
    """vae-16bar: a VAE over the latents of a frozen 2-bar VAE's segments."""

    name = "vae-16bar"
    monitor = "val_recon"

    def __init__(self, bottom: Path | None = None, bars: int = 16):
        from models.checkpoint import default_dir

        self.bottom = Path(bottom) if bottom else default_dir("vae-2bar")
        self.bars = bars
        self.windows: dict = {}
        self.features: dict = {}
        self.corpus: Path | None = None
        self.network = None
        self.encoding = None
        self.initial_weights: dict | None = None

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

    def build(self, config: TrainConfig):
        import keras

        from models.vae.stacked_network import build_model, load_weights

        model = build_model(self.network)
        if self.initial_weights:
            load_weights(model, self.initial_weights)
        model.compile(optimizer=keras.optimizers.Adam(config.learning_rate, clipnorm=1.0))
        return model

    def train_data(self, config: TrainConfig):
        return example_dataset(self.features["train"], config.batch, seed=config.seed)

    def valid_data(self, config: TrainConfig):
        return example_dataset(self.features["valid"], config.batch, training=False,
                               max_examples=config.valid_batches * config.batch)

    def export(self, model, out: Path, config: TrainConfig, summary: dict) -> None:
        from models.vae.stacked import StackedVaeRuntime
        from models.vae.stacked_network import weights_of
        from training import vae_prior
        from training.tasks import _save

        weights = {**weights_of(model), **self.bottom_weights}
        runtime = StackedVaeRuntime.from_checkpoint({"network": self.network.to_dict()}, weights)
        started = time.perf_counter()
        weights.update(vae_prior.fit(runtime, self.windows["train"]))
        summary["prior_seconds"] = round(time.perf_counter() - started, 1)
        _save(self, out, config, summary, weights, {"windows": len(self.windows["train"])},
              bottom={"checkpoint": str(self.bottom),
                      "command": self.bottom_info.get("training", {}).get("command")},
              prior={"corpus": str(self.corpus), "split": "train",
                     "windows": min(vae_prior.LIMIT, len(self.windows["train"]))})
