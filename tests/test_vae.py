"""The 2-bar melody VAE: encoding, NumPy runtime, training, generation, interpolation.

Tiny models are trained a few steps by `composer train` on real corpus pieces. That a trained
model's interpolation ends reconstruct its inputs is checked on the shipped checkpoint.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import warnings

import factories as f
import numpy as np
import pretty_midi
import pytest

from training.score import read_score, to_notesequence

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from models.checkpoint import default_dir
    from models.vae.encoding import MelodyEncoding, NoMelody
    from models.vae.runtime import VaeRuntime, slerp
    from models.vae.stacked import load_runtime


@pytest.fixture(scope="module")
def tiny_vae(tmp_path_factory, small_corpus):
    out = tmp_path_factory.mktemp("vae") / "vae"
    f.run_cli("train", "--model", "vae-2bar", "--corpus", small_corpus, "-o", out,
              "--steps", "60", "--checkpoint-every", "20", "--batch", "16", "--seed", "1",
              "--learning-rate", "0.003", check=True)
    return out


def test_windows_round_trip_through_a_notesequence(folk_tunes):
    encoding = MelodyEncoding()
    sequence = to_notesequence(read_score(folk_tunes[3].read_bytes()))
    windows = encoding.encode(sequence).reshape(-1, encoding.steps)
    assert len(windows) > 3 and windows.max() < encoding.vocab_size
    for window in windows[:5]:
        back = encoding.encode(encoding.decode(window))  # its own melody, re-extracted
        again = back.reshape(-1, encoding.steps)
        assert np.array_equal(again[0], window)


def test_lead_melody_is_the_top_voice(chorales):
    encoding = MelodyEncoding()
    sequence = to_notesequence(read_score(chorales[0].read_bytes()))
    lead = encoding.lead(sequence)
    melodies = encoding.melodies(sequence)
    means = [m[m >= 2].mean() for m in melodies]
    assert lead[lead >= 2].mean() == pytest.approx(max(means), abs=8)
    with pytest.raises(NoMelody):
        encoding.lead(type(sequence)())


def test_numpy_runtime_matches_keras():
    from models.vae.network import VaeConfig, build_model, weights_of

    config = VaeConfig(vocab_size=90, steps=32, enc_units=16, dec_units=(16, 12), z_size=8)
    model = build_model(config)
    ids = np.random.default_rng(0).integers(0, 90, (3, 32)).astype("int32")
    runtime = VaeRuntime(weights_of(model), 90, 32)
    mu, sigma = runtime.encode(ids)
    k_mu, k_sigma = model.encode(ids)
    np.testing.assert_allclose(mu, np.asarray(k_mu), atol=1e-5)
    np.testing.assert_allclose(sigma, np.asarray(k_sigma), atol=1e-5)
    np.testing.assert_allclose(runtime.decode_logits(ids, mu), np.asarray(model(ids)), atol=1e-5)
    greedy = runtime.decode(mu)
    assert np.array_equal(greedy, runtime.decode_logits(greedy, mu).argmax(-1))


def test_slerp_ends_and_norm():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(64), rng.standard_normal(64)
    assert np.allclose(slerp(a, b, 0.0), a) and np.allclose(slerp(a, b, 1.0), b)
    mid = slerp(a / np.linalg.norm(a), b / np.linalg.norm(b), 0.5)
    assert np.linalg.norm(mid) == pytest.approx(1.0)


def test_training_lowers_reconstruction_loss(tiny_vae):
    metrics = json.loads((tiny_vae / "metrics.json").read_text())
    recon = [row["recon"] for row in metrics["history"]]
    assert recon[-1] < recon[0]
    assert metrics["monitor"] == "val_recon"
    history = metrics["history"]
    assert history[-1]["beta"] > history[0]["beta"] > 0  # KL annealing under way
    assert history[-1]["sampling_probability"] > 0  # scheduled sampling switched on
    assert json.loads((tiny_vae / "model.json").read_text())["model"] == "vae-2bar"


def test_new_melodies_come_from_the_prior_fitted_at_export(tiny_vae, small_corpus, tmp_path):
    from models.checkpoint import load_checkpoint
    from training import vae_prior

    info, weights = load_checkpoint(tiny_vae)
    assert info["prior"]["split"] == "train" and info["prior"]["windows"] > 0
    runtime = VaeRuntime.from_checkpoint(info, weights)
    assert weights["prior/mean"].shape == weights["prior/scale"].shape == (runtime.z_size,)
    # the fitted Gaussian is the aggregate posterior's: mean of the means, and a scale that
    # holds both the spread of the means and each posterior's own width
    from training.datasets import encode_split

    windows = encode_split(small_corpus, "train", MelodyEncoding()).tokens.reshape(-1, 32)[:64]
    fitted = vae_prior.fit(runtime, windows, limit=len(windows))
    mu, sigma = runtime.encode(windows)
    assert np.allclose(fitted["prior/mean"], mu.mean(0), atol=1e-5)
    assert np.all(fitted["prior/scale"] >= sigma.min(0) - 1e-6)
    # sampling goes through it; a checkpoint without one falls back to N(0, I)
    noise = np.random.default_rng(0).standard_normal((2, runtime.z_size))
    assert np.allclose(runtime.prior(noise), weights["prior/mean"] + weights["prior/scale"] * noise,
                       atol=1e-5)
    bare = VaeRuntime.from_checkpoint(info, {k: v for k, v in weights.items()
                                             if not k.startswith("prior/")})
    assert np.allclose(bare.prior(noise), noise)

    # an older checkpoint gets one by `python -m training.vae_prior`, dtype and card kept
    old = tmp_path / "old"
    shutil.copytree(tiny_vae, old)
    stripped = {k: v for k, v in weights.items() if not k.startswith("prior/")}
    np.savez(old / "weights.npz", **stripped)
    result = subprocess.run([sys.executable, "-m", "training.vae_prior", old, "--corpus",
                             small_corpus], capture_output=True, text=True, cwd=f.ROOT)
    assert result.returncode == 0, result.stderr
    info2, weights2 = load_checkpoint(old)
    assert np.allclose(weights2["prior/mean"], weights["prior/mean"], atol=1e-3)
    assert info2["weights_dtype"] == info["weights_dtype"]
    assert {k: v for k, v in info2["prior"].items() if k != "command"} == info["prior"]
    assert info2["prior"]["command"].startswith("python -m training.vae_prior ")
    result = subprocess.run([sys.executable, "-m", "training.vae_prior", tmp_path / "nothing",
                             "--corpus", small_corpus], capture_output=True, text=True, cwd=f.ROOT)
    assert result.returncode == 1 and "nothing" in result.stderr
    assert result.stderr.count("\n") == 1


def test_shipped_vaes_write_melodies_not_rests():
    """Decoded from N(0, I), the 16-bar model left half its bars without a note (real
    melodies: 1 in 10); from its fitted prior at the registry's temperature it writes lines."""
    from composer.generators import GENERATORS
    from models.checkpoint import load_checkpoint
    from training.melody_windows import statistics

    for name in ("vae-2bar", "vae-16bar"):
        info, weights = load_checkpoint(default_dir(name))
        runtime = load_runtime(info, weights)
        made = statistics(runtime.sample(24, np.random.default_rng(0),
                                         GENERATORS[name].temperature))
        assert made["silent_bars"] < 0.2, (name, made)
        assert 3.0 < made["onsets_per_bar"] < 8.0, (name, made)
        assert made["mean_interval"] < 5.0, (name, made)


