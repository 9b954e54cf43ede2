"""How every command that takes a MIDI file reads it, in-process, for the hostile-MIDI fuzz.

    readers = Readers(workdir)          # loads the models the readers need, once
    readers.run("render", path)          # what `composer render` does before synthesis

Each reader is the command's own path from the file to the point where its real work starts
(synthesis, sampling, writing), so hundreds of files cost seconds, not hours; `transpose` runs
its whole command body, which is cheap. A reader returns normally when the command would go on,
and raises what the command would raise: a user error (composer.cli._user_errors()) whose
str() is the one line the user sees. `reader_verdict` is what the corpus-build reader says of
the same bytes, the reference every command must agree with (tests/test_fuzz_commands.py,
benchmarks/fuzz.py).
"""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Callable
from pathlib import Path

COMMANDS = ("corpus", "transpose", "render", "loop", "generate", "interpolate", "melody")
OWN_REASONS = {  # why a command may refuse a file the reader accepts (a regex)
    "corpus": r"^lasts \d+\.\d+ s$",  # a corpus wants songs, not blips
    "transpose": r"(?!)",
    "render": r"^would render [\d.]+ minutes of audio, .*--max-minutes \d+$",
    "loop": r"(?!)",  # a long file is searched within --window
    "generate": r"only drums|no pitched notes",
    "interpolate": r"only drums|no pitched notes|no \d+-bar melody",
    "melody": r"^is \d+:\d\d long; the limit is|^is too short: |^no chords found",
}


def reader_verdict(data: bytes):
    """(Score, None) where the reader accepts the bytes, (None, BadMidi) where it refuses."""
    from training.validate import COMMAND_LIMITS, BadMidi, parse_midi

    try:
        return parse_midi(data, COMMAND_LIMITS), None
    except BadMidi as exc:
        return None, exc


def disagreement(command: str, path: str, verdict, message: str | None) -> str | None:
    """How a command's outcome on a file breaks one acceptance, or None when it keeps it.

    `verdict` is reader_verdict's BadMidi (None: accepted), `message` the command's user
    error (None: it went on). A refusal is one line naming the file as given; what the reader
    refuses is refused in its words (a backing that is not MIDI may be tried as audio); what
    it accepts is refused only for one of OWN_REASONS."""
    if message is not None and ("\n" in message or not message.startswith(f"{path}: ")):
        return "a refusal that is not one line naming the file"
    if verdict is None:
        if message is None or re.search(OWN_REASONS[command], message[len(path) + 2:]):
            return None
        return "refuses what the reader accepts"
    if command == "melody" and verdict.reason == "not-midi" and message is not None:
        return None
    if message is None:
        return "accepts what the reader refuses"
    return None if message == f"{path}: {verdict.detail}" else "refuses in other words"


class Readers:
    """The commands' reading paths, with the models they need loaded once."""

    def __init__(self, workdir: Path):
        from composer import generators

        self.workdir = workdir
        self.lstm_spec, lstm_folder = generators.resolve("lstm")
        self.lstm = self.lstm_spec.build(lstm_folder, seed=0)
        spec, folder = generators.resolve("vae-2bar")
        self.vae_encoding = spec.build(folder).encoding
        self.paths: dict[str, Callable[[Path], object]] = {
            "corpus": self.corpus, "transpose": self.transpose, "render": self.render,
            "loop": self.loop, "generate": self.generate, "interpolate": self.interpolate,
            "melody": self.melody}

    def run(self, command: str, path: Path) -> object:
        return self.paths[command](path)

    def corpus(self, path: Path):
        """What `corpus build` does per file; its refusals come back as BadMidi."""
        from training.ingest import IngestOptions, ingest_file
        from training.validate import BadMidi

        result = ingest_file(str(path), "fuzz", "dir:fuzz", IngestOptions())
        if result.reason == "error":  # ingest catches everything: this one is a crash
            raise RuntimeError(result.detail)
        if not result.ok:
            raise BadMidi(result.reason, f"{path}: {result.detail}")
        return result.row

    def transpose(self, path: Path):
        """The whole `composer transpose` body (estimate, shift in place, write), printing
        into a buffer."""
        from composer import cli

        with contextlib.redirect_stdout(io.StringIO()):
            cli.transpose.__wrapped__(path, self.workdir / "transposed.mid", to=None)

    def render(self, path: Path):
        """Read, then refuse over 30 minutes of audio (the default --max-minutes and --tail)."""
        from composer.render.midi import check_length, read_sequence

        sequence = read_sequence(path)
        check_length(sequence, path, tail=5.0)
        return sequence

    def loop(self, path: Path):
        """A MIDI loop is rendered first: read, cut to the default --window, then the beat
        grid the clip takes from the score."""
        from composer.render.midi import bar_seconds, constant_tempo, excerpt, read_sequence

        sequence = read_sequence(path)
        if sequence.total_time > 240.0:
            sequence = excerpt(sequence, 240.0, cut_notes=True)
        qpm = constant_tempo(sequence)
        if qpm:
            bar_seconds(sequence, qpm)
        return sequence

    def generate(self, path: Path):
        """`generate --primer` with the default model (lstm): read, pick the lead, prime."""
        from composer.generation import prime

        prime(self.lstm, self.lstm_spec, path)

    def interpolate(self, path: Path):
        from composer.interpolation import read_song

        return read_song(path, self.vae_encoding)

    def melody(self, path: Path):
        from composer.backing import read_backing

        return read_backing(path)
