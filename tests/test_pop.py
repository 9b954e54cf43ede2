"""The pop model: REMI encoding, the NumPy Transformer, training, evaluation and generation.

A tiny model is trained a few steps by `composer train --model pop` on POP909-shaped songs made
here (the real dataset is not needed); the shipped checkpoint (models/pop, trained on POP909)
is what `generate --model pop` and the player use, and is checked as a user hears it: several
tracks, each with its own program, with dynamics, exactly the asked bars.
"""

from __future__ import annotations

import json
import warnings

import factories as f
import numpy as np
import pytest
from test_fetch_pop909 import annotation_files, song_midi

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from models.pop.encoding import Decoder, RemiEncoding, _tokenizer, to_score
    from models.pop.runtime import PopRuntime

from models.checkpoint import default_dir

SHIPPED = default_dir("pop")


@pytest.fixture(scope="module")
def pop_songs(tmp_path_factory):
    """Twelve four-bar songs in POP909's layout, each with its chord, beat and key files."""
    root = tmp_path_factory.mktemp("pop909") / "POP909"
    for number in range(1, 13):
        folder = root / f"{number:03d}"
        folder.mkdir(parents=True)
        (folder / f"{number:03d}.mid").write_bytes(song_midi(number % 12))
        for name, text in annotation_files(number % 12).items():
            (folder / name).write_text(text)
    return root.parent


@pytest.fixture(scope="module")
def pop_corpus(tmp_path_factory, pop_songs):
    out = tmp_path_factory.mktemp("pop-corpus") / "corpus"
    f.run_cli("corpus", "build", f"pop909:{pop_songs}", "-o", out, "--split", "50/25/25",
              check=True)
    return out


@pytest.fixture(scope="module")
def trained(tmp_path_factory, pop_corpus):
    out = tmp_path_factory.mktemp("pop-model") / "pop"
    result = f.run_cli("train", "--model", "pop", "--corpus", pop_corpus, "-o", out,
                       "--steps", "30", "--checkpoint-every", "10", "--batch", "4",
                       "--seq-len", "48", "--learning-rate", "0.003", "--seed", "1",
                       "--weights-dtype", "float16", check=True)
    return {"out": out, "result": result}


def _song_sequence(pop_corpus):
    from training.shards import iter_notesequences

    return next(iter_notesequences(pop_corpus, "train"))


def test_encoding_keeps_roles_bars_and_velocities(pop_corpus):
    sequence = _song_sequence(pop_corpus)
    encoding = RemiEncoding()
    ids = encoding.encode(sequence)
    vocab = encoding.vocab
    tokens = [vocab[i] for i in ids]
    assert tokens[0] == "Bar_None" and tokens.count("Bar_None") == 4
    assert {"Program_0", "Program_1", "Program_2"} <= set(tokens)  # melody, bridge, piano
    notes = Decoder(vocab).notes(ids)
    assert len(notes) == len(sequence.notes)
    # the song's downbeats (every 2.4 s) are the bar lines: its chords start each bar at beat 0
    piano = notes[notes[:, 0] == 2]
    assert sorted(set(piano[:, 3].tolist())) == [0.0, 4.0, 8.0, 12.0]
    assert set(np.unique(notes[notes[:, 0] == 0][:, 2]).tolist()) == {87.0}  # 90, binned


def test_light_decoder_matches_miditok(pop_corpus):
    encoding = RemiEncoding()
    ids = encoding.encode(_song_sequence(pop_corpus))
    score = _tokenizer(encoding).decode(ids.tolist())
    tpq = score.ticks_per_quarter
    theirs = sorted((t.program, n.pitch, n.velocity, n.time / tpq, n.duration / tpq)
                    for t in score.tracks for n in t.notes)
    ours = sorted(map(tuple, Decoder(encoding.vocab).notes(ids).tolist()))
    assert np.allclose(np.array(theirs, float), np.array(ours, float))


