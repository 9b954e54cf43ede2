"""The performance LSTM: encoding, NumPy runtime, training, evaluation and generation.

A tiny model is trained a few steps on real corpus pieces by `composer train` itself; tests
check what a user would: the loss goes down, the files are there, and `composer generate`
writes valid MIDI of exactly the asked length.
"""

from __future__ import annotations

import json
import warnings

import factories as f
import numpy as np
import pretty_midi
import pytest

from training.score import read_score, to_notesequence

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from models.lstm.encoding import PerformanceEncoding
    from models.lstm.runtime import LstmRuntime, sample_logits


@pytest.fixture(scope="module")
def trained(tmp_path_factory, small_corpus):
    out = tmp_path_factory.mktemp("lstm-model") / "lstm"
    result = f.run_cli("train", "--model", "lstm", "--corpus", small_corpus, "-o", out,
                       "--steps", "60", "--checkpoint-every", "20", "--batch", "8",
                       "--seq-len", "48", "--learning-rate", "0.003", "--seed", "1", check=True)
    return {"out": out, "result": result}


def _notes(seq, step):
    return sorted((n.pitch, round(n.start_time / step), round(n.end_time / step))
                  for n in seq.notes if not n.is_drum)


def test_encoding_round_trip_keeps_every_note(folk_tunes):
    encoding = PerformanceEncoding()
    step = 1 / encoding.steps_per_second
    for path in folk_tunes[:4]:
        sequence = to_notesequence(read_score(path.read_bytes()))
        ids = encoding.encode(sequence)
        assert ids.dtype == np.int32 and ids.min() >= 0 and ids.max() < encoding.vocab_size
        back = encoding.decode(ids)
        assert _notes(back, step) == _notes(sequence, step)
        assert abs(encoding.seconds(ids) - max(n.end_time for n in sequence.notes)) < 0.011


def test_encoding_keeps_every_onset_of_polyphony(chorales):
    """Four voices: every onset survives; a voice doubling another on the same pitch cannot
    keep its own end (one NOTE_OFF per pitch), which is the performance encoding's nature."""
    encoding = PerformanceEncoding()
    step = 1 / encoding.steps_per_second
    sequence = to_notesequence(read_score(chorales[0].read_bytes()))
    back = encoding.decode(encoding.encode(sequence))
    onsets = lambda seq: sorted({(p, s) for p, s, _ in _notes(seq, step)})
    assert onsets(back) == onsets(sequence)


def test_numpy_runtime_matches_keras():
    from models.lstm.network import LstmConfig, build_model, weights_of

    config = LstmConfig(vocab_size=40, embedding=8, units=16, layers=2, dropout=0.0)
    model = build_model(config)
    ids = np.random.default_rng(0).integers(0, 40, size=(3, 25)).astype(np.int32)
    expected = np.asarray(model(ids))
    got, _ = LstmRuntime(weights_of(model)).run(ids)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_sampling_respects_top_k_and_temperature():
    rng = np.random.default_rng(0)
    logits = np.log(np.array([[0.5, 0.3, 0.15, 0.05]]))
    draws = [int(sample_logits(logits, rng, 1.0, top_k=2)[0]) for _ in range(400)]
    assert set(draws) == {0, 1}
    assert int(sample_logits(logits, rng, 0.0)[0]) == 0
    counts = np.bincount([int(sample_logits(logits, rng, 1.0)[0]) for _ in range(4000)], minlength=4)
    np.testing.assert_allclose(counts / 4000, [0.5, 0.3, 0.15, 0.05], atol=0.03)


