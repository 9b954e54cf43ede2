"""The typed hand-offs between the audio stages: render -> loop detector -> player.

    Clip   rendered (or loaded) audio, with its musical grid when known
    Loop   one period of audio that repeats seamlessly, with where it came from and its scores

The symbolic hand-off before them, a Phrase (notes, tempo, meter), is composer.phrase.

Audio is always float32, shape (frames, channels), channels-last like soundfile reads it, so
a clip goes to soundfile, pyloudnorm and the player without reshaping.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from composer.phrase import Phrase

SAMPLE_RATE = 44100


@dataclass(frozen=True)
class Grid:
    """Where beats and bars fall, in frames. Exact when the audio came from MIDI; estimated
    (librosa beat tracking) for audio from anywhere else."""

    beats: np.ndarray  # frame of every beat, ascending
    beats_per_bar: int = 4
    downbeat: int = 0  # index into beats of the first bar's first beat
    exact: bool = False  # True when taken from the symbolic score, not estimated

    @property
    def bars(self) -> np.ndarray:
        """Frame of every bar line."""
        return self.beats[self.downbeat::self.beats_per_bar]

    @classmethod
    def from_tempo(cls, qpm: float, frames: int, sample_rate: int,
                   beats_per_bar: int = 4, offset: int = 0) -> Grid:
        """The exact grid of a constant tempo (the MIDI path)."""
        step = 60.0 * sample_rate / qpm
        count = int(np.floor((frames - offset) / step + 1e-9)) + 1
        beats = np.round(offset + np.arange(count) * step).astype(np.int64)
        return cls(beats=beats, beats_per_bar=beats_per_bar, exact=True)


@dataclass(frozen=True)
class Clip:
    """Rendered audio. `frames` is the musical length (a phrase's bars); audio past it is the
    tail (releases, reverb) that the player overlaps onto what comes next."""

    audio: np.ndarray  # float32 (frames + tail, channels)
    sample_rate: int = SAMPLE_RATE
    frames: int | None = None  # musical length; None: the whole audio
    qpm: float | None = None  # beats a minute when known (MIDI path): quarter notes, or the
    # meter's own unit in 3/8, 5/8 and the like (render.midi.meter)
    beats_per_bar: int = 4
    phrase: Phrase | None = None  # the notes it was rendered from, if any

    @property
    def length(self) -> int:
        return len(self.audio) if self.frames is None else self.frames

    @property
    def seconds(self) -> float:
        return self.length / self.sample_rate

    @property
    def body(self) -> np.ndarray:
        return self.audio[:self.length]

    @property
    def tail(self) -> np.ndarray:
        return self.audio[self.length:]

    def grid(self) -> Grid | None:
        """The exact grid when the tempo is known, else None (the detector estimates one)."""
        if not self.qpm:
            return None
        return Grid.from_tempo(self.qpm, self.length, self.sample_rate, self.beats_per_bar)


@dataclass(frozen=True)
class SeamScores:
    """How abrupt a loop's seam is, each as (measure at the seam) / (99th percentile of the
    same measure inside the loop): <= 1 means no more abrupt than the music itself."""

    click: float  # high-passed energy
    dip: float  # drop of RMS over 20 ms
    flux: float  # spectral flux

    @property
    def worst(self) -> float:
        return max(self.click, self.dip, self.flux)

    @property
    def ok(self) -> bool:
        return self.worst <= 1.0


@dataclass(frozen=True)
class Loop:
    """One period of audio: played end to start forever, it has no gap, fade or click.

    Two positions, never one for the other: `source_start` is where the period was cut from
    the clip it came from (the loop detector's answer, in that clip's frames), `downbeat` is
    where bar 1 begins inside the period. The detector cuts periods that begin on a bar line
    (downbeat 0); the player may begin a period a few milliseconds before its downbeat so
    that its seam falls in a sustain (composer.loop.wrap), and plays, crossfades and saves it
    from the downbeat."""

    audio: np.ndarray  # float32 (frames, channels), exactly one period
    sample_rate: int
    bars: int
    qpm: float | None  # beats a minute of its grid (see Clip.qpm)
    seam: SeamScores
    source_start: int = 0  # frame in the source clip where the period was cut
    downbeat: int = 0  # frame in the period where bar 1 begins, 0 <= downbeat < frames
    beats_per_bar: int = 4
    scores: dict[str, float] = field(default_factory=dict)  # the detector's candidate scores
    phrase: Phrase | None = None  # the notes of the period, on the MIDI path

    def __post_init__(self) -> None:
        if not 0 <= self.downbeat < max(1, len(self.audio)):
            raise ValueError(f"downbeat {self.downbeat} is outside the period of "
                             f"{len(self.audio)} frames")

    @property
    def frames(self) -> int:
        return len(self.audio)

    @property
    def seconds(self) -> float:
        return self.frames / self.sample_rate

    @property
    def source_end(self) -> int:
        return self.source_start + self.frames

    def from_downbeat(self) -> np.ndarray:
        """The period rolled to begin on bar 1: what a saved file or a DAW wants."""
        return np.roll(self.audio, -self.downbeat, axis=0) if self.downbeat else self.audio
