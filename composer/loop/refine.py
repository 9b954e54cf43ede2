"""Choosing the join: the seam measures predicted for many candidate joins at once.

The three seam measures are local at the seam, so for a candidate loop [s, e) the seam is
measured on a short excerpt, the last W frames before e followed by the first W after s,
against reference levels taken once over the stretch of clip the candidates cover (the 99th
percentile of each measure between s and e). That makes it cheap to try, for each of the best candidates, the whole
loop shifted a few milliseconds either way (same length, same bars): the join can then avoid
landing on a note's attack, which would make it as abrupt as the music's strongest moments.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from composer.loop import seam as measures


@dataclass(frozen=True)
class Reference:
    """Each measure over a stretch of the clip, at positions on a regular grid."""

    positions: dict[str, np.ndarray]
    values: dict[str, np.ndarray]
    floors: dict[str, float]
    top: float  # loudest band power: the flux measure's dB floor hangs from it

    def percentiles(self, start: int, end: int, sample_rate: int) -> dict[str, float]:
        """The 99th percentile of each measure between start and end (at least its floor)."""
        reach = measures.reach(sample_rate)
        out = {}
        for name, where in self.positions.items():
            lo, hi = np.searchsorted(where, [start + reach[name], end - reach[name]])
            inside = self.values[name][lo:max(hi, lo + 1)]
            level = float(np.percentile(inside, measures.PERCENTILE)) if inside.size else 0.0
            out[name] = max(level, self.floors[name])
        return out


def reference_levels(audio: np.ndarray, sample_rate: int, lo: int = 0,
                     hi: int | None = None) -> Reference:
    """Each measure at every grid position of audio[lo:hi] (positions in clip frames)."""
    x = measures.as_channels(audio[lo:hi])
    n = x.shape[-1]
    click_at = np.arange(0, n, measures.click_width(sample_rate) // 2)
    dip_at = np.arange(0, n, max(1, measures.rms_width(sample_rate) // 8))
    # Pairs every hop (not every quarter hop, as seam_scores has them): four times cheaper,
    # and a percentile that errs low, so predictions err on the careful side.
    flux_at, flux, top = measures.flux_grid(x, sample_rate, 0, measures.flux_size(sample_rate) // 4)
    return Reference(
        positions={"click": click_at + lo, "dip": dip_at + lo, "flux": flux_at + lo},
        values={"click": measures.click_values(x, sample_rate, click_at),
                "dip": measures.dip_values(x, sample_rate, dip_at), "flux": flux},
        floors=measures.floors(x, sample_rate), top=top)


def half_width(sample_rate: int) -> int:
    """Frames of excerpt needed on each side of a join for every measure's windows."""
    return max(measures.reach(sample_rate).values()) + measures.click_width(sample_rate)


def join_values(audio: np.ndarray, sample_rate: int, ends: np.ndarray,
                starts: np.ndarray) -> dict[str, np.ndarray]:
    """The three measures at joins audio[end - 1] -> audio[start], one per (end, start)."""
    n, half = len(audio), half_width(sample_rate)
    offsets = np.arange(half)
    index = np.concatenate([ends[:, None] - half + offsets, starts[:, None] + offsets], axis=1)
    excerpt = np.asarray(audio, dtype=np.float64)[np.clip(index, 0, n - 1)]  # (joins, f, ch)
    excerpt = np.ascontiguousarray(np.swapaxes(excerpt, -1, -2))
    at = np.array([half])
    power = measures.flux_power(excerpt, sample_rate, at)
    return {"click": measures.click_values(excerpt, sample_rate, at)[:, 0],
            "dip": measures.dip_values(excerpt, sample_rate, at)[:, 0],
            "flux_power": power[:, 0]}


def predicted_scores(audio: np.ndarray, sample_rate: int, reference: Reference,
                     starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Worst predicted seam score of every loop [starts[i], ends[i]); the loops are variants
    of one candidate, so the interior levels are those between the first pair."""
    values = join_values(audio, sample_rate, ends, starts)
    limits = reference.percentiles(int(starts[0]), int(ends[0]), sample_rate)
    flux = measures.flux_values(values["flux_power"], reference.top)
    return np.maximum.reduce([
        np.where(values["click"] > 1e-3 * reference.floors["click"],
                 values["click"] / limits["click"], 0.0),
        np.where(values["dip"] > 1e-3 * reference.floors["dip"],
                 values["dip"] / limits["dip"], 0.0),
        np.where(flux > 1e-3 * reference.floors["flux"], flux / limits["flux"], 0.0)])
