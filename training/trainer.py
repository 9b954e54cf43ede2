"""One training loop for every model: Keras fit with what a long run needs around it.

A task (training/tasks.py) supplies the model, the datasets and the export; this module does the
rest the same way for all of them: tf.distribute strategy (several GPUs, or workers via
TF_CONFIG), a deterministic seed, Keras progress bars, TensorBoard logs, a checkpoint every N
steps that `--resume` continues from (Keras BackupAndRestore), early stopping on the valid split
(best weights kept), and at the end the exported checkpoint, metrics.json and loss curves.

Layout of an output folder: the shippable checkpoint at the top (model.json, weights.npz,
metrics.json, loss.png, MODEL_CARD.md); everything only training needs under train/ (backup for
resume, TensorBoard logs, history.csv), which git ignores.
"""

from __future__ import annotations

import functools
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

from training.fileio import atomic_write_text


class TrainingError(Exception):
    """A training run that cannot start; str() says why in one line."""


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 20_000
    batch: int = 64
    seq_len: int = 256
    learning_rate: float = 1e-3
    seed: int = 0
    checkpoint_every: int = 500  # steps; validation runs at each checkpoint
    patience: int = 6  # checkpoints without a better valid loss before stopping
    valid_batches: int = 32
    workers: int | None = None  # processes for encoding the corpus
    weights_dtype: str = "float32"  # how the exported weights.npz stores them
    max_minutes: float | None = None  # stop at the first checkpoint past this wall time


class Task(Protocol):
    name: str
    monitor: str | None  # validation metric that picks the best checkpoint (lower is better)

    def prepare(self, corpus: Path, config: TrainConfig, progress) -> None: ...
    def build(self, config: TrainConfig): ...  # a compiled Keras model
    def train_data(self, config: TrainConfig): ...
    def valid_data(self, config: TrainConfig): ...
    def export(self, model, out: Path, config: TrainConfig, summary: dict) -> None: ...


@functools.lru_cache(maxsize=1)
def strategy_for_environment():
    """MultiWorkerMirrored under TF_CONFIG, Mirrored with several GPUs, else the default.

    Made once per process and before anything else touches TensorFlow: a multi-worker strategy
    must configure collective ops at start-up (call this before reading any data).
    """
    import tensorflow as tf

    if os.environ.get("TF_CONFIG"):
        return tf.distribute.MultiWorkerMirroredStrategy()
    if len(tf.config.list_logical_devices("GPU")) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def check_run(corpus: Path, out: Path, resume: bool) -> None:
    """Refuse a run that cannot go well before any data is encoded (minutes on Lakh)."""
    if (Path(out) / "train" / "backup").exists() and not resume:
        raise TrainingError(f"{out} holds an unfinished run: add --resume to continue it, "
                            "or choose another --out")
    if not (Path(corpus) / "manifest.csv").exists():
        raise TrainingError(f"{corpus}: not a corpus folder (no manifest.csv); "
                            "build one with `composer corpus build`")


