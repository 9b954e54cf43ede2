"""POP909's annotations beside each song, read into the song's NoteSequence.

POP909 (Wang et al., ISMIR 2020; MIT) arranges 909 pop songs as MIDI with three tracks named
by their role (MELODY, BRIDGE, PIANO), which ingest keeps as the instruments' names, and
annotates each song in text files beside it:

    chord_midi.txt   start  end  chord      tab-separated seconds, Harte-style "Db:maj7/3", N = none
    beat_midi.txt    time  half-bar  bar    space-separated; the third column is 1 on downbeats
    key_audio.txt    start  end  key        "Gb:maj", "E:min"

They become note-seq's own fields: CHORD_SYMBOL and BEAT text annotations (a beat's text is
"downbeat" or "beat") and key signatures, transposed with the notes when ingest moves the song
to the common key. Pure functions: no MIDI here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

ROLES = {"MELODY": "melody", "BRIDGE": "bridge", "PIANO": "accompaniment"}
NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
PITCH_CLASS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


class AnnotationError(ValueError):
    """A malformed annotation file; str() names the file and the line."""


@dataclass
class Annotations:
    chords: list[tuple[float, float, str]] = field(default_factory=list)
    beats: list[tuple[float, bool]] = field(default_factory=list)  # (time, is downbeat)
    keys: list[tuple[float, float, str]] = field(default_factory=list)


def pitch_class(name: str) -> int:
    """C, C#, Db, B#, Cb... as 0-11."""
    if not name or name[0] not in PITCH_CLASS:
        raise ValueError(f"not a note name: {name!r}")
    return (PITCH_CLASS[name[0]] + name[1:].count("#") - name[1:].count("b")) % 12


def transpose_label(label: str, shift: int) -> str:
    """A chord or key label "Root:rest" with its root moved `shift` semitones ("N" stays).
    Bass notes after "/" are scale degrees of the chord (Harte), so they do not move."""
    if label in ("N", "X") or not shift:
        return label
    root, sep, rest = label.partition(":")
    return NAMES[(pitch_class(root) + shift) % 12] + sep + rest


def _rows(path: Path, columns: int, separator: str | None) -> list[list[str]]:
    if not path.exists():
        return []
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.strip().split(separator)
        if len(parts) < columns:
            raise AnnotationError(f"{path}:{number}: expected {columns} columns, got {line!r}")
        rows.append(parts)
    return rows


def read_annotations(folder: str | Path) -> Annotations:
    """The annotation files in a song's folder (any of them may be missing)."""
    folder = Path(folder)
    out = Annotations()
    try:
        for start, end, chord, *_ in _rows(folder / "chord_midi.txt", 3, "\t"):
            out.chords.append((float(start), float(end), chord.strip()))
        for time, _, bar, *_ in _rows(folder / "beat_midi.txt", 3, None):
            out.beats.append((float(time), float(bar) == 1.0))
        for start, end, key, *_ in _rows(folder / "key_audio.txt", 3, "\t"):
            out.keys.append((float(start), float(end), key.strip()))
    except ValueError as exc:
        if isinstance(exc, AnnotationError):
            raise
        raise AnnotationError(f"{folder}: unreadable annotation ({exc})") from None
    return out


def annotate(sequence, annotations: Annotations, shift: int = 0) -> None:
    """Add the annotations to a NoteSequence (in place), moved `shift` semitones as its
    notes were."""
    from note_seq.protobuf import music_pb2

    kinds = music_pb2.NoteSequence.TextAnnotation
    for start, _, chord in annotations.chords:
        sequence.text_annotations.add(time=start, text=transpose_label(chord, shift),
                                      annotation_type=kinds.CHORD_SYMBOL)
    for time, downbeat in annotations.beats:
        sequence.text_annotations.add(time=time, text="downbeat" if downbeat else "beat",
                                      annotation_type=kinds.BEAT)
    if annotations.keys:
        del sequence.key_signatures[:]
    modes = music_pb2.NoteSequence.KeySignature
    for start, _, key in annotations.keys:
        root, _, mode = key.partition(":")
        sequence.key_signatures.add(time=start, key=(pitch_class(root) + shift) % 12,
                                    mode=modes.MINOR if mode.startswith("min") else modes.MAJOR)


def song_files(dataset: str | Path, corpus: str | Path | None = None,
               split: str = "test") -> list[Path]:
    """POP909/NNN/NNN.mid under a POP909 dataset folder, in order; with `corpus` (one built
    from it), only the songs in that corpus' `split`, e.g. the ones held out from its models."""
    songs = sorted((Path(dataset) / "POP909").glob("*/[0-9][0-9][0-9].mid"))
    if corpus is not None:
        from training.corpus import read_manifest

        keep = {r["id"].split(":", 1)[1] for r in read_manifest(corpus)
                if r["split"] == split and r["id"].startswith("pop909:")}
        songs = [s for s in songs if s.stem in keep]
    return songs