def test_training_lowers_the_loss_and_writes_a_checkpoint(trained):
    out = trained["out"]
    metrics = json.loads((out / "metrics.json").read_text())
    losses = [row["loss"] for row in metrics["history"]]
    assert len(losses) == 3 and losses[-1] < losses[0]
    assert metrics["best"]["val_loss"] < np.log(PerformanceEncoding().vocab_size)
    info = json.loads((out / "model.json").read_text())
    assert info["model"] == "lstm" and info["training"]["steps"] == 60
    assert (out / "weights.npz").stat().st_size > 100_000
    assert (out / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert list((out / "train" / "logs").rglob("events.out.tfevents*"))  # TensorBoard
    card = (out / "MODEL_CARD.md").read_text()
    assert "composer train --model lstm" in card and "--steps 60" in card


def test_same_seed_same_training(trained, small_corpus, tmp_path):
    again = tmp_path / "again"
    f.run_cli("train", "--model", "lstm", "--corpus", small_corpus, "-o", again,
              "--steps", "20", "--checkpoint-every", "20", "--batch", "8", "--seq-len", "48",
              "--learning-rate", "0.003", "--seed", "1", check=True)
    first = json.loads((trained["out"] / "metrics.json").read_text())["history"][0]
    second = json.loads((again / "metrics.json").read_text())["history"][0]
    assert first["loss"] == pytest.approx(second["loss"], rel=1e-6)


@pytest.mark.parametrize("bars, qpm", [(2, 120.0), (8, 96.0)])
def test_generate_writes_midi_of_the_asked_length(trained, tmp_path, bars, qpm):
    out = tmp_path / "phrase.mid"
    result = f.run_cli("generate", "--model", "lstm", "--checkpoint", trained["out"],
                       "--bars", bars, "--qpm", qpm, "--seed", "3", "-o", out, check=True)
    assert "bars" in result.stdout
    pm = pretty_midi.PrettyMIDI(str(out))
    seconds = bars * 4 * 60 / qpm
    assert pm.get_end_time() <= seconds + 1e-3
    assert pm.get_tempo_changes()[1][0] == pytest.approx(qpm)
    notes = [n for inst in pm.instruments for n in inst.notes]
    assert notes and all(0 <= n.start < n.end <= seconds + 1e-3 for n in notes)
    again = tmp_path / "again.mid"
    f.run_cli("generate", "--model", "lstm", "--checkpoint", trained["out"], "--bars", bars,
              "--qpm", qpm, "--seed", "3", "-o", again, check=True)
    assert again.read_bytes() == out.read_bytes()


def test_generate_continues_a_primer_and_renders_wav(trained, chorales, tmp_path):
    import soundfile

    out, wav = tmp_path / "cont.mid", tmp_path / "cont.wav"
    f.run_cli("generate", "--checkpoint", trained["out"], "--primer", chorales[1], "--bars", "2",
              "--seed", "0", "-o", wav, check=True)  # the audio, and its MIDI beside it
    assert pretty_midi.PrettyMIDI(str(out)).instruments
    audio, rate = soundfile.read(str(wav))
    assert rate == 44100 and len(audio) >= 4.0 * rate and np.abs(audio).max() > 0.01


@pytest.mark.parametrize("make, words", [
    (lambda p: f.empty(p), "empty"),
    (lambda p: f.garbage(p), "corrupt"),
    (lambda p: f.write_midi(p, [], drums=[(36, 0, 0.5), (38, 0.5, 1.0)]), "only drums"),
])
def test_generate_rejects_bad_primers(trained, tmp_path, make, words):
    primer = make(tmp_path / "primer.mid")
    result = f.run_cli("generate", "--checkpoint", trained["out"], "--primer", primer,
                       "-o", tmp_path / "out.mid")
    assert result.returncode == 1
    line = result.stderr.strip()
    assert "\n" not in line and str(primer) in line, line
    assert not (tmp_path / "out.mid").exists()


def test_generate_without_a_model_says_so(tmp_path):
    result = f.run_cli("generate", "--checkpoint", tmp_path, "-o", tmp_path / "x.mid")
    assert result.returncode == 1 and "no trained model" in result.stderr


def test_eval_reports_lstm_and_ngram(trained, small_corpus):
    result = f.run_cli("eval", "--checkpoint", trained["out"], "--corpus", small_corpus,
                       "--window", "48", check=True)
    assert "Kneser-Ney" in result.stdout
    report = json.loads((trained["out"] / "eval.json").read_text())
    for name in ("lstm", "ngram"):
        assert 0 <= report[name]["accuracy"] <= 1
        assert 1 < report[name]["perplexity"] < PerformanceEncoding().vocab_size
    assert report["scored_events"] > 100
    assert "Kneser-Ney" in (trained["out"] / "MODEL_CARD.md").read_text()


def test_kneser_ney_is_a_distribution(chorales):
    from training.ngram import KneserNey

    encoding = PerformanceEncoding()
    pieces = [encoding.encode(to_notesequence(read_score(p.read_bytes()))) for p in chorales]
    tokens = np.concatenate(pieces[:-1]).astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum([len(p) for p in pieces[:-1]])])
    model = KneserNey(4, encoding.vocab_size).fit(tokens, offsets)
    test = pieces[-1].astype(np.int64)
    for position in (1, 2, 10, 50):
        total = 0.0
        work = test.copy()
        for candidate in range(encoding.vocab_size):
            work[position] = candidate
            total += float(np.exp(model.log_probs(work, np.array([position]), np.array([0]))[0]))
        assert total == pytest.approx(1.0, abs=1e-6)


