"""MIDI files in: the project's validating reader, with errors that name the file."""

from __future__ import annotations

import os
from pathlib import Path


class RenderError(ValueError):
    """Input the renderer cannot use (bad MIDI, unloadable soundfont); str() names the file."""


def read_sequence(path: str | os.PathLike):
    """A MIDI file as a NoteSequence, read the way corpus ingest reads it (training.score).

    Every way a file can be bad (missing, empty, not MIDI, truncated, no notes, absurd tempo)
    becomes one RenderError line naming the file.
    """
    from training.score import to_notesequence
    from training.validate import BadMidi, Limits, parse_midi

    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise RenderError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise RenderError(f"{path}: is a folder, not a MIDI file") from None
    except OSError as exc:
        raise RenderError(f"{path}: {exc.strerror or exc}") from None
    try:
        score = parse_midi(data, Limits(min_duration=0.0))
    except BadMidi as exc:
        raise RenderError(f"{path}: {exc.detail}") from None
    return to_notesequence(score)


def constant_tempo(sequence) -> float | None:
    """The sequence's qpm when it never changes (an exact beat grid exists), else None."""
    tempi = {round(t.qpm, 6) for t in sequence.tempos}
    return tempi.pop() if len(tempi) == 1 else (120.0 if not tempi else None)


def meter(sequence) -> tuple[int, int]:
    """(beats per bar, the beat's note value) of the only time signature, else (4, 4)."""
    meters = {(t.numerator, t.denominator) for t in sequence.time_signatures}
    return meter_beats(meters.pop() if len(meters) == 1 else (4, 4))


def meter_beats(signature: tuple[int, int]) -> tuple[int, int]:
    """(beats per bar, the beat's note value) of a time signature.

    Beats are quarter notes whenever a bar holds a whole number of them (6/8 is three, 2/2
    four, 12/8 six), so the grid's tempo is the file's; a bar of 3/8, 5/8 or 7/16 does not,
    and counts in its own unit instead (three, five or seven beats of an eighth or sixteenth).
    """
    numerator, denominator = signature
    if numerator <= 0 or denominator <= 0:
        return 4, 4
    if (numerator * 4) % denominator == 0:
        return numerator * 4 // denominator, 4
    return numerator, denominator


def bar_seconds(sequence, qpm: float) -> float:
    """One bar's length at `qpm` quarter notes a minute."""
    beats, unit = meter(sequence)
    return beats * 4 / unit * 60.0 / qpm
