"""Parse and validate one MIDI file, turning every way it can be bad into a named reason.

Lakh-sized collections contain truncated files, HTML saved as .mid, files with no notes,
tempo maps with thousands of events and files that claim to last for days. Ingest must skip
each of these with a reason rather than crash or hang, so parsing runs under a time limit.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from training.score import Score, read_score
from training.smf import SmfError, is_rmid, smf_span


class BadMidi(Exception):
    """A file ingest must skip. `reason` is a short stable code for reports; str() explains."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Limits:
    """What counts as absurd. Defaults keep every sane Lakh file and reject the broken ones."""

    max_bytes: int = 4 * 1024 * 1024
    time_limit: float = 20.0  # CPU seconds to read one file
    max_tempo_events: int = 1000
    min_tempo: float = 10.0  # quarter notes per minute
    max_tempo: float = 1000.0
    max_duration: float = 3600.0  # seconds
    min_duration: float = 0.5
    min_notes: int = 1


# What every command reads with: the corpus' limits, less its minimum length (a corpus wants
# songs; a command plays, transposes or continues whatever it is given).
COMMAND_LIMITS = Limits(min_duration=0.0)


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Raise BadMidi('timeout') if the body uses more than `seconds` of CPU (main thread only).

    CPU time, not wall time: a pathological file spins in Python, while a good file on a busy
    machine merely waits for a core, and must not be rejected for it. SIGPROF interrupts
    pure-Python work, which is where such a file would hang. Off the main thread there is no
    timer to use, so the body runs unbounded.
    """
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_alarm(signum, frame):
        raise BadMidi("timeout", f"reading took more than {seconds:g} s of CPU time")

    previous = signal.signal(signal.SIGPROF, on_alarm)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)


def check_bytes(data: bytes, limits: Limits) -> None:
    """Cheap checks before parsing: empty, too large, not a Standard MIDI File."""
    if len(data) == 0:
        raise BadMidi("empty", "the file is empty")
    if len(data) > limits.max_bytes:
        # no size: a reader that stops one byte past the limit cannot know it, and every
        # reader must give the same reason
        raise BadMidi("too-large", f"over the {limits.max_bytes}-byte limit")
    if not data.startswith(b"MThd") and not is_rmid(data):
        start = data[:16].lstrip().lower()
        what = "an HTML page" if start.startswith((b"<!doctype", b"<html")) else "not a MIDI file"
        raise BadMidi("not-midi", f"{what} (no MThd header)")
    if is_rmid(data):
        try:
            start, end = smf_span(data)
        except SmfError as exc:
            raise BadMidi("corrupt", str(exc)) from None
        data = data[start:end]
    if len(data) < 14:
        raise BadMidi("corrupt", "truncated MIDI header")


def read_file(path: str | os.PathLike, limits: Limits = COMMAND_LIMITS) -> bytes:
    """A MIDI file's bytes as every command reads them: at most one byte past the size limit,
    so a 10 GB file is refused as too large without being loaded. An unreadable file is
    BadMidi("unreadable") with the reason alone; the caller names the file."""
    try:
        with open(path, "rb") as handle:
            return handle.read(limits.max_bytes + 1)
    except FileNotFoundError:
        raise BadMidi("unreadable", "no such file") from None
    except IsADirectoryError:
        raise BadMidi("unreadable", "is a folder, not a MIDI file") from None
    except OSError as exc:
        raise BadMidi("unreadable", exc.strerror or str(exc)) from None


def parse_midi(data: bytes, limits: Limits = Limits()) -> Score:
    """Parse and validate; raises BadMidi with the reason the file is unusable."""
    check_bytes(data, limits)
    try:
        with deadline(limits.time_limit):
            score = read_score(data)
    except BadMidi:
        raise
    except SmfError as exc:
        raise BadMidi("corrupt", f"cannot parse MIDI: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - corrupt data must never crash a batch job
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise BadMidi("corrupt", f"cannot parse MIDI: {detail}") from None
    validate(score, limits)
    return score


def validate(score: Score, limits: Limits) -> None:
    n_notes = len(score.notes)
    if n_notes < limits.min_notes:
        raise BadMidi("no-notes", "no notes" if n_notes == 0 else f"only {n_notes} notes")
    tempi = score.tempi
    if len(tempi) > limits.max_tempo_events:
        raise BadMidi("tempo-events",
                      f"{len(tempi)} tempo changes (limit {limits.max_tempo_events})")
    bad = (tempi < limits.min_tempo) | (tempi > limits.max_tempo)
    if bad.any():
        raise BadMidi("absurd-tempo", f"tempo {float(tempi[bad][0]):.4g} bpm is outside "
                      f"{limits.min_tempo:g}..{limits.max_tempo:g}")
    duration = score.end_time
    if duration > limits.max_duration:
        raise BadMidi("too-long", f"lasts {duration:.0f} s (limit {limits.max_duration:.0f} s)")
    if duration < limits.min_duration:
        raise BadMidi("too-short", f"lasts {duration:.2f} s")


def main_tempo(score: Score) -> float:
    """The tempo in force for the longest total time (qpm)."""
    times, tempi = score.tempo_times, score.tempi
    end = max(score.end_time, float(times[-1]))
    spans = np.diff(np.append(times, end))
    totals: dict[float, float] = {}
    for tempo, span in zip(np.round(tempi, 2), spans):
        totals[float(tempo)] = totals.get(float(tempo), 0.0) + float(span)
    return max(totals, key=totals.get)
