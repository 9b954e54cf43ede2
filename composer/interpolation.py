"""`composer interpolate a.mid b.mid`: a melody that walks from one song to another.

Both songs go through the transposer to the common key, their lead melodies' first usable
window is encoded by the VAE, the two latents are joined by spherical interpolation, and each
point is decoded: step 1 reconstructs a, the last step reconstructs b.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from composer.generation import GenerationError, bars_to_seconds, finish, read_primer
from models.checkpoint import VAES, default_dir, load_checkpoint


@dataclass
class Interpolation:
    sequence: object  # all steps back to back
    steps: list  # each step alone, starting at 0
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
                model: str = "vae-2bar") -> Interpolation:
    from note_seq import sequences_lib

    from models.vae.encoding import MelodyEncoding
    from models.vae.runtime import VaeRuntime
    from models.vae.runtime import interpolate as walk

    if steps < 2:
        raise GenerationError("--steps must be at least 2 (the two ends)")
    folder = Path(checkpoint) if checkpoint else default_dir(model)
    info, weights = load_checkpoint(folder, VAES)
    encoding = MelodyEncoding(**info["encoding"])
    runtime = VaeRuntime.from_checkpoint(info, weights)
    melodies = walk(runtime, lead_melody(a, encoding), lead_melody(b, encoding), steps)
    window_seconds = bars_to_seconds(encoding.bars, qpm)
    parts = []
    for ids in melodies:
        part = encoding.decode(ids, qpm=qpm)
        part.total_time = window_seconds
        parts.append(finish(part, qpm))
    whole = sequences_lib.concatenate_sequences(parts, [window_seconds] * len(parts))
    return Interpolation(finish(whole, qpm), parts, melodies)
