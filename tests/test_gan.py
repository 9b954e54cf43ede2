"""The phrase GAN: piano-roll encoding, MuseGAN statistics, LiteRT runtime, train/generate/eval.

A tiny GAN is trained a few steps by `composer train` on real chorales; the statistics are
checked on rolls whose values are known by hand.
"""

from __future__ import annotations

import json
import warnings

import factories as f
import numpy as np
import pretty_midi
import pytest

from training.gan_metrics import (
    empty_bar_rate,
    in_scale_rate,
    musegan_statistics,
    polyphony_rate,
    qualified_note_rate,
    used_pitch_classes,
)
from training.score import read_score, to_notesequence

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from models.gan.encoding import PianorollEncoding


@pytest.fixture(scope="module")
def tiny_gan(tmp_path_factory, small_corpus):
    out = tmp_path_factory.mktemp("gan") / "gan"
    f.run_cli("train", "--model", "gan", "--corpus", small_corpus, "-o", out, "--steps", "6",
              "--checkpoint-every", "3", "--batch", "8", "--learning-rate", "0.0002", check=True)
    return out


def test_chorale_phrases_round_trip(chorales):
    encoding = PianorollEncoding()
    phrases = [p for c in chorales for p in encoding.phrases(to_notesequence(read_score(c.read_bytes())))]
    assert len(phrases) > 20
    for phrase in phrases[:5]:
        assert phrase.shape == (64, 48, 4) and phrase.any(axis=(0, 1)).all()
        assert np.array_equal(encoding.roll(encoding.decode(phrase))[:64], phrase)
    soprano, bass = phrases[0][..., 0], phrases[0][..., 3]
    assert np.nonzero(soprano)[1].mean() > np.nonzero(bass)[1].mean()  # voices in order


def test_statistics_on_rolls_known_by_hand():
    roll = np.zeros((1, 32, 12, 2), dtype=bool)  # two bars, one octave from C, two tracks
    roll[0, 0:8, 0, 0] = True  # C, eight steps
    roll[0, 8:9, 1, 0] = True  # C#, one step: out of scale, not qualified
    roll[0, 0:4, 4, 0] = True  # E under the C: two voices for four steps
    # track 1 plays nothing in bar 1 and a G in bar 2
    roll[0, 16:20, 7, 1] = True
    assert empty_bar_rate(roll).tolist() == [0.5, 0.5]
    assert used_pitch_classes(roll).tolist() == [3.0, 1.0]
    assert polyphony_rate(roll).tolist() == pytest.approx([4 / 9, 0.0])
    assert in_scale_rate(roll).tolist() == pytest.approx([12 / 13, 1.0])
    assert qualified_note_rate(roll).tolist() == pytest.approx([2 / 3, 1.0])
    assert set(musegan_statistics(roll)) == {"empty_bar_rate", "used_pitch_classes",
                                             "polyphony_rate", "in_scale_rate",
                                             "qualified_note_rate"}


def test_litert_generator_matches_keras():
    from models.gan.network import GanConfig, build_model, to_litert
    from models.gan.runtime import GanRuntime

    model = build_model(GanConfig(steps=64, pitches=48, tracks=4, width=16))
    runtime = GanRuntime(to_litert(model.generator))
    z = np.random.default_rng(0).standard_normal((3, 128)).astype("float32")
    np.testing.assert_allclose(runtime.probabilities(z),
                               np.asarray(model.generator(z, training=False)), atol=1e-5)


def test_training_writes_a_litert_checkpoint(tiny_gan):
    metrics = json.loads((tiny_gan / "metrics.json").read_text())
    assert len(metrics["history"]) == 2 and "w_distance" in metrics["history"][0]
    assert (tiny_gan / "generator.tflite").stat().st_size > 100_000
    assert json.loads((tiny_gan / "model.json").read_text())["encoding"]["layout"] == "satb"