def test_generate_vae_writes_the_asked_bars(tiny_vae, tmp_path):
    out = tmp_path / "v.mid"
    f.run_cli("generate", "--model", "vae-2bar", "--checkpoint", tiny_vae, "--bars", "6",
              "--temperature", "1.0", "--seed", "4", "-o", out, check=True)
    pm = pretty_midi.PrettyMIDI(str(out))
    assert pm.get_end_time() <= 12.0 + 1e-3
    assert all(n.end <= 12.0 + 1e-3 for i in pm.instruments for n in i.notes)


def test_interpolate_writes_every_step(tiny_vae, chorales, tmp_path):
    out = tmp_path / "walk.mid"
    result = f.run_cli("interpolate", chorales[2], chorales[5], "--steps", "4",
                       "--checkpoint", tiny_vae, "--each", "-o", out, check=True)
    assert "4 steps" in result.stdout
    assert out.exists()
    assert sorted(p.name for p in tmp_path.glob("walk-*.mid")) == [
        f"walk-0{i}.mid" for i in range(1, 5)]
    velocities = {n.velocity for i in pretty_midi.PrettyMIDI(str(out)).instruments
                  for n in i.notes}
    assert len(velocities) > 3  # played with the shipped dynamics, not one velocity


@pytest.mark.parametrize("make, words", [
    (lambda p: f.empty(p), "empty"),
    (lambda p: f.write_midi(p, [], drums=[(36, 0, 0.5), (38, 0.5, 1.0)]), "only drums"),
    (lambda p: f.write_midi(p, [(60, 0, 0.4)]), "melody"),
])
def test_interpolate_rejects_inputs_without_a_melody(tiny_vae, chorales, tmp_path, make, words):
    bad = make(tmp_path / "bad.mid")
    result = f.run_cli("interpolate", chorales[0], bad, "--checkpoint", tiny_vae,
                       "-o", tmp_path / "out.mid")
    assert result.returncode == 1
    line = result.stderr.strip()
    assert "\n" not in line and str(bad) in line and words in line, line
    assert not (tmp_path / "out.mid").exists()


