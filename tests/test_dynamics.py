"""Dynamics: fitting recovers what was planted, apply() is a pure function of its rng, and the
shipped generators write accented, varying velocities instead of one.

The fitting corpus is made here: POP909-shaped songs (MELODY, BRIDGE and PIANO tracks, a
beat_midi.txt whose beats drift away from the MIDI tempo, a pickup beat) with velocities drawn
from a known model; the real dataset is not needed.
"""

from __future__ import annotations

import json

import factories as f
import numpy as np
import pretty_midi
import pytest
from note_seq.protobuf import music_pb2

from models.dynamics import POSITIONS, Dynamics, Level, Performer, shipped, top_line
from training.dynamics import Piece, fit

LEAD_ACCENT = np.array([12, -6, -2, -6, 4, -6, -2, -6, 8, -6, -2, -6, 4, -6, -2, -6], float)
ACC_ACCENT = np.array([6, -3, 0, -3, -6, -3, 3, -3, 6, -3, 0, -3, -6, -3, 3, -3], float)
PLANTED = {"level": (100.0, 70.0), "noise": 3.0, "song": 6.0, "phi": 0.8, "drift": 5.0}


def planted_velocity(rng, lead: bool, position: int, level: float) -> int:
    accent = (LEAD_ACCENT if lead else ACC_ACCENT)[position]
    base = PLANTED["level"][0 if lead else 1]
    return int(np.clip(round(base + accent + level + rng.normal(0, PLANTED["noise"])), 1, 127))


def drifts(rng, bars: int) -> np.ndarray:
    """A song's offset plus an AR(1) drift, one value a bar, as models/dynamics defines it."""
    phi, std = PLANTED["phi"], PLANTED["drift"]
    d, out = rng.normal(0, std), []
    for _ in range(bars):
        d = phi * d + np.sqrt(1 - phi ** 2) * std * rng.normal()
        out.append(d)
    return rng.normal(0, PLANTED["song"]) + np.array(out)


def pop909_song(folder, number: int, rng, bars: int = 16) -> None:
    """folder/NNN/NNN.mid with beat_midi.txt: one pickup beat, then `bars` 4/4 bars whose
    beats slow down (the MIDI file says 100 qpm throughout, so only the annotations place the
    notes on their sixteenths)."""
    beats = 1 + bars * 4 + 1
    times = np.array([0.6 * k + 0.004 * k * k for k in range(beats)])

    def at(beat: float) -> float:
        return float(np.interp(beat, np.arange(beats), times))

    pm = pretty_midi.PrettyMIDI(initial_tempo=100)
    tracks = {name: pretty_midi.Instrument(program=0, name=name)
              for name in ("MELODY", "BRIDGE", "PIANO")}
    level = drifts(rng, bars)
    for bar in range(bars):
        for pos in range(POSITIONS):
            beat = 1 + bar * 4 + pos / 4  # beat 0 is the pickup
            if rng.random() < 0.8:
                tracks["MELODY"].notes.append(pretty_midi.Note(
                    planted_velocity(rng, True, pos, level[bar]), int(rng.integers(70, 84)),
                    at(beat), at(beat + 0.25)))
            if rng.random() < 0.5:
                name = "PIANO" if pos % 2 == 0 else "BRIDGE"
                tracks[name].notes.append(pretty_midi.Note(
                    planted_velocity(rng, False, pos, level[bar]), int(rng.integers(48, 60)),
                    at(beat), at(beat + 0.5)))
    pm.instruments.extend(tracks.values())
    song = folder / f"{number:03d}"
    song.mkdir(parents=True)
    pm.write(str(song / f"{number:03d}.mid"))
    (song / "beat_midi.txt").write_text("".join(
        f"{t:.4f} {1.0 if (k - 1) % 2 == 0 else 0.0} {1.0 if (k - 1) % 4 == 0 else 0.0}\n"
        for k, t in enumerate(times)))


