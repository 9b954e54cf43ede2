"""Key estimation from notes: pure functions, no I/O.

A piece's key is estimated from its duration-weighted pitch-class histogram (drums excluded).
Transposition only needs the key *signature* (C major and A minor share one), so the signature
is chosen first: each of the 12 signatures scores the share of the music that lies inside its
diatonic scale, plus a small weight times the better correlation of its major and relative
minor key profile. The scale share gets modal folk tunes (D dorian is written with no sharps)
right where profiles alone fail; the profile term decides between scales that fit equally.
Then major or relative minor is picked by profile correlation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

PITCH_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_LETTER_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}

# Key profiles (index 0 = tonic). Temperley's Kostka-Payne profiles were the most accurate on
# key signatures of the music21 corpus (see benchmarks/key_accuracy.py and docs/BENCHMARKS.md).
PROFILES: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "krumhansl": (
        (6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88),
        (6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17),
    ),
    "temperley": (
        (0.748, 0.060, 0.488, 0.082, 0.670, 0.460, 0.096, 0.715, 0.104, 0.366, 0.057, 0.400),
        (0.712, 0.084, 0.474, 0.618, 0.049, 0.460, 0.105, 0.747, 0.404, 0.067, 0.133, 0.330),
    ),
    "aarden": (
        (17.7661, 0.145624, 14.9265, 0.160186, 19.8049, 11.3587, 0.291248, 22.062, 0.145624,
         8.15494, 0.232998, 4.95122),
        (18.2648, 0.737619, 14.0499, 16.8599, 0.702494, 14.4362, 0.702494, 18.6161, 4.56621,
         1.93186, 7.37619, 1.75623),
    ),
    "albrecht": (
        (0.238, 0.006, 0.111, 0.006, 0.137, 0.094, 0.016, 0.214, 0.009, 0.080, 0.008, 0.081),
        (0.220, 0.006, 0.104, 0.123, 0.019, 0.103, 0.012, 0.214, 0.062, 0.022, 0.061, 0.052),
    ),
}
DEFAULT_PROFILE = "temperley"
# Weight of the profile correlation against the in-scale share when choosing a signature;
# chosen on the music21 corpus (benchmarks/key_accuracy.py): 0 = scale only, large = profile only.
PROFILE_WEIGHT = 0.2
_MAJOR_SCALE = np.array([1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1], dtype=np.float64)
_SCALES = np.stack([np.roll(_MAJOR_SCALE, t) for t in range(12)])  # row t: t major's notes
_RELATIVE_MINOR = np.array([(t + 9) % 12 for t in range(12)])


@dataclass(frozen=True)
class Key:
    """A tonic pitch class (0 = C) and a mode ("major" or "minor")."""

    tonic: int
    mode: str = "major"

    def __post_init__(self) -> None:
        if self.mode not in ("major", "minor"):
            raise ValueError(f"mode must be 'major' or 'minor', not {self.mode!r}")
        object.__setattr__(self, "tonic", int(self.tonic) % 12)

    @property
    def relative_major(self) -> int:
        """Pitch class of the major key with the same signature."""
        return self.tonic if self.mode == "major" else (self.tonic + 3) % 12

    @property
    def fifths(self) -> int:
        """Key signature as sharps (>0) or flats (<0), in -6..+5 (F#/Gb counts as 6 flats)."""
        return (self.relative_major * 7 + 6) % 12 - 6

    @property
    def name(self) -> str:
        return f"{PITCH_NAMES[self.tonic]} {self.mode}"

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class KeyEstimate:
    key: Key
    confidence: float  # Pearson correlation of the histogram with the winning profile, in [-1, 1]
    scores: np.ndarray  # (24,) correlations: [0:12] major keys by tonic, [12:24] minor keys


_KEY_RE = re.compile(
    r"^\s*([A-Ga-g])\s*(#|b|♯|♭|-|sharp|flat)?\s*(m|min|minor|maj|major|M)?\s*$"
)


def parse_key(text: str) -> Key:
    """Parse 'C', 'Am', 'F# minor', 'Bb major', 'ebm' into a Key; ValueError on anything else."""
    match = _KEY_RE.match(text)
    if not match:
        raise ValueError(f"not a key: {text!r} (try C, Am, F# minor, Bb major)")
    letter, accidental, mode = match.groups()
    pc = _LETTER_PC[letter.upper()]
    if accidental in ("#", "♯", "sharp"):
        pc += 1
    elif accidental in ("b", "♭", "-", "flat"):
        pc -= 1
    return Key(pc, "minor" if mode in ("m", "min", "minor") else "major")


def key_from_signature(fifths: int, minor: bool = False) -> Key:
    """The key with `fifths` sharps (negative: flats), major or its relative minor."""
    major = (fifths * 7) % 12
    return Key((major + 9) % 12, "minor") if minor else Key(major, "major")


def pitch_class_histogram(pitches: np.ndarray, durations: np.ndarray) -> np.ndarray:
    """Total duration per pitch class. Callers leave drum notes out."""
    pitches = np.asarray(pitches, dtype=np.int64)
    durations = np.clip(np.asarray(durations, dtype=np.float64), 0.0, None)
    return np.bincount(pitches % 12, weights=durations, minlength=12)[:12]


def _profile_matrix(name: str) -> np.ndarray:
    """(24, 12) z-scored profiles, one row per key, so correlation is a matrix product."""
    major, minor = (np.asarray(p, dtype=np.float64) for p in PROFILES[name])
    rows = [np.roll(major, t) for t in range(12)] + [np.roll(minor, t) for t in range(12)]
    mat = np.stack(rows)
    mat -= mat.mean(axis=1, keepdims=True)
    mat /= mat.std(axis=1, keepdims=True)
    return mat


_MATRICES = {name: _profile_matrix(name) for name in PROFILES}


def key_scores(histogram: np.ndarray, profile: str = DEFAULT_PROFILE) -> np.ndarray:
    """Pearson correlation of a pitch-class histogram with each of the 24 keys."""
    hist = np.asarray(histogram, dtype=np.float64)
    std = hist.std()
    if std == 0.0:
        return np.zeros(24)
    z = (hist - hist.mean()) / std
    return _MATRICES[profile] @ z / 12.0


def signature_scores(histogram: np.ndarray, profile: str = DEFAULT_PROFILE,
                     profile_weight: float = PROFILE_WEIGHT) -> np.ndarray:
    """(12,) score per signature, indexed by its major tonic: in-scale share + profile term."""
    hist = np.asarray(histogram, dtype=np.float64)
    total = hist.sum()
    in_scale = _SCALES @ hist / total if total > 0 else np.zeros(12)
    scores = key_scores(hist, profile)
    best_mode = np.maximum(scores[:12], scores[12:][_RELATIVE_MINOR])
    return in_scale + profile_weight * best_mode


def estimate_key(histogram: np.ndarray, profile: str = DEFAULT_PROFILE,
                 profile_weight: float = PROFILE_WEIGHT) -> KeyEstimate:
    """Signature first, then major or relative minor. Empty or flat: C major, confidence 0."""
    scores = key_scores(histogram, profile)
    if not scores.any():
        return KeyEstimate(key=Key(0), confidence=0.0, scores=scores)
    major = int(np.argmax(signature_scores(histogram, profile, profile_weight)))
    minor = int(_RELATIVE_MINOR[major])
    if scores[12 + minor] > scores[major]:
        return KeyEstimate(Key(minor, "minor"), float(scores[12 + minor]), scores)
    return KeyEstimate(Key(major, "major"), float(scores[major]), scores)


def estimate_key_from_notes(
    pitches: np.ndarray, durations: np.ndarray, profile: str = DEFAULT_PROFILE
) -> KeyEstimate:
    return estimate_key(pitch_class_histogram(pitches, durations), profile)


def transposition(source: Key, target: Key) -> int:
    """Smallest shift in -6..+5 semitones that gives `source`'s music `target`'s signature."""
    return (target.relative_major - source.relative_major + 6) % 12 - 6