def test_eval_vae_reports_reconstruction(tiny_vae, small_corpus):
    f.run_cli("eval", tiny_vae, "--corpus", small_corpus, check=True)
    metrics = json.loads((tiny_vae / "eval.json").read_text())["metrics"]
    for name in ("teacher_forced_accuracy", "sampled_accuracy", "sampled_note_accuracy"):
        assert 0 <= metrics[name] <= 1
    assert "teacher_forced_accuracy" in (tiny_vae / "MODEL_CARD.md").read_text()


def test_shipped_vae_interpolation_ends_reconstruct_the_inputs(chorales):
    from composer.interpolation import interpolate, lead_melody

    checkpoint = default_dir("vae-2bar")
    assert (checkpoint / "weights.npz").exists(), "the shipped vae-2bar checkpoint is missing"
    encoding = MelodyEncoding()
    a, b = chorales[1], chorales[6]
    result = interpolate(a, b, steps=5)
    first, last = result.melodies[0], result.melodies[-1]
    assert (first == lead_melody(a, encoding)).mean() >= 0.9
    assert (last == lead_melody(b, encoding)).mean() >= 0.9


def test_shipped_vae_16bar_ends_give_back_16_bar_melodies(chorales, folk_tunes):
    """The stacked 16-bar model's walk ends on the songs' own 16-bar lines (the folk-trained
    model before it gave back 1 note in 12 of held-out melodies: its z held too little)."""
    from composer.generators import GenerationError
    from composer.interpolation import interpolate, lead_melody

    encoding = MelodyEncoding(bars=16)
    songs = []
    for path in chorales + folk_tunes:
        try:
            songs.append((path, lead_melody(path, encoding)))
        except GenerationError:  # shorter than 16 bars
            pass
    (a, melody_a), (b, melody_b) = songs[:2]
    result = interpolate(a, b, steps=3, model="vae-16bar")
    for made, real in ((result.melodies[0], melody_a), (result.melodies[-1], melody_b)):
        assert (made == real).mean() >= 0.9
        assert (made == real)[real >= 2].mean() >= 0.8  # over the notes alone


def test_stacked_walk_ends_on_the_bottom_encodings_and_moves_through_the_top(folk_tunes):
    """The ends carry what the top's z misses (the residual), so they are the 2-bar model's
    own encodings of each segment; the steps between follow the top's decoded plans."""
    from composer.generators import GenerationError
    from composer.interpolation import lead_melody
    from models.checkpoint import load_checkpoint
    from models.vae.runtime import interpolate

    runtime = load_runtime(*load_checkpoint(default_dir("vae-16bar")))
    encoding = MelodyEncoding(bars=16)
    melodies = []
    for path in folk_tunes:
        try:
            melodies.append(lead_melody(path, encoding))
        except GenerationError:  # shorter than 16 bars
            pass
    a, b = melodies[:2]
    walk = interpolate(runtime, a, b, 5)
    for end, melody in ((walk[0], a), (walk[-1], b)):
        plan = runtime.segment_latents(melody)[0][0]
        assert np.array_equal(end, runtime.bottom.decode(plan).reshape(-1))
    through_z = runtime.decode(runtime.encode(np.stack([a, b]))[0])
    assert not np.array_equal(walk[0], through_z[0]) or not np.array_equal(walk[-1], through_z[1])
    change = (walk[1:] != walk[:-1]).mean(axis=1)
    assert change.min() > 0 and change.max() < 3 * change.min() + 0.1
    best = interpolate(runtime, a, b, 3, candidates=16)
    assert (best[0] == a).mean() >= (walk[0] == a).mean()


