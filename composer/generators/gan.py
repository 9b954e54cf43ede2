"""The phrase GAN as a generator, through LiteRT: each phrase a fresh latent, all tracks
together, each on its own GM program; velocities from the shipped dynamics, the top voice (a
chorale's soprano) as the lead."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from composer.phrase import Phrase
from models.checkpoint import CheckpointError, load_checkpoint
from models.dynamics import Performer, top_voice


class GanGenerator:
    temperature = None  # the GAN does not sample: its notes are thresholded

    def __init__(self, checkpoint: Path, *, seed: int | None = None,
                 temperature: float | None = None, top_k: int = 0,
                 threshold: float = 0.5) -> None:
        from models.gan.encoding import PianorollEncoding
        from models.gan.runtime import GanRuntime

        self.info = load_checkpoint(checkpoint, ("gan",))[0]
        flatbuffer = Path(checkpoint) / "generator.tflite"
        if not flatbuffer.exists():
            raise CheckpointError(f"{checkpoint}: generator.tflite is missing")
        self.encoding = PianorollEncoding(**self.info["encoding"])
        self.runtime = GanRuntime(flatbuffer.read_bytes())
        self.threshold = threshold
        self.rng = np.random.default_rng(seed)
        self.performer = Performer(seed)

    def rolls(self, n: int) -> np.ndarray:
        return self.runtime.sample(n, self.rng, self.encoding, self.threshold)

    def phrase(self, bars: int, qpm: float = 120.0) -> Phrase:
        rolls = self.rolls(-(-bars // self.encoding.bars))
        roll = np.concatenate(list(rolls))[:bars * self.encoding.steps_per_bar]
        phrase = Phrase.make(self.encoding.decode(roll, qpm=qpm), qpm, bars)
        self.performer.apply(phrase.sequence, qpm, lead_instruments=top_voice(phrase.sequence))
        return phrase
