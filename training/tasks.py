"""What `composer train --model NAME` trains: one small class per model family.

A task knows its encoding, network, datasets and export format; the loop around them is
training/trainer.py, shared by all.
"""

from __future__ import annotations

import dataclasses
import platform
import time
from pathlib import Path

from training.datasets import EncodedSplit, encode_split, example_dataset, lm_dataset
from training.trainer import TrainConfig, TrainingError


class LstmTask:
    """Performance LSTM: next-event prediction over note-seq performance events."""

    name = "lstm"
    monitor = "val_loss"

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
        from models.lstm.network import build_model

        return self.compile(build_model(self.network), config)

    def compile(self, model, config: TrainConfig):
        """Start from initial_weights if set; next-token cross-entropy, Adam, clipped."""
        import keras

        from models.lstm.network import load_weights

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
        from models.lstm.network import weights_of

        counts = {"pieces": self.splits["train"].pieces, "events": len(self.splits["train"].tokens)}
        _save(self, out, config, summary, weights_of(model), counts,
              native_qpm=_median_tempo(self.corpus))


class PopTask(LstmTask):
    """Pop Transformer: next-token prediction over REMI tokens of melody, bridge and
    accompaniment (train it on a corpus built from pop909:DIR)."""

    name = "pop"

    def __init__(self, dim: int = 256, layers: int = 4, heads: int = 4, ff: int = 1024,
                 dropout: float = 0.1, context: int = 512):
        from models.pop.encoding import RemiEncoding
        from models.pop.network import PopConfig

        self.encoding = RemiEncoding()
        self.network = PopConfig(self.encoding.vocab_size, dim, layers, heads, ff, dropout,
                                 context)
        self.splits: dict[str, EncodedSplit] = {}
        self.corpus: Path | None = None
        self.initial_weights: dict | None = None

    def prepare(self, corpus: Path, config: TrainConfig, progress) -> None:
        if config.seq_len > self.network.context:
            raise TrainingError(f"--seq-len {config.seq_len} is longer than the pop model's "
                                f"context ({self.network.context} tokens)")
        super().prepare(corpus, config, progress)

    def build(self, config: TrainConfig):
        import keras

        from models.pop.network import build_model, load_weights

        model = build_model(self.network)
        if self.initial_weights:
            load_weights(model, self.initial_weights)
        model.compile(
            optimizer=keras.optimizers.AdamW(_warmup_cosine(config), weight_decay=0.01,
                                             clipnorm=1.0),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        )
        return model

    def export(self, model, out: Path, config: TrainConfig, summary: dict) -> None:
        from models.pop.network import weights_of

        counts = {"pieces": self.splits["train"].pieces, "tokens": len(self.splits["train"].tokens)}
        _save(self, out, config, summary, weights_of(model), counts,
              vocab=self.encoding.vocab)
        write_pop_step(out)


def write_pop_step(checkpoint: Path, *, quantize: bool = True) -> Path:
    """Write a pop checkpoint's LiteRT step (step.tflite), what generation runs: built from the
    weights as saved (float16 included), with int8 weights unless `quantize` is False."""
    from models.checkpoint import load_checkpoint
    from models.pop.litert import STEP_FILE, to_litert
    from models.pop.runtime import PopRuntime
    from training.fileio import atomic_write_bytes

    info, weights = load_checkpoint(checkpoint, ("pop",))
    runtime = PopRuntime(weights, info["network"]["heads"], info["network"]["context"])
    path = Path(checkpoint) / STEP_FILE
    atomic_write_bytes(path, to_litert(runtime, quantize=quantize))
    return path


def _warmup_cosine(config: TrainConfig):
    """A Transformer's learning rate: linear warm-up over 5% of the steps, then cosine decay
    to a tenth of the peak (nanoGPT's schedule)."""
    import keras

    warmup = max(1, config.steps // 20)
    return keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=max(1, config.steps - warmup), alpha=0.1,
        warmup_target=config.learning_rate, warmup_steps=warmup)


def _median_tempo(corpus: Path) -> float:
    """Median tempo of the training pieces: the tempo a performance model's timing belongs to."""
    import statistics

    from training.corpus import read_manifest

    tempi = [float(r["tempo"]) for r in read_manifest(corpus) if r["split"] == "train"]
    return statistics.median(tempi) if tempi else 120.0


def _command_line() -> str:
    import shlex
    import sys

    return "composer " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


