"""Sample packs: loops written the way producers file them, with an index of the same facts.

    strings_70bpm_Cm_01.wav   the loop period from its downbeat, with loop points and tempo
    strings_70bpm_Cm_01.mid   its notes (tempo, programs, key signature)
    index.csv, index.json     one row per loop: file, role, bpm, key, bars, seconds, seam...

`composer loops` fills a pack; `composer play --keep DIR` files every loop it plays the same
way. The index is rewritten (atomically) after each loop, so a stopped run leaves a pack
whose index lists exactly the files it holds.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from composer.audio import Loop

FIELDS = ("file", "midi", "role", "bpm", "key", "bars", "beats_per_bar", "seconds", "seam",
          "model", "programs", "prompt")


@dataclass(frozen=True)
class PackEntry:
    file: str  # the WAV, relative to the pack
    midi: str | None
    role: str
    bpm: float
    key: str  # "Am", "F#", or "unknown"
    bars: int
    beats_per_bar: int
    seconds: float
    seam: float | None  # the seam's worst score (composer.audio.SeamScores; <= 1: seamless)
    model: str
    programs: str  # GM programs, "48" or "73 48"
    prompt: str


def short_key(name: str | None) -> str:
    """"A minor" -> "Am", "F# major" -> "F#" (the way sample packs spell keys)."""
    if not name:
        return "unknown"
    tonic, _, mode = name.partition(" ")
    return tonic + ("m" if mode == "minor" else "")


def role_of(programs: tuple[int, ...], named: str | None = None) -> str:
    """A file-name word for what the loop is: the instrument the prompt named, else the GM
    family of its first program ("piano", "strings"), "drums" with no pitched notes."""
    if named:
        return slug(named)
    if not programs:
        return "drums"
    import pretty_midi

    return slug(pretty_midi.program_to_instrument_class(programs[0]))


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "loop"


class Pack:
    """A folder of loops and its index; `add` writes one loop's files and the index."""

    def __init__(self, folder: str | Path, *, model: str, prompt: str = "",
                 role: str | None = None) -> None:
        self.folder = Path(folder)
        self.model = model
        self.prompt = prompt
        self.role = role
        if self.folder.exists() and not self.folder.is_dir():
            raise ValueError(f"{self.folder}: not a folder")
        self.folder.mkdir(parents=True, exist_ok=True)
        self.entries: list[PackEntry] = _read_index(self.folder / "index.json")

    def add(self, loop: Loop) -> PackEntry:
        from composer.generation import write_midi
        from composer.loop import write_loop

        phrase = loop.phrase
        programs = phrase.programs if phrase is not None else ()
        key = short_key(phrase.key if phrase is not None else None)
        bpm = round(float(loop.qpm), 3) if loop.qpm else round(
            60.0 * loop.bars * loop.beats_per_bar / loop.seconds, 3)
        stem = f"{role_of(programs, self.role)}_{bpm:g}bpm_{key}"
        number = 1 + sum(1 for e in self.entries if e.file.startswith(stem + "_"))
        while (self.folder / f"{stem}_{number:02d}.wav").exists():  # never overwrite a take
            number += 1
        name = f"{stem}_{number:02d}"
        write_loop(self.folder / f"{name}.wav", loop)
        midi = None
        if phrase is not None:
            write_midi(phrase, self.folder / f"{name}.mid")
            midi = f"{name}.mid"
        entry = PackEntry(file=f"{name}.wav", midi=midi, role=role_of(programs, self.role),
                          bpm=bpm, key=key, bars=loop.bars, beats_per_bar=loop.beats_per_bar,
                          seconds=round(loop.seconds, 4),
                          seam=None if loop.seam is None else round(loop.seam.worst, 4),
                          model=self.model, programs=" ".join(map(str, programs)),
                          prompt=self.prompt)
        self.entries.append(entry)
        self._write_index()
        return entry

    def _write_index(self) -> None:
        from training.fileio import atomic_write_text

        rows = [asdict(e) for e in self.entries]
        text = io.StringIO()
        writer = csv.DictWriter(text, FIELDS)
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_text(self.folder / "index.csv", text.getvalue())
        atomic_write_text(self.folder / "index.json", json.dumps(rows, indent=1) + "\n")


def _read_index(path: Path) -> list[PackEntry]:
    """The rows of a pack filled before (a second run adds to it), or none."""
    if not path.exists():
        return []
    try:
        rows = json.loads(path.read_text())
        return [PackEntry(**{k: row.get(k) for k in FIELDS}) for row in rows]
    except (ValueError, TypeError, AttributeError) as exc:
        raise ValueError(f"{path}: not a pack index ({exc}); move it away or choose "
                         "another folder") from None


class Keeper:
    """Files every loop a player brings in (its LoopStarted events) into a Pack, on a thread
    of its own: a listener must return at once, and a WAV takes milliseconds to write."""

    def __init__(self, pack: Pack) -> None:
        import queue
        import threading

        self.pack = pack
        self.errors: list[str] = []
        self.kept: list[PackEntry] = []
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._write, name="keeper", daemon=True)
        self._unsubscribe = None

    def attach(self, player) -> Keeper:
        self._unsubscribe = player.events.subscribe(self._heard)
        self._thread.start()
        return self

    def _heard(self, event) -> None:
        from composer.player.events import LoopStarted

        if isinstance(event, LoopStarted):
            self._queue.put(event.loop)

    def _write(self) -> None:
        while (loop := self._queue.get()) is not None:
            try:
                self.kept.append(self.pack.add(loop))
            except (OSError, ValueError) as exc:  # a full disk must not stop the music
                self.errors.append(str(exc))

    def close(self) -> list[PackEntry]:
        """Stop listening, write what is queued; the entries this keeper wrote."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._queue.put(None)
            self._thread.join()
            self._unsubscribe = None
        return self.kept
