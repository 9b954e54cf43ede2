"""The lead model and `composer melody`: a melody over a backing track's chords.

Chords, encoding and runtime are checked exactly; a tiny model is trained by `composer train
--model lead` on POP909-shaped songs made here; the shipped model (models/lead, trained on
POP909) is heard as a user would: over a MIDI progression and over that progression rendered
to audio, its notes on strong beats mostly in the chord of the moment.
"""

from __future__ import annotations


import factories as f
import numpy as np
import pretty_midi
import pytest
import soundfile
from test_pop import pop_corpus, pop_songs  # noqa: F401 - fixtures

from models.lead.chords import CHORDS, Chord, chord_table, parse_chord, shift_table
from models.lead.encoding import FIRST_NOTE, HOLD, REST, STEPS_PER_BAR, LeadEncoding
from training.lead_metrics import statistics

PROGRESSION = ((7, "maj"), (2, "maj"), (4, "min"), (0, "maj"))  # G D Em C


def backing_midi(path, qpm: float = 100.0, repeats: int = 2, drums: bool = True):
    """A band without a melody: block chords, a bass on the root, and a drum kit."""
    pm = pretty_midi.PrettyMIDI(initial_tempo=qpm)
    piano = pretty_midi.Instrument(program=0, name="Piano")
    bass = pretty_midi.Instrument(program=33, name="Bass")
    kit = pretty_midi.Instrument(program=0, is_drum=True, name="Drums")
    beat = 60.0 / qpm
    for bar, (root, quality) in enumerate(PROGRESSION * repeats):
        start = bar * 4 * beat
        for interval in (0, 4 if quality == "maj" else 3, 7):
            for half in (0, 2):
                piano.notes.append(pretty_midi.Note(70, 60 + (root + interval) % 12,
                                                    start + half * beat, start + (half + 2) * beat))
        bass.notes.append(pretty_midi.Note(85, 36 + root, start, start + 4 * beat))
        for b in range(4):
            kit.notes.append(pretty_midi.Note(90, 36 if b % 2 == 0 else 38, start + b * beat,
                                              start + b * beat + 0.1))
    pm.instruments.extend([piano, bass] + ([kit] if drums else []))
    pm.write(str(path))
    return path


def test_chord_labels_ids_and_features():
    assert parse_chord("Db:maj7/3") == Chord(1, "maj7")
    assert parse_chord("N") == Chord(None) and parse_chord("A:min").pitch_classes == {9, 0, 4}
    assert parse_chord("F#:min9") == Chord(6, "min")  # unknown quality: by its third
    assert [parse_chord(c).symbol for c in ("G:maj", "E:min", "C:maj7", "D:7", "B:hdim7", "N")] \
        == ["G", "Em", "Cmaj7", "D7", "Bm7b5", "N.C."]
    assert all(Chord.from_id(i).id == i for i in range(CHORDS))
    table = chord_table()
    assert table.shape == (CHORDS, 25) and table[Chord(None).id, 24] == 1
    assert shift_table()[3, Chord(9, "min").id] == Chord(0, "min").id
    with pytest.raises(ValueError, match="not a chord"):
        parse_chord("H:maj")


def test_events_keep_a_monophonic_line():
    encoding = LeadEncoding()
    onsets, ends = np.array([0, 4, 6, 12]), np.array([3, 6, 10, 16])
    events = encoding.events_of(onsets, ends, [60, 62, 64, 65], 16)
    assert [encoding.pitch(e) for e in events if e >= FIRST_NOTE] == [60, 62, 64, 65]
    assert events[3] == REST and events[10] == REST and events[5] == HOLD
    assert encoding.note(30) == encoding.note(54)  # folded by octaves into range


