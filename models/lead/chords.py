"""Chords as the lead model sees them: a root and one of POP909's qualities, or none.

POP909 annotates chords in Harte syntax ("Db:maj7/3", "N"); 15 qualities cover all of its
labels. A chord id packs (root, quality) into one small int so a chord fits the int16 token
streams the training pipeline caches: 0 is "no chord", 1 + root * len(QUALITIES) + quality
the rest. Inversions ("/3") are dropped: the melody model hears which pitch classes sound, not
which is lowest. Pure: no MIDI, no audio.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_NATURAL = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
QUALITIES: dict[str, tuple[int, ...]] = {  # intervals above the root, semitones
    "maj": (0, 4, 7), "min": (0, 3, 7), "sus2": (0, 2, 7), "sus4": (0, 5, 7),
    "7": (0, 4, 7, 10), "maj7": (0, 4, 7, 11), "min7": (0, 3, 7, 10),
    "sus4(b7)": (0, 5, 7, 10), "maj6": (0, 4, 7, 9), "min6": (0, 3, 7, 9),
    "dim": (0, 3, 6), "hdim7": (0, 3, 6, 10), "dim7": (0, 3, 6, 9), "aug": (0, 4, 8),
    "minmaj7": (0, 3, 7, 11),
}
_QUALITY_INDEX = {q: i for i, q in enumerate(QUALITIES)}
SYMBOLS = {"maj": "", "min": "m", "min7": "m7", "maj6": "6", "min6": "m6", "hdim7": "m7b5",
           "sus4(b7)": "7sus4", "minmaj7": "m(maj7)"}  # the rest read as they are
NO_CHORD = 0
CHORDS = 1 + 12 * len(QUALITIES)  # ids 0..CHORDS-1
# What chord estimation from a backing chooses among: the qualities common enough in pop to
# tell apart from chroma alone (POP909: 93 % of its chords are one of these).
TEMPLATE_QUALITIES = ("maj", "min", "7", "min7", "maj7", "sus4", "sus2", "dim")


class ChordError(ValueError):
    """A chord label that is not Harte syntax."""


@dataclass(frozen=True)
class Chord:
    root: int | None  # pitch class 0..11, None for no chord
    quality: str = "maj"

    @property
    def id(self) -> int:
        if self.root is None:
            return NO_CHORD
        return 1 + self.root * len(QUALITIES) + _QUALITY_INDEX[self.quality]

    @property
    def pitch_classes(self) -> frozenset[int]:
        if self.root is None:
            return frozenset()
        return frozenset((self.root + i) % 12 for i in QUALITIES[self.quality])

    @property
    def symbol(self) -> str:
        """As a lead sheet writes it: G, Em, Cmaj7, D7, Bm7b5; N.C. for no chord."""
        if self.root is None:
            return "N.C."
        return NAMES[self.root] + SYMBOLS.get(self.quality, self.quality)

    @property
    def label(self) -> str:
        return "N" if self.root is None else f"{NAMES[self.root]}:{self.quality}"

    def transposed(self, shift: int) -> Chord:
        return self if self.root is None else Chord((self.root + shift) % 12, self.quality)

    @classmethod
    def from_id(cls, chord_id: int) -> Chord:
        if chord_id == NO_CHORD:
            return cls(None)
        root, quality = divmod(int(chord_id) - 1, len(QUALITIES))
        return cls(root, tuple(QUALITIES)[quality])


def parse_chord(label: str) -> Chord:
    """A Harte label ("Db:maj7/3", "A:min", "G", "N") as a Chord; an unknown quality falls back
    to major or minor by its third."""
    label = label.strip()
    if label in ("N", "X", ""):
        return Chord(None)
    root_name, _, rest = label.partition(":")
    if not root_name or root_name[0] not in _NATURAL:
        raise ChordError(f"not a chord label: {label!r}")
    root = (_NATURAL[root_name[0]] + root_name[1:].count("#") - root_name[1:].count("b")) % 12
    quality = (rest or "maj").split("/")[0]
    if quality not in QUALITIES:
        quality = "min" if quality.startswith(("min", "dim", "hdim")) else "maj"
    return Chord(root, quality)


def chord_table() -> np.ndarray:
    """[CHORDS, 25] fixed features per chord id: its root one-hot, its pitch classes, and a
    no-chord flag. Fixed, not learned, so a chord the model rarely saw in one key is still the
    same shape as in another."""
    table = np.zeros((CHORDS, 25), np.float32)
    table[NO_CHORD, 24] = 1.0
    for chord_id in range(1, CHORDS):
        chord = Chord.from_id(chord_id)
        table[chord_id, chord.root] = 1.0
        table[chord_id, [12 + p for p in chord.pitch_classes]] = 1.0
    return table


def shift_table() -> np.ndarray:
    """[12, CHORDS] chord id moved up k semitones: shift_table()[k, chord_id]."""
    return np.array([[Chord.from_id(c).transposed(k).id for c in range(CHORDS)]
                     for k in range(12)], dtype=np.int32)


def templates(qualities=TEMPLATE_QUALITIES) -> tuple[np.ndarray, list[Chord]]:
    """Binary pitch-class templates [chord, 12] for chord estimation from chroma, and the
    Chord each row is."""
    chords = [Chord(root, q) for q in qualities for root in range(12)]
    rows = np.zeros((len(chords), 12), np.float32)
    for row, chord in zip(rows, chords):
        row[list(chord.pitch_classes)] = 1.0
    return rows, chords
