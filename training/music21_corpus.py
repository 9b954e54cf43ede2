"""The corpus that ships inside music21, converted once to MIDI files in a cache.

Converting through MIDI means the embedded corpus goes through exactly the same ingest path as
Lakh or a user's folder. music21 is slow (tens of ms per tune), so every piece is converted
once, in parallel, and kept under the cache; a rerun only converts what is missing.

The key signature written in the score (ABC `K:` field, MusicXML key signature) travels inside
the MIDI file as a key-signature meta event: it is the annotation that benchmarks compare the
key estimator against. Ingest never reads it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from training.fileio import atomic_write_bytes

# Bump when the conversion changes, so cached MIDI from an older converter is not reused.
CONVERTER_VERSION = 3
# music21 writes 10080 ticks per quarter note; 960 keeps triplets and quintuplets exact, and
# parsing the files is seven times faster (pretty_midi builds one array entry per tick).
TICKS_PER_QUARTER = 960
CONVERT_TIME_LIMIT = 120.0  # seconds for music21 to parse and export one piece

# Collection name (as users type it) -> folder inside music21/corpus and the file types to take.
COLLECTIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "bach": ("bach", (".mxl", ".xml", ".krn")),
    "nottingham": ("nottingham-dataset", (".abc",)),
    "essen": ("essenFolksong", (".abc",)),
    "ryansMammoth": ("ryansMammoth", (".abc",)),
    "oneills": ("oneills1850", (".abc",)),
}


@dataclass(frozen=True)
class Music21Piece:
    """One piece to convert: a whole file, or one tune (`abc_text`) of a multi-tune ABC file."""

    collection: str
    piece_id: str  # e.g. "essen/han1/0012", "bach/bwv1.6"
    source_path: str
    abc_text: str | None
    midi_path: str  # where the converted MIDI lives in the cache

    @property
    def failed_path(self) -> str:
        return self.midi_path[: -len(".mid")] + ".failed"


def cache_root() -> Path:
    """COMPOSER_CACHE, else $XDG_CACHE_HOME/composer, else ~/.cache/composer."""
    env = os.environ.get("COMPOSER_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "composer"


def music21_corpus_dir() -> Path:
    import music21

    return Path(music21.__file__).parent / "corpus"


def conversion_dir() -> Path:
    """Cache folder, keyed by music21's version since its parsers change between releases."""
    import music21

    return cache_root() / f"music21-{music21.__version__}-c{CONVERTER_VERSION}"


def resolve_collection(name: str) -> str:
    """Canonical collection name, case-insensitive; ValueError listing the choices."""
    for known in COLLECTIONS:
        if known.lower() == name.lower():
            return known
    raise ValueError(f"unknown music21 collection {name!r}; choose from {', '.join(COLLECTIONS)}")


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def split_abc_tunes(text: str) -> list[str]:
    """ABC tunes in a file, each starting at its `X:` line (the file header is dropped)."""
    return [t for t in re.split(r"(?m)^(?=X:)", text) if t.startswith("X:")]


def list_pieces(collection: str, limit: int | None = None) -> list[Music21Piece]:
    """Every piece of a collection in a stable order (file name, then tune order)."""
    collection = resolve_collection(collection)
    folder, suffixes = COLLECTIONS[collection]
    root = music21_corpus_dir() / folder
    out_root = conversion_dir() / collection
    pieces: list[Music21Piece] = []
    for path in sorted(p for p in root.rglob("*") if p.suffix.lower() in suffixes):
        rel = path.relative_to(root).with_suffix("").as_posix()
        if path.suffix.lower() == ".abc":
            tunes = split_abc_tunes(_read_text(path))
            for i, tune in enumerate(tunes, start=1):
                tune_id = f"{rel}/{i:04d}" if len(tunes) > 1 else rel
                pieces.append(Music21Piece(collection, f"{collection}/{tune_id}", str(path), tune,
                                           str(out_root / f"{tune_id}.mid")))
        else:
            pieces.append(Music21Piece(collection, f"{collection}/{rel}", str(path), None,
                                       str(out_root / f"{rel}.mid")))
        if limit is not None and len(pieces) >= limit:
            return pieces[:limit]
    return pieces


