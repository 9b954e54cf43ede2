"""Which track of a song is its melody: logistic regression over a few statistics per track.

The skyline (the track with the highest mean pitch) is a poor guess in real arrangements: in
POP909 the BRIDGE (an instrumental counter-line) sits above the sung MELODY in over half the
songs. Each pitched track is described by a fixed-length vector (FEATURES: pitch statistics,
polyphony, note density, duration, velocity, how jumpy its top line is, its pitch rank among
the song's tracks, how much of the song it sounds and when it comes in, a lead-family program,
name cues), the vector is standardised and a logistic regression gives each track a
probability of being the melody. The likeliest track is the melody, or the highest of the
tracks about as likely (tracks are judged one by one, so a chorale's soprano and alto look
alike). Fitted by `training.melody_track` (POP909, names hidden: see MODEL_CARD.md); the fit
lists which features it reads, so a feature it could not learn from carries no weight.

Pure NumPy: reading a NoteSequence's fields needs no note-seq import.

    instrument = melody_instrument(sequence)     # the melody's note.instrument, or None:
                                                 # the caller uses its own skyline
"""

from __future__ import annotations

import functools
import json
import operator
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from note_seq.protobuf import music_pb2

SHIPPED = Path(__file__).with_name("classifier.json")
NAME_CUES = {  # a track name matching the pattern sets its flag
    "name_lead": r"melody|lead|vocal|voice|vox|sing|solo",
    "name_drum": r"drum|perc|kit",
    "name_bass": r"bass",
    "name_pad": r"pad|string",
    "name_chord": r"chord|harm|rhythm|comp",
    "name_piano": r"piano|keys|organ",
    "name_accompaniment": r"acc|backing",
}
FEATURES = ("pitch_mean", "pitch_std", "pitch_min", "pitch_max",  # MIDI pitch
            "low",  # share of its notes under C3 (48), the bass register
            "polyphony",  # share of the track's sounding time with more than one note
            "density",  # notes per beat while the track sounds
            "duration",  # mean note length, beats
            "velocity",  # mean MIDI velocity
            "louder",  # mean velocity less the mean of all the song's notes
            "leap",  # mean jump of its top line from onset to onset, semitones (at most 12)
            "pitch_rank",  # 1 = the highest mean pitch of the song's pitched tracks
            "above_rest",  # mean pitch less the mean pitch of the other tracks' notes
            "coverage",  # share of the song's span the track sounds
            "entry",  # share of the song's span before its first note (a singer waits out
                      # the intro)
            "lead_program",  # 1 for a GM program of a lead family (reed, pipe, synth lead, ...)
            *NAME_CUES)
BASS_REGISTER = 48  # C3: a line that lives under it is a bass
LEAD_PROGRAMS = frozenset([40, 41, 52, 53, 54, *range(56, 88)])  # violin, voices, brass..lead


@dataclass(frozen=True)
class Track:
    """One pitched instrument's notes as columns."""

    instrument: int  # note.instrument in the NoteSequence
    program: int  # GM program 0..127 (its notes' most common)
    name: str
    pitch: np.ndarray  # [note] MIDI pitch
    start: np.ndarray  # [note] seconds
    end: np.ndarray  # [note] seconds
    velocity: np.ndarray  # [note] MIDI velocity

    def subset(self, keep: np.ndarray, *, instrument: int, name: str = "") -> Track:
        """Some of its notes as another track (to make extra tracks from one)."""
        return replace(self, instrument=instrument, name=name, pitch=self.pitch[keep],
                       start=self.start[keep], end=self.end[keep], velocity=self.velocity[keep])


_COLUMNS = np.dtype([("instrument", np.int64), ("pitch", np.float64), ("start", np.float64),
                     ("end", np.float64), ("velocity", np.float64), ("program", np.int64),
                     ("is_drum", np.bool_)])
_FIELDS = operator.attrgetter("instrument", "pitch", "start_time", "end_time", "velocity",
                              "program", "is_drum")


