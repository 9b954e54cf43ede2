"""`composer interpolate a.mid b.mid`: a melody that walks from one song to another.

Both songs go through the transposer to the common key, the first usable window of each one's
melody (the track models/melody_track picks, else the highest line) is encoded by the VAE,
the two latents are joined by spherical interpolation, and each point is decoded: step 1
reconstructs a, the last step reconstructs b. The shipped dynamics (models/dynamics) play the
melody, as they do every VAE's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from composer.generation import read_primer
from composer.generators import GenerationError, resolve
from composer.phrase import Phrase
from models.dynamics import Performer

if TYPE_CHECKING:
    from note_seq.protobuf import music_pb2


@dataclass
class Interpolation:
    phrase: Phrase  # all steps back to back
    steps: list[Phrase]  # each step alone, starting at 0
    melodies: np.ndarray  # [steps, window] class ids


def lead_melody(path: str | os.PathLike, encoding, track: str | None = None) -> np.ndarray:
    """The first usable window of the song's melody: the `track` asked for, else the track
    models/melody_track names, else (no track likely enough, or too few notes on it) the
    highest-sounding line."""
    from models.melody_track import melody_instrument
    from models.vae.encoding import NoMelody

    sequence, _, _ = read_primer(path)
    if track is not None:
        try:
            return encoding.lead(only_instrument(sequence, pick_track(sequence, track, path)))
        except NoMelody as exc:
            raise GenerationError(f"{path}: track {track}: {exc}") from None
    instrument = melody_instrument(sequence)
    if instrument is not None:
        try:
            return encoding.lead(only_instrument(sequence, instrument))
        except NoMelody:
            pass  # the whole song's skyline may still have a window
    try:
        return encoding.lead(sequence)
    except NoMelody as exc:
        raise GenerationError(f"{path}: {exc}") from None


def pick_track(sequence: music_pb2.NoteSequence, track: str, path) -> int:
    """The instrument a user means by `--track`: N counts the file's pitched tracks from 1,
    a name matches a track's name (case-insensitive; a unique part of it is enough)."""
    names = {info.instrument: info.name for info in sequence.instrument_infos}
    pitched = sorted({n.instrument for n in sequence.notes if not n.is_drum})
    if track.isdigit() and 1 <= int(track) <= len(pitched):
        return pitched[int(track) - 1]
    wanted = track.lower()
    exact = [i for i in pitched if (names.get(i) or "").lower() == wanted]
    partial = [i for i in pitched if wanted in (names.get(i) or "").lower()]
    if exact or len(partial) == 1:
        return (exact or partial)[0]
    listing = ", ".join(f"{k} {names.get(i) or '(no name)'}" for k, i in enumerate(pitched, 1))
    raise GenerationError(f"{path}: no single track {track!r}; its pitched tracks: {listing}")


def only_instrument(sequence: music_pb2.NoteSequence, instrument: int
                    ) -> music_pb2.NoteSequence:
    """A copy of a NoteSequence with only one instrument's notes."""
    out = type(sequence)()
    out.CopyFrom(sequence)
    del out.notes[:]
    out.notes.extend(n for n in sequence.notes if n.instrument == instrument)
    return out


def interpolate(a: str | os.PathLike, b: str | os.PathLike, *, steps: int = 8,
                qpm: float = 120.0, checkpoint: str | os.PathLike | None = None,
                model: str | None = None, program: int | tuple[int, ...] | None = None,
                tracks: tuple[str | None, str | None] = (None, None)) -> Interpolation:
    """`model` (default vae-2bar) or `checkpoint` must be a model with a latent space;
    `tracks` names each song's melody track (None: found by models/melody_track)."""
    from note_seq import sequences_lib

    from models.vae.runtime import interpolate as walk

    if steps < 2:
        raise GenerationError("--steps must be at least 2 (the two ends)")
    spec, folder = resolve(model or (None if checkpoint else "vae-2bar"), checkpoint)
    if not spec.interpolates:
        raise GenerationError(f"{spec.name} has no latent space to interpolate in; use a VAE")
    vae = spec.build(folder)
    encoding = vae.encoding
    melodies = walk(vae.runtime, lead_melody(a, encoding, tracks[0]),
                    lead_melody(b, encoding, tracks[1]), steps)
    parts = [Phrase.make(encoding.decode(ids, qpm=qpm), qpm, encoding.bars).with_program(program)
             for ids in melodies]
    performer = Performer(seed=0)  # one performance across the steps, the same every run
    for part in parts:
        performer.apply(part.sequence, qpm)
    whole = sequences_lib.concatenate_sequences([p.sequence for p in parts],
                                                [p.seconds for p in parts])
    return Interpolation(Phrase.make(whole, qpm, encoding.bars * steps), parts, melodies)
