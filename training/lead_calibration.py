"""Where the lead's notes start: a per-sixteenth onset bias fitted to the songs' own.

Sampled freely, the lead model starts fewer notes on the beat than POP909's melodies (0.37 of
its onsets against 0.46) and more between eighths: small per-step drifts add up when it reads
its own draws. The sampler (models.lead.runtime) takes one log-odds per sixteenth of the bar
that weighs the odds of a note starting there; this fits it on a split's songs by matching
rates: sample melodies over the songs' own chords, compare each sixteenth's onset rate with
the songs', move the bias by half the log of their ratio, repeat, and keep the mean of the
last iterates (the draws are noisy; the mean settles).

    python -m training.lead_calibration CHECKPOINT --corpus POP909_CORPUS [--split valid]
        [--bars 16] [--temperature 0.7] [--iterations 8] [--seeds 4]

writes the fitted `onset_bias` into the checkpoint's model.json (with how it was fitted).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from models.lead.encoding import FIRST_NOTE, STEPS_PER_BAR


def onset_rates(melodies) -> np.ndarray:
    """[STEPS_PER_BAR]: the share of each sixteenth of the bar on which a note starts, over
    (conditions, events) pairs."""
    onsets, seen = np.zeros(STEPS_PER_BAR), np.zeros(STEPS_PER_BAR)
    for conditions, events in melodies:
        position = np.asarray(conditions) % STEPS_PER_BAR
        np.add.at(onsets, position, np.asarray(events) >= FIRST_NOTE)
        np.add.at(seen, position, 1)
    return onsets / np.maximum(seen, 1)


def fit_onset_bias(runtime, songs, *, temperature: float, iterations: int = 8,
                   seeds: int = 4, step: float = 0.5, keep: int = 4,
                   progress=None) -> tuple[np.ndarray, list[dict]]:
    """The bias and each iteration's onset rates (before its update), from `songs`, a list of
    (conditions, events) of real melodies."""
    target = onset_rates(songs)
    bias, iterates, history = np.zeros(STEPS_PER_BAR), [], []
    for i in range(iterations):
        made = []
        for seed in range(seeds):
            rng = np.random.default_rng(seed)
            made += [(c, runtime.sample(c, temperature=temperature, rng=rng, onset_bias=bias))
                     for c, _ in songs]
        rates = onset_rates(made)
        history.append({"bias": bias.round(4).tolist(), "rates": rates.round(4).tolist()})
        bias = bias + step * np.clip(np.log(np.maximum(target, 1e-3) / np.maximum(rates, 1e-3)),
                                     -1.0, 1.0)
        iterates.append(bias)
        if progress:
            progress("onset bias", i + 1, iterations)
    return np.mean(iterates[-keep:], axis=0), history


def add_to_checkpoint(folder: Path, corpus: Path, *, split: str = "valid", bars: int = 16,
                      temperature: float = 0.7, iterations: int = 8, seeds: int = 4,
                      progress=None) -> dict:
    """Fit the bias on `corpus`'s `split` and write it into the checkpoint's model.json."""
    from models.checkpoint import load_checkpoint, save_checkpoint
    from models.lead.encoding import LeadEncoding
    from models.lead.runtime import LeadRuntime
    from training.lead_metrics import song_windows

    info, weights = load_checkpoint(folder, ("lead",))
    songs = song_windows(corpus, split, bars, LeadEncoding(**info["encoding"]))
    if not songs:
        raise ValueError(f"{corpus}: no {bars}-bar songs in the {split} split")
    bias, history = fit_onset_bias(LeadRuntime(weights), songs, temperature=temperature,
                                   iterations=iterations, seeds=seeds, progress=progress)
    info["onset_bias"] = bias.round(4).tolist()
    info["onset_bias_fit"] = {"corpus": str(corpus), "split": split, "songs": len(songs),
                              "bars": bars, "temperature": temperature, "seeds": seeds,
                              "target_rates": onset_rates(songs).round(4).tolist(),
                              "iterations": history}
    save_checkpoint(folder, {k: v for k, v in info.items() if k != "weights_dtype"}, weights,
                    info.get("weights_dtype", "float32"))
    return info["onset_bias_fit"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--split", default="valid")
    parser.add_argument("--bars", type=int, default=16, help="the first bars of each song")
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--iterations", type=int, default=8)
    parser.add_argument("--seeds", type=int, default=4)
    args = parser.parse_args(argv)
    from models.checkpoint import CheckpointError

    try:
        fit = add_to_checkpoint(args.checkpoint, args.corpus, split=args.split, bars=args.bars,
                                temperature=args.temperature, iterations=args.iterations,
                                seeds=args.seeds)
    except (CheckpointError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    last = fit["iterations"][-1]["rates"]
    print(f"{args.checkpoint}: onset_bias from {fit['songs']} songs of {args.split}; "
          f"on-beat onset rates, songs {fit['target_rates'][::4]}, last draw "
          f"{[round(r, 2) for r in last[::4]]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
