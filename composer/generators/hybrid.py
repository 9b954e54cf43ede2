"""The hybrid: the GAN writes two new chorale phrases; the VAE walks from the first's lead
line to the second's, one 2-bar window per step, so the melody morphs between two new tunes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from composer.generators import GenerationError
from composer.generators.gan import GanGenerator
from composer.generators.vae import VaeGenerator
from composer.phrase import Phrase
from models.checkpoint import default_dir
from models.dynamics import Performer

TRIES = 20  # a GAN phrase occasionally has no usable top line


class HybridGenerator:
    def __init__(self, checkpoint: Path | None = None, *, seed: int | None = None,
                 temperature: float = 0.5, top_k: int = 0) -> None:
        self.gan = GanGenerator(default_dir("gan"), seed=seed)
        self.vae = VaeGenerator(default_dir("vae-2bar"), seed=seed, temperature=temperature)
        self.performer = Performer(seed)

    @property
    def temperature(self) -> float:
        return self.vae.temperature

    @temperature.setter
    def temperature(self, value: float) -> None:
        self.vae.temperature = value

    def phrase(self, bars: int, qpm: float = 120.0) -> Phrase:
        from models.vae.encoding import NoMelody
        from models.vae.runtime import interpolate as walk

        gan, vae = self.gan, self.vae
        leads = []
        for _ in range(TRIES):
            sequence = gan.encoding.decode(gan.rolls(1)[0], qpm=qpm)
            try:
                leads.append(vae.encoding.lead(sequence))
            except NoMelody:
                continue
            if len(leads) == 2:
                break
        if len(leads) < 2:
            raise GenerationError(f"the GAN gave no phrase with a usable lead melody in "
                                  f"{TRIES} tries")
        steps = max(2, -(-bars // vae.encoding.bars))
        ids = np.concatenate(list(walk(vae.runtime, leads[0], leads[1], steps)))
        ids = ids[:bars * 4 * vae.encoding.steps_per_quarter]
        phrase = Phrase.make(vae.encoding.decode(ids, qpm=qpm), qpm, bars)
        self.performer.apply(phrase.sequence, qpm)  # one melody: all of it is the lead
        return phrase
