"""Fit the dynamics model (models/dynamics) from performances with velocities, e.g. POP909.

    composer train --model dynamics --corpus POP909_CORPUS -o models/dynamics

writes dynamics.json and MODEL_CARD.md in seconds: a few dozen means and spreads, no network.

Each train piece's pitched notes become columns (velocity, role, sixteenth, bar) on the
piece's own beat grid (models.pop.encoding.beat_clock: POP909's beat annotations with their
downbeats, else the tempo map with bar 1 at time 0). The melody (POP909's MELODY track, else
the highest track) is the lead, every other track accompaniment. The additive model of
models/dynamics is then fitted by backfitting: alternately the mean offset of each role at
each position, and each bar's mean level, until they settle. The bar levels, less each piece's
mean, are the drift: its variance (less the part a bar's few notes add by chance) and its
lag-one correlation give the AR(1). Pieces whose bars are not 4/4 or that play every note at
one velocity (nothing to learn from) are skipped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.dynamics import POSITIONS, ROLES, Dynamics
from training.fileio import atomic_write_text

MIN_BAR_NOTES = 4  # bars with fewer notes say too little about the level to fit the drift


@dataclass(frozen=True)
class Piece:
    """One piece's pitched notes as columns."""

    velocity: np.ndarray  # [note] MIDI velocity 1..127
    lead: np.ndarray  # [note] bool: the melody
    position: np.ndarray  # [note] sixteenth of its 4/4 bar, 0..15 (nearest)
    bar: np.ndarray  # [note] bar counted from the piece's first, 0..