def tracks_of(sequence: music_pb2.NoteSequence) -> list[Track]:
    """The pitched tracks of a NoteSequence (drums are never a melody), by instrument."""
    names = {info.instrument: info.name for info in sequence.instrument_infos}
    notes = np.fromiter(map(_FIELDS, sequence.notes), dtype=_COLUMNS, count=len(sequence.notes))
    notes = notes[~notes["is_drum"] & (notes["end"] > notes["start"])]
    notes = notes[np.argsort(notes["instrument"], kind="stable")]  # each track's in file order
    instruments, first = np.unique(notes["instrument"], return_index=True)
    tracks = []
    for instrument, rows in zip(instruments.tolist(), np.split(notes, first[1:])):
        program = int(np.bincount(rows["program"]).argmax())
        tracks.append(Track(instrument, program, names.get(instrument, ""), rows["pitch"],
                            rows["start"], rows["end"], rows["velocity"]))
    return tracks


def qpm_of(sequence: music_pb2.NoteSequence) -> float:
    """The sequence's first tempo, quarter notes per minute (120 when it has none)."""
    return float(sequence.tempos[0].qpm) if len(sequence.tempos) else 120.0


def _sounding(start: np.ndarray, end: np.ndarray) -> tuple[float, float]:
    """(seconds with at least one note sounding, seconds with more than one)."""
    times = np.concatenate([start, end])
    steps = np.concatenate([np.ones(len(start)), -np.ones(len(end))])
    order = np.lexsort((steps, times))  # at one instant an end comes before a start
    count = np.cumsum(steps[order])[:-1]
    span = np.diff(times[order])
    return float(span[count >= 1].sum()), float(span[count >= 2].sum())


def _leap(track: Track) -> float:
    """Mean absolute interval between the top notes of successive onsets (clipped at 12)."""
    onset = np.round(track.start, 3)
    order = np.lexsort((track.pitch, onset))
    onset, pitch = onset[order], track.pitch[order]
    last = np.r_[onset[1:] != onset[:-1], True]  # the highest note of each onset sorts last
    top = pitch[last]
    return float(np.minimum(np.abs(np.diff(top)), 12).mean()) if len(top) > 1 else 0.0


@dataclass(frozen=True)
class _Song:
    """What each track's features compare it with, summed once a song: comparing every
    track with all the others anew grew with the square of the tracks (3,000: 70 s)."""

    begin: float  # seconds of the first note
    span: float  # seconds from the first note to the last end
    means: np.ndarray  # [track] mean pitches, sorted, the NaN of an empty track left out
    pitch_sum: float  # of every note of the song (MIDI pitches: whole numbers, summed exactly)
    notes: int
    loudness: float  # mean velocity of every note

    @classmethod
    def of(cls, song: list[Track]) -> _Song:
        begin = min(t.start.min() for t in song)
        means = np.array([t.pitch.mean() for t in song])
        pitches = np.concatenate([t.pitch for t in song])
        return cls(begin, max(max(t.end.max() for t in song) - begin, 1e-9),
                   np.sort(means[~np.isnan(means)]), pitches.sum(), len(pitches),
                   np.concatenate([t.velocity for t in song]).mean())


def track_features(track: Track, song: list[Track], qpm: float) -> np.ndarray:
    """The FEATURES of one track of `song` (which holds it), `qpm` the song's tempo."""
    return _features(track, _Song.of(song), qpm, inside=any(t is track for t in song),
                     alone=all(t is track for t in song))


def _features(track: Track, song: _Song, qpm: float, *, inside: bool = True,
              alone: bool = False) -> np.ndarray:
    """The FEATURES of `track` against its song's summary (`inside`: the song holds it;
    `alone`: it is the song's only track, the rest of the song is itself)."""
    beat = 60.0 / qpm
    sounding, chords = _sounding(track.start, track.end)
    mean = track.pitch.mean()
    if alone:
        rest = mean
    elif inside:  # the mean of the other tracks' notes
        rest = (song.pitch_sum - track.pitch.sum()) / np.float64(song.notes - len(track.pitch))
    else:
        rest = song.pitch_sum / np.float64(song.notes)
    higher = 0 if np.isnan(mean) else len(song.means) - np.searchsorted(song.means, mean,
                                                                       side="right")
    name = track.name.lower()
    return np.array([
        mean, track.pitch.std(), track.pitch.min(), track.pitch.max(),
        np.mean(track.pitch < BASS_REGISTER),
        chords / max(sounding, 1e-9),
        len(track.pitch) / max(sounding / beat, 1e-9),
        np.mean(track.end - track.start) / beat,
        track.velocity.mean(),
        track.velocity.mean() - song.loudness,
        _leap(track),
        1 + higher,
        mean - rest,
        sounding / song.span,
        (track.start.min() - song.begin) / song.span,
        float(track.program in LEAD_PROGRAMS),
        *(float(re.search(cue, name) is not None) for cue in NAME_CUES.values()),
    ])