def test_a_song_not_in_four_four_is_left_out(pop_corpus):
    from note_seq.protobuf import music_pb2

    sequence = music_pb2.NoteSequence()
    sequence.CopyFrom(_song_sequence(pop_corpus))
    kind = music_pb2.NoteSequence.TextAnnotation.BEAT
    beats = [a for a in sequence.text_annotations if a.annotation_type == kind]
    for i, beat in enumerate(beats):  # relabel as 3/4: a downbeat every three beats
        beat.text = "downbeat" if i % 3 == 0 else "beat"
    assert to_score(sequence) is None
    assert len(RemiEncoding().encode(sequence)) == 0


def test_numpy_runtime_matches_keras():
    import keras

    from models.pop.network import PopConfig, build_model, weights_of

    keras.utils.set_random_seed(3)
    config = PopConfig(vocab_size=40, dim=32, layers=2, heads=4, ff=64, context=12)
    model = build_model(config)
    ids = np.random.default_rng(0).integers(0, 40, size=(2, 12)).astype("int32")
    expected = model(ids, training=False).numpy()
    got, cache = PopRuntime(weights_of(model), config.heads, config.context).run(ids)
    assert np.allclose(got, expected, atol=1e-4)
    assert cache.position == 12


def _tiny_runtime(context: int = 12):
    import keras

    from models.pop.network import PopConfig, build_model, weights_of

    keras.utils.set_random_seed(3)
    config = PopConfig(vocab_size=40, dim=32, layers=2, heads=4, ff=64, context=context)
    return PopRuntime(weights_of(build_model(config)), config.heads, config.context)


def test_litert_step_matches_the_numpy_runtime_past_its_window():
    """The float32 flatbuffer computes the NumPy step exactly, ring buffer included (30 tokens
    through a 12-token window); int8 weights move the logits a little, not the choices."""
    from models.pop.litert import PopLite, to_litert

    runtime = _tiny_runtime()
    ids = np.random.default_rng(0).integers(0, 40, size=(1, 30))
    expected, _ = runtime.run(ids)
    exact = PopLite(to_litert(runtime, quantize=False))
    got, cache = exact.run(ids)
    assert cache.position == 30
    assert np.allclose(got, expected, atol=1e-4)
    quantized, _ = PopLite(to_litert(runtime)).run(ids)
    assert not np.allclose(quantized, expected, atol=1e-4)  # it really is the int8 model
    assert np.abs(quantized - expected).max() < 0.1 * np.abs(expected).max()
    assert (quantized.argmax(-1) == expected.argmax(-1)).mean() > 0.8
    with pytest.raises(ValueError, match="one stream"):
        exact.start(batch=2)


def test_training_writes_a_checkpoint_that_generates(trained, tmp_path):
    out = trained["out"]
    info = json.loads((out / "model.json").read_text())
    assert info["model"] == "pop" and info["weights_dtype"] == "float16"
    assert len(info["vocab"]) == info["network"]["vocab_size"]
    metrics = json.loads((out / "metrics.json").read_text())
    losses = [row["loss"] for row in metrics["history"]]
    assert losses[-1] < losses[0]
    assert (out / "MODEL_CARD.md").exists() and (out / "loss.png").exists()
    assert (out / "step.tflite").stat().st_size > 10_000  # what generation runs

    midi = tmp_path / "pop.mid"
    f.run_cli("generate", "--checkpoint", out, "--bars", "3", "--qpm", "90", "--seed", "2",
              "-o", midi, check=True)
    _check_phrase(midi, bars=3, qpm=90)


def _check_phrase(path, bars: int, qpm: float) -> dict:
    """The MIDI file's notes per track, after checking tempo, meter and length."""
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(str(path))
    assert pm.get_tempo_changes()[1].tolist() == pytest.approx([qpm], rel=1e-4)
    assert [(t.numerator, t.denominator) for t in pm.time_signature_changes] == [(4, 4)]
    length = bars * 4 * 60 / qpm
    assert pm.get_end_time() <= length + 1e-3
    grid = 60 / qpm / 4
    tracks = {}
    for inst in pm.instruments:
        for note in inst.notes:
            assert note.end <= length + 1e-6
            assert abs(note.start / grid - round(note.start / grid)) < 1e-3  # on the 16th grid
        if inst.notes:
            tracks[(inst.program, inst.name)] = inst.notes
    return tracks