def piece_of(sequence) -> Piece | None:
    """A NoteSequence's notes on its beat grid; None when its bars are not 4/4 or every note
    has the same velocity."""
    from models.pop.encoding import BEATS_PER_BAR, beat_clock, roles_of

    to_beats, pickup, downbeats = beat_clock(sequence)
    if downbeats is not None and len(downbeats) > 2:
        if np.mean(np.diff(downbeats) == BEATS_PER_BAR) < 0.8:
            return None
    elif any((t.numerator, t.denominator) != (4, 4) for t in sequence.time_signatures):
        return None
    roles = roles_of(sequence)
    notes = [n for n in sequence.notes if n.instrument in roles]
    velocity = np.array([n.velocity for n in notes], dtype=np.float64)
    if len(np.unique(velocity)) < 2:
        return None
    offset = (BEATS_PER_BAR - pickup) % BEATS_PER_BAR  # bar lines on multiples of 4 beats
    grid = np.round((to_beats([n.start_time for n in notes]) + offset) * 4).astype(np.int64)
    grid -= grid.min() // POSITIONS * POSITIONS
    return Piece(velocity, np.array([roles[n.instrument] == 0 for n in notes]),
                 grid % POSITIONS, grid // POSITIONS)


def read_pieces(corpus: Path, split: str = "train") -> tuple[list[Piece], int]:
    """The usable pieces of a corpus split, and how many were skipped."""
    from training.shards import iter_notesequences

    pieces, skipped = [], 0
    for sequence in iter_notesequences(corpus, split):
        piece = piece_of(sequence)
        if piece is None:
            skipped += 1
        else:
            pieces.append(piece)
    return pieces, skipped


def _means(values: np.ndarray, groups: np.ndarray, size: int) -> np.ndarray:
    return np.bincount(groups, values, size) / np.maximum(np.bincount(groups, minlength=size), 1)


def fit(pieces: list[Piece], iterations: int = 20) -> Dynamics:
    """The additive velocity model of models/dynamics, fitted to `pieces`."""
    v = np.concatenate([p.velocity for p in pieces])
    role = np.concatenate([np.where(p.lead, 0, 1) for p in pieces])
    cell = role * POSITIONS + np.concatenate([p.position for p in pieces])
    starts = np.cumsum([0] + [int(p.bar.max()) + 1 for p in pieces])
    bar = np.concatenate([p.bar + s for p, s in zip(pieces, starts)])  # unique across pieces
    bars = int(starts[-1])
    counts = np.bincount(bar, minlength=bars)
    cells = np.bincount(cell, minlength=2 * POSITIONS).reshape(2, POSITIONS)
    level, accent, bar_level = _means(v, role, 2), np.zeros(2 * POSITIONS), np.zeros(bars)
    for _ in range(iterations):
        accent = _means(v - level[role] - bar_level[bar], cell, 2 * POSITIONS).reshape(2, -1)
        accent -= ((accent * cells).sum(1) / np.maximum(cells.sum(1), 1))[:, None]
        accent = accent.ravel()
        bar_level = _means(v - level[role] - accent[cell], bar, bars)
        bar_level -= bar_level @ counts / counts.sum()
        level = _means(v - accent[cell] - bar_level[bar], role, 2)
    residual = v - level[role] - accent[cell] - bar_level[bar]
    dof = len(v) / max(len(v) - np.count_nonzero(counts), 1)  # a bar's mean soaks up a little
    noise = np.sqrt(_means(residual ** 2, role, 2) * dof)
    song_std, phi, drift_std = _drift(bar_level, counts, starts, np.mean(residual ** 2) * dof)
    return Dynamics(level=level, accent=accent.reshape(2, POSITIONS), noise=noise,
                    song_std=song_std, drift_phi=phi, drift_std=drift_std)


def _drift(bar_level: np.ndarray, counts: np.ndarray, starts: np.ndarray, noise_var: float
           ) -> tuple[float, float, float]:
    """(song std, AR(1) phi, drift std) from the bar levels of pieces laid end to end."""
    piece = np.repeat(np.arange(len(starts) - 1), np.diff(starts))
    ok = counts >= MIN_BAR_NOTES
    if not ok.any():
        return 0.0, 0.0, 0.0
    song = _means(bar_level[ok], piece[ok], len(starts) - 1)  # each piece's mean level
    used = np.bincount(piece[ok], minlength=len(starts) - 1) > 0
    drift = bar_level - song[piece]
    # a bar's mean of n notes carries noise_var / n of chance variance: not the drift's
    variance = np.mean(drift[ok] ** 2) - np.mean(noise_var / counts[ok])
    pairs = ok[:-1] & ok[1:] & (piece[:-1] == piece[1:])
    phi = np.mean(drift[:-1][pairs] * drift[1:][pairs]) / variance if variance > 0 else 0.0
    return (float(np.std(song[used])), float(np.clip(phi, 0.0, 0.99)),
            float(np.sqrt(max(variance, 0.0))))


def by_position(velocity: np.ndarray, lead: np.ndarray, position: np.ndarray) -> np.ndarray:
    """[role, position, (mean, std, notes)] of velocities."""
    out = np.zeros((2, POSITIONS, 3))
    for r, mask in enumerate((lead, ~lead)):
        n = np.bincount(position[mask], minlength=POSITIONS)
        mean = _means(velocity[mask], position[mask], POSITIONS)
        square = _means(velocity[mask] ** 2, position[mask], POSITIONS)
        out[r] = np.stack([mean, np.sqrt(np.maximum(square - mean ** 2, 0)), n], axis=1)
    return out


def compare(dynamics: Dynamics, pieces: list[Piece], seed: int = 0
            ) -> tuple[np.ndarray, np.ndarray]:
    """by_position of the data, and of the model's velocities for the same notes (each piece
    a new performance: its own song offset and drift), rounded and clipped as apply() does."""
    rng = np.random.default_rng(seed)
    made = [np.clip(np.round(dynamics.sample(p.lead, p.position, p.bar, rng)[0]), 1, 127)
            for p in pieces]
    lead = np.concatenate([p.lead for p in pieces])
    position = np.concatenate([p.position for p in pieces])
    return (by_position(np.concatenate([p.velocity for p in pieces]), lead, position),
            by_position(np.concatenate(made), lead, position))


def train(corpus: Path, output: Path, split: str = "train") -> Dynamics:
    """Fit on a corpus split; write output/dynamics.json and output/MODEL_CARD.md (which
    records this process's command line)."""
    import shlex
    import sys

    from training.trainer import TrainingError

    pieces, skipped = read_pieces(corpus, split)
    if not pieces:
        raise TrainingError(f"{corpus}: no {split} piece in 4/4 with varying velocities to "
                            "learn dynamics from (build the corpus from pop909:DIR)")
    dynamics = fit(pieces)
    notes = sum(len(p.velocity) for p in pieces)
    command = "composer " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    training = {"command": command, "corpus": str(corpus), "split": split,
                "pieces": len(pieces), "skipped": skipped, "notes": notes}
    dynamics = Dynamics(**{**dynamics.__dict__, "training": training})
    output.mkdir(parents=True, exist_ok=True)
    atomic_write_text(output / "dynamics.json", json.dumps(dynamics.to_dict(), indent=1) + "\n")
    shipped = Dynamics.load(output / "dynamics.json")  # the card shows the rounded numbers
    atomic_write_text(output / "MODEL_CARD.md", model_card(shipped, pieces))
    return shipped


def model_card(dynamics: Dynamics, pieces: list[Piece]) -> str:
    t = dynamics.training or {}
    data, model = compare(dynamics, pieces)
    lines = [
        "# Model card: dynamics", "",
        "Velocities for the notes the shipped LSTM, VAEs, GAN and hybrid write (their "
        "training corpus has no dynamics): each pitched note gets",
        "", "    velocity = level[role] + accent[role, position] + song + drift[bar] + noise", "",
        "with the lead (the melody) and the accompaniment apart, `position` the note's "
        "sixteenth in its 4/4 bar, `song` one offset per performance (per generator run), "
        "`drift` an AR(1) from bar to bar and `noise` per note; rounded and clipped to 1..127. "
        "Fitted by `training/dynamics.py`, applied by `models/dynamics` (NumPy).", "",
        "## How it was made", "", f"    {t.get('command', '(command not recorded)')}", "",
        f"- Data: corpus `{t.get('corpus')}`, {t.get('split')} split: {t.get('pieces', 0):,} "
        f"pieces, {t.get('notes', 0):,} notes; {t.get('skipped', 0)} skipped (bars not 4/4, or "
        "one velocity throughout).",
        "- Grid: each piece's own beat annotations and downbeats (POP909's beat_midi.txt; "
        "else its tempo map from bar 1 at 0), notes to the nearest sixteenth. Lead: the "
        "MELODY track (else the highest track); accompaniment: the others (BRIDGE, PIANO).",
        "", "## How the generators use it", "",
        "Each generator (lstm, vae-2bar, vae-16bar, gan, hybrid) sets every phrase's "
        "velocities with a `models.dynamics.Performer`: its own random stream seeded from "
        "`--seed` (the notes are the same as without it), one song offset per run and the "
        "drift carried from phrase to phrase. The lead is the VAE's (and the hybrid's) melody, "
        "the GAN's top voice (the soprano) and the lstm's top line (notes with nothing higher "
        "sounding as they start); everything else is accompaniment. Applying it takes well "
        "under a millisecond a phrase.", "",
        "## Fitted numbers", "",
        "| | lead | accompaniment |", "|---|---:|---:|",
        f"| level (mean velocity) | {dynamics.level[0]:.1f} | {dynamics.level[1]:.1f} |",
        f"| per-note noise std | {dynamics.noise[0]:.1f} | {dynamics.noise[1]:.1f} |", "",
        f"Song offset std {dynamics.song_std:.1f}; drift AR(1) per bar: phi "
        f"{dynamics.drift_phi:.3f}, stationary std {dynamics.drift_std:.1f} (velocity units).",
        "", "Accent by position (velocity above the role's level; beats at 1, 5, 9, 13):", "",
        "| sixteenth | " + " | ".join(str(i + 1) for i in range(POSITIONS)) + " |",
        "|---|" + "---:|" * POSITIONS]
    for r, name in enumerate(ROLES):
        lines.append(f"| {name} | " + " | ".join(f"{a:+.1f}" for a in dynamics.accent[r]) + " |")
    gap = np.abs(data[:, :, 0] - model[:, :, 0]).max(axis=1)
    lines += ["", "## Data vs model", "",
              "Velocity mean ± std by position: the data, and `sample()` on the same notes "
              "(each piece a new performance). The accents are small beside the spread: a "
              "performance's level and the per-note noise move a velocity far more than its "
              f"place in the bar. The largest gap between the means is {gap[0]:.1f} (lead) and "
              f"{gap[1]:.1f} (accompaniment): in the data a position is not independent of its "
              "bar's level (some positions are used more in loud bars or soft ones), which the "
              "fit gives to the bars, not the accents.", "",
              "| sixteenth | lead data | lead model | acc. data | acc. model | notes (lead/acc.) |",
              "|---:|---:|---:|---:|---:|---:|"]
    for i in range(POSITIONS):
        cells = [f"{s[r, i, 0]:.1f} ± {s[r, i, 1]:.1f}" for r in range(2) for s in (data, model)]
        lines.append(f"| {i + 1} | " + " | ".join(cells)
                     + f" | {int(data[0, i, 2]):,} / {int(data[1, i, 2]):,} |")
    return "\n".join(lines) + "\n"
