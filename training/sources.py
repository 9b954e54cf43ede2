"""Where corpus pieces come from: `music21:<collection>`, `dir:PATH`, `lakh:PATH` and
`pop909:PATH`.

A source turns into a list of `SourceFile`s (an id that stays the same across runs, and a MIDI
path). Ids make a build resumable and appear in the manifest, so they are stable and readable:
`music21:essen/han1/0012`, `dir:/home/me/midi/take5.mid` (absolute, so two folders never
collide), `lakh:0a1b2c...` (Lakh's md5 file names), `pop909:001` (POP909's song numbers).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from training import music21_corpus

MIDI_SUFFIXES = (".mid", ".midi", ".kar", ".smf", ".rmi")  # .rmi: RIFF-wrapped (RMID)
_MD5_RE = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class SourceSpec:
    kind: str  # "music21" | "dir" | "lakh" | "pop909"
    value: str  # collection name or folder path

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"


@dataclass(frozen=True)
class SourceFile:
    id: str
    source: str  # the spec's kind plus value, e.g. "music21:bach"
    path: str


class SourceError(ValueError):
    """A source spec that cannot be used (unknown kind, missing folder)."""


def parse_source(text: str) -> list[SourceSpec]:
    """Parse 'music21:bach', 'music21:all', 'dir:PATH', 'lakh:PATH' or 'pop909:PATH'."""
    kind, sep, value = text.partition(":")
    if not sep or not value:
        raise SourceError(f"{text}: a source looks like music21:bach, dir:PATH, lakh:PATH or "
                          "pop909:PATH")
    kind = kind.lower()
    if kind == "music21":
        if value.lower() == "all":
            return [SourceSpec("music21", name) for name in music21_corpus.COLLECTIONS]
        try:
            return [SourceSpec("music21", music21_corpus.resolve_collection(value))]
        except ValueError as exc:
            raise SourceError(f"{text}: {exc}") from None
    if kind in ("dir", "lakh"):
        path = Path(value).expanduser()
        if not path.is_dir():
            raise SourceError(f"{text}: {path} is not a folder")
        return [SourceSpec(kind, str(path.resolve()))]
    if kind == "pop909":
        root = pop909_songs_folder(Path(value).expanduser())
        if root is None:
            raise SourceError(f"{text}: no POP909 songs there (POP909/NNN/NNN.mid); get them "
                              "with `composer fetch pop909 -o DIR`")
        return [SourceSpec(kind, str(root.resolve()))]
    raise SourceError(f"{text}: unknown source kind {kind!r} (music21, dir, lakh or pop909)")


def pop909_songs_folder(path: Path) -> Path | None:
    """The folder of POP909's numbered song folders: `path` itself, or its POP909/."""
    for root in (path / "POP909", path):
        if root.is_dir() and any(_pop909_song(p) for p in root.iterdir()):
            return root
    return None


def _pop909_song(folder: Path) -> Path | None:
    midi = folder / f"{folder.name}.mid"
    return midi if folder.name.isdigit() and midi.is_file() else None


def list_pop909(spec: SourceSpec, limit: int | None = None) -> list[SourceFile]:
    """POP909's songs, `NNN/NNN.mid`, in number order; their annotations sit beside them."""
    songs = [m for m in map(_pop909_song, sorted(Path(spec.value).iterdir())) if m][:limit]
    return [SourceFile(f"pop909:{m.stem}", str(spec), str(m)) for m in songs]


def midi_files_under(root: Path) -> list[Path]:
    """Every MIDI file under root, sorted, symlinked folders not followed (no cycles)."""
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in MIDI_SUFFIXES and p.is_file())


def list_dir(spec: SourceSpec, limit: int | None = None) -> list[SourceFile]:
    root = Path(spec.value)
    files = midi_files_under(root)[:limit]
    return [SourceFile(f"dir:{p.as_posix()}", str(spec), str(p)) for p in files]


def list_lakh(spec: SourceSpec, limit: int | None = None) -> list[SourceFile]:
    """Lakh's lmd_full (`x/<md5>.mid`) or lmd_matched (`A/B/C/TRACK/<md5>.mid`) layout.

    Lakh names every file by its md5, which is the id. lmd_matched holds the same file under
    several tracks; those repeats share an id and only the first is kept.
    """
    root = Path(spec.value)
    seen: set[str] = set()
    out: list[SourceFile] = []
    for path in midi_files_under(root):
        stem = path.stem.lower()
        ident = stem if _MD5_RE.match(stem) else path.relative_to(root).as_posix()
        if ident in seen:
            continue
        seen.add(ident)
        out.append(SourceFile(f"lakh:{ident}", str(spec), str(path)))
        if limit is not None and len(out) >= limit:
            break
    return out