def test_interpolation_ends_are_the_posterior_draws_that_decode_best(chorales):
    from composer.interpolation import lead_melody
    from models.checkpoint import load_checkpoint
    from models.vae.runtime import closest_latent, interpolate

    info, weights = load_checkpoint(default_dir("vae-2bar"))
    runtime = VaeRuntime.from_checkpoint(info, weights)
    melodies = [lead_melody(p, MelodyEncoding()) for p in chorales[:6]]
    mu, _ = runtime.encode(np.stack(melodies))
    for melody, mean in zip(melodies, mu):
        best = closest_latent(runtime, melody, candidates=16)
        assert (runtime.decode(best[None])[0] == melody).mean() >= \
            (runtime.decode(mean[None])[0] == melody).mean()
        assert np.allclose(closest_latent(runtime, melody, candidates=1), mean, atol=1e-5)
    walk = interpolate(runtime, melodies[0], melodies[1], 4, candidates=16)
    assert np.array_equal(walk[0], runtime.decode(
        closest_latent(runtime, melodies[0], 16)[None])[0])


def test_hierarchical_runtime_matches_keras():
    from models.vae.network import VaeConfig, build_model, weights_of

    config = VaeConfig(vocab_size=90, steps=64, enc_units=16, dec_units=(16, 12), z_size=8,
                       segments=4, conductor_units=10)
    model = build_model(config)
    ids = np.random.default_rng(1).integers(0, 90, (2, 64)).astype("int32")
    runtime = VaeRuntime.from_checkpoint({"network": config.to_dict()}, weights_of(model))
    mu, _ = runtime.encode(ids)
    np.testing.assert_allclose(runtime.decode_logits(ids, mu), np.asarray(model(ids)), atol=1e-5)


@pytest.fixture(scope="module")
def long_corpus(tmp_path_factory, chorales, folk_tunes):
    """The fixture pieces split 30/40/30, which puts 16-bar melodies in the valid split."""
    root = tmp_path_factory.mktemp("long")
    f.copy_tree(chorales + folk_tunes, root / "midi")
    f.run_cli("corpus", "build", f"dir:{root / 'midi'}", "-o", root / "corpus", "--split",
              "30/40/30", check=True)
    return root / "corpus"


def test_stacked_runtime_matches_keras():
    """The 16-bar model's top, in NumPy and in Keras, over the shipped 2-bar model."""
    from models.checkpoint import load_checkpoint
    from models.vae.stacked import BOTTOM, StackedVaeRuntime
    from models.vae.stacked_network import StackedConfig, build_model, weights_of

    info, bottom = load_checkpoint(default_dir("vae-2bar"))
    config = StackedConfig(bottom=info["network"], enc_units=16, dec_units=12, z_size=8)
    model = build_model(config)
    weights = {**weights_of(model), **{BOTTOM + k: v for k, v in bottom.items()}}
    runtime = StackedVaeRuntime.from_checkpoint({"network": config.to_dict()}, weights)
    ids = np.random.default_rng(0).integers(0, 90, (3, 256))
    means, scales = runtime.segment_latents(ids)
    assert means.shape == (3, 8, 128) and (scales > 0).all()
    x = np.concatenate([means, scales], axis=-1).astype("float32")
    np.testing.assert_allclose(runtime.plan(runtime.encode(ids)[0]), np.asarray(model(x)),
                               atol=1e-5)
    # each segment of the window is the 2-bar model's window: decoded by it alone
    z = runtime.encode(ids)[0]
    plan = runtime.plan(z)
    np.testing.assert_array_equal(runtime.decode(z)[:, 32:64],
                                  runtime.bottom.decode(plan[:, 1]))


def test_prior_spread_draws_closer_to_the_fitted_centre():
    from models.checkpoint import load_checkpoint

    info, weights = load_checkpoint(default_dir("vae-2bar"))
    full = load_runtime({**info, "prior": {**info["prior"], "spread": 1.0}}, weights)
    half = load_runtime({**info, "prior": {**info["prior"], "spread": 0.5}}, weights)
    noise = np.random.default_rng(0).standard_normal((4, full.z_size))
    centre = weights["prior/mean"].astype(np.float32)
    np.testing.assert_allclose(half.prior(noise) - centre, 0.5 * (full.prior(noise) - centre),
                               atol=1e-5)
    assert half.spread == 0.5 and load_runtime({"network": info["network"]}, weights).spread == 1