class VaeTask:
    """Melody VAE (MusicVAE-style): reconstruct 2-bar melody windows through a latent z.

    (vae-16bar is a VAE over this one's latents: training/stacked_vae.py.)"""

    monitor = "val_recon"  # held-out reconstruction; beta keeps rising, so the loss would not do
    network_module = "models.vae.network"  # its build_model and load_weights

    def __init__(self, name: str = "vae-2bar", bars: int = 2):
        from models.vae.encoding import MelodyEncoding

        self.name = name
        self.bars = bars
        self.encoding = MelodyEncoding(bars=bars)
        self.initial_weights: dict | None = None
        self.windows: dict = {}
        self.corpus: Path | None = None
        self.network = None

    def prepare(self, corpus: Path, config: TrainConfig, progress) -> None:
        from models.vae.network import VaeConfig

        self.corpus = corpus
        steps = self.encoding.steps
        for split in ("train", "valid"):
            encoded = encode_split(corpus, split, self.encoding, workers=config.workers,
                                   progress=progress)
            self.windows[split] = encoded.tokens.astype("int32").reshape(-1, steps)
            if not len(self.windows[split]):
                raise TrainingError(f"{corpus}: no {self.encoding.bars}-bar melodies in the "
                                    f"{split} split")
        self.network = VaeConfig(vocab_size=self.encoding.vocab_size, steps=steps)

    def build(self, config: TrainConfig):
        import importlib

        import keras

        network = importlib.import_module(self.network_module)
        model = network.build_model(self.network)
        if self.initial_weights:
            network.load_weights(model, self.initial_weights)
        model.compile(optimizer=keras.optimizers.Adam(config.learning_rate, clipnorm=1.0))
        return model

    def examples(self, split: str):
        """What the network learns from: here the melody windows themselves."""
        return self.windows[split]

    def train_data(self, config: TrainConfig):
        return example_dataset(self.examples("train"), config.batch, seed=config.seed)

    def valid_data(self, config: TrainConfig):
        return example_dataset(self.examples("valid"), config.batch, training=False,
                               max_examples=config.valid_batches * config.batch)

    def export(self, model, out: Path, config: TrainConfig, summary: dict) -> None:
        from models.vae.network import weights_of
        from models.vae.runtime import VaeRuntime
        from training import vae_prior

        weights = weights_of(model)
        runtime = VaeRuntime(weights, self.network.vocab_size, self.network.steps,
                             self.network.segments)
        weights.update(vae_prior.fit(runtime, self.windows["train"]))
        _save(self, out, config, summary, weights, {"windows": len(self.windows["train"])},
              prior={"corpus": str(self.corpus), "split": "train",
                     "windows": min(vae_prior.LIMIT, len(self.windows["train"]))})


def _save(task, out: Path, config: TrainConfig, summary: dict, weights: dict, counts: dict,
          **extra) -> None:
    """Write the checkpoint: model.json says what the network is and how it was trained."""
    from models.checkpoint import save_checkpoint

    info = {"model": task.name, **extra, "encoding": task.encoding.to_dict(),
            "network": task.network.to_dict(),
            "training": _training_info(task.corpus, summary, counts)}
    save_checkpoint(out, info, weights, config.weights_dtype)


def _training_info(corpus, summary: dict, counts: dict) -> dict:
    return {
        "command": _command_line(),
        **({"initialized_from": summary["initialized_from"]}
           if summary.get("initialized_from") else {}),
        "corpus": str(corpus),
        **{f"train_{unit}": n for unit, n in counts.items()},
        "config": summary["config"],
        "steps": summary["steps"],
        "best_step": summary["best_step"],
        "best": summary["best"],
        "machine": f"{platform.machine()}, {_cores()} cores",
    }


