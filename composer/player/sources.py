"""Endless phrases: one object per model that hands out the next `bars` bars at a tempo.

Each source keeps its model's state between calls, which is what makes the stream continuous:
the LSTM continues the previous phrase (its recurrent state carries on), the VAE takes a
small step of its latent random walk so the music slowly morphs, the GAN draws a fresh
phrase, and the hybrid walks between two new GAN tunes.
"""

from __future__ import annotations

from pathlib import Path

from composer.generation import (
    MODELS,
    GanGenerator,
    GenerationError,
    LstmGenerator,
    VaeGenerator,
    bars_to_seconds,
    finish,
    hybrid,
)
from models.checkpoint import default_dir


class PhraseSource:
    """`source(bars, qpm)` -> the next NoteSequence of exactly `bars` 4/4 bars at `qpm`."""

    def __init__(self, model: str = "lstm", *, seed: int | None = None,
                 temperature: float | None = None, program: int = 0,
                 checkpoint: str | Path | None = None) -> None:
        if model not in MODELS:
            raise GenerationError(f"unknown model {model!r}; available: {', '.join(MODELS)}")
        self.model = model
        self.program = program
        folder = Path(checkpoint) if checkpoint else None
        if model == "lstm":
            self.generator = LstmGenerator(folder or default_dir("lstm"), seed=seed,
                                           temperature=temperature or 1.0)
        elif model.startswith("vae"):
            self.generator = VaeGenerator(folder or default_dir(model), seed=seed,
                                          temperature=temperature or 0.5)
        elif model == "gan":
            self.generator = GanGenerator(folder or default_dir("gan"), seed=seed)
        else:
            self.generator = (GanGenerator(default_dir("gan"), seed=seed),
                              VaeGenerator(default_dir("vae-2bar"), seed=seed,
                                           temperature=temperature or 0.5))

    @property
    def temperature(self) -> float | None:
        return getattr(self.generator, "temperature", None)

    @temperature.setter
    def temperature(self, value: float) -> None:
        for generator in (self.generator if isinstance(self.generator, tuple)
                          else (self.generator,)):
            if hasattr(generator, "temperature"):
                generator.temperature = value

    def __call__(self, bars: int, qpm: float):
        if self.model == "lstm":
            sequence = self.generator.bars(bars, qpm)
        elif self.model.startswith("vae"):
            sequence = self.generator.phrase(bars, qpm)
        elif self.model == "gan":
            sequence = self.generator.phrase(bars, qpm)
            sequence.total_time = bars_to_seconds(bars, qpm)
            return finish(sequence, qpm, program=None)  # the GAN's tracks keep their programs
        else:
            gan, vae = self.generator
            sequence = hybrid(bars, qpm, gan=gan, vae=vae)
        return finish(sequence, qpm, self.program)