def test_segment_features_encode_each_distinct_segment_once_in_window_order():
    from models.checkpoint import load_checkpoint
    from models.vae.stacked import BOTTOM, StackedVaeRuntime
    from models.vae.stacked_network import StackedConfig, build_model, weights_of
    from training.stacked_vae import segment_features

    info, bottom = load_checkpoint(default_dir("vae-2bar"))
    config = StackedConfig(bottom=info["network"], segments=2, enc_units=4, dec_units=4,
                           z_size=2)
    weights = {**weights_of(build_model(config)), **{BOTTOM + k: v for k, v in bottom.items()}}
    runtime = StackedVaeRuntime.from_checkpoint({"network": config.to_dict()}, weights)
    a, b, c = np.random.default_rng(3).integers(0, 90, (3, 32))
    windows = np.stack([np.concatenate([a, b]), np.concatenate([b, c]), np.concatenate([a, a])])
    features = segment_features(runtime, windows)
    mu, sigma = runtime.bottom.encode(np.stack([a, b, c]))
    expected = np.concatenate([mu, sigma], axis=-1)[[[0, 1], [1, 2], [0, 0]]]
    np.testing.assert_allclose(features, expected, atol=1e-6)


def test_vae_16bar_trains_generates_and_interpolates(long_corpus, chorales, folk_tunes, tmp_path):
    out = tmp_path / "vae16"
    # the top over the shipped 2-bar model, with a time budget spent at the first checkpoint
    f.run_cli("train", "--model", "vae-16bar", "--corpus", long_corpus, "-o", out,
              "--steps", "6", "--checkpoint-every", "3", "--batch", "8", "--max-minutes", "0",
              "--weights-dtype", "float16", check=True)
    info = json.loads((out / "model.json").read_text())
    assert info["network"]["segments"] == 8 and info["network"]["steps"] == 256
    assert info["bottom"]["checkpoint"] == str(default_dir("vae-2bar"))
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["steps"] == 3
    assert info["weights_dtype"] == "float16"
    with np.load(out / "weights.npz") as weights:
        assert {weights[k].dtype for k in weights.files} == {np.dtype("float16")}
        assert "prior/mean" in weights.files and info["prior"]["windows"] > 0
        with np.load(default_dir("vae-2bar") / "weights.npz") as bottom:  # carried, frozen
            assert all(np.array_equal(weights["bottom/" + k], bottom[k]) for k in bottom.files)
    # fine-tuned from that checkpoint; a bottom that is not a 2-bar VAE is refused
    again = tmp_path / "again"
    f.run_cli("train", "--model", "vae-16bar", "--corpus", long_corpus, "-o", again,
              "--steps", "2", "--checkpoint-every", "2", "--batch", "8", "--init-from", out,
              check=True)
    assert json.loads((again / "metrics.json").read_text())["initialized_from"] == str(out)
    refused = f.run_cli("train", "--model", "vae-16bar", "--corpus", long_corpus, "-o",
                        tmp_path / "no", "--steps", "2", "--bottom", out)
    assert refused.returncode != 0 and str(out) in refused.stderr
    assert "vae-2bar" in refused.stderr and "Traceback" not in refused.stderr
    melody = tmp_path / "m.mid"
    f.run_cli("generate", "--model", "vae-16bar", "--checkpoint", out, "--bars", "16",
              "--temperature", "1.0", "--seed", "2", "-o", melody, check=True)
    assert pretty_midi.PrettyMIDI(str(melody)).get_end_time() <= 32.0 + 1e-3

    encoding = MelodyEncoding(bars=16)
    long_enough = []
    for path in chorales + folk_tunes:
        try:
            encoding.lead(to_notesequence(read_score(path.read_bytes())))
            long_enough.append(path)
        except NoMelody:
            pass
    assert len(long_enough) >= 2
    walk = tmp_path / "walk.mid"
    f.run_cli("interpolate", "--model", "vae-16bar", "--checkpoint", out, *long_enough[:2],
              "--steps", "3", "-o", walk, check=True)
    short = next(p for p in chorales if p not in long_enough)
    result = f.run_cli("interpolate", "--model", "vae-16bar", "--checkpoint", out,
                       long_enough[0], short, "-o", tmp_path / "no.mid")
    assert result.returncode == 1 and "16-bar" in result.stderr and str(short) in result.stderr