def song_features(song: list[Track], qpm: float) -> np.ndarray:
    """[track, FEATURES] of every track of a song."""
    if not song:
        return np.zeros((0, len(FEATURES)))
    summary = _Song.of(song)
    return np.stack([_features(t, summary, qpm, alone=len(song) == 1) for t in song])


def skyline(song: list[Track]) -> int | None:
    """The instrument of the track with the highest mean pitch (None: no pitched track)."""
    return max(song, key=lambda t: t.pitch.mean()).instrument if song else None


@dataclass(frozen=True)
class MelodyTrackClassifier:
    """Standardisation and logistic regression over the features it names."""

    features: tuple[str, ...]  # the FEATURES it reads, in weight order
    mean: np.ndarray  # [feature] standardisation
    scale: np.ndarray  # [feature]
    weights: np.ndarray  # [feature] on the standardised features
    bias: float
    min_probability: float  # below this for every track, leave it to the skyline
    tie_logit: float  # tracks this close to the best log-odds tie: the highest of them wins
    training: dict | None = None  # how it was fitted and how well it does on held-out songs

    @classmethod
    def load(cls, path: str | os.PathLike = SHIPPED) -> MelodyTrackClassifier:
        data = json.loads(Path(path).read_text())
        names = tuple(data["features"])
        unknown = set(names) - set(FEATURES)
        if unknown:
            raise ValueError(f"{path}: unknown features {sorted(unknown)}")

        def column(key: str) -> np.ndarray:
            return np.array([data[key][name] for name in names], dtype=np.float64)

        return cls(names, column("mean"), column("scale"), column("weights"),
                   float(data["bias"]), float(data["min_probability"]),
                   float(data["tie_logit"]), data.get("training"))

    def to_dict(self) -> dict:
        def named(values: np.ndarray) -> dict:
            return {k: round(float(v), 6) for k, v in zip(self.features, values)}

        return {"model": "melody-track", "features": list(self.features),
                "mean": named(self.mean), "scale": named(self.scale),
                "weights": named(self.weights), "bias": round(float(self.bias), 6),
                "min_probability": self.min_probability, "tie_logit": self.tie_logit,
                "training": self.training}

    def logits(self, matrix: np.ndarray) -> np.ndarray:
        """[track] log-odds of being the melody, from [track, FEATURES]."""
        columns = [FEATURES.index(name) for name in self.features]
        return (matrix[:, columns] - self.mean) / self.scale @ self.weights + self.bias

    def probabilities(self, matrix: np.ndarray) -> np.ndarray:
        """[track] probability of being the melody, from [track, FEATURES]."""
        return 1.0 / (1.0 + np.exp(-self.logits(matrix)))

    def choose(self, song: list[Track], qpm: float) -> int | None:
        """The melody's instrument; None when no track is likely enough (use the skyline).

        Each track is judged alone, so several can look equally like a melody (a chorale's
        four voices all do); among those within `tie_logit` of the best, the highest wins."""
        if len(song) <= 1:
            return song[0].instrument if song else None
        logit = self.logits(song_features(song, qpm))
        if 1.0 / (1.0 + np.exp(-logit.max())) < self.min_probability:
            return None
        tied = [t for t, z in zip(song, logit) if z >= logit.max() - self.tie_logit]
        return skyline(tied)

    def melody_instrument(self, sequence: music_pb2.NoteSequence) -> int | None:
        return self.choose(tracks_of(sequence), qpm_of(sequence))


@functools.cache
def shipped() -> MelodyTrackClassifier:
    """models/melody_track/classifier.json, read once a process."""
    return MelodyTrackClassifier.load(SHIPPED)


def melody_instrument(sequence: music_pb2.NoteSequence,
                      classifier: MelodyTrackClassifier | None = None) -> int | None:
    """The note.instrument of a NoteSequence's melody: never drums, a lone pitched track
    always; None when no track is likely enough (the caller falls back to its skyline)."""
    return (classifier or shipped()).melody_instrument(sequence)


__all__ = ["FEATURES", "MelodyTrackClassifier", "Track", "melody_instrument", "qpm_of",
           "shipped", "skyline", "song_features", "track_features", "tracks_of"]
