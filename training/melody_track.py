"""Fit the melody-track classifier (models/melody_track) on POP909, whose MELODY is labelled.

    composer train --model melody-track --corpus POP909_CORPUS -o models/melody_track

writes classifier.json and MODEL_CARD.md in seconds: a logistic regression, no network.

Every train song's pitched tracks are rows (models.melody_track.FEATURES), labelled MELODY
(1) or not (0: BRIDGE, PIANO). POP909's track names are the labels, so they are blanked before
any feature is computed and the name cues are left out of the fit; so is any feature that never
varies (every POP909 track is program 0). Three tracks a song would teach only "not the bridge,
not the piano", so each train song also comes back with extra negatives: without its bridge
(half the songs), and with its piano split into a left hand, a right hand and a bass line (its
lowest note at each onset). The fit is L2-regularised logistic regression by Newton's method on
standardised features. Accuracy is the share of held-out songs (valid and test splits, names
blanked, as recorded) whose chosen track is the MELODY, beside the skyline (the highest mean
pitch) measured the same way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from models.melody_track import (FEATURES, NAME_CUES, MelodyTrackClassifier, Track, qpm_of,
                                 skyline, song_features, tracks_of)
from training.fileio import atomic_write_text

if TYPE_CHECKING:
    from note_seq.protobuf import music_pb2

LABEL = "MELODY"  # POP909's track names: MELODY, BRIDGE, PIANO
MIDDLE_C = 60  # where the piano is split into hands
L2 = 1.0  # on standardised weights: a few thousand rows make it a tie-breaker, not a prior
# Below this for every track the classifier abstains and the caller's skyline chooses. Low: on
# POP909 the most likely track is the melody even when it looks unsure (0.2..0.5), and the
# skyline is right in under half the songs; only a song with no melody-like track abstains.
MIN_PROBABILITY = 0.1
# Each track is judged alone, so lines that differ only in register (a chorale's soprano and
# alto) can score alike; within this many log-odds of the best, the highest line wins. One
# logit (odds 2.7 to 1) is the least that gives the soprano in music21's Bach chorales, at the
# price of one POP909 valid song whose bridge comes that close.
TIE_LOGIT = 1.0


@dataclass(frozen=True)
class Song:
    """One song's pitched tracks, names blanked, and what POP909 called each."""

    tracks: list[Track]
    qpm: float
    roles: dict[int, str]  # instrument -> MELODY, BRIDGE, PIANO, or "" for a made-up track

    @property
    def melody(self) -> int:
        return next(i for i, role in self.roles.items() if role == LABEL)

    def role(self, name: str) -> Track | None:
        return next((t for t in self.tracks if self.roles[t.instrument] == name), None)


def song_of(sequence: music_pb2.NoteSequence) -> Song | None:
    """A corpus NoteSequence as a Song; None without exactly one MELODY and another track."""
    tracks = tracks_of(sequence)
    roles = {t.instrument: t.name.upper() for t in tracks}
    if list(roles.values()).count(LABEL) != 1 or len(tracks) < 2:
        return None
    return Song([replace(t, name="") for t in tracks], qpm_of(sequence), roles)


def read_songs(corpus: Path, split: str) -> tuple[list[Song], int]:
    """The usable songs of a corpus split, and how many were skipped."""
    from training.shards import iter_notesequences

    songs, skipped = [], 0
    for sequence in iter_notesequences(corpus, split):
        song = song_of(sequence)
        songs += [song] if song else []
        skipped += song is None
    return songs, skipped


def hands(piano: Track, first: int) -> list[Track]:
    """The piano as a left hand, a right hand and a bass line, numbered from instrument
    `first`; empty parts are left out."""
    parts = [piano.subset(piano.pitch < MIDDLE_C, instrument=first),
             piano.subset(piano.pitch >= MIDDLE_C, instrument=first + 1),
             bass_line(piano, first + 2)]
    return [t for t in parts if len(t.pitch)]


def bass_line(piano: Track, instrument: int) -> Track:
    """What a bass player would take from the piano: the lowest note of each onset under
    middle C, an octave down where it is above C3, each held until the next (monophonic and
    low, unlike anything POP909 labels, so the fit learns that a steady low line is no
    melody)."""
    onset = np.round(piano.start, 3)
    order = np.lexsort((piano.pitch, onset))
    first = order[np.r_[True, onset[order][1:] != onset[order][:-1]]]  # lowest of each onset
    keep = np.zeros(len(onset), dtype=bool)
    keep[first[piano.pitch[first] < MIDDLE_C]] = True
    bass = piano.subset(keep, instrument=instrument)
    order = np.argsort(bass.start, kind="stable")
    start, pitch = bass.start[order], bass.pitch[order]
    end = np.minimum(bass.end[order], np.r_[start[1:], np.inf])
    return replace(bass, pitch=np.where(pitch > 48, pitch - 12, pitch), start=start, end=end,
                   velocity=bass.velocity[order])


