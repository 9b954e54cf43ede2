"""What is in a corpus: summary numbers and PNG histograms, computed from its manifest alone."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.fileio import atomic_write_bytes
from training.keys import PITCH_NAMES


@dataclass(frozen=True)
class SourceStats:
    source: str
    pieces: int
    train: int
    valid: int
    test: int
    hours: float
    notes: int


def per_source(rows: list[dict]) -> list[SourceStats]:
    out = []
    for source in sorted({r["source"] for r in rows}):
        mine = [r for r in rows if r["source"] == source]
        splits = Counter(r["split"] for r in mine)
        out.append(SourceStats(source, len(mine), splits["train"], splits["valid"], splits["test"],
                               sum(float(r["duration"]) for r in mine) / 3600,
                               sum(int(r["notes"]) for r in mine)))
    return out


def key_counts(rows: list[dict]) -> Counter:
    """Estimated original keys (before transposition)."""
    return Counter(r["key"] for r in rows)


def _floats(rows: list[dict], column: str) -> np.ndarray:
    return np.array([float(r[column]) for r in rows if r.get(column) not in ("", None)])


def plot_corpus(rows: list[dict], out_dir: str | os.PathLike) -> list[Path]:
    """Write keys.png, tempi.png, pitch_range.png and lengths.png; return their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    written = []

    def save(fig, name: str) -> None:
        import io

        buffer = io.BytesIO()
        fig.tight_layout()
        fig.savefig(buffer, format="png", dpi=110)
        plt.close(fig)
        atomic_write_bytes(out / name, buffer.getvalue())
        written.append(out / name)

    counts = key_counts(rows)
    fig, ax = plt.subplots(figsize=(10, 4))
    for offset, mode, colour in ((-0.2, "major", "tab:blue"), (0.2, "minor", "tab:orange")):
        ax.bar(np.arange(12) + offset, [counts.get(f"{n} {mode}", 0) for n in PITCH_NAMES],
               width=0.4, label=mode, color=colour)
    ax.set_xticks(np.arange(12), PITCH_NAMES)
    ax.set_title(f"Estimated keys before transposition ({len(rows)} pieces)")
    ax.set_ylabel("pieces")
    ax.legend()
    save(fig, "keys.png")

    fig, ax = plt.subplots(figsize=(8, 4))
    ax.hist(_floats(rows, "tempo"), bins=40, color="tab:green")
    ax.set_title("Main tempo")
    ax.set_xlabel("quarter notes per minute")
    ax.set_ylabel("pieces")
    save(fig, "tempi.png")

    low, high = _floats(rows, "pitch_min"), _floats(rows, "pitch_max")
    fig, ax = plt.subplots(figsize=(8, 4))
    bins = np.arange(0, 129, 2)
    ax.hist(low, bins=bins, alpha=0.7, label="lowest note")
    ax.hist(high, bins=bins, alpha=0.7, label="highest note")
    ax.set_title("Pitch range of pitched notes (after transposition)")
    ax.set_xlabel("MIDI pitch")
    ax.set_ylabel("pieces")
    ax.legend()
    save(fig, "pitch_range.png")

    durations = _floats(rows, "duration")
    fig, ax = plt.subplots(figsize=(8, 4))
    if len(durations):
        ax.hist(durations, bins=np.logspace(np.log10(max(durations.min(), 0.5)),
                                            np.log10(durations.max() + 1), 40), color="tab:purple")
        ax.set_xscale("log")
    ax.set_title("Piece lengths")
    ax.set_xlabel("seconds")
    ax.set_ylabel("pieces")
    save(fig, "lengths.png")
    return written
