"""Every model that writes music, in one registry: what `--model NAME` can be.

    spec, folder = resolve("vae-2bar")                  # a shipped model by name
    spec, folder = resolve(checkpoint="runs/my-vae")     # any folder `composer train` wrote
    generator = load("lstm", seed=1)                     # a Generator
    phrase = generator.phrase(bars=8, qpm=120)           # a composer.phrase.Phrase

Adding a model is its `models/<name>/` package (encoding, network, runtime), its generator
module here (a class with `phrase(bars, qpm) -> Phrase`), one `ModelSpec` in GENERATORS, and
its training task in training/tasks.py. Every command, the shell, the player and their help
texts read this registry; nothing else compares model names.
"""

from __future__ import annotations

import importlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from composer.phrase import Phrase


class GenerationError(ValueError):
    """A request that cannot be met (unknown model, unusable primer); str() says why."""


@runtime_checkable
class Generator(Protocol):
    """A model loaded and ready: each call writes the next phrase.

    Generators keep their state between calls (the LSTM's recurrent state, the VAE's latent
    walk), which is what makes the player's stream continuous. `temperature` may be changed
    between calls; it is None for a model that does not sample (the GAN)."""

    temperature: float | None

    def phrase(self, bars: int, qpm: float) -> Phrase:
        """Exactly `bars` bars at `qpm` (tempo, meter and length set in the sequence)."""
        ...


@dataclass(frozen=True)
class ModelSpec:
    """One entry of the registry: how to load a model and what it can do."""

    name: str
    summary: str  # one line for help texts
    factory: str  # "module:Class"; called as Class(checkpoint, seed=, temperature=, top_k=)
    loads: tuple[str, ...] = ()  # model.json "model" values it runs (empty: no checkpoint)
    temperature: float | None = None  # default sampling temperature; None: does not sample
    primer: bool = False  # can continue a MIDI file (generate --primer)
    primer_lead: bool = False  # one instrument: primed with the primer's lead track alone
    # (composer.generation.lead_track), not the whole arrangement
    interpolates: bool = False  # has a latent space between two songs (interpolate)
    tracks: int = 1  # pitched tracks it writes, in order (a prompt's second instrument
    # plays all but the first)
    evaluator: str | None = None  # its family in training.evaluate.EVALUATORS ("lstm": any
    # next-token model, scored by perplexity beside an n-gram)

    @property
    def takes_checkpoint(self) -> bool:
        return bool(self.loads)

    def build(self, checkpoint: Path | None, *, seed: int | None = None,
              temperature: float | None = None, top_k: int = 0) -> Generator:
        module, name = self.factory.split(":")
        cls = getattr(importlib.import_module(module), name)
        temperature = self.temperature if temperature is None else temperature
        return cls(checkpoint, seed=seed, temperature=temperature, top_k=top_k)


VAES = ("vae-2bar", "vae-16bar")  # as models.checkpoint.VAES (not imported: it loads numpy)

GENERATORS: dict[str, ModelSpec] = {spec.name: spec for spec in (
    ModelSpec("lstm", "performance LSTM: a piano line that continues itself (or a primer)",
              "composer.generators.lstm:LstmGenerator", loads=("lstm",), temperature=1.0,
              primer=True, primer_lead=True, evaluator="lstm"),
    ModelSpec("pop", "pop Transformer: melody, bridge and piano with dynamics (POP909)",
              # 0.85: the best mean music-statistics OA on POP909's valid split (1.0: 0.63,
              # 0.9: 0.68, 0.85: 0.72, 0.8: 0.71); see docs/BENCHMARKS.md
              "composer.generators.pop:PopGenerator", loads=("pop",), temperature=0.85,
              primer=True, tracks=3, evaluator="lstm"),
    ModelSpec("vae-2bar", "melody VAE, 2-bar windows: a slow latent walk",
              "composer.generators.vae:VaeGenerator", loads=VAES, temperature=0.5,
              interpolates=True, evaluator="vae"),
    ModelSpec("vae-16bar", "melody VAE over 16 bars: one z for eight vae-2bar segments",
              # 0.5 with z at half the scales of its fitted mixture prior (model.json
              # prior.spread): distance 0.129 to held-out melodies (0.8: 0.130; full scale
              # 0.28); see docs/BENCHMARKS.md, "Sampling the melody VAEs"
              "composer.generators.vae:VaeGenerator", loads=VAES, temperature=0.5,
              interpolates=True, evaluator="vae"),
    ModelSpec("gan", "MuseGAN-style phrase GAN: four chorale voices together",
              "composer.generators.gan:GanGenerator", loads=("gan",), tracks=4,
              evaluator="gan"),
    ModelSpec("hybrid", "the GAN writes two tunes, the 2-bar VAE walks between their leads",
              "composer.generators.hybrid:HybridGenerator", temperature=0.5),
)}