def test_ctrl_c_then_resume_continues_the_run(small_corpus, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "run"
    args = ["train", "--model", "lstm", "--corpus", str(small_corpus), "-o", str(out),
            "--steps", "60", "--checkpoint-every", "20", "--batch", "8", "--seq-len", "48",
            "--seed", "2"]
    proc = subprocess.Popen([sys.executable, "-m", "composer", *args], cwd=f.ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    history = out / "train" / "history.csv"
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if history.exists() and len(history.read_text().splitlines()) >= 2:  # one checkpoint
            break
        time.sleep(0.05)
    assert proc.poll() is None, "training ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "--resume" in stderr

    fresh = f.run_cli(*args)
    assert fresh.returncode == 1 and "--resume" in fresh.stderr

    f.run_cli(*args, "--resume", check=True)
    metrics = json.loads((out / "metrics.json").read_text())
    epochs = [int(row["epoch"]) for row in metrics["history"]]
    assert epochs[-1] == 2 and metrics["steps"] == 60
    assert not (out / "train" / "backup").exists()
    assert os.path.exists(out / "weights.npz")


def test_python_api(trained, chorales):
    import composer

    phrase = composer.generate("lstm", bars=2, seed=0, checkpoint=trained["out"])
    assert phrase.seconds == pytest.approx(4.0) and phrase.bars == 2
    assert phrase.qpm == phrase.sequence.tempos[0].qpm == 120.0
    with pytest.raises(ValueError, match="unknown model"):
        composer.generate("nope")


def test_tf_config_trains_under_multi_worker_strategy(small_corpus, tmp_path):
    """A one-worker cluster on loopback: the TF_CONFIG path a multi-machine run takes."""
    import os
    import socket
    import subprocess
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "TF_CONFIG": json.dumps({
        "cluster": {"worker": [f"127.0.0.1:{port}"]}, "task": {"type": "worker", "index": 0}})}
    out = tmp_path / "mw"
    result = subprocess.run(
        [sys.executable, "-m", "composer", "train", "--model", "lstm", "--corpus",
         str(small_corpus), "-o", str(out), "--steps", "4", "--checkpoint-every", "2",
         "--batch", "8", "--seq-len", "32"], capture_output=True, text=True, cwd=f.ROOT,
        env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["strategy"] == "MultiWorkerMirroredStrategy" and metrics["replicas"] == 1
    assert (out / "weights.npz").exists()


def test_init_from_starts_at_a_checkpoint(trained, small_corpus, tmp_path):
    """With a learning rate of 0 the weights must come through unchanged."""
    out = tmp_path / "continued"
    f.run_cli("train", "--model", "lstm", "--corpus", small_corpus, "-o", out,
              "--steps", "2", "--checkpoint-every", "2", "--batch", "8", "--seq-len", "48",
              "--learning-rate", "0", "--init-from", trained["out"], check=True)
    with np.load(trained["out"] / "weights.npz") as a, np.load(out / "weights.npz") as b:
        assert all(np.array_equal(a[k], b[k]) for k in a.files)
    info = json.loads((out / "model.json").read_text())
    assert info["training"]["initialized_from"] == str(trained["out"])
    wrong = f.run_cli("train", "--model", "vae-2bar", "--corpus", small_corpus, "-o",
                      tmp_path / "x", "--init-from", trained["out"])
    assert wrong.returncode == 1 and "not vae-2bar" in wrong.stderr