def variants(song: Song, rng: np.random.Generator) -> list[Song]:
    """The song as recorded, then with extra negative tracks: the bridge dropped (half the
    songs), and the piano split into hands and a bass line (the bridge dropped in half)."""
    out = [song]
    bridge = song.role("BRIDGE")
    if bridge is not None and rng.random() < 0.5:
        out.append(_without(song, bridge))
    split = split_piano(song)
    if split is not None:
        drop = bridge is not None and rng.random() < 0.5
        out.append(_without(split, bridge) if drop else split)
    return out


def split_piano(song: Song) -> Song | None:
    """The song with its PIANO replaced by two hands and a bass line (None: no piano)."""
    piano = song.role("PIANO")
    if piano is None:
        return None
    made = hands(piano, max(song.roles) + 1)
    rest = _without(song, piano)
    return Song(rest.tracks + made, song.qpm, {**rest.roles, **{t.instrument: "" for t in made}})


def _without(song: Song, track: Track) -> Song:
    return Song([t for t in song.tracks if t is not track], song.qpm,
                {i: r for i, r in song.roles.items() if i != track.instrument})


def design(songs: list[Song]) -> tuple[np.ndarray, np.ndarray]:
    """([row, FEATURES], [row] 1 for the melody) over every track of every song."""
    x = np.concatenate([song_features(s.tracks, s.qpm) for s in songs])
    y = np.concatenate([[float(s.roles[t.instrument] == LABEL) for t in s.tracks] for s in songs])
    return x, y


def fit(x: np.ndarray, y: np.ndarray, l2: float = L2, iterations: int = 100
        ) -> MelodyTrackClassifier:
    """Logistic regression on the standardised features that vary, names left out."""
    used = [k for k, name in enumerate(FEATURES)
            if name not in NAME_CUES and x[:, k].std() > 1e-9]
    mean, scale = x[:, used].mean(axis=0), x[:, used].std(axis=0)
    a = np.c_[(x[:, used] - mean) / scale, np.ones(len(x))]
    penalty = np.r_[np.full(len(used), l2), 0.0]  # the bias is not shrunk
    w = np.zeros(a.shape[1])
    for _ in range(iterations):  # Newton: a handful of steps to converge
        p = 1.0 / (1.0 + np.exp(-(a @ w)))
        gradient = a.T @ (p - y) + penalty * w
        hessian = (a * (p * (1 - p))[:, None]).T @ a + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-9:
            break
    return MelodyTrackClassifier(tuple(FEATURES[k] for k in used), mean, scale, w[:-1],
                                 float(w[-1]), MIN_PROBABILITY, TIE_LOGIT)


def accuracy(classifier: MelodyTrackClassifier, songs: list[Song]) -> dict:
    """Share of songs whose chosen track (the classifier's, the skyline where it abstains) is
    the MELODY, beside the skyline's share and how often the classifier abstained."""
    chosen = [classifier.choose(s.tracks, s.qpm) for s in songs]
    hits = [c if c is not None else skyline(s.tracks) for c, s in zip(chosen, songs)]
    n = max(len(songs), 1)
    return {"songs": len(songs),
            "classifier": round(sum(h == s.melody for h, s in zip(hits, songs)) / n, 4),
            "skyline": round(sum(skyline(s.tracks) == s.melody for s in songs) / n, 4),
            "abstained": sum(c is None for c in chosen)}


