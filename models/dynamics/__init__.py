"""Dynamics: MIDI velocities for notes written by models that learned none.

The shipped LSTM, VAEs and GAN were trained on a corpus without dynamics, so every note they
write has one velocity. This model gives each pitched note a velocity the way POP909's
performances do, from a few dozen numbers fitted by `training.dynamics`:

    velocity = level[role] + accent[role, position] + song + drift[bar] + noise

- role: lead (the melody) or accompaniment, each with its own mean level;
- position: the note's sixteenth in a 4/4 bar (notes off the grid go to the nearest), so strong
  beats are louder than the sixteenths between them;
- song: one offset for a whole performance (some songs are played louder than others);
- drift: a slow level that wanders from bar to bar, an AR(1) process
  `d[b] = phi * d[b-1] + sqrt(1 - phi^2) * std * e[b]`, shared by every note of the bar;
- noise: independent per note, with each role's own spread.

Pure NumPy: generation loads it in well under a millisecond.

    performer = Performer(seed=1)                      # the shipped fit, its own random stream
    performer.apply(sequence, qpm=120)                 # velocities set in place, bar by bar
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROLES = ("lead", "accompaniment")
BEATS_PER_BAR = 4
POSITIONS = 16  # sixteenth notes in a 4/4 bar
SHIPPED = Path(__file__).with_name("dynamics.json")
STREAM = 0x64796E  # mixed into a generator's seed, so dynamics never shift its notes' draws


@dataclass(frozen=True)
class Level:
    """Where the loudness stands: the song's offset and the drift at the last bar (velocity
    units above the roles' levels). Carried from phrase to phrase so dynamics stay continuous."""

    song: float
    drift: float


@dataclass(frozen=True)
class Dynamics:
    level: np.ndarray  # [role] mean velocity (MIDI 1..127)
    accent: np.ndarray  # [role, position] velocity above the level at each sixteenth
    noise: np.ndarray  # [role] per-note std, velocity units
    song_std: float  # std of a performance's overall offset
    drift_phi: float  # AR(1) coefficient of the drift, per bar
    drift_std: float  # stationary std of the drift, velocity units
    training: dict | None = None  # how it was fitted (command, corpus, counts)

    @classmethod
    def load(cls, path: str | os.PathLike = SHIPPED) -> Dynamics:
        return cls.from_dict(json.loads(Path(path).read_text()))

    @classmethod
    def from_dict(cls, data: dict) -> Dynamics:
        roles = [data["roles"][name] for name in ROLES]
        return cls(level=np.array([r["level"] for r in roles], dtype=np.float64),
                   accent=np.array([r["accent"] for r in roles], dtype=np.float64),
                   noise=np.array([r["noise"] for r in roles], dtype=np.float64),
                   song_std=float(data["song"]["std"]), drift_phi=float(data["drift"]["phi"]),
                   drift_std=float(data["drift"]["std"]), training=data.get("training"))

    def to_dict(self) -> dict:
        def r(x):
            return np.round(np.asarray(x, dtype=np.float64), 2).tolist()

        out = {"model": "dynamics", "grid": {"beats_per_bar": BEATS_PER_BAR,
                                             "positions": POSITIONS},
               "roles": {name: {"level": r(self.level[i]), "accent": r(self.accent[i]),
                                "noise": r(self.noise[i])} for i, name in enumerate(ROLES)},
               "song": {"std": r(self.song_std)},
               "drift": {"phi": round(float(self.drift_phi), 3), "std": r(self.drift_std)}}
        if self.training is not None:
            out["training"] = self.training
        return out

    def start(self, rng: np.random.Generator) -> Level:
        """A new performance: its song offset and its drift, drawn from their distributions."""
        return Level(float(rng.normal(0.0, self.song_std)),
                     float(rng.normal(0.0, self.drift_std)))

    def sample(self, lead: np.ndarray, position: np.ndarray, bar: np.ndarray,
               rng: np.random.Generator, level: Level | None = None, bars: int = 0
               ) -> tuple[np.ndarray, Level]:
        """Velocities (floats, unclipped) for notes given as columns: `lead` (bool), `position`
        (0..15) and `bar` (0, 1, ... from the phrase's start); and the Level after the last
        of max(bars, last note's bar + 1) bars. `level` None starts a new performance."""
        level = self.start(rng) if level is None else level
        bars = max(bars, int(bar.max()) + 1 if len(bar) else 0)
        step = self.drift_std * np.sqrt(max(0.0, 1.0 - self.drift_phi ** 2))
        drift = np.empty(bars)
        d = level.drift
        for b, e in enumerate(rng.standard_normal(bars)):
            d = self.drift_phi * d + step * e
            drift[b] = d
        role = np.where(lead, 0, 1)
        velocity = (self.level[role] + self.accent[role, position] + level.song + drift[bar]
                    + self.noise[role] * rng.standard_normal(len(role)))
        return velocity, Level(level.song, float(d))

    def apply(self, sequence, qpm: float, rng: np.random.Generator, *,
              lead_instruments=None, level: Level | None = None) -> Level:
        """Set the velocity of every pitched note of a NoteSequence (in place) whose bar 1
        starts at time 0 in 4/4 at `qpm`; returns the Level to continue from.

        `lead_instruments`: the instrument numbers that play the lead; None takes the top line
        (each note with nothing higher sounding at its start), which for a single melody is
        every note. The same rng state gives the same velocities."""
        notes = [n for n in sequence.notes if not n.is_drum]
        sixteenth = 60.0 / qpm / 4
        start = np.array([n.start_time for n in notes], dtype=np.float64)
        grid = np.maximum(np.round(start / sixteenth).astype(np.int64), 0)
        bars = int(np.ceil(sequence.total_time / (sixteenth * POSITIONS) - 1e-6))
        if lead_instruments is None:
            lead = top_line(notes)
        else:
            leads = set(lead_instruments)
            lead = np.array([n.instrument in leads for n in notes], dtype=bool)
        velocity, level = self.sample(lead, grid % POSITIONS, grid // POSITIONS, rng, level,
                                      bars)
        for note, v in zip(notes, np.clip(np.round(velocity), 1, 127).astype(int).tolist()):
            note.velocity = v
        return level