def test_train_dynamics_recovers_a_planted_accent_pattern(tmp_path):
    rng = np.random.default_rng(0)
    for number in range(1, 9):
        pop909_song(tmp_path / "POP909", number, rng)
    corpus, out = tmp_path / "corpus", tmp_path / "dynamics"
    f.run_cli("corpus", "build", f"pop909:{tmp_path}", "-o", corpus, "--split", "100/0/0",
              check=True)
    result = f.run_cli("train", "--model", "dynamics", "--corpus", corpus, "-o", out, check=True)
    assert f"{out}: dynamics.json and MODEL_CARD.md" in result.stdout
    data = json.loads((out / "dynamics.json").read_text())
    assert data["training"]["pieces"] == 8 and data["training"]["skipped"] == 0
    lead, acc = data["roles"]["lead"], data["roles"]["accompaniment"]
    # the fit centres accents on the notes' own positions: compare patterns centred the same way
    np.testing.assert_allclose(np.array(lead["accent"]) - np.mean(lead["accent"]),
                               LEAD_ACCENT - LEAD_ACCENT.mean(), atol=1.5)
    np.testing.assert_allclose(np.array(acc["accent"]) - np.mean(acc["accent"]),
                               ACC_ACCENT - ACC_ACCENT.mean(), atol=2.0)
    assert lead["level"] - acc["level"] == pytest.approx(30, abs=3)
    assert lead["noise"] == pytest.approx(PLANTED["noise"], rel=0.25)
    card = (out / "MODEL_CARD.md").read_text()
    assert f"composer train --model dynamics --corpus {corpus} -o {out}" in card
    assert "## Data vs model" in card


def test_fit_recovers_the_song_offset_and_the_drift():
    """Many pieces in memory (no corpus, no TensorFlow): the AR(1) and the song spread."""
    rng = np.random.default_rng(1)
    pieces = []
    for _ in range(150):
        bars = 48
        level = drifts(rng, bars)
        bar = np.repeat(np.arange(bars), POSITIONS)
        position = np.tile(np.arange(POSITIONS), bars)
        lead = rng.random(len(bar)) < 0.3
        v = np.array([planted_velocity(rng, bool(le), p, level[b])
                      for le, p, b in zip(lead, position, bar)], float)
        pieces.append(Piece(v, lead, position, bar))
    dynamics = fit(pieces)
    assert dynamics.drift_phi == pytest.approx(PLANTED["phi"], abs=0.06)
    assert dynamics.drift_std == pytest.approx(PLANTED["drift"], rel=0.15)
    assert dynamics.song_std == pytest.approx(PLANTED["song"], rel=0.2)
    np.testing.assert_allclose(dynamics.noise, PLANTED["noise"], rtol=0.1)
    np.testing.assert_allclose(dynamics.accent[0], LEAD_ACCENT - LEAD_ACCENT.mean(), atol=0.6)


def melody_and_chords(bars: int = 4) -> music_pb2.NoteSequence:
    """A melody on eighths over a chord a beat, at 120 qpm."""
    seq = music_pb2.NoteSequence()
    for k in range(bars * 8):
        seq.notes.add(pitch=72 + k % 5, start_time=k * 0.25, end_time=(k + 1) * 0.25,
                      velocity=100, instrument=0)
    for k in range(bars * 4):
        for pitch in (48, 52, 55):
            seq.notes.add(pitch=pitch, start_time=k * 0.5, end_time=(k + 1) * 0.5,
                          velocity=100, instrument=1)
    seq.notes.add(pitch=36, start_time=0, end_time=0.1, velocity=100, is_drum=True)
    seq.total_time = bars * 2.0
    return seq


def velocities(seq) -> list[int]:
    return [n.velocity for n in seq.notes]


def test_apply_is_a_function_of_the_rng_and_stays_in_midi_range():
    made = {}
    for seed in (1, 1, 2):
        seq = melody_and_chords()
        shipped().apply(seq, 120, np.random.default_rng(seed))
        made.setdefault(seed, []).append(velocities(seq))
    assert made[1][0] == made[1][1] and made[1][0] != made[2][0]
    assert len(set(made[1][0][:-1])) > 5  # pitched notes vary
    assert made[1][0][-1] == 100  # the drum is not touched
    loud = Dynamics(**{**shipped().__dict__, "level": np.array([140.0, -20.0]),
                       "noise": np.array([40.0, 40.0])})
    seq = melody_and_chords(16)
    loud.apply(seq, 120, np.random.default_rng(0))
    got = velocities(seq)[:-1]
    assert min(got) == 1 and max(got) == 127 and all(1 <= v <= 127 for v in got)
    silent = music_pb2.NoteSequence(total_time=8.0)  # a phrase of rests still moves the drift
    assert shipped().apply(silent, 120, np.random.default_rng(0)).drift != 0