def is_converted(piece: Music21Piece) -> bool:
    return os.path.exists(piece.midi_path) or os.path.exists(piece.failed_path)


def _unshare_context_objects(score) -> None:
    """Give every measure its own time/key signature and tempo objects.

    music21's ABC reader reuses one TimeSignature object wherever a metre returns (6/8, 2/4,
    6/8 again), and its MIDI writer then refuses to put that object into the conductor track
    twice. A copy per appearance is what the writer expects.
    """
    import copy

    from music21 import key, meter, tempo

    kinds = (meter.TimeSignature, key.KeySignature, tempo.MetronomeMark)
    seen: set[int] = set()
    for site in [score, *score.recurse(streamsOnly=True)]:
        for element in list(site.getElementsByClass(kinds)):
            if id(element) in seen:
                site.replace(element, copy.deepcopy(element))
            else:
                seen.add(id(element))


def score_to_midi_bytes(score) -> bytes:
    """MIDI bytes of a music21 score, melody and harmony as notated, chord symbols dropped.

    Chord symbols (Nottingham's "Am", "E7") would otherwise be realised as block chords on the
    melody's own track.
    """
    from music21 import defaults, harmony, midi

    defaults.ticksPerQuarter = TICKS_PER_QUARTER
    for symbol in list(score.recurse().getElementsByClass(harmony.ChordSymbol)):
        symbol.activeSite.remove(symbol)
    _unshare_context_objects(score)
    try:
        return midi.translate.music21ObjectToMidiFile(score).writestr()
    except Exception as exc:
        if type(exc).__name__ != "ExpanderException":
            raise
    # Badly formed repeats (an end-repeat with no start, stray endings) stop music21 from
    # expanding them; the tune is still worth having played straight through once.
    _drop_repeats(score)
    return midi.translate.music21ObjectToMidiFile(score).writestr()


def _drop_repeats(score) -> None:
    from music21 import bar, repeat, spanner, stream

    for measure in score.recurse().getElementsByClass(stream.Measure):
        if isinstance(measure.leftBarline, bar.Repeat):
            measure.leftBarline = None
        if isinstance(measure.rightBarline, bar.Repeat):
            measure.rightBarline = None
    for kind in (repeat.RepeatExpression, spanner.RepeatBracket):
        for element in list(score.recurse().getElementsByClass(kind)):
            if element.activeSite is not None:
                element.activeSite.remove(element)


def parse_piece(piece: Music21Piece):
    from music21 import converter

    if piece.abc_text is not None:
        return converter.parseData(piece.abc_text, format="abc")
    return converter.parse(piece.source_path)


def convert_piece(piece: Music21Piece) -> tuple[str, str | None]:
    """Convert one piece into the cache. Returns (piece_id, error or None); never raises."""
    from training.validate import deadline

    try:
        with deadline(CONVERT_TIME_LIMIT):
            data = score_to_midi_bytes(parse_piece(piece))
        if len(data) <= 22:  # header + empty track: nothing was notated
            raise ValueError("music21 produced an empty MIDI file")
        atomic_write_bytes(piece.midi_path, data)
        return piece.piece_id, None
    except Exception as exc:  # noqa: BLE001 - a bad tune is reported, never fatal
        message = f"music21 could not convert it: {type(exc).__name__}: {exc}".splitlines()[0]
        atomic_write_bytes(piece.failed_path, message.encode())
        return piece.piece_id, message


def failure_reason(piece: Music21Piece) -> str | None:
    if os.path.exists(piece.failed_path):
        return Path(piece.failed_path).read_text(errors="replace").strip()
    return None


def iter_converted(pieces: list[Music21Piece]) -> Iterator[Music21Piece]:
    return (p for p in pieces if os.path.exists(p.midi_path))