def test_encoding_follows_the_songs_chords_and_melody(pop_corpus):  # noqa: F811
    from training.datasets import encode_split

    encoding = LeadEncoding()
    split = encode_split(pop_corpus, "train", encoding, workers=1)
    assert split.pieces >= 3
    for i in range(split.pieces):
        stream = split.piece(i).astype(np.int64)
        conditions, events = stream[0::2], stream[1::2]
        assert len(events) == 4 * STEPS_PER_BAR  # the songs' four bars
        assert (conditions % STEPS_PER_BAR == np.arange(len(events)) % STEPS_PER_BAR).all()
        chords = [Chord.from_id(c) for c in conditions[::STEPS_PER_BAR] // STEPS_PER_BAR]
        tonic = chords[0].root
        assert [(c.root - tonic) % 12 for c in chords] == [0, 5, 7, 0]  # I IV V7 I
        assert [c.quality for c in chords] == ["maj", "maj", "7", "maj"]
        notes = np.flatnonzero(events >= FIRST_NOTE)
        assert list(notes) == list(range(0, 64, 4))  # a note on every beat
        assert encoding.pitch(events[0]) % 12 == tonic  # the melody starts on the tonic
        shifted = encoding.shift(split.piece(i), 2)
        assert Chord.from_id(shifted[0] // STEPS_PER_BAR).root == (tonic + 2) % 12


def test_numpy_runtime_matches_keras():
    from models.lead.network import LeadConfig, build_model
    from models.lead.runtime import LeadRuntime
    from models.lstm.network import weights_of

    encoding = LeadEncoding()
    model = build_model(LeadConfig(encoding.events, embedding=8, units=16, layers=2,
                                   dropout=0.0))
    rng = np.random.default_rng(0)
    events = rng.integers(0, encoding.events, size=(2, 20)).astype(np.int32)
    conditions = rng.integers(0, encoding.conditions, size=(2, 20)).astype(np.int32)
    expected = np.asarray(model({"events": events, "conditions": conditions}))
    runtime = LeadRuntime(weights_of(model))
    state = runtime.initial_state(2)
    got = np.stack([runtime.step_conditioned(events[:, t], conditions[:, t], state)
                    for t in range(20)], axis=1)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_statistics_of_a_known_line():
    encoding = LeadEncoding()
    c_major = Chord(0, "maj").id * STEPS_PER_BAR
    conditions = c_major + np.arange(STEPS_PER_BAR)
    events = np.full(STEPS_PER_BAR, HOLD)
    events[[0, 4, 8, 10]] = [encoding.note(p) for p in (60, 62, 67, 65)]  # C, D, G, F
    events[12] = REST
    stats = statistics(events, conditions, encoding)
    assert stats["chord_tones"] == 1.0  # C on beat 1, G on beat 3
    assert stats["chord_tones_all"] == 0.5 and stats["on_beat"] == 0.75
    assert stats["notes_per_bar"] == 4 and stats["rest_share"] == 0.25


def test_sampled_history_reads_the_models_own_guess_for_each_next_event():
    import tensorflow as tf

    from training.lead import sampled_history

    events = tf.constant([[5, 6, 7, 8], [9, 10, 11, 12]], dtype=tf.int32)
    guesses = np.array([[20, 21, 22, 23], [30, 31, 32, 33]])
    logits = tf.constant(np.where(np.arange(40) == guesses[..., None], 50.0, -50.0),
                         dtype=tf.float32)  # certain of one event per step
    assert sampled_history(events, logits, 0.0).numpy().tolist() == events.numpy().tolist()
    assert sampled_history(events, logits, 1.0).numpy().tolist() == [[5, 20, 21, 22],
                                                                      [9, 30, 31, 32]]
    tf.random.set_seed(0)
    mixed = sampled_history(tf.tile(events, [500, 1]), tf.tile(logits, [500, 1, 1]), 0.25)
    replaced = (mixed.numpy()[:, 1:] >= 20).mean()
    assert 0.2 < replaced < 0.3


@pytest.fixture(scope="module")
def trained(tmp_path_factory, pop_corpus):  # noqa: F811
    out = tmp_path_factory.mktemp("lead-model") / "lead"
    f.run_cli("train", "--model", "lead", "--corpus", pop_corpus, "-o", out, "--steps", "20",
              "--checkpoint-every", "10", "--batch", "4", "--seq-len", "32", "--seed", "1",
              check=True)
    return out


def test_training_writes_a_checkpoint_the_command_uses(trained, tmp_path):
    import json

    info = json.loads((trained / "model.json").read_text())
    assert info["model"] == "lead" and info["training"]["train_songs"] >= 3
    assert info["sampled_history"] == 0.5
    band = backing_midi(tmp_path / "band.mid")
    result = f.run_cli("melody", band, "-o", tmp_path / "lead.mid", "--checkpoint", trained,
                       "--bars", "4", "--seed", "3", "--program", "73")
    assert result.returncode == 0, result.stderr
    lead = pretty_midi.PrettyMIDI(str(tmp_path / "lead.mid"))
    notes = [n for i in lead.instruments for n in i.notes]
    assert notes and all(i.program == 73 for i in lead.instruments)
    assert max(n.end for n in notes) <= 4 * 2.4 + 1e-3  # four bars at 100 qpm
    assert lead.get_tempo_changes()[1].tolist() == [100.0]  # the backing's tempo map
    assert "4 bars over band.mid" in f.lines(result.stdout)[-1]


def test_onset_bias_decides_where_notes_start():
    from models.checkpoint import default_dir, load_checkpoint
    from models.lead.runtime import LeadRuntime

    _, weights = load_checkpoint(default_dir("lead"))
    runtime = LeadRuntime(weights)
    conditions = np.array([Chord(root, quality).id * STEPS_PER_BAR + step
                           for root, quality in PROGRESSION * 4 for step in range(STEPS_PER_BAR)])
    between_eighths = conditions % 2 == 1

    def draw(bias):
        return runtime.sample(conditions, temperature=0.7, rng=np.random.default_rng(0),
                              onset_bias=bias)

    plain = draw(None)
    assert np.array_equal(plain, draw(np.zeros(STEPS_PER_BAR)))
    assert (plain[between_eighths] >= FIRST_NOTE).any()  # left alone it syncopates some
    steered = draw(np.where(np.arange(STEPS_PER_BAR) % 2, -20.0, 0.0))
    assert not (steered[between_eighths] >= FIRST_NOTE).any()
    assert (steered >= FIRST_NOTE).sum() >= 16


def test_no_note_is_held_past_two_bars():
    """With onsets all but forbidden, a line's notes would be held for ever; the cap ends
    each at 2 bars (the rest cap then starts the next), as POP909's melodies do."""
    from models.checkpoint import default_dir, load_checkpoint
    from models.lead.runtime import LeadRuntime

    _, weights = load_checkpoint(default_dir("lead"))
    runtime = LeadRuntime(weights)
    conditions = np.array([Chord(root, quality).id * STEPS_PER_BAR + step
                           for root, quality in PROGRESSION * 4 for step in range(STEPS_PER_BAR)])

    def longest_note(**caps):
        events = runtime.sample(conditions, temperature=0.7, rng=np.random.default_rng(0),
                                onset_bias=np.full(STEPS_PER_BAR, -20.0), **caps)
        longest, run = 0, 0
        for event in events.tolist():
            run = 1 if event >= FIRST_NOTE else run + 1 if event == HOLD and run else 0
            longest = max(longest, run)
        return longest

    assert longest_note(max_hold_steps=10**6) > 2 * STEPS_PER_BAR  # uncapped: held on
    assert 0 < longest_note() <= 2 * STEPS_PER_BAR


def test_onset_calibration_writes_the_bias_composer_melody_uses(pop_corpus, tmp_path):  # noqa: F811
    import json
    import shutil
    import subprocess
    import sys

    from models.checkpoint import default_dir

    lead = tmp_path / "lead"
    shutil.copytree(default_dir("lead"), lead)
    command = [sys.executable, "-m", "training.lead_calibration", str(lead), "--corpus",
               str(pop_corpus), "--split", "train", "--bars", "4", "--iterations", "2",
               "--seeds", "1"]
    done = subprocess.run(command, capture_output=True, text=True, cwd=f.ROOT)
    assert done.returncode == 0, done.stderr
    info = json.loads((lead / "model.json").read_text())
    assert len(info["onset_bias"]) == STEPS_PER_BAR and np.isfinite(info["onset_bias"]).all()
    assert info["onset_bias_fit"]["songs"] >= 3 and len(info["onset_bias_fit"]["iterations"]) == 2
    # a bias that forbids notes between eighths: `composer melody` follows it
    info["onset_bias"] = [-20.0 if step % 2 else 0.0 for step in range(STEPS_PER_BAR)]
    (lead / "model.json").write_text(json.dumps(info))
    band = backing_midi(tmp_path / "band.mid")
    out = tmp_path / "lead.mid"
    f.run_cli("melody", band, "-o", out, "--checkpoint", lead, "--seed", "2", check=True)
    sixteenth = 60.0 / 100 / 4
    starts = [n.start / sixteenth for n in pretty_midi.PrettyMIDI(str(out)).instruments[0].notes]
    assert starts and all(round(s) % 2 == 0 for s in starts)

    too_long = subprocess.run(command[:-6] + ["--bars", "64"], capture_output=True, text=True,
                              cwd=f.ROOT)
    assert too_long.returncode == 1 and "no 64-bar songs" in too_long.stderr
    assert "Traceback" not in too_long.stderr


def test_shipped_lead_plays_chord_tones_over_a_midi_backing(tmp_path):
    band = backing_midi(tmp_path / "band.mid", repeats=4)
    tones, counted = 0, 0
    for seed in range(3):
        out = tmp_path / f"lead{seed}.mid"
        result = f.run_cli("melody", band, "-o", out, "--seed", str(seed))
        assert result.returncode == 0, result.stderr
        line = f.lines(result.stdout)[-1]
        assert "16 bars" in line and "G major" in line and "G D Em C" in line
        lead = pretty_midi.PrettyMIDI(str(out))
        beat = 0.6
        for note in lead.instruments[0].notes:
            position = note.start / beat
            if abs(position - round(position)) < 0.05 and round(position) % 2 == 0:
                root, quality = PROGRESSION[int(position // 4) % 4]
                chord = {(root + i) % 12 for i in (0, 4 if quality == "maj" else 3, 7)}
                tones += note.pitch % 12 in chord
                counted += 1
        assert lead.instruments[0].program == 53
    assert counted >= 20
    assert tones / counted >= 0.6  # POP909's melodies: 0.79; a line blind to chords: ~0.3


def test_shipped_lead_over_audio_writes_a_loudness_matched_mix(tmp_path):
    from composer.render import integrated_loudness, render_file

    band = backing_midi(tmp_path / "band.mid", repeats=2)
    clip = render_file(band)
    soundfile.write(tmp_path / "band.wav", clip.audio, clip.sample_rate)
    result = f.run_cli("melody", tmp_path / "band.wav", "-o", tmp_path / "lead.mid",
                       "--mix", tmp_path / "mix.wav", "--seed", "1")
    assert result.returncode == 0, result.stderr
    assert "audio" in f.lines(result.stdout)[-1]
    mix, rate = soundfile.read(tmp_path / "mix.wav", dtype="float32")
    assert rate == 44100 and abs(len(mix) / rate - len(clip.audio) / clip.sample_rate) < 1.0
    assert abs(integrated_loudness(mix, rate) + 16.0) < 1.0
    lead = pretty_midi.PrettyMIDI(str(tmp_path / "lead.mid"))
    onsets = np.array([n.start for n in lead.instruments[0].notes])
    assert len(onsets) >= 8
    sixteenth = 0.15
    off_grid = np.abs(onsets / sixteenth - np.round(onsets / sixteenth)) * sixteenth
    assert np.median(off_grid) < 0.06  # on the backing's own beat grid, as tracked


@pytest.mark.parametrize("args, words", [
    (["-o", "{tmp}/lead.wav"], "-o writes the melody as MIDI"),
    (["-o", "{tmp}/lead.mid", "--program", "200"], "0..127"),
    (["-o", "{tmp}/lead.mid", "--bars", "0"], "--bars 0"),
    (["-o", "{tmp}/lead.mid", "--start-bar", "99"], "--start-bar 99"),
    (["-o", "{tmp}/lead.mid", "--bars", "9"], "has 4 bars from bar 1 on"),
    (["-o", "{tmp}/lead.mid", "--mix", "{tmp}/mix.mp4"], "mix.mp4"),
])
def test_bad_requests_get_one_line(tmp_path, args, words):
    band = backing_midi(tmp_path / "band.mid", repeats=1)
    result = f.run_cli("melody", band, *[a.format(tmp=tmp_path) for a in args])
    assert result.returncode != 0
    assert words in result.stderr and len(f.lines(result.stderr)) == 1, result.stderr
    assert not (tmp_path / "lead.mid").exists()


def test_step_grid_follows_irregular_bar_lines():
    """A song that inserts a two-beat bar: that bar has eight sixteenths and the next starts
    on its own downbeat, so the melody's bars stay on the backing's."""
    from composer.melody import seconds_of, step_grid

    grid = step_grid(np.array([0, 4, 6, 10]), 0, 4)
    assert len(grid.positions) == 16 + 8 + 16 + 16
    assert list(np.flatnonzero(grid.positions == 0)) == [0, 16, 24, 40]
    assert grid.beats[24] == 6 and grid.beats[-1] == 14
    conditions = grid.conditions([Chord(7, "maj")] * 6 + [Chord(0, "maj")] * 4)
    assert Chord.from_id(conditions[23] // STEPS_PER_BAR) == Chord(7, "maj")
    assert Chord.from_id(conditions[24] // STEPS_PER_BAR) == Chord(0, "maj")
    assert Chord.from_id(conditions[-1] // STEPS_PER_BAR) == Chord(0, "maj")  # past the end
    beats = np.arange(10) * 0.5
    np.testing.assert_allclose(seconds_of(beats, np.array([0.0, 2.5, 12.0])), [0.0, 1.25, 6.0])


def test_shipped_lead_has_its_card_with_music_figures():
    import json

    folder = f.ROOT / "models" / "lead"
    info = json.loads((folder / "model.json").read_text())
    assert info["model"] == "lead" and info["weights_dtype"] == "float16"
    card = (folder / "MODEL_CARD.md").read_text()
    assert "composer train --model lead" in card and "Wall time" in card
    assert "chord tones" in card and "Teacher-forced" in card
    report = json.loads((folder / "eval.json").read_text())
    made, real = report["music"]["generated"], report["music"]["real"]
    assert abs(made["chord_tones"] / real["chord_tones"] - 1) <= 0.10  # the goal


def test_the_line_is_moved_by_octaves_into_the_singing_register():
    from composer.melody import REGISTER, register_shift

    for median in (40, 53, 64, 66, 72, 77, 78, 90):
        moved = median + register_shift([median])
        assert REGISTER[0] <= moved < REGISTER[1] and (moved - median) % 12 == 0


@pytest.mark.parametrize("name, problem", [("silence.wav", "is silent"),
                                           ("drums.mid", "only drums, no pitched notes")])
def test_an_unusable_backing_stops_the_command_with_one_line(tmp_path, name, problem):
    from test_backing import write_drum_midi

    path = tmp_path / name
    if name.endswith(".wav"):
        soundfile.write(str(path), np.zeros(441000, np.float32), 44100)
    else:
        write_drum_midi(path)
    result = f.run_cli("melody", path, "-o", tmp_path / "lead.mid", "--mix", tmp_path / "m.wav")
    lines = f.lines(result.stderr)
    assert result.returncode == 1 and len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {path}: ") and problem in lines[0]
    assert not (tmp_path / "lead.mid").exists() and not (tmp_path / "m.wav").exists()
