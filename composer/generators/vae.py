"""The melody VAE as a generator: a random walk in latent space, one window a step."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from composer.phrase import Phrase
from models.checkpoint import VAES, load_checkpoint
from models.dynamics import Performer


class VaeGenerator:
    """Each window's latent is the last one moved a little (`walk`) and kept at the typical
    norm of N(0, I), then placed on the checkpoint's fitted prior, so consecutive phrases are
    related but never repeat. The melody is the lead voice of the shipped dynamics
    (models/dynamics), which set its velocities."""

    def __init__(self, checkpoint: Path, *, seed: int | None = None, temperature: float = 0.5,
                 top_k: int = 0, walk: float = 0.35) -> None:
        from models.vae.encoding import MelodyEncoding
        from models.vae.stacked import load_runtime

        self.info, weights = load_checkpoint(checkpoint, VAES)
        self.encoding = MelodyEncoding(**self.info["encoding"])
        self.runtime = load_runtime(self.info, weights)
        self.temperature = temperature
        self.walk = walk
        self.rng = np.random.default_rng(seed)
        self.z = self.rng.standard_normal(self.runtime.z_size)
        self.performer = Performer(seed)

    def next_window(self) -> np.ndarray:
        step = self.rng.standard_normal(self.runtime.z_size)
        self.z = np.sqrt(1 - self.walk ** 2) * self.z + self.walk * step  # stays ~N(0, I)
        return self.runtime.decode(self.runtime.prior(self.z[None]), self.temperature,
                                   self.rng)[0]

    def phrase(self, bars: int, qpm: float = 120.0) -> Phrase:
        windows = -(-bars // self.encoding.bars)
        ids = np.concatenate([self.next_window() for _ in range(windows)])
        ids = ids[:bars * 4 * self.encoding.steps_per_quarter]
        phrase = Phrase.make(self.encoding.decode(ids, qpm=qpm), qpm, bars)
        self.performer.apply(phrase.sequence, qpm)  # one voice: all of it is the lead
        return phrase
