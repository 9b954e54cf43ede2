"""`composer eval`: how well a trained model predicts the test split, against a baseline.

The LSTM is scored with the NumPy runtime that generation uses (so what is measured is what
plays), on the same positions and contexts as the n-gram baseline (training.ngram).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

from training.datasets import encode_split, window_starts
from training.fileio import atomic_write_text
from training.ngram import eval_positions, fit_best


def lstm_scores(runtime, tokens: np.ndarray, offsets: np.ndarray, window: int,
                batch: int = 128, progress=None) -> tuple[np.ndarray, np.ndarray]:
    """(log-probability of each scored event, whether it was the argmax), in eval_positions order."""
    length = window + 1
    starts = window_starts(offsets, length, length).tolist()  # the windows eval_positions scores
    logp, hits = [], []
    for i in range(0, len(starts), batch):
        chunk = np.stack([tokens[s:s + length] for s in starts[i:i + batch]]).astype(np.int64)
        logits, _ = runtime.run(chunk[:, :-1])
        logits = logits.astype(np.float64)
        logits -= logits.max(axis=-1, keepdims=True)
        log_softmax = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
        target = chunk[:, 1:]
        logp.append(np.take_along_axis(log_softmax, target[..., None], axis=-1)[..., 0].ravel())
        hits.append((log_softmax.argmax(axis=-1) == target).ravel())
        if progress:
            progress("model test", min(i + batch, len(starts)), len(starts))
    if not logp:
        return np.zeros(0), np.zeros(0, bool)
    return np.concatenate(logp), np.concatenate(hits)


def language_model(checkpoint: Path, info: dict, weights: dict):
    """(encoding, runtime) of a checkpoint of a next-token model, the lstm or pop: the runtime
    that generation uses, so what is scored is what plays."""
    if info.get("model") == "pop":
        from models.pop.encoding import RemiEncoding
        from models.pop.litert import step_runtime

        return RemiEncoding(**info["encoding"]), step_runtime(checkpoint, info)
    from models.lstm.encoding import PerformanceEncoding
    from models.lstm.runtime import LstmRuntime

    return PerformanceEncoding(**info["encoding"]), LstmRuntime(weights)


def evaluate_lstm(checkpoint: str | os.PathLike, corpus: str | os.PathLike, *,
                  window: int = 256, max_events: int | None = None, progress=None) -> dict:
    """Next-token accuracy and perplexity on the test split, beside an n-gram baseline on the
    same tokens (the lstm's performance events, or the pop model's REMI tokens)."""
    from models.checkpoint import load_checkpoint

    info, weights = load_checkpoint(checkpoint)
    encoding, runtime = language_model(Path(checkpoint), info, weights)
    kind = info.get("model", "lstm")
    if kind == "pop":
        window = min(window, info["network"]["context"] - 1)
    splits = {s: encode_split(corpus, s, encoding, progress=progress)
              for s in ("train", "valid", "test")}
    test = splits["test"]
    if max_events and len(test.tokens) > max_events:  # a quick look at a big corpus
        keep = int(np.searchsorted(test.offsets, max_events, side="right"))
        test = type(test)(test.tokens[:test.offsets[keep - 1]], test.offsets[:keep])
    positions, context = eval_positions(test.offsets, window)
    if len(positions) == 0:
        raise ValueError(f"{corpus}: no test piece is {window + 1} events long; "
                         "use a shorter --window")

    started = time.perf_counter()
    logp, hits = lstm_scores(runtime, test.tokens, test.offsets, window, progress=progress)
    lstm_seconds = time.perf_counter() - started

    vocab = encoding.vocab_size
    ngram, valid_ppl = fit_best(splits["train"].tokens, splits["train"].offsets,
                                splits["valid"].tokens, splits["valid"].offsets, vocab,
                                window=window)
    ng_logp = ngram.log_probs(test.tokens, positions, context)
    ng_hits = _ngram_argmax_hits(ngram, test.tokens, positions, context, vocab)
    return {
        "model": kind,
        "evaluator": "lstm",
        "checkpoint": str(checkpoint),
        "corpus": str(corpus),
        "test_pieces": test.pieces,
        "scored_events": len(positions),
        "window": window,
        "runtime": getattr(runtime, "name", "numpy"),
        kind: {"accuracy": float(hits.mean()), "perplexity": float(np.exp(-logp.mean())),
                 "events_per_second": round(len(positions) / lstm_seconds)},
        "ngram": {"order": ngram.order, "accuracy": float(ng_hits.mean()),
                  "accuracy_sampled_events": len(ng_hits),
                  "perplexity": float(np.exp(-ng_logp.mean())),
                  "valid_perplexity_by_order": {str(k): v for k, v in valid_ppl.items()}},
    }


def _ngram_argmax_hits(model, tokens, positions, context, vocab, sample: int = 20_000
                       ) -> np.ndarray:
    """Whether the n-gram's likeliest next event is the true one, on up to `sample` positions.

    Every candidate event is scored in place. Positions closer than the model's order would see
    each other's candidates in their context, so they are scored in groups `order` apart.
    """
    pick = np.unique(np.linspace(0, len(positions) - 1, min(sample, len(positions))).astype(int))
    positions, context = positions[pick], context[pick]
    hits = np.zeros(len(positions), dtype=bool)
    work = tokens.astype(np.int64).copy()
    for group in range(model.order):
        members = np.flatnonzero(positions % model.order == group)
        pos, ctx = positions[members], context[members]
        best = np.full(len(pos), -np.inf)
        arg = np.zeros(len(pos), dtype=np.int64)
        for candidate in range(vocab):
            work[pos] = candidate
            lp = model.log_probs(work, pos, ctx)
            better = lp > best
            best[better], arg[better] = lp[better], candidate
        work[pos] = tokens[pos]
        hits[members] = arg == tokens[pos]
    return hits


def write_report(report: dict, path: Path) -> None:
    atomic_write_text(path, json.dumps(report, indent=1) + "\n")


def pitch_class_histogram(ids: np.ndarray) -> np.ndarray:
    """Share of onsets per pitch class in a melody window (class ids: 0 rest, 1 off, 2.. notes)."""
    pitches = ids[ids >= 2] - 2 + 21
    hist = np.bincount(pitches % 12, minlength=12).astype(np.float64)
    return hist / hist.sum() if hist.sum() else hist


def evaluate_vae(checkpoint: str | os.PathLike, corpus: str | os.PathLike, *,
                 max_windows: int = 2000, pairs: int = 100, steps: int = 8,
                 seed: int = 0, progress=None) -> dict:
    """Reconstruction accuracy (teacher-forced and sampled, z = posterior mean) on held-out
    melody windows, as the MusicVAE paper reports it, the sampled one also over the notes
    alone (pitch at its onset sixteenth), and interpolation smoothness."""
    from models.checkpoint import load_checkpoint
    from models.vae.encoding import MelodyEncoding
    from models.vae.runtime import interpolate
    from models.vae.stacked import load_runtime

    info, weights = load_checkpoint(checkpoint)
    encoding = MelodyEncoding(**info["encoding"])
    runtime = load_runtime(info, weights)
    test = encode_split(corpus, "test", encoding, progress=progress)
    windows = test.tokens.astype(np.int64).reshape(-1, encoding.steps)
    if not len(windows):
        raise ValueError(f"{corpus}: no {encoding.bars}-bar melodies in the test split")
    rng = np.random.default_rng(seed)
    if len(windows) > max_windows:
        windows = windows[np.sort(rng.choice(len(windows), max_windows, replace=False))]
    started = time.perf_counter()
    mu, sigma = runtime.encode(windows)
    forced = runtime.decode_logits(windows, mu).argmax(axis=-1)
    sampled = runtime.decode(mu)
    seconds = time.perf_counter() - started
    kl = (-np.log(sigma) + 0.5 * (sigma ** 2 + mu ** 2) - 0.5).sum(axis=-1)

    def neighbour_distance(path) -> float:
        hists = np.stack([pitch_class_histogram(m) for m in path])
        return float(np.abs(np.diff(hists, axis=0)).sum(axis=1).mean())

    neighbour, data_space, ends = [], [], []
    for _ in range(pairs):
        a, b = windows[rng.choice(len(windows), 2, replace=False)]
        neighbour.append(neighbour_distance(interpolate(runtime, a, b, steps)))
        # The data-space reference: step k plays the start of a and the rest of b.
        cuts = np.round(np.linspace(encoding.steps, 0, steps)).astype(int)
        data_space.append(neighbour_distance([np.concatenate([a[:c], b[c:]]) for c in cuts]))
        ends.append(np.abs(pitch_class_histogram(a) - pitch_class_histogram(b)).sum())
    return {
        "model": info["model"],
        "evaluator": "vae",
        "checkpoint": str(checkpoint),
        "corpus": str(corpus),
        "test_pieces": test.pieces,
        "windows": len(windows),
        "metrics": {
            "teacher_forced_accuracy": float((forced == windows).mean()),
            "sampled_accuracy": float((sampled == windows).mean()),
            # the same over the melody's notes alone: a decoder that holds one note through
            # a window scores well on the sixteenths above and gives back none of its notes
            "sampled_note_accuracy": float((sampled == windows)[windows >= 2].mean()),
            "kl_nats": float(kl.mean()),
            "interpolation_neighbour_pc_distance": float(np.mean(neighbour)),
            "data_space_neighbour_pc_distance": float(np.mean(data_space)),
            "endpoint_pc_distance": float(np.mean(ends)),
            "windows_per_second": len(windows) / seconds,
        },
    }


def evaluate_gan(checkpoint: str | os.PathLike, corpus: str | os.PathLike, *,
                 samples: int = 1000, seed: int = 0, progress=None) -> dict:
    """MuseGAN's statistics of generated phrases beside the same for the training phrases."""
    from models.checkpoint import load_checkpoint
    from models.gan.encoding import LAYOUTS, PianorollEncoding
    from models.gan.runtime import GanRuntime
    from training.gan_metrics import musegan_statistics

    info, _ = load_checkpoint(checkpoint)
    encoding = PianorollEncoding(**info["encoding"])
    runtime = GanRuntime((Path(checkpoint) / "generator.tflite").read_bytes())
    train = encode_split(corpus, "train", encoding, progress=progress)
    real = train.tokens.astype(bool).reshape(-1, *encoding.shape)
    started = time.perf_counter()
    fake = runtime.sample(samples, np.random.default_rng(seed), encoding)
    seconds = time.perf_counter() - started
    ours = musegan_statistics(fake, encoding.steps_per_bar, encoding.min_pitch)
    data = musegan_statistics(real, encoding.steps_per_bar, encoding.min_pitch)
    names = LAYOUTS[encoding.layout]["names"]
    table = {}
    for metric, values in ours.items():
        for track, (g, d) in enumerate(zip(values, data[metric])):
            rel = abs(g - d) / abs(d) if d else (0.0 if g == d else float("inf"))
            # A rate near zero in the data (empty bars, chords in one voice) has no useful
            # relative scale: there, within one percentage point counts as close.
            close = rel <= 0.10 or (metric.endswith("_rate") and d < 0.05
                                    and abs(g - d) <= 0.01)
            table[f"{metric}/{names[track]}"] = {"generated": g, "training_data": d,
                                                 "relative_difference": rel, "close": close}
    return {
        "model": "gan",
        "evaluator": "gan",
        "checkpoint": str(checkpoint),
        "corpus": str(corpus),
        "test_pieces": train.pieces,
        "generated_phrases": samples,
        "training_phrases": len(real),
        "statistics": table,
        "within_10_percent": sum(v["close"] for v in table.values()),
        "closeness": "within 10 %, or within 1 point for rates under 5 % in the data",
        "phrases_per_second": samples / seconds,
    }


# Each model family's evaluation, by the name the generator registry gives it
# (composer.generators.ModelSpec.evaluator); each takes (checkpoint, corpus, progress=...).
EVALUATORS = {"lstm": evaluate_lstm, "vae": evaluate_vae, "gan": evaluate_gan}
