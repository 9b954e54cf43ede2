"""MIDI files in: the project's validating reader, with errors that name the file."""

from __future__ import annotations

import math
import os

MAX_MINUTES = 30.0  # the most audio a render makes unless the user asks for more


class RenderError(ValueError):
    """Input the renderer cannot use (bad MIDI, unloadable soundfont); str() names the file."""


def check_length(sequence, path: str | os.PathLike, max_minutes: float | None = MAX_MINUTES,
                 tail: float = 0.0, option: str = "--max-minutes") -> None:
    """Refuse, before any synthesis, a file that would become more than `max_minutes` of audio.

    A 60-byte file holding one 59-minute note is valid MIDI; rendering it unasked costs
    minutes of CPU and gigabytes of disk, so the limit is explicit and the message says which
    option raises it. None means no limit.
    """
    if max_minutes is None:
        return
    minutes = (sequence.total_time + tail) / 60.0
    if minutes > max_minutes:
        raise RenderError(f"{path}: would render {minutes:.1f} minutes of audio, more than the "
                          f"{max_minutes:g}-minute limit; raise it with {option} "
                          f"{math.ceil(minutes)}")


def read_sequence(path: str | os.PathLike):
    """A MIDI file as a NoteSequence, read the way corpus ingest reads it (training.score).

    Every way a file can be bad (missing, empty, not MIDI, truncated, too large, no notes,
    absurd tempo) becomes one RenderError line naming the file; a huge file is refused
    without being loaded.
    """
    from training.score import to_notesequence
    from training.validate import COMMAND_LIMITS, BadMidi, parse_midi, read_file

    try:
        score = parse_midi(read_file(path), COMMAND_LIMITS)
    except BadMidi as exc:
        raise RenderError(f"{path}: {exc.detail}") from None
    return to_notesequence(score)


def excerpt(sequence, seconds: float, *, cut_notes: bool = False):
    """A copy of the sequence cut to its first `seconds`: notes, controllers and bends that
    start later are dropped, notes that start earlier are kept whole (or, with `cut_notes`,
    end there too)."""
    end = seconds - 1e-9
    out = type(sequence)()
    out.CopyFrom(sequence)
    del out.notes[:], out.control_changes[:], out.pitch_bends[:]
    out.notes.extend(n for n in sequence.notes if n.start_time < end)
    if cut_notes:
        for note in out.notes:
            note.end_time = min(note.end_time, seconds)
    out.control_changes.extend(c for c in sequence.control_changes if c.time < end)
    out.pitch_bends.extend(b for b in sequence.pitch_bends if b.time < end)
    out.total_time = seconds
    return out


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
