"""`composer interpolate a.mid b.mid`: a melody that walks from one song to another.

Both songs go through the transposer to the common key, their lead melodies' first usable
window is encoded by the VAE, the two latents are joined by spherical interpolation, and each
point is decoded: step 1 reconstructs a, the last step reconstructs b. The shipped dynamics
(models/dynamics) play the melody, as they do every VAE's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from composer.generation import read_primer
from composer.generators import GenerationError, resolve
from composer.phrase import Phrase
from models.dynamics import Performer


@dataclass
class Interpolation:
    phrase: Phrase  # all steps back to back
    steps: list[Phrase]  # each step alone, starting at 0
    melodies: np.ndarray  # [steps, window] class ids


def lead_melody(path: str | os.PathLike, encoding) -> np.ndarray:
    from models.vae.encoding import NoMelody

    sequence, _, _ = read_primer(path)
    try:
        return encoding.lead(sequence)
    except NoMelody as exc:
        raise GenerationError(f"{path}: {exc}") from None


def interpolate(a: str | os.PathLike, b: str | os.PathLike, *, steps: int = 8,
                qpm: float = 120.0, checkpoint: str | os.PathLike | None = None,
                model: str | None = None, program: int | tuple[int, ...] | None = None
                ) -> Interpolation:
    """`model` (default vae-2bar) or `checkpoint` must be a model with a latent space."""
    from note_seq import sequences_lib

    from models.vae.runtime import interpolate as walk

    if steps < 2:
        raise GenerationError("--steps must be at least 2 (the two ends)")
    spec, folder = resolve(model or (None if checkpoint else "vae-2bar"), checkpoint)
    if not spec.interpolates:
        raise GenerationError(f"{spec.name} has no latent space to interpolate in; use a VAE")
    vae = spec.build(folder)
    encoding = vae.encoding
    melodies = walk(vae.runtime, lead_melody(a, encoding), lead_melody(b, encoding), steps)
    parts = [Phrase.make(encoding.decode(ids, qpm=qpm), qpm, encoding.bars).with_program(program)
             for ids in melodies]
    performer = Performer(seed=0)  # one performance across the steps, the same every run
    for part in parts:
        performer.apply(part.sequence, qpm)
    whole = sequences_lib.concatenate_sequences([p.sequence for p in parts],
                                                [p.seconds for p in parts])
    return Interpolation(Phrase.make(whole, qpm, encoding.bars * steps), parts, melodies)
