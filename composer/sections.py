"""Which bars of a song to use: its bar grid, and its most representative section.

A song's chorus is the segment it repeats most. Each bar becomes the melody's pitch on a
sixteenth-note grid and the harmony's pitch-class profile; bars are compared all against all
(a bar-level self-similarity matrix), and each candidate start is scored by how closely the
`unit` bars from it recur elsewhere in the song. Starts on a bar where the melody is silent
are never chosen, so neither are count-ins or piano intros.

Pure functions over a NoteSequence; times inside a bar are counted in beats of the song's own
tempo map, so sections of songs with tempo changes line up too.
"""

from __future__ import annotations

import itertools
import operator
from dataclasses import dataclass

import numpy as np

STEPS_PER_BEAT = 4
REPEAT = 0.6  # a diagonal similarity above this counts as the segment coming back
# Bounds that keep the all-against-all comparison small whatever a file claims (a 59-minute
# file at 999 qpm has 14,700 bars; a 255/1 bar is 1,020 beats): the chorus is looked for in
# the first MAX_BARS bars (17 minutes of 4/4 at 120 qpm), a bar's melody compared over its
# first MAX_BAR_BEATS beats.
MAX_BARS = 512
MAX_BAR_BEATS = 32


@dataclass(frozen=True)
class BarGrid:
    """Bar lines of a song on its beat axis: `beat_times[i]` is beat i's time in seconds,
    `downbeats[k]` the beat index bar k starts on (the last entry: where the song ends)."""

    beat_times: np.ndarray
    downbeats: np.ndarray

    @property
    def bars(self) -> int:
        return len(self.downbeats) - 1

    def beat_of(self, seconds) -> np.ndarray:
        """Times as (fractional) beat indices, extrapolated past the last beat."""
        seconds = np.asarray(seconds, dtype=np.float64)
        t = self.beat_times
        inside = np.interp(seconds, t, np.arange(len(t), dtype=np.float64))
        last = t[-1] - t[-2] if len(t) > 1 else 0.5
        return np.where(seconds > t[-1], len(t) - 1 + (seconds - t[-1]) / last, inside)

    def bar_beats(self, bar: int) -> int:
        return int(self.downbeats[bar + 1] - self.downbeats[bar])

    def seconds(self, bar: int) -> tuple[float, float]:
        """Start and end of bar `bar` in seconds."""
        t = self.beat_times
        start, end = self.downbeats[bar], self.downbeats[bar + 1]
        return float(t[min(start, len(t) - 1)]), float(t[min(end, len(t) - 1)])


# Bars shorter than this are counted in fours: POP909 writes 2/4 or 1/4 in all its files (a
# DAW's placeholder, not the music's meter), and the VAEs' windows are 4/4 bars anyway.
MIN_BAR_BEATS = 3


def bar_grid(sequence) -> BarGrid:
    """The song's beats and downbeats from its tempo map and time signatures."""
    from note_seq import midi_io

    pm = midi_io.note_sequence_to_pretty_midi(_timeline(sequence))
    end = max(pm.get_end_time(), 1e-3)
    beats = pm.get_beats()
    step = 60.0 / pm.get_tempo_changes()[1][-1]  # beats past the last note: the last tempo
    while beats[-1] < end:
        beats = np.append(beats, beats[-1] + step)
    downbeat_times = pm.get_downbeats()
    downbeats = np.searchsorted(beats, downbeat_times[downbeat_times < end - 1e-6] - 1e-6)
    if not len(downbeats) or downbeats[0] != 0:
        downbeats = np.insert(downbeats, 0, 0)
    if len(downbeats) > 2 and np.median(np.diff(downbeats)) < MIN_BAR_BEATS:
        # count the song in 4/4 bars from its first bar line
        downbeats = np.arange(downbeats[0], len(beats), 4)
        downbeats = downbeats[beats[downbeats] < end - 1e-6]
    last = downbeats[-1] + (np.diff(downbeats)[-1] if len(downbeats) > 1 else 4)
    while len(beats) <= last:  # room for the last whole bar
        beats = np.append(beats, beats[-1] + step)
    return BarGrid(beats, np.append(downbeats, last).astype(int))