def test_a_generator_moves_to_a_new_critic(tiny_gan, small_corpus, tmp_path):
    """A checkpoint from before the critic streams (no `critic_streams` in its model.json)
    is fine-tuned with the generator it has and a fresh critic; a generator that differs is
    refused in one line."""
    info = json.loads((tiny_gan / "model.json").read_text())
    assert info["network"]["critic_streams"] is True
    old = tmp_path / "old-gan"
    old.mkdir()
    for item in tiny_gan.iterdir():
        if item.is_file():
            (old / item.name).write_bytes(item.read_bytes())
    del info["network"]["critic_streams"]
    (old / "model.json").write_text(json.dumps(info))
    out = tmp_path / "tuned"
    f.run_cli("train", "--model", "gan", "--corpus", small_corpus, "-o", out, "--init-from",
              old, "--steps", "2", "--checkpoint-every", "2", "--batch", "8",
              "--learning-rate", "0", "--weights-dtype", "float16", check=True)
    with np.load(old / "weights.npz") as a, np.load(out / "weights.npz") as b:
        # learning rate 0: the generator's kernels come through (its batch-norm statistics
        # move with any training step); the critic is a new one
        assert np.array_equal(a["generator/000"].astype(np.float16), b["generator/000"])
        assert not np.array_equal(a["critic/000"].astype(np.float16), b["critic/000"])
    # float16 halves the LiteRT generator too, and it still writes phrases
    flatbuffer = (out / "generator.tflite").read_bytes()
    assert len(flatbuffer) < 0.6 * (old / "generator.tflite").stat().st_size
    from models.gan.encoding import PianorollEncoding
    from models.gan.runtime import GanRuntime

    made = GanRuntime(flatbuffer).sample(2, np.random.default_rng(0),
                                         PianorollEncoding(**info["encoding"]))
    assert len(made) == 2
    info["network"]["z_size"] = 64
    (old / "model.json").write_text(json.dumps(info))
    wrong = f.run_cli("train", "--model", "gan", "--corpus", small_corpus, "-o",
                      tmp_path / "x", "--init-from", old, "--steps", "2")
    assert wrong.returncode == 1
    last = wrong.stderr.strip().splitlines()[-1]
    assert "its network differs (" in last and "z_size" in last


def test_generate_gan_writes_four_voices_of_the_asked_length(tiny_gan, tmp_path):
    out = tmp_path / "g.mid"
    f.run_cli("generate", "--model", "gan", "--checkpoint", tiny_gan, "--bars", "6",
              "--seed", "1", "-o", out, check=True)
    pm = pretty_midi.PrettyMIDI(str(out))
    assert pm.get_end_time() <= 12.0 + 1e-3
    assert 1 <= len(pm.instruments) <= 4


def test_eval_gan_compares_with_the_training_data(tiny_gan, small_corpus):
    result = f.run_cli("eval", tiny_gan, "--corpus", small_corpus, check=True)
    assert "close (within 10 %" in result.stdout
    report = json.loads((tiny_gan / "eval.json").read_text())
    assert len(report["statistics"]) == 5 * 4
    row = report["statistics"]["empty_bar_rate/soprano"]
    assert 0 <= row["generated"] <= 1 and 0 <= row["training_data"] <= 1


def test_lakh5_layout_sorts_instruments_by_family(tmp_path):
    """Lakh's five tracks by General MIDI family; other instruments fold into strings."""
    pm = pretty_midi.PrettyMIDI(initial_tempo=120)
    parts = {0: 60, 26: 64, 33: 40, 48: 67, 73: 72}  # piano, guitar, bass, strings, flute
    for program, pitch in parts.items():
        inst = pretty_midi.Instrument(program=program)
        inst.notes = [pretty_midi.Note(90, pitch + (i % 3), i * 0.5, i * 0.5 + 0.4)
                      for i in range(32)]
        pm.instruments.append(inst)
    kit = pretty_midi.Instrument(program=0, is_drum=True)
    kit.notes = [pretty_midi.Note(100, 36, i * 0.5, i * 0.5 + 0.1) for i in range(32)]
    pm.instruments.append(kit)
    path = tmp_path / "band.mid"
    pm.write(str(path))

    encoding = PianorollEncoding(layout="lakh5")
    phrases = encoding.phrases(to_notesequence(read_score(path.read_bytes())))
    assert phrases.shape[1:] == (64, 84, 5) and len(phrases) >= 1
    lowest = [np.nonzero(phrases[0][..., k])[1].min() + encoding.min_pitch for k in range(5)]
    assert lowest == [36, 60, 64, 40, 67]  # drums, piano, guitar, bass, strings (+ flute)
    back = encoding.decode(phrases[0])
    assert {n.is_drum for n in back.notes if n.instrument == 0} == {True}


def test_train_refuses_an_unknown_layout(small_corpus, tmp_path):
    result = f.run_cli("train", "--model", "gan", "--layout", "sextet", "--corpus", small_corpus,
                       "-o", tmp_path / "x")
    assert result.returncode == 1 and "unknown layout" in result.stderr
