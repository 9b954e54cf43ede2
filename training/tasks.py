"""What `composer train --model NAME` trains: one small class per model family.

A task knows its encoding, network, datasets and export format; the loop around them is
training/trainer.py, shared by all.
"""

from __future__ import annotations

import platform
import time
from pathlib import Path

from training.datasets import EncodedSplit, encode_split, lm_dataset
from training.trainer import TrainConfig, TrainingError


class LstmTask:
    """Performance LSTM: next-event prediction over note-seq performance events."""

    name = "lstm"

    def __init__(self, units: int = 256, layers: int = 2, embedding: int = 128,
                 dropout: float = 0.1):
        from models.lstm.encoding import PerformanceEncoding
        from models.lstm.network import LstmConfig

        self.encoding = PerformanceEncoding()
        self.network = LstmConfig(self.encoding.vocab_size, embedding, units, layers, dropout)
        self.splits: dict[str, EncodedSplit] = {}
        self.corpus: Path | None = None
        self.started = time.time()
        self.initial_weights: dict | None = None

    def prepare(self, corpus: Path, config: TrainConfig, progress) -> None:
        self.corpus = corpus
        for split in ("train", "valid"):
            self.splits[split] = encode_split(corpus, split, self.encoding,
                                              workers=config.workers, progress=progress)
            if not self.splits[split].pieces:
                raise TrainingError(f"{corpus}: the {split} split is empty")

    def build(self, config: TrainConfig):
        import keras

        from models.lstm.network import build_model, load_weights

        model = build_model(self.network)
        if self.initial_weights:
            load_weights(model, self.initial_weights)
        model.compile(
            optimizer=keras.optimizers.Adam(config.learning_rate, clipnorm=1.0),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        )
        return model

    def train_data(self, config: TrainConfig):
        return lm_dataset(self.splits["train"], config.seq_len, config.batch, seed=config.seed)

    def valid_data(self, config: TrainConfig):
        return lm_dataset(self.splits["valid"], config.seq_len, config.batch, training=False,
                          max_windows=config.valid_batches * config.batch)

    def export(self, model, out: Path, config: TrainConfig, summary: dict) -> None:
        from models.checkpoint import save_checkpoint
        from models.lstm.network import weights_of

        info = {
            "model": self.name,
            "encoding": self.encoding.to_dict(),
            "network": self.network.to_dict(),
            "training": {
                "command": _command_line(),
                "corpus": str(self.corpus),
                "train_pieces": self.splits["train"].pieces,
                "train_events": len(self.splits["train"].tokens),
                "config": summary["config"],
                "steps": summary["steps"],
                "best_step": summary["best_step"],
                "best": summary["best"],
                "machine": f"{platform.machine()}, {_cores()} cores",
            },
        }
        save_checkpoint(out, info, weights_of(model))


def _command_line() -> str:
    import shlex
    import sys

    return "composer " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


TASKS = {"lstm": LstmTask}


def make_task(name: str):
    if name not in TASKS:
        raise TrainingError(f"unknown model {name!r}; choose from {', '.join(sorted(TASKS))} "
                            "(vae-2bar, vae-16bar, gan and hybrid are not built yet)")
    return TASKS[name]()