def _timeline(sequence):
    """A copy with what pretty_midi's beats read (tempi, meters, where the song ends) and one
    note lasting to the last event in place of its notes, bends and controllers: converting
    600,000 notes took seconds, and the beats never look at them. The last event is the one
    note-seq's conversion keeps: it gives every (instrument, program, drums) its own track,
    except that those of instrument 0 (and below) share one whose events the last of them
    replaces (in a type-0 file with drums, the drums' alone)."""
    notes = np.concatenate([
        np.fromiter(map(_KEYED, sequence.notes), dtype=_KEYED_COLUMNS, count=len(sequence.notes)),
        np.fromiter(map(_KEYED_EVENT, itertools.chain(sequence.pitch_bends,
                                                      sequence.control_changes)),
                    dtype=_KEYED_COLUMNS)])
    out = type(sequence)()
    out.CopyFrom(sequence)
    del out.notes[:], out.pitch_bends[:], out.control_changes[:]
    shared = notes["instrument"] <= 0
    last = shared.copy()  # the shared track's last (instrument, program, drums) in order
    for field in ("instrument", "program", "is_drum"):
        if last.any():
            last &= notes[field] == notes[field][last].max()
    notes = notes[~shared | last]
    if len(notes):
        out.notes.add(pitch=60, velocity=1, instrument=1, start_time=0.0,
                      end_time=float(notes["time"].max()))
    return out


_KEYED = operator.attrgetter("instrument", "program", "is_drum", "end_time")
_KEYED_EVENT = operator.attrgetter("instrument", "program", "is_drum", "time")
_KEYED_COLUMNS = np.dtype([("instrument", np.int64), ("program", np.int64),
                           ("is_drum", np.bool_), ("time", np.float64)])


@dataclass(frozen=True)
class Section:
    start: int  # first bar, from 0
    bars: int
    how: str  # "auto (repeats 3 times)", "intro", "bar 17"

    def describe(self) -> str:
        return f"bars {self.start + 1}-{self.start + self.bars} ({self.how})"


