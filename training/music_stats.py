"""Music statistics of generated phrases against real songs, compared as overlapping areas.

Generated phrases and corpus songs are cut to one shape, a `Window` (pitched notes of whole
4/4 bars, in beats), and each window becomes ten numbers: MusPy's metrics (Dong et al. 2020)
plus notes per bar, velocity spread and pitched tracks. For each statistic the distribution
over generated windows is compared with the one over held-out songs by the overlapping area
(OA) of their kernel density estimates, as Yang & Lerch (2018, "On the evaluation of
generative models in music") compare feature distributions: 1 when they match, 0 when they
share nothing. Held-out songs against training songs give the ceiling a model can reach.

Pure NumPy; the corpus reader is imported when used, generators are passed in.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from models.pop.encoding import beat_clock

BEATS_PER_BAR = 4
STEPS_PER_BEAT = 4  # the sixteenth-note grid of polyphony, empty beats and groove
MAJOR = np.array([1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1], dtype=bool)  # minor scales: same sets

STATISTICS = ("pitch_class_entropy", "polyphony", "notes_per_bar", "pitch_range",
              "distinct_pitches", "velocity_spread", "pitched_tracks", "empty_beat_rate",
              "scale_consistency", "groove_consistency")
DISCRETE = frozenset({"pitch_range", "distinct_pitches", "pitched_tracks"})  # integer-valued


@dataclass(frozen=True)
class Window:
    """Pitched notes of `bars` whole 4/4 bars; one row per note in each array."""

    track: np.ndarray  # int: index of the note's (instrument, program) in the window
    pitch: np.ndarray  # int: MIDI pitch 0-127
    velocity: np.ndarray  # int: MIDI velocity 1-127
    start: np.ndarray  # beats from the first bar line, 0 <= start < beats
    end: np.ndarray  # beats, start <= end <= beats (cut at the window's end)
    bars: int

    @property
    def beats(self) -> int:
        return self.bars * BEATS_PER_BAR

    def __len__(self) -> int:
        return len(self.pitch)


def _window(notes: list, starts: np.ndarray, ends: np.ndarray, bars: int) -> Window:
    """The notes (NoteSequence notes, beats given) that start inside the window's bars. A
    note belongs to the bar of its nearest sixteenth: one played a hair before a bar line
    (a performance, annotated beats) counts in the bar it starts, and in one window only."""
    beats = bars * BEATS_PER_BAR
    half = 0.5 / STEPS_PER_BEAT
    keep = np.flatnonzero((starts >= -half) & (starts < beats - half))
    kept = [notes[i] for i in keep.tolist()]
    keys = sorted({(n.instrument, n.program) for n in kept})
    start = np.maximum(starts[keep], 0.0)
    return Window(track=np.array([keys.index((n.instrument, n.program)) for n in kept], int),
                  pitch=np.array([n.pitch for n in kept], int),
                  velocity=np.array([n.velocity for n in kept], int),
                  start=start, end=np.clip(ends[keep], start, beats), bars=bars)


def window_from_sequence(sequence, qpm: float, bars: int) -> Window:
    """A generated phrase (a NoteSequence from time 0 at constant `qpm`) as a Window; drums
    are left out, as MusPy leaves them out of pitch statistics."""
    notes = [n for n in sequence.notes if not n.is_drum]
    rate = qpm / 60.0  # beats a second
    return _window(notes, np.array([n.start_time for n in notes]) * rate,
                   np.array([n.end_time for n in notes]) * rate, bars)


def song_windows(sequence, bars: int = 8) -> list[Window]:
    """A corpus song cut at its bar lines into windows of `bars` bars: windows inside the song
    only (one past its end would count silence as empty beats), empty ones skipped, none
    for a song whose annotated bars are not mostly 4 beats (a 4-beat grid would cut across
    them). Beats come from models.pop.encoding.beat_clock: POP909's beat annotations, else
    the tempo map."""
    notes = [n for n in sequence.notes if not n.is_drum]
    if not notes:
        return []
    to_beats, pickup, downbeats = beat_clock(sequence)
    if downbeats is not None and len(downbeats) > 2 and \
            np.mean(np.diff(downbeats) == BEATS_PER_BAR) < 0.8:
        return []
    offset = (BEATS_PER_BAR - pickup) % BEATS_PER_BAR  # bar lines on multiples of 4
    starts = to_beats([n.start_time for n in notes]) + offset
    ends = to_beats([n.end_time for n in notes]) + offset
    length = bars * BEATS_PER_BAR
    first = np.floor(starts.min() / BEATS_PER_BAR) * BEATS_PER_BAR
    last = np.ceil(ends.max() / BEATS_PER_BAR - 1e-6) * BEATS_PER_BAR  # the song's last bar line
    windows = []
    for origin in np.arange(first, last - length + 1e-6, length):
        window = _window(notes, starts - origin, ends - origin, bars)
        if len(window):
            windows.append(window)
    return windows


def _steps(window: Window) -> tuple[np.ndarray, np.ndarray]:
    """(first, past-the-last) sixteenth step of each note; every note sounds a step at least."""
    first = np.clip(np.round(window.start * STEPS_PER_BEAT).astype(int), 0,
                    window.beats * STEPS_PER_BEAT - 1)
    return first, np.maximum(np.round(window.end * STEPS_PER_BEAT).astype(int), first + 1)


def _sounding(window: Window) -> np.ndarray:
    """Distinct pitches sounding at each sixteenth step (MusPy's piano roll, summed)."""
    first, last = _steps(window)
    delta = np.zeros((window.beats * STEPS_PER_BEAT + 1, 128), dtype=np.int32)
    np.add.at(delta, (first, window.pitch), 1)
    np.add.at(delta, (last, window.pitch), -1)
    return (np.cumsum(delta, axis=0)[:-1] > 0).sum(axis=1)


def _groove_consistency(window: Window) -> float:
    """1 - mean Hamming distance between the onset patterns of neighbouring bars."""
    if window.bars < 2:
        return float("nan")
    per_bar = BEATS_PER_BAR * STEPS_PER_BEAT
    patterns = np.zeros((window.bars, per_bar), dtype=bool)
    steps = _steps(window)[0]
    patterns[steps // per_bar, steps % per_bar] = True
    changed = np.count_nonzero(patterns[1:] != patterns[:-1])
    return float(1.0 - changed / (per_bar * (window.bars - 1)))


def statistics(window: Window) -> dict[str, float]:
    """The ten statistics of one window (STATISTICS order), after muspy.metrics. Counting
    ones are 0 for an empty window, the others (undefined without notes) NaN."""
    nan = float("nan")
    sounding = _sounding(window)
    empty_beats = ~sounding.reshape(window.beats, STEPS_PER_BEAT).any(axis=1)
    stats = {"notes_per_bar": len(window) / window.bars,
             "pitched_tracks": float(len(np.unique(window.track))),
             "empty_beat_rate": float(empty_beats.mean()),
             "distinct_pitches": float(len(np.unique(window.pitch))),
             "pitch_range": float(np.ptp(window.pitch)) if len(window) else 0.0}
    if not len(window):
        return {name: stats.get(name, nan) for name in STATISTICS}
    counts = np.bincount(window.pitch % 12, minlength=12)
    used = counts[counts > 0] / len(window)
    in_scale = [counts[np.roll(MAJOR, root)].sum() / len(window) for root in range(12)]
    stats.update(pitch_class_entropy=float(-(used * np.log2(used)).sum()),
                 polyphony=float(sounding[sounding > 0].mean()),
                 velocity_spread=float(np.std(window.velocity)),
                 scale_consistency=float(max(in_scale)),
                 groove_consistency=_groove_consistency(window))
    return {name: stats[name] for name in STATISTICS}


def _erf(x: np.ndarray) -> np.ndarray:
    """Abramowitz & Stegun 7.1.26 (error < 1.5e-7): NumPy has no erf, SciPy is not needed."""
    sign, x = np.sign(x), np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * x)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027
                                                                         + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-x * x))