def test_a_named_melody_is_the_only_line_and_a_drifting_tempo_one_piece():
    """POP909-style songs: the MELODY track's line, not the piano's, in one piece although the
    tempo changes mid-song (a window can span the change)."""
    from note_seq.protobuf import music_pb2

    sequence = music_pb2.NoteSequence(total_time=8.0)
    sequence.tempos.add(time=0.0, qpm=120.0)
    sequence.tempos.add(time=2.0, qpm=100.0)
    sequence.time_signatures.add(time=0.0, numerator=4, denominator=4)
    sequence.instrument_infos.add(instrument=0, name="MELODY")
    sequence.instrument_infos.add(instrument=1, name="PIANO")
    for k in range(12):
        start = k * 0.5
        sequence.notes.add(pitch=72 + k % 5, velocity=80, instrument=0, start_time=start,
                           end_time=start + 0.4)
        sequence.notes.add(pitch=84, velocity=80, instrument=1, start_time=start,
                           end_time=start + 0.4)  # higher: the skyline would take it
    melodies = MelodyEncoding().melodies(sequence)
    assert len(melodies) == 1
    pitches = set((melodies[0][melodies[0] >= 2] - 2 + 21).tolist())
    assert pitches == {72, 73, 74, 75, 76}


def test_a_mixture_prior_takes_its_component_from_the_first_noise_coordinate():
    """Noise's first coordinate, through the normal CDF, picks a component by cumulative
    weight; the latent is that component's mean plus spread x its scale x the noise."""
    from models.vae.runtime import place_on_prior

    w = {"prior/means": np.array([[-10.0, 0.0], [0.0, 0.0], [10.0, 0.0]], np.float32),
         "prior/scales": np.array([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]], np.float32),
         "prior/weights": np.array([0.2, 0.5, 0.3], np.float32)}
    # CDF(-1.5) = 0.07 -> first; CDF(0) = 0.5 -> second; CDF(1.5) = 0.93 -> third
    noise = np.array([[-1.5, 1.0], [0.0, 1.0], [1.5, 1.0]], np.float32)
    z = place_on_prior(w, noise, spread=0.5)
    np.testing.assert_allclose(z, [[-10.75, 0.5], [0.0, 1.0], [12.25, 1.5]], atol=1e-5)
    # a slow walk in noise space changes component only where the cumulative weight says
    walk = np.stack([np.linspace(-3, 3, 61), np.zeros(61)], axis=1)
    chosen = np.argmin(np.abs(place_on_prior(w, walk, 0.0)[:, :1] - w["prior/means"][:, 0]),
                       axis=1)
    assert list(np.flatnonzero(np.diff(chosen))) == [21, 35]  # CDF passes 0.2 at -0.84, 0.7 at 0.52


def test_vae_prior_fits_a_mixture_in_walk_order(tiny_vae, small_corpus, tmp_path):
    from models.checkpoint import load_checkpoint

    folder = tmp_path / "mixed"
    shutil.copytree(tiny_vae, folder)
    result = subprocess.run([sys.executable, "-m", "training.vae_prior", folder, "--corpus",
                             small_corpus, "--components", "4"], capture_output=True,
                            text=True, cwd=f.ROOT)
    assert result.returncode == 0, result.stderr
    info, weights = load_checkpoint(folder)
    assert info["prior"]["components"] == 4 and "--components 4" in info["prior"]["command"]
    means = weights["prior/means"].astype(np.float64)
    assert means.shape == weights["prior/scales"].shape == (4, VaeRuntime.from_checkpoint(
        info, weights).z_size)
    assert abs(weights["prior/weights"].sum() - 1) < 1e-2
    axis = np.linalg.svd(means - means.mean(0))[2][0]
    projected = (means - means.mean(0)) @ axis
    assert np.all(np.diff(projected) >= 0) or np.all(np.diff(projected) <= 0)
    runtime = load_runtime(info, weights)
    made = runtime.sample(8, np.random.default_rng(0), 0.5)
    assert made.shape == (8, runtime.steps)