def test_apply_puts_accents_on_the_grid_and_the_lead_on_top():
    """No noise, song or drift: each note gets exactly its role's level and position accent,
    at any tempo; the top line is the lead unless the lead instruments are named."""
    accent = np.stack([np.arange(POSITIONS, dtype=float), -np.arange(POSITIONS, dtype=float)])
    exact = Dynamics(level=np.array([90.0, 60.0]), accent=accent, noise=np.zeros(2),
                     song_std=0.0, drift_phi=0.0, drift_std=0.0)
    seq = melody_and_chords(2)
    for note in seq.notes:
        note.start_time, note.end_time = note.start_time * 1.5, note.end_time * 1.5  # 80 qpm
    seq.total_time *= 1.5
    assert exact.apply(seq, 80, np.random.default_rng(0)) == Level(0.0, 0.0)
    assert_exact(seq, lead=0)
    exact.apply(seq, 80, np.random.default_rng(0), lead_instruments={1})
    assert_exact(seq, lead=1)


def assert_exact(seq, lead: int) -> None:
    for note in seq.notes[:-1]:  # the last is the drum
        position = round(note.start_time / (60 / 80 / 4)) % POSITIONS
        want = 90 + position if note.instrument == lead else 60 - position
        assert note.velocity == want, (note.instrument, note.pitch, note.start_time)


def test_top_line_is_what_sounds_highest_as_a_note_starts():
    seq = music_pb2.NoteSequence()
    seq.notes.add(pitch=72, start_time=0, end_time=2)  # held over the next chord
    seq.notes.add(pitch=60, start_time=0, end_time=1)
    seq.notes.add(pitch=64, start_time=1, end_time=2)  # under the held note: accompaniment
    seq.notes.add(pitch=62, start_time=2, end_time=3)  # alone: the lead
    assert top_line(seq.notes).tolist() == [True, False, False, True]


def test_a_performer_carries_its_level_from_phrase_to_phrase():
    first, again = Performer(seed=4), Performer(seed=4)
    for performer in (first, again):
        for _ in range(3):
            performer.apply(melody_and_chords(), 120)
    assert first.level == again.level and first.level is not None
    assert Performer(seed=5).rng.random() != Performer(seed=4).rng.random()


def test_train_dynamics_needs_a_corpus(tmp_path):
    result = f.run_cli("train", "--model", "dynamics", "--corpus", tmp_path, "-o", tmp_path / "d")
    assert result.returncode == 1 and "not a corpus folder" in result.stderr


@pytest.mark.parametrize("model, bars", [("vae-2bar", 256), ("lstm", 1024), ("gan", 64)])
def test_generated_music_has_accents_and_a_varying_level(model, bars, tmp_path):
    """Enough bars that the data's small accents (a few velocity units against a per-note
    spread of about 11) show through: downbeats louder than the notes between the beats."""
    out = tmp_path / f"{model}.mid"
    f.run_cli("generate", "--model", model, "--bars", bars, "--seed", 3, "-o", out, check=True)
    pm = pretty_midi.PrettyMIDI(str(out))
    notes = [n for i in pm.instruments if not i.is_drum for n in i.notes]
    v = np.array([n.velocity for n in notes])
    position = np.array([round(n.start / 0.125) for n in notes]) % POSITIONS  # 120 qpm
    assert len(set(v.tolist())) > 10 and v.min() >= 1 and v.max() <= 127
    assert 60 < v.mean() < 105  # POP909's levels: melody about 96, accompaniment 83
    assert v[position == 0].mean() > v[position % 4 != 0].mean()
    bar = np.array([n.start // 2 for n in notes], dtype=int)
    bar_means = [v[bar == b].mean() for b in np.unique(bar)]
    assert np.std(bar_means) > 2  # the level moves from bar to bar


def test_hybrid_velocities_vary(tmp_path):
    out = tmp_path / "hybrid.mid"
    f.run_cli("generate", "--model", "hybrid", "--bars", 8, "--seed", 3, "-o", out, check=True)
    notes = [n for i in pretty_midi.PrettyMIDI(str(out)).instruments for n in i.notes]
    assert len({n.velocity for n in notes}) > 5