def test_eval_scores_pop_beside_an_ngram(trained, pop_corpus, tmp_path):
    report_path = tmp_path / "eval.json"
    result = f.run_cli("eval", trained["out"], "--corpus", pop_corpus, "--window", "32",
                       "-o", report_path, check=True)
    report = json.loads(report_path.read_text())
    assert report["model"] == "pop" and report["evaluator"] == "lstm"
    assert report["pop"]["perplexity"] > 1 and report["ngram"]["perplexity"] > 1
    assert report["runtime"] == "litert"  # scored as it plays
    assert "pop" in result.stdout and "gram" in result.stdout


def test_export_writes_the_step_of_an_older_checkpoint(trained, tmp_path):
    import shutil

    old = tmp_path / "old"
    shutil.copytree(trained["out"], old)
    (old / "step.tflite").unlink()  # as trained before step.tflite existed
    result = f.run_cli("export", old, check=True)
    assert "int8" in result.stdout and (old / "step.tflite").stat().st_size > 10_000
    midi = tmp_path / "after.mid"
    f.run_cli("generate", "--checkpoint", old, "--bars", "2", "-o", midi, check=True)
    _check_phrase(midi, bars=2, qpm=120)

    bad = f.run_cli("export", tmp_path)
    assert bad.returncode != 0 and str(tmp_path) in bad.stderr
    assert len(f.lines(bad.stderr)) == 1


def test_primer_is_continued_in_its_key(trained, pop_songs, tmp_path):
    primer = pop_songs / "POP909" / "003" / "003.mid"  # in Eb major
    midi = tmp_path / "continued.mid"
    f.run_cli("generate", "--checkpoint", trained["out"], "--primer", primer, "--bars", "2",
              "--seed", "1", "-o", midi, check=True)
    _check_phrase(midi, bars=2, qpm=100)  # the primer's tempo


needs_shipped = pytest.mark.skipif(not (SHIPPED / "model.json").exists(),
                                   reason="no shipped pop checkpoint in models/pop")


@needs_shipped
def test_shipped_pop_writes_melody_and_accompaniment_with_dynamics(tmp_path):
    midi = tmp_path / "pop.mid"
    f.run_cli("generate", "--model", "pop", "--bars", "8", "--qpm", "96", "--seed", "4",
              "-o", midi, check=True)
    tracks = _check_phrase(midi, bars=8, qpm=96)
    names = {name for _, name in tracks}
    assert {"melody", "accompaniment"} <= names
    programs = {name: program for program, name in tracks}
    assert programs["melody"] != programs["accompaniment"]
    velocities = [n.velocity for notes in tracks.values() for n in notes]
    assert len(set(velocities)) >= 3 and np.std(velocities) > 2  # dynamics, not one velocity
    notes_per_bar = sum(len(notes) for notes in tracks.values()) / 8
    assert notes_per_bar > 6


@needs_shipped
def test_shipped_pop_phrases_continue_each_other():
    from composer.generators import load

    generator = load("pop", seed=5)
    first, second = generator.phrase(2, 120.0), generator.phrase(2, 120.0)
    for phrase in (first, second):
        assert phrase.bars == 2 and phrase.sequence.total_time == pytest.approx(4.0)
        assert len(phrase.sequence.notes) > 0


@needs_shipped
def test_shipped_pop_phrases_cut_one_stream_with_its_roles_intact():
    """Three 2-bar phrases are the 6-bar phrase of the same seed, cut at bar lines: a bar that
    goes on with the last role without naming it keeps that role across the cut."""
    from composer.generators import load

    def onsets(sequence, offset=0.0):
        return {(n.instrument, n.pitch, n.velocity, round(n.start_time + offset, 4))
                for n in sequence.notes}

    whole = onsets(load("pop", seed=5).phrase(6, 120.0).sequence)
    generator = load("pop", seed=5)
    cut = set()
    for k in range(3):
        cut |= onsets(generator.phrase(2, 120.0).sequence, offset=4.0 * k)
    assert cut == whole and len({role for role, *_ in whole}) >= 2