def names() -> str:
    """The registry's model names, for help texts and errors."""
    return ", ".join(GENERATORS)


def help_text(what: str = "Model") -> str:
    return f"{what}: {names()}, or a checkpoint folder from `composer train`"


def checkpoint_kind(folder: Path) -> str:
    """The model a checkpoint folder holds, from its model.json."""
    meta = folder / "model.json"
    if not folder.is_dir():
        raise GenerationError(f"{folder}: no such checkpoint folder")
    try:
        kind = json.loads(meta.read_text()).get("model")
    except FileNotFoundError:
        raise GenerationError(f"{folder}: no trained model here (no model.json); give a "
                              "folder that `composer train` wrote") from None
    except (OSError, ValueError) as exc:
        raise GenerationError(f"{meta}: unreadable ({exc})") from None
    if not isinstance(kind, str):
        raise GenerationError(f"{meta}: says no model kind")
    return kind


def _looks_like_path(model: str) -> bool:
    return os.sep in model or model.startswith(".") or Path(model).is_dir()


def resolve(model: str | None = None, checkpoint: str | os.PathLike | None = None
            ) -> tuple[ModelSpec, Path | None]:
    """The registry entry and checkpoint folder for `--model` and `--checkpoint`.

    `model` is a name from GENERATORS or a checkpoint folder; with `checkpoint` alone its
    model.json says which model it is. The folder is None for a model built from others."""
    if model is not None and checkpoint is None and model not in GENERATORS:
        if not _looks_like_path(model):
            raise GenerationError(f"unknown model {model!r}; {help_text('use').lower()}")
        model, checkpoint = None, model
    if checkpoint is None:
        spec = GENERATORS[model or "lstm"]
        if not spec.takes_checkpoint:
            return spec, None
        from models.checkpoint import default_dir

        return spec, default_dir(spec.name)
    folder = Path(checkpoint)
    kind = checkpoint_kind(folder)
    if model is not None:
        spec = GENERATORS[model]
        if not spec.takes_checkpoint:
            raise GenerationError(f"{model} is made from the shipped gan and vae-2bar; "
                                  "--checkpoint does not apply")
        if kind not in spec.loads:
            raise GenerationError(f"{folder}: holds a {kind!r} model, not {model}")
        return spec, folder
    spec = GENERATORS.get(kind) or next(
        (s for s in GENERATORS.values() if kind in s.loads), None)
    if spec is None:
        raise GenerationError(f"{folder}: holds a {kind!r} model, which no generator runs; "
                              f"known: {names()}")
    return spec, folder


def label(model: str | None, checkpoint: str | os.PathLike | None = None) -> str:
    """How a model is named to the user: its name, or name (folder) for a user checkpoint."""
    spec, folder = resolve(model, checkpoint)
    from models.checkpoint import default_dir

    if folder is None or folder == default_dir(spec.name):
        return spec.name
    return f"{spec.name} ({folder})"


def load(model: str | None = None, checkpoint: str | os.PathLike | None = None, *,
         seed: int | None = None, temperature: float | None = None,
         top_k: int = 0) -> Generator:
    """A ready generator for `--model`/`--checkpoint` (see resolve); temperature None is the
    model's default."""
    spec, folder = resolve(model, checkpoint)
    return spec.build(folder, seed=seed, temperature=temperature, top_k=top_k)


__all__ = ["GENERATORS", "GenerationError", "Generator", "ModelSpec", "Phrase", "label", "load",
           "names", "resolve"]