def _silverman(x: np.ndarray) -> float:
    """Silverman's rule of thumb; 0 for a constant sample (the caller floors it)."""
    if len(x) < 2:
        return 0.0
    spread = [s for s in (np.std(x, ddof=1), np.subtract(*np.percentile(x, [75, 25])) / 1.34)
              if s > 0]
    return 0.9 * min(spread) * len(x) ** -0.2 if spread else 0.0


def _density(x: np.ndarray, bandwidth: float, grid: np.ndarray, discrete: bool) -> np.ndarray:
    """Gaussian KDE of x on the grid. A discrete sample's kernel is a box over its unit cell
    convolved with the Gaussian, so a narrow bandwidth gives the histogram of the values
    instead of spikes that never meet another sample's."""
    values, counts = np.unique(x, return_counts=True)
    out = np.zeros_like(grid)
    for i in range(0, len(values), 64):  # bounded memory: 64 x len(grid)
        d = grid[None, :] - values[i:i + 64, None]
        if discrete:
            root2 = bandwidth * np.sqrt(2.0)
            k = 0.5 * (_erf((d + 0.5) / root2) - _erf((d - 0.5) / root2))
        else:
            k = np.exp(-0.5 * (d / bandwidth) ** 2)
        out += counts[i:i + 64] @ k
    return out


def _integral(y: np.ndarray, x: np.ndarray) -> float:
    """Trapezoid rule (np.trapezoid is NumPy 2 only)."""
    return float(np.sum((y[1:] + y[:-1]) * np.diff(x)) / 2)