def train(task: Task, corpus: Path, out: Path, config: TrainConfig, *, resume: bool = False,
          verbose: int | None = None, initialized_from: str | None = None) -> dict:
    """Train `task`, already prepared on `corpus`, into `out`; returns the summary written to
    metrics.json. Call check_run() and task.prepare() first (the CLI does both, under a
    progress bar), and strategy_for_environment() before either."""
    import keras
    import tensorflow as tf

    check_run(corpus, out, resume)
    out = Path(out)
    state = out / "train"
    backup = state / "backup"
    state.mkdir(parents=True, exist_ok=True)
    strategy = strategy_for_environment()
    keras.utils.set_random_seed(config.seed)
    tf.config.experimental.enable_op_determinism()

    with strategy.scope():
        model = task.build(config)
    epochs = max(1, config.steps // config.checkpoint_every)
    callbacks = [
        keras.callbacks.BackupAndRestore(str(backup)),
        keras.callbacks.TensorBoard(str(state / "logs")),
        keras.callbacks.CSVLogger(str(state / "history.csv"), append=resume),
    ]
    if task.monitor:  # a GAN has no validation number that says "best": it trains to the end
        # Restores the best epoch's weights at the end, stopped early or not. After --resume
        # it only knows the epochs since the restart (Keras does not back up its state).
        callbacks.insert(1, keras.callbacks.EarlyStopping(
            monitor=task.monitor, mode="min", patience=config.patience,
            restore_best_weights=True))
    if config.max_minutes is not None:
        callbacks.append(TimeBudget(config.max_minutes * 60))
    if verbose is None:  # a live bar on a terminal, one line per checkpoint in a log
        import sys

        verbose = 1 if sys.stdout.isatty() else 2
    started = time.perf_counter()
    history = model.fit(task.train_data(config), validation_data=task.valid_data(config),
                        epochs=epochs, steps_per_epoch=config.checkpoint_every,
                        callbacks=callbacks, verbose=verbose, shuffle=False)
    seconds = time.perf_counter() - started
    rows = _read_history(state / "history.csv") or [
        {k: v[i] for k, v in history.history.items()} | {"epoch": i}
        for i in range(len(history.history.get("loss", [])))]
    if not rows:
        best = {}
    else:
        best = min(rows, key=lambda r: r[task.monitor]) if task.monitor else rows[-1]
    summary = {
        "model": task.name,
        "config": asdict(config),
        "steps": len(rows) * config.checkpoint_every,
        "best_step": (int(best["epoch"]) + 1) * config.checkpoint_every if best else 0,
        "monitor": task.monitor,
        "initialized_from": initialized_from,
        "strategy": _strategy_name(strategy),
        "replicas": strategy.num_replicas_in_sync,
        "wall_seconds_this_run": round(seconds, 1),
        "examples_per_second": round(
            len(next(iter(history.history.values()), [])) * config.checkpoint_every
            * config.batch / max(seconds, 1e-9), 2),
        "best": {k: v for k, v in best.items() if k != "epoch"},
        "history": rows,
    }
    task.export(model, out, config, summary)
    atomic_write_text(out / "metrics.json", json.dumps(summary, indent=1) + "\n")
    plot_history(rows, out / "loss.png", title=f"{task.name} on {Path(corpus).name}")
    from training.model_card import write_model_card

    write_model_card(out)
    if backup.exists():  # finished: a new run in this folder starts afresh
        import shutil

        shutil.rmtree(backup)
    return summary


def TimeBudget(seconds: float):
    """A callback that ends training at the first checkpoint past `seconds` of wall time, so a
    run on a CPU can be given an evening rather than a step count it cannot predict; the
    export that follows is the same as after the last step (best weights, card, curves)."""
    import keras

    class _TimeBudget(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            if time.perf_counter() - self.started >= seconds:
                self.model.stop_training = True

    return _TimeBudget()


def _strategy_name(strategy) -> str:
    """The public tf.distribute name (MultiWorkerMirrored is CollectiveAllReduce inside)."""
    import tensorflow as tf

    for name in ("MultiWorkerMirroredStrategy", "MirroredStrategy"):
        if isinstance(strategy, getattr(tf.distribute, name)):
            return name
    return "default"


def _read_history(path: Path) -> list[dict]:
    import csv

    if not path.exists():
        return []
    with open(path, newline="") as handle:
        return [{k: float(v) for k, v in row.items() if v not in ("", "NA")}  # NA: not logged
                for row in csv.DictReader(handle)]


def plot_history(rows: list[dict], path: Path, title: str) -> None:
    """Training and validation curves per checkpoint (the model's main metrics), as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    wanted = ("loss", "accuracy", "recon", "kl", "w_distance", "critic_loss", "generator_loss")
    metrics = [m for m in wanted if rows and m in rows[0]][:4]
    fig, axes = plt.subplots(1, len(metrics) or 1, figsize=(6 * max(1, len(metrics)), 4),
                             squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        steps = [(int(r["epoch"]) + 1) for r in rows]
        ax.plot(steps, [r[metric] for r in rows], label="train")
        if f"val_{metric}" in rows[0]:
            ax.plot(steps, [r[f"val_{metric}"] for r in rows], label="valid")
        ax.set_xlabel("checkpoint")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    from training.fileio import temp_path_for

    tmp = temp_path_for(path).with_suffix(".png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)
