"""The melody-track classifier: features, the fit, the shipped classifier and its use.

Songs are made here in POP909's layout (MELODY, BRIDGE, PIANO) with the bridge above the
melody, the arrangement where the skyline picks the wrong track; the real dataset is not needed.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import replace

import factories as f
import numpy as np
import pretty_midi
import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from note_seq import midi_io

from models.melody_track import (FEATURES, MelodyTrackClassifier, melody_instrument, shipped,
                                 skyline, song_features, tracks_of)
from training.melody_track import accuracy, design, fit, song_of, variants

BEAT = 0.6  # seconds at 100 qpm


def feature(matrix: np.ndarray, track: int, name: str) -> float:
    return float(matrix[track, FEATURES.index(name)])


def arrangement(tracks: list[tuple[str, int, list[tuple[int, float, float]]]], *,
                drums: bool = False) -> pretty_midi.PrettyMIDI:
    """(name, program, [(pitch, start beat, end beat)]) tracks at 100 qpm."""
    pm = pretty_midi.PrettyMIDI(initial_tempo=100)
    for name, program, notes in tracks:
        inst = pretty_midi.Instrument(program=program, name=name)
        inst.notes = [pretty_midi.Note(80, p, s * BEAT, e * BEAT) for p, s, e in notes]
        pm.instruments.append(inst)
    if drums:
        kit = pretty_midi.Instrument(program=0, is_drum=True, name="Drums")
        kit.notes = [pretty_midi.Note(100, 36, b * BEAT, (b + 0.5) * BEAT) for b in range(16)]
        pm.instruments.append(kit)
    return pm


def sequence(pm: pretty_midi.PrettyMIDI):
    return midi_io.midi_to_note_sequence(pm)


def pop_song(rng: np.random.Generator, bars: int = 8) -> pretty_midi.PrettyMIDI:
    """A POP909-shaped song: a stepwise, almost unbroken MELODY in the middle; a BRIDGE of
    counter-line above it in every other bar; PIANO chords and a bass note under both."""
    melody, bridge, piano = [], [], []
    pitch = int(rng.integers(62, 70))
    for step in range(bars * 8):  # eighth notes, a few rests
        pitch = int(np.clip(pitch + rng.choice([-2, -1, 0, 1, 2]), 58, 74))
        if rng.random() < 0.85:
            melody.append((pitch, step / 2, step / 2 + 0.45))
    for bar in range(bars):
        if bar % 2:  # a counter-line in every other bar, a dyad on its downbeat
            top = int(rng.integers(79, 86))
            bridge += [(top + k, bar * 4 + k, bar * 4 + k + 0.9) for k in range(4)]
            bridge.append((top - 4, bar * 4, bar * 4 + 0.9))
        root = 48 + int(rng.integers(0, 7))
        piano += [(root + k, bar * 4, bar * 4 + 4) for k in (0, 4, 7)]
        piano.append((root - 12, bar * 4, bar * 4 + 2))
    return arrangement([("MELODY", 0, melody), ("BRIDGE", 0, bridge), ("PIANO", 0, piano)])


def test_track_features_describe_hand_made_tracks():
    lead = [(60 + (b % 5), b, b + 1) for b in range(16)]  # one note a beat, stepwise
    chords = [(45 + k, bar * 4, bar * 4 + 4) for bar in (1, 2) for k in (0, 4, 7)]
    seq = sequence(arrangement([("Lead Vocal", 73, lead), ("Strings Pad", 48, chords)],
                               drums=True))
    song = tracks_of(seq)
    assert [t.name for t in song] == ["Lead Vocal", "Strings Pad"]  # drums are never a track
    x = song_features(song, qpm=100.0)
    assert x.shape == (2, len(FEATURES))
    assert feature(x, 0, "polyphony") == 0.0 and feature(x, 1, "polyphony") == 1.0
    assert feature(x, 0, "density") == pytest.approx(1.0)  # a note a beat
    assert feature(x, 1, "density") == pytest.approx(0.75)  # 3 notes every 4 beats it sounds
    assert feature(x, 0, "duration") == pytest.approx(1.0, abs=0.01)
    assert feature(x, 0, "pitch_mean") == pytest.approx(np.mean([p for p, _, _ in lead]))
    assert (feature(x, 0, "pitch_min"), feature(x, 0, "pitch_max")) == (60, 64)
    assert feature(x, 0, "leap") == pytest.approx(np.mean([1, 1, 1, 1, 4] * 3), abs=0.01)
    assert (feature(x, 0, "pitch_rank"), feature(x, 1, "pitch_rank")) == (1, 2)
    assert feature(x, 0, "coverage") == pytest.approx(1.0)
    assert feature(x, 1, "coverage") == pytest.approx(0.5)  # 8 of the song's 16 beats
    assert (feature(x, 0, "entry"), feature(x, 1, "entry")) == (0.0, pytest.approx(0.25))
    assert (feature(x, 0, "low"), feature(x, 1, "low")) == (0.0, pytest.approx(1 / 3))
    assert feature(x, 0, "louder") == 0.0  # every note at one velocity
    assert feature(x, 0, "lead_program") == 1.0 and feature(x, 1, "lead_program") == 0.0
    assert feature(x, 0, "name_lead") == 1.0 and feature(x, 1, "name_lead") == 0.0
    assert feature(x, 1, "name_pad") == 1.0


def test_fit_finds_the_melody_the_skyline_misses():
    rng = np.random.default_rng(0)
    songs = [song_of(sequence(pop_song(rng))) for _ in range(12)]
    train, held_out = songs[:8], songs[8:]
    assert all(t.name == "" for s in songs for t in s.tracks)  # the labels are not features
    rows = [v for s in train for v in variants(s, rng)]
    assert len(rows) > len(train)  # extra negatives: the bridge dropped, the piano split
    x, y = design(rows)
    assert y.sum() == len(rows)  # one melody each
    classifier = fit(x, y)
    assert not any(name.startswith("name_") for name in classifier.features)
    assert "lead_program" not in classifier.features  # every track is program 0: no signal
    scores = accuracy(classifier, held_out)
    assert scores["classifier"] == 1.0 and scores["skyline"] == 0.0


def test_shipped_classifier_takes_a_mid_range_melody_under_a_high_pad():
    rng = np.random.default_rng(3)
    pitch, melody = 64, []
    for step in range(64):  # 8 bars of a singable eighth-note line around E4
        pitch = int(np.clip(pitch + rng.choice([-2, -1, 1, 2]), 57, 72))
        melody.append((pitch, step / 2, step / 2 + 0.45))
    pad = [(76 + k, bar * 4, bar * 4 + 4) for bar in range(8) for k in (0, 3, 7)]
    bass = [(36 + (bar % 3) * 2, bar * 4 + b, bar * 4 + b + 0.9) for bar in range(8)
            for b in range(4)]
    seq = sequence(arrangement([("", 48, pad), ("", 0, melody), ("", 33, bass)], drums=True))
    song = tracks_of(seq)
    assert skyline(song) == 0  # the pad is the highest line
    assert melody_instrument(seq) == 1


def test_voices_that_look_alike_go_to_the_highest():
    rng = np.random.default_rng(5)
    tune = np.clip(67 + np.cumsum(rng.choice([-2, -1, 1, 2], 32)), 62, 76)
    voices = [(name, 52, [(int(p) - drop, b, b + 0.95) for b, p in enumerate(tune)])
              for name, drop in (("", 0), ("", 4), ("", 9), ("", 19))]  # S, A, T, B in parallel
    seq = sequence(arrangement(voices[1:2] + voices[:1] + voices[2:]))  # the alto comes first
    assert melody_instrument(seq) == 1  # the soprano
    # a classifier that slightly prefers lower lines: within tie_logit the highest still wins
    lower = MelodyTrackClassifier(("pitch_rank",), np.zeros(1), np.ones(1), np.full(1, 0.3),
                                  0.0, 0.1, 1.0)
    assert melody_instrument(seq, lower) == 1
    assert melody_instrument(seq, replace(lower, tie_logit=0.0)) == 3  # no ties: the bass


def test_drums_never_one_pitched_track_always_and_unsure_songs_abstain():
    line = [(60 + b % 3, b, b + 1) for b in range(16)]
    alone = sequence(arrangement([("", 0, line)], drums=True))
    assert melody_instrument(alone) == 0
    assert melody_instrument(sequence(arrangement([], drums=True))) is None
    unsure = MelodyTrackClassifier(**{**shipped().__dict__, "min_probability": 1.0})
    two = sequence(pop_song(np.random.default_rng(1)))
    assert melody_instrument(two) == 0  # the MELODY
    assert melody_instrument(two, unsure) is None  # the caller's skyline decides


def test_interpolate_takes_the_melody_track_not_the_highest_line(tmp_path):
    from composer.generation import read_primer
    from composer.interpolation import lead_melody
    from models.vae.encoding import MelodyEncoding

    path = tmp_path / "song.mid"
    pop_song(np.random.default_rng(2)).write(str(path))
    ids = lead_melody(path, MelodyEncoding())
    pitches = ids[ids >= 2] - 2 + 21
    seq, _, _ = read_primer(path)  # in the key lead_melody saw
    names = {info.instrument: info.name for info in seq.instrument_infos}
    melody = [n.pitch for n in seq.notes if names[n.instrument] == "MELODY"]
    bridge = [n.pitch for n in seq.notes if names[n.instrument] == "BRIDGE"]
    assert len(pitches) >= 3 and min(melody) <= pitches.min() and pitches.max() <= max(melody)
    assert pitches.max() < min(bridge)  # not the bridge above it, which the skyline takes


def test_train_melody_track_cli_on_a_tiny_pop909_corpus(tmp_path):
    rng = np.random.default_rng(4)
    for number in range(1, 13):
        folder = tmp_path / "POP909" / f"{number:03d}"
        folder.mkdir(parents=True)
        pop_song(rng).write(str(folder / f"{number:03d}.mid"))
    corpus, out = tmp_path / "corpus", tmp_path / "melody_track"
    f.run_cli("corpus", "build", f"pop909:{tmp_path}", "-o", corpus, "--split", "50/25/25",
              check=True)
    result = f.run_cli("train", "--model", "melody-track", "--corpus", corpus, "-o", out,
                       check=True)
    assert f"{out}: classifier.json and MODEL_CARD.md" in result.stdout
    data = json.loads((out / "classifier.json").read_text())
    held_out = data["training"]["accuracy"]
    assert data["training"]["songs"] + held_out["valid"]["songs"] + \
        held_out["test"]["songs"] == 12
    test = held_out["test"]
    assert test["songs"] >= 1 and test["classifier"] == 1.0 and test["skyline"] == 0.0
    loaded = MelodyTrackClassifier.load(out / "classifier.json")
    assert loaded.features == tuple(data["features"])
    card = (out / "MODEL_CARD.md").read_text()
    assert f"composer train --model melody-track --corpus {corpus} -o {out}" in card
    assert "## Held-out accuracy" in card


def test_interpolate_track_option_overrides_and_lists_the_tracks(tmp_path):
    from composer.generation import read_primer
    from composer.interpolation import lead_melody
    from models.vae.encoding import MelodyEncoding

    a = tmp_path / "a.mid"
    pop_song(np.random.default_rng(5)).write(str(a))
    seq, _, _ = read_primer(a)  # in the key lead_melody sees
    names = {info.instrument: info.name for info in seq.instrument_infos}
    for track, name in (("bridge", "BRIDGE"), ("1", "MELODY")):
        ids = lead_melody(a, MelodyEncoding(), track)
        pitches = set((ids[ids >= 2] - 2 + 21).tolist())
        assert pitches and pitches <= {n.pitch for n in seq.notes if names[n.instrument] == name}
    out = tmp_path / "walk.mid"
    f.run_cli("interpolate", a, a, "--steps", "2", "--track", "bridge", "-o", out, check=True)
    assert out.exists()
    bad = f.run_cli("interpolate", a, a, "--track", "vocals", "-o", tmp_path / "x.mid")
    assert bad.returncode != 0
    assert f.lines(bad.stderr) == [f"error: {a}: no single track 'vocals'; its pitched tracks: "
                                   "1 MELODY, 2 BRIDGE, 3 PIANO"]