@needs_shipped
def test_shipped_pop_brings_its_melody_in_by_the_third_bar():
    """POP909's songs open with piano intros, some of 20 bars; a fresh start keeps two bars
    of intro at most before the melody comes in on a downbeat."""
    from composer.generators import load

    entries = []
    for seed in range(12):  # at 1.0 the model's own entries vary most
        sequence = load("pop", seed=seed, temperature=1.0).phrase(4, 120.0).sequence
        entries.append(min(n.start_time for n in sequence.notes if n.instrument == 0))
    assert max(entries) <= 4.0 + 1e-6  # by bar 3's downbeat (bars of 2 s)
    assert len({round(t, 3) for t in entries}) > 2  # short intros are kept, not cut


def test_program_per_track_sets_each_role(trained, tmp_path):
    import pretty_midi

    midi = tmp_path / "programs.mid"
    f.run_cli("generate", "--checkpoint", trained["out"], "--bars", "4", "--seed", "3",
              "--program", "11,48,4", "-o", midi, check=True)
    roles = {"melody": 11, "bridge": 48, "accompaniment": 4}
    instruments = [i for i in pretty_midi.PrettyMIDI(str(midi)).instruments if i.notes]
    assert instruments
    for inst in instruments:
        assert inst.program == roles[inst.name]
    bad = f.run_cli("generate", "--checkpoint", trained["out"], "--program", "11,200",
                    "-o", tmp_path / "bad.mid")
    assert bad.returncode != 0
    assert f.lines(bad.stderr) == ["error: --program: 200 is not a GM program 0-127"]


def test_settings_read_one_program_or_one_per_track():
    from composer.player.settings import PlaySettings, changed, parse_setting

    assert parse_setting("program", "73") == {"program": 73}
    assert parse_setting("instrument", "73,48,0") == {"program": (73, 48, 0)}
    settings = changed(PlaySettings(), **parse_setting("program", "73,48,0"))
    assert settings.program == (73, 48, 0)
    with pytest.raises(ValueError, match="not a GM program"):
        parse_setting("program", "73,x")
    with pytest.raises(ValueError, match="between 0 and 127"):
        PlaySettings(program=(1, 300))


@needs_shipped
def test_shipped_pop_continues_a_primer_in_its_key(pop_songs, tmp_path):
    """A song in E major (four sharps from C, where the model was trained) is moved to C for
    the model and the continuation moved back: it must stay within a fifth of E."""
    from training.score import read_score
    from training.transposer import plan_transposition

    def key_of(path):
        return plan_transposition(read_score(path.read_bytes())).estimate.key

    primer = pop_songs / "POP909" / "004" / "004.mid"  # tonic 4: E major
    assert key_of(primer).fifths == 4
    for seed in (1, 2):
        out = tmp_path / f"cont{seed}.mid"
        f.run_cli("generate", "--model", "pop", "--primer", primer, "--bars", "8",
                  "--seed", seed, "-o", out, check=True)
        got = key_of(out).fifths
        assert abs((got - 4 + 6) % 12 - 6) <= 1, got


def test_a_primer_without_role_names_takes_its_melody_from_the_classifier():
    """A string pad above a mid-range melody: the pad is the highest track, but the melody
    (busy, one note at a time) is what the pop model is told is the melody."""
    from note_seq.protobuf import music_pb2

    from models.pop.encoding import roles_of

    seq = music_pb2.NoteSequence()
    seq.tempos.add(qpm=120)
    for bar in range(8):
        for step in range(8):  # eighth notes, one at a time
            seq.notes.add(instrument=0, program=0, pitch=67 + (step * 2) % 7, velocity=100,
                          start_time=bar * 2 + step * 0.25, end_time=bar * 2 + step * 0.25 + 0.2)
        for pitch in (76, 79, 84):  # held chord above it
            seq.notes.add(instrument=1, program=48, pitch=pitch, velocity=60,
                          start_time=bar * 2, end_time=bar * 2 + 2)
        seq.notes.add(instrument=2, program=33, pitch=36, velocity=90, start_time=bar * 2,
                      end_time=bar * 2 + 1.9)
    assert roles_of(seq) == {0: 0, 1: 2, 2: 2}