def top_line(notes) -> np.ndarray:
    """Which notes are the top line: nothing higher sounds when they start."""
    start = np.array([n.start_time for n in notes], dtype=np.float64)
    end = np.array([n.end_time for n in notes], dtype=np.float64)
    pitch = np.array([n.pitch for n in notes])
    eps = 1e-6
    sounding = (start[None, :] <= start[:, None] + eps) & (end[None, :] > start[:, None] + eps)
    return ~(sounding & (pitch[None, :] > pitch[:, None])).any(axis=1)


def top_voice(sequence) -> set[int]:
    """The pitched instrument with the highest mean pitch (a chorale's soprano)."""
    pitches: dict[int, list[int]] = {}
    for n in sequence.notes:
        if not n.is_drum:
            pitches.setdefault(n.instrument, []).append(n.pitch)
    return {max(pitches, key=lambda i: np.mean(pitches[i]))} if pitches else set()


class Performer:
    """The shipped dynamics with a generator's own random stream and its Level carried from
    phrase to phrase, so a stream of phrases sounds like one performance."""

    def __init__(self, seed: int | None = None, dynamics: Dynamics | None = None) -> None:
        self.dynamics = dynamics or shipped()
        self.rng = np.random.default_rng(None if seed is None else [seed, STREAM])
        self.level: Level | None = None

    def apply(self, sequence, qpm: float, *, lead_instruments=None) -> None:
        self.level = self.dynamics.apply(sequence, qpm, self.rng,
                                         lead_instruments=lead_instruments, level=self.level)


@functools.lru_cache(maxsize=1)
def shipped() -> Dynamics:
    """models/dynamics/dynamics.json, read once a process."""
    return Dynamics.load(SHIPPED)


__all__ = ["Dynamics", "Level", "Performer", "ROLES", "shipped", "top_line", "top_voice"]