def overlapping_area(a, b, *, discrete: bool = False) -> float:
    """Overlapping area in [0, 1] of the KDEs of two samples: the integral of min(p, q).

    Bandwidths by Silverman's rule, floored at 1 % of the pooled standard deviation so a
    constant sample is a narrow peak rather than a point; NaNs are dropped (NaN if a sample
    is left empty). `discrete`: integer-valued statistics (see _density)."""
    a, b = (np.asarray(s, dtype=np.float64) for s in (a, b))
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if not len(a) or not len(b):
        return float("nan")
    pooled = np.std(np.concatenate([a, b]))
    if pooled == 0:
        return 1.0  # both samples are the same constant
    floor = 0.01 * pooled
    if discrete:  # the unit box has variance 1/12: the Gaussian adds the rest of Silverman's
        ha, hb = (max(np.sqrt(max(_silverman(s) ** 2 - 1 / 12, 0.0)), floor) for s in (a, b))
    else:
        ha, hb = (max(_silverman(s), floor) for s in (a, b))
    margin = 6 * max(ha, hb) + (0.5 if discrete else 0.0)
    low, high = min(a.min(), b.min()) - margin, max(a.max(), b.max()) + margin
    step = min(ha, hb) / 4
    if discrete:  # box edges, not the bandwidth, set the detail to resolve
        step = min(max(step, 0.02), 0.1)
    grid = np.linspace(low, high, int(np.clip((high - low) / step, 256, 20_000)) + 1)
    p, q = (_density(s, h, grid, discrete) for s, h in ((a, ha), (b, hb)))
    p, q = p / _integral(p, grid), q / _integral(q, grid)  # each exactly 1 on this grid
    return float(np.clip(_integral(np.minimum(p, q), grid), 0.0, 1.0))


def oa_table(reference: list[dict], generated: list[dict]) -> dict[str, float]:
    """OA of each statistic between two lists of `statistics` results."""
    return {name: overlapping_area([s[name] for s in reference], [s[name] for s in generated],
                                   discrete=name in DISCRETE) for name in STATISTICS}


def mean_oa(table: dict[str, float]) -> float:
    return float(np.nanmean(list(table.values())))


def corpus_statistics(corpus: str | os.PathLike, split: str, *, bars: int = 8,
                      limit: int = 400, seed: int = 0, progress=None) -> list[dict]:
    """Statistics of up to `limit` windows of a corpus split, drawn without replacement by
    `seed` (the same windows every run), in song order."""
    from training.corpus import require_corpus
    from training.shards import iter_notesequences

    require_corpus(corpus)  # before TensorFlow starts: a wrong folder fails at once
    windows = [w for song in iter_notesequences(corpus, split) for w in song_windows(song, bars)]
    if not windows:
        raise ValueError(f"{corpus}: no {bars}-bar window of a 4/4 song in its {split} split")
    if len(windows) > limit:
        keep = np.sort(np.random.default_rng(seed).choice(len(windows), limit, replace=False))
        windows = [windows[i] for i in keep.tolist()]
    out = []
    for i, window in enumerate(windows):
        out.append(statistics(window))
        if progress:
            progress(f"{split} windows", i + 1, len(windows))
    return out


def generated_statistics(make_generator: Callable[[int], object], *, phrases: int = 100,
                         bars: int = 8, qpm: float = 120.0, seed: int = 0,
                         per_generator: int = 10, progress=None) -> list[dict]:
    """Statistics of `phrases` generated phrases. `make_generator(seed)` returns an object
    with `phrase(bars, qpm)` (a composer Generator); a fresh one every `per_generator`
    phrases, because a generator continues its own music (a latent walk, a recurrent state)
    and one long walk would sample a single neighbourhood. Seeds are seed * 1000 + k, so
    runs with different seeds share no generator."""
    out = []
    for i in range(phrases):
        if i % per_generator == 0:
            generator = make_generator(seed * 1000 + i // per_generator)
        phrase = generator.phrase(bars, qpm)
        out.append(statistics(window_from_sequence(phrase.sequence, phrase.qpm, bars)))
        if progress:
            progress("generated phrases", i + 1, phrases)
    return out


def music_report(generated: list[dict], held_out: list[dict], training: list[dict]) -> dict:
    """music.json's figures: per statistic the OA of generated against held-out windows, the
    ceiling (held-out against training) and the three means; the mean and lowest OA."""
    oa, ceiling = oa_table(held_out, generated), oa_table(training, held_out)

    def mean(sample: list[dict], name: str) -> float:
        values = np.array([s[name] for s in sample], dtype=np.float64)
        return float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")

    rows = {name: {"oa": oa[name], "ceiling_oa": ceiling[name],
                   "generated_mean": mean(generated, name), "held_out_mean": mean(held_out, name),
                   "training_mean": mean(training, name)} for name in STATISTICS}
    return {"evaluator": "music", "generated_phrases": len(generated),
            "held_out_windows": len(held_out), "training_windows": len(training),
            "mean_oa": mean_oa(oa), "min_oa": float(np.nanmin(list(oa.values()))),
            "mean_ceiling_oa": mean_oa(ceiling), "statistics": rows}