def bar_features(sequence, grid: BarGrid, melody: int | None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Per bar: the melody's pitch on each sixteenth (-1: silent) [bars, steps], and the
    harmony's duration-weighted pitch-class profile [bars, 12] (drums left out)."""
    steps = STEPS_PER_BEAT * min(max(int(np.diff(grid.downbeats).max()), 1), MAX_BAR_BEATS)
    line = np.full((grid.bars, steps), -1, dtype=np.int64)
    notes = np.fromiter(map(_NOTE, sequence.notes), dtype=_NOTE_COLUMNS,
                        count=len(sequence.notes))
    notes = notes[~notes["is_drum"]]
    start, end = grid.beat_of(notes["start"]), grid.beat_of(notes["end"])
    bar = np.searchsorted(grid.downbeats, start, side="right") - 1
    inside = (bar >= 0) & (bar < grid.bars)
    notes, start, end, bar = notes[inside], start[inside], end[inside], bar[inside]
    first, until = grid.downbeats[bar], np.minimum(end, grid.downbeats[bar + 1])
    # summed note by note in file order, as a loop would
    chroma = np.bincount(bar * 12 + notes["pitch"] % 12, weights=until - start,
                         minlength=grid.bars * 12).reshape(grid.bars, 12)
    mine = notes["instrument"] == melody if melody is not None else np.zeros(len(notes), bool)
    a = np.round((start[mine] - first[mine]) * STEPS_PER_BEAT).astype(np.int64)
    b = np.minimum(np.maximum(a + 1, np.round((until[mine] - first[mine]) * STEPS_PER_BEAT
                                              ).astype(np.int64)), steps)
    _highest(line.reshape(-1), bar[mine] * steps + a, np.maximum(b - a, 0),
             notes["pitch"][mine])
    return line, chroma


_NOTE = operator.attrgetter("start_time", "end_time", "pitch", "instrument", "is_drum")
_NOTE_COLUMNS = np.dtype([("start", np.float64), ("end", np.float64), ("pitch", np.int64),
                          ("instrument", np.int64), ("is_drum", np.bool_)])
CELLS_AT_ONCE = 1 << 22  # cells spelled out per pass of _highest (32 MB of indices)


def _highest(cells: np.ndarray, first: np.ndarray, lengths: np.ndarray, pitch: np.ndarray
             ) -> None:
    """cells[first[k]:first[k] + lengths[k]] raised to pitch[k] for every k, in place, a block
    of notes at a time: a note spans at most a bar's sixteenths, but a bar of long notes
    multiplies them."""
    ends = np.cumsum(lengths)
    start = 0
    while start < len(lengths):
        stop = max(int(np.searchsorted(ends, ends[start] - lengths[start] + CELLS_AT_ONCE,
                                       side="right")), start + 1)
        size = lengths[start:stop]
        offset = np.arange(int(size.sum())) - np.repeat(np.cumsum(size) - size, size)
        np.maximum.at(cells, np.repeat(first[start:stop], size) + offset,
                      np.repeat(pitch[start:stop], size))
        start = stop


def self_similarity(line: np.ndarray, chroma: np.ndarray) -> np.ndarray:
    """[bars, bars] in 0..1: the share of sixteenths where the melodies agree (either
    sounding), blended with the cosine of the harmonies. A silent bar is like no other."""
    sounding = line >= 0
    same = np.zeros((len(line), len(line)))
    for step, on in zip(line.T, sounding.T):  # [bars, bars] at a time, never [bars, bars, steps]
        same += (step[:, None] == step[None, :]) & on[:, None]
    counts = sounding.sum(1).astype(np.float64)
    both = sounding.astype(np.float64) @ sounding.T.astype(np.float64)
    either = counts[:, None] + counts[None, :] - both
    melody = np.where(either > 0, same / np.maximum(either, 1), 0.0)
    norm = np.linalg.norm(chroma, axis=1)
    unit = chroma / np.where(norm > 0, norm, 1.0)[:, None]
    harmony = unit @ unit.T
    return 0.7 * melody + 0.3 * harmony


def repetition_scores(similarity: np.ndarray, unit: int) -> np.ndarray:
    """Per start bar: how strongly the `unit` bars from it recur elsewhere (the sum, over
    other starts at least `unit` bars away, of the diagonal similarity above REPEAT)."""
    n = len(similarity)
    unit = max(1, min(unit, n))
    starts = n - unit + 1
    diagonal = np.zeros((starts, starts))
    for k in range(unit):
        diagonal += similarity[k:k + starts, k:k + starts]
    diagonal /= unit
    far = np.abs(np.arange(starts)[:, None] - np.arange(starts)[None, :]) >= unit
    return np.where(far, np.maximum(diagonal - REPEAT, 0.0), 0.0).sum(1)


def choose_section(sequence, melody: int | None, bars: int, how: str = "auto",
                   grid: BarGrid | None = None) -> Section:
    """The `bars` bars to use: `how` "auto" (the most repeated segment, 8-bar units),
    "intro" (from the first bar with pitched notes) or a bar number counted from 1.

    Raises ValueError with the reason when the song cannot give them."""
    grid = grid or bar_grid(sequence)
    line, chroma = bar_features(sequence, grid, melody)
    sounding = chroma.sum(1) > 0
    if not sounding.any():
        raise ValueError("no pitched notes")
    last_start = max(0, grid.bars - bars)
    if how == "intro":
        return Section(min(int(np.argmax(sounding)), last_start), min(bars, grid.bars), "intro")
    if how.isdigit():
        bar = int(how)
        if not 1 <= bar <= grid.bars:
            raise ValueError(f"--section {bar}: the song has {grid.bars} bars")
        return Section(bar - 1, min(bars, grid.bars - bar + 1), f"bar {bar}")
    if how != "auto":
        raise ValueError(f"--section {how!r}: use auto, intro or a bar number")
    melodic = (line >= 0).any(1) if melody is not None else sounding
    if not melodic.any():
        melodic = sounding
    considered = min(grid.bars, MAX_BARS)
    scores = repetition_scores(self_similarity(line[:considered], chroma[:considered]),
                               min(8, bars))
    entries = np.flatnonzero(melodic)
    candidates = entries[entries <= min(last_start, len(scores) - 1)]
    length = min(bars, grid.bars)
    if not len(candidates) or scores[candidates].max() <= 0:  # nothing repeats
        return Section(min(int(entries[0]), last_start), length,
                       "auto: no repeated segment, from the melody's entry")
    best = int(candidates[np.argmax(scores[candidates])])
    return Section(best, length, "auto: the most repeated")