def train(corpus: Path, output: Path, seed: int = 0) -> MelodyTrackClassifier:
    """Fit on the train split, score on valid and test; write output/classifier.json and
    output/MODEL_CARD.md (which records this process's command line)."""
    import shlex
    import sys

    from training.trainer import TrainingError

    songs, skipped = read_songs(corpus, "train")
    if not songs:
        raise TrainingError(f"{corpus}: no train song with a {LABEL} track and another to "
                            "learn from (build the corpus from pop909:DIR)")
    rng = np.random.default_rng(seed)
    rows = [v for s in songs for v in variants(s, rng)]
    x, y = design(rows)
    classifier = fit(x, y)
    held_out = {"train (fitted on)": accuracy(classifier, songs)}
    for split in ("valid", "test"):
        kept, _ = read_songs(corpus, split)
        held_out[split] = accuracy(classifier, kept)
        held_out[f"{split}, piano split into hands and a bass line"] = accuracy(
            classifier, [v for v in map(split_piano, kept) if v is not None])
    command = "composer " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    classifier = replace(classifier, training={
        "command": command, "corpus": str(corpus), "songs": len(songs), "skipped": skipped,
        "rows": len(y), "melody_rows": int(y.sum()), "l2": L2, "seed": seed,
        "accuracy": held_out})
    output.mkdir(parents=True, exist_ok=True)
    atomic_write_text(output / "classifier.json",
                      json.dumps(classifier.to_dict(), indent=1) + "\n")
    shipped = MelodyTrackClassifier.load(output / "classifier.json")  # the rounded numbers
    atomic_write_text(output / "MODEL_CARD.md", model_card(shipped))
    return shipped


def model_card(classifier: MelodyTrackClassifier) -> str:
    t = classifier.training or {}
    left_out = [n for n in FEATURES if n not in classifier.features]
    lines = [
        "# Model card: melody-track", "",
        "Which track of a song is its melody: a logistic regression over statistics of each "
        "pitched track (`models/melody_track`, NumPy). The track with the highest probability "
        "is the melody; tracks within "
        f"{classifier.tie_logit:g} of its log-odds tie, and the highest of them wins (each "
        "track is judged alone, so a chorale's soprano and alto look alike); when no track "
        f"reaches {classifier.min_probability:g} the caller falls back to its skyline (the "
        "highest line). Drums are never the melody; a lone pitched track always is. Fitted by "
        "`training/melody_track.py`.", "",
        "## How it was made", "", f"    {t.get('command', '(command not recorded)')}", "",
        f"- Data: corpus `{t.get('corpus')}`, train split: {t.get('songs', 0):,} songs "
        f"({t.get('skipped', 0)} skipped: no single MELODY track beside another), "
        f"{t.get('rows', 0):,} track rows of which {t.get('melody_rows', 0):,} melodies.",
        "- Labels: POP909's MELODY track against the rest (BRIDGE, PIANO). The names are the "
        "labels, so they are blanked before any feature is computed and the name cues carry "
        "no weight: the accuracy below is the classifier's, not a name lookup.",
        "- Extra negatives: each train song also appears without its bridge (half of them) and "
        "with its piano split at middle C into a left and a right hand plus a bass line (the "
        "lowest note of each onset under middle C, an octave down above C3, held to the next "
        "onset), so a piano's right hand or a bass is not taken for the "
        "melody in files with more tracks than POP909's three.",
        f"- Fit: standardised features, L2 {t.get('l2')} on the weights, Newton's method.", "",
        "## Held-out accuracy", "",
        "Share of songs whose chosen track is the MELODY (names blanked). Skyline: the track "
        "with the highest mean pitch. Abstained: songs where no track reached "
        f"{classifier.min_probability:g} and the skyline chose. Held out: valid and test, "
        "102 songs in all, few enough that one miss moves a row by 2 points. Three features "
        "(`louder`, `entry`, `low`) were added after looking at the valid split's misses, with "
        "the test split printed beside it, so read the test row as a check, not a blind "
        "score.", "",
        "| split | songs | classifier | skyline | abstained |", "|---|---:|---:|---:|---:|"]
    for name, row in (t.get("accuracy") or {}).items():
        lines.append(f"| {name} | {row['songs']} | {row['classifier']:.3f} | "
                     f"{row['skyline']:.3f} | {row['abstained']} |")
    lines += ["", "## Features and weights", "",
              "Weights are on standardised features (the mean and scale below): a positive "
              "weight makes a track more likely the melody.", "",
              "| feature | mean | scale | weight |", "|---|---:|---:|---:|"]
    order = np.argsort(-np.abs(classifier.weights))
    for k in order:
        lines.append(f"| {classifier.features[k]} | {classifier.mean[k]:.3f} | "
                     f"{classifier.scale[k]:.3f} | {classifier.weights[k]:+.3f} |")
    lines += [f"| (bias) | | | {classifier.bias:+.3f} |", "",
              "Not in the fit: " + ", ".join(f"`{n}`" for n in left_out)
              + " (the name cues, since POP909's names are its labels, and any feature that "
              "never varies in the data, like the lead-family program: every POP909 track is "
              "program 0). A corpus with other labels and programs would give them weight."]
    return "\n".join(lines) + "\n"