class GanTask:
    """MuseGAN-style WGAN-GP over 4-bar multi-track phrases (chorale voices, or Lakh's five)."""

    name = "gan"
    monitor = None  # WGAN losses do not say when the music is best: train all the steps

    def __init__(self, layout: str = "satb"):
        from models.gan.encoding import PianorollEncoding

        self.encoding = PianorollEncoding(layout=layout)
        self.initial_weights: dict | None = None
        self.initial_parts = ("generator", "critic")  # what initial_weights set
        self.phrases: dict = {}
        self.corpus: Path | None = None
        self.network = None

    def prepare(self, corpus: Path, config: TrainConfig, progress) -> None:
        from models.gan.network import GanConfig

        self.corpus = corpus
        for split in ("train", "valid"):
            encoded = encode_split(corpus, split, self.encoding, workers=config.workers,
                                   progress=progress)
            self.phrases[split] = encoded.tokens.astype("uint8").reshape(-1, *self.encoding.shape)
        if not len(self.phrases["train"]):
            raise TrainingError(f"{corpus}: no {self.encoding.layout} phrases in the train split "
                                "(the satb layout needs four-voice 4/4 pieces: chorales)")
        enc = self.encoding
        self.network = GanConfig(steps=enc.steps, pitches=enc.pitches, tracks=enc.tracks,
                                 critic_streams=True)

    def build(self, config: TrainConfig):
        import keras

        from models.gan.network import build_model, load_weights

        model = build_model(self.network)
        if self.initial_weights:
            load_weights(model, self.initial_weights, self.initial_parts)
        model.compile(
            g_optimizer=keras.optimizers.Adam(config.learning_rate, beta_1=0.5, beta_2=0.9),
            d_optimizer=keras.optimizers.Adam(config.learning_rate, beta_1=0.5, beta_2=0.9))
        return model

    def train_data(self, config: TrainConfig):
        return example_dataset(self.phrases["train"], config.batch, seed=config.seed)

    def valid_data(self, config: TrainConfig):
        # Only informative for a GAN (no early stopping): None when the split has no phrases.
        return example_dataset(self.phrases["valid"], config.batch, training=False)

    def export(self, model, out: Path, config: TrainConfig, summary: dict) -> None:
        from models.gan.network import to_litert, weights_of
        from training.fileio import atomic_write_bytes

        # The generator for generation without TensorFlow, then the checkpoint (model.json last).
        atomic_write_bytes(out / "generator.tflite",
                           to_litert(model.generator, config.weights_dtype == "float16"))
        _save(self, out, config, summary, weights_of(model), {"phrases": len(self.phrases["train"])})


def _lead_task():
    from training.lead import LeadTask  # it builds on LstmTask: imported when asked for

    return LeadTask()


def _stacked_vae_task(bottom: Path | None = None):
    from training.stacked_vae import StackedVaeTask

    return StackedVaeTask(bottom)


TASKS = {"lstm": LstmTask, "pop": PopTask, "vae-2bar": VaeTask, "gan": GanTask,
         "vae-16bar": _stacked_vae_task, "lead": _lead_task}


def make_task(name: str, layout: str | None = None, bottom: Path | None = None):
    """The task for a model name; `layout` picks the GAN's tracks (satb or lakh5), `bottom`
    the 2-bar VAE under vae-16bar."""
    if layout is not None and name != "gan":
        raise TrainingError("--layout applies to the gan only")
    if bottom is not None and name != "vae-16bar":
        raise TrainingError("--bottom applies to vae-16bar only")
    if bottom is not None:
        return _stacked_vae_task(bottom)
    if layout is not None:
        from models.gan.encoding import LAYOUTS

        if layout not in LAYOUTS:
            raise TrainingError(f"unknown layout {layout!r}; choose from {', '.join(LAYOUTS)}")
        return GanTask(layout=layout)
    if name not in TASKS:
        raise TrainingError(f"unknown model {name!r}; choose from {', '.join(sorted(TASKS))} "
                            "(hybrid is made from gan and vae-2bar, not trained itself)")
    return TASKS[name]()


def initialize_from(task, folder: Path) -> dict:
    """Start `task` from a finished checkpoint's weights (to continue it, or fine-tune it on
    another corpus); returns its model.json. The optimizer starts afresh. Call after prepare(),
    when the task knows the network it will build."""
    from models.checkpoint import load_checkpoint

    info, weights = load_checkpoint(folder, (task.name,))
    ours = task.network.to_dict()
    # a setting added since that checkpoint was made has the value it had then: the default
    defaults = {f.name: f.default for f in dataclasses.fields(task.network)
                if f.default is not dataclasses.MISSING}
    theirs = {**defaults, **info.get("network", {})}
    # settings of the loss alone (free bits, annealing) may change between runs: same weights
    loss_only = set(getattr(task.network, "LOSS_ONLY", ()))
    differs = [k for k in theirs.keys() & ours.keys()
               if theirs[k] != ours[k] and k not in loss_only]
    critic_only = getattr(task.network, "CRITIC_ONLY", ())
    if differs and not set(differs) <= set(critic_only):
        raise TrainingError(f"{folder}: its network differs ({', '.join(sorted(differs))}) from "
                            f"what --model {task.name} builds")
    if differs:  # the same generator under another critic: keep it, train a fresh critic
        task.initial_parts = ("generator",)
    task.initial_weights = {k: v.astype("float32") for k, v in weights.items()}
    return info
