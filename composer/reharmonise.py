"""A song's parts re-harmonised under a new melody: what interpolate plays under its steps.

The fusion's melody is new (the VAE's walk from a's melody to b's) while the parts under it are
the songs' own, with their own chords; where the two disagree they clash. Bar by bar (half bar
where the melody, or the part, clearly changes harmony) this picks the chord the melody implies,
keeping the part's own chord whenever that fits about as well. Where the chord changes, each of
the part's notes moves to the nearest chord tone (a bass note on the old root to the new root),
keeping its onset, length, velocity and register: the part still plays its own rhythm. A bar
is only changed where that makes the melody clash less with the part (or as little, with more
of its strong beats on the part's notes), so a bar without a clash keeps the song's character.
Drums never change.

Chords are models/lead/chords' templates. Pure: notes in, new notes out, timed in beats from
the bar line; no MIDI.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Generic, Protocol, Sequence, TypeVar

import numpy as np

from models.lead.chords import Chord, templates

STRONG_BEATS = (0.0, 2.0)  # beats 1 and 3 of a 4/4 bar
STRONG = 2.0  # weight of a melody note that starts on one, against 1 elsewhere
KEEP = 0.3  # the part's own chord stays unless another scores this much better
SPLIT = 0.2  # a half bar gets its own chord when that scores this much better
EXTRA_TONE = 0.04  # cost of each tone past three: a seventh must earn its place in the melody
SHARED_TONE = 0.01  # between equals, the chord nearest the part's own (fewer notes move)
SIXTEENTH = 0.25  # beats
REACH = 2  # semitones a note may move to reach a chord tone
ROOT_REACH = 6  # semitones a bass root may move to the new root


def _clash(a: int, b: int) -> bool:
    """Whether two pitches are a semitone or a tritone apart, in any octave."""
    return (a - b) % 12 in (1, 6, 11)


def _clashes(tones: frozenset[int]) -> np.ndarray:
    """[12] the pitch classes a melody note clashes on once the part plays these tones (the
    9th and 6th, a whole tone or more from every tone of a triad, do not)."""
    return np.array([any(_clash(pc, t) for t in tones) for pc in range(12)], dtype=float)


_ROWS, _CHORDS = templates()
_SIZES = _ROWS.sum(axis=1)
_CLASHES = np.array([_clashes(chord.pitch_classes) for chord in _CHORDS])


class Timed(Protocol):
    """A note timed in beats from its bar line (read-only, so frozen dataclasses qualify)."""

    @property
    def pitch(self) -> int: ...
    @property
    def beat(self) -> float: ...  # onset; may be < 0 for a note held over from before
    @property
    def beats(self) -> float: ...  # length


class PartNote(Timed, Protocol):
    """A note of a song's part: interpolation.Backing, or any frozen dataclass like it."""

    @property
    def track(self) -> int: ...
    @property
    def is_drum(self) -> bool: ...


P = TypeVar("P", bound=PartNote)


@dataclass(frozen=True)
class Note:
    """A melody note."""

    pitch: int
    beat: float  # onset, beats from the bar line
    beats: float  # length, beats


@dataclass(frozen=True)
class Span:
    """A stretch of a bar with one chord."""

    start: float  # beats from the bar line
    end: float
    chord: Chord  # what the part plays here (Chord(None): nothing to go by)
    own: Chord  # the part's own chord here, estimated from its notes (Chord(None): none)
    fit: float  # share of the melody's weighted time on `chord`'s tones, 0..1 (1: no melody)
    clash: float = 0.0  # share a semitone or a tritone from one of them, 0..1

    @property
    def changed(self) -> bool:
        """Whether the part must move: the chord is not its own, nor its own with a tone added
        on the same root (a melody's seventh over the part's triad is the song's colour)."""
        return not _extends(self.chord, self.own)


@dataclass(frozen=True)
class Bar(Generic[P]):
    """One bar of a part, re-harmonised."""

    notes: tuple[P, ...]  # in the order given, less any that would double a note
    spans: tuple[Span, ...]
    moved: int  # pitched notes whose pitch changed or that were dropped as doubles


def reharmonise(melody: Sequence[Timed], part: Sequence[P], *, beats: float = 4.0) -> Bar[P]:
    """The bar's part under the melody: its chords chosen, then its notes moved to them, if
    that helps: less of the melody clashes with the notes as they sound, or as little and
    more of its strong beats are on them. Chords are chosen from the melody's time, but only
    where the part sounds can it clash (a part of short notes may not, whatever its chord),
    and a bar without a clash keeps the song's character."""
    spans = choose_chords(melody, part, beats=beats)
    notes, moved = voice(part, spans)
    if moved:
        before, after = agreement(melody, part), agreement(melody, notes)
        if after.clashing > before.clashing + 1e-6 or (
                after.clashing > before.clashing - 1e-6
                and after.strong_on_part <= before.strong_on_part):
            kept = tuple(_measured(melody, s.own, s.own, s.start, s.end) for s in spans)
            return Bar(tuple(part), kept, 0)
    return Bar(notes, spans, moved)


def choose_chords(melody: Sequence[Timed], part: Sequence[PartNote], *,
                  beats: float = 4.0) -> tuple[Span, ...]:
    """One span for the bar, or two halves where the part changes chord there (its own chord
    differs between them) or the melody clearly does: the halves' best chords fit it, less
    what clashes, SPLIT better than the bar's best one."""
    half = beats / 2
    whole = _span(melody, part, 0.0, beats)
    halves = (_span(melody, part, 0.0, half), _span(melody, part, half, beats))
    first, second = halves
    split = first.own != second.own and first.own.root is not None \
        and second.own.root is not None
    if not split and first.chord != second.chord:
        w = [_profile(melody, s.start, s.end).sum() for s in halves]
        if w[0] > 0 and w[1] > 0:
            net = [s.fit - s.clash for s in (whole, first, second)]
            split = (w[0] * net[1] + w[1] * net[2]) / sum(w) >= net[0] + SPLIT
    if not split or first.chord == second.chord == whole.chord:
        return (whole,)
    return halves


def own_chord(part: Sequence[PartNote], start: float = 0.0, end: float = 4.0) -> Chord:
    """The chord the part's pitched notes sound in [start, end): the template nearest their
    duration-weighted pitch classes (bass notes counted twice, for the root); Chord(None)
    when nothing pitched sounds."""
    pitched = [n for n in part if not n.is_drum]
    chroma = np.zeros(12)
    for note, low in zip(pitched, bass_line(pitched)):
        chroma[note.pitch % 12] += _overlap(note, start, end) * (2.0 if low else 1.0)
    if chroma.sum() <= 0:
        return Chord(None)
    return _CHORDS[int(np.argmax(_ROWS @ chroma / np.sqrt(_SIZES)))]


def voice(part: Sequence[P], spans: Sequence[Span]) -> tuple[tuple[P, ...], int]:
    """The part's notes on the spans' chords, and how many moved. In a span whose chord is the
    part's own nothing moves; elsewhere a chord tone stays, a bass note on the old root goes to
    the nearest new root, and any other note to the nearest chord tone within REACH semitones
    (ties downward; none in reach: it stays). A note that would land on a pitch its track
    already plays at that onset takes its next choice, else is dropped as a double."""
    pitched = [n for n in part if not n.is_drum]
    low = dict(zip(map(id, pitched), bass_line(pitched)))
    taken: set[tuple[int, float, int]] = set()  # (track, onset, pitch) already sounding
    choices: dict[int, list[int]] = {}
    for note in pitched:
        choices[id(note)] = _choices(note, _span_at(spans, note.beat), low[id(note)])
    order = sorted(pitched, key=lambda n: abs(choices[id(n)][0] - n.pitch)
                   if choices[id(n)] else 0)  # the notes that stay claim their pitch first
    new: dict[int, int | None] = {}
    for note in order:
        options = choices[id(note)] or [note.pitch]
        at = (note.track, round(note.beat, 3))
        free = [p for p in options if (*at, p) not in taken]
        new[id(note)] = note.pitch if options[0] == note.pitch else (free or [None])[0]
        if new[id(note)] is not None:
            taken.add((*at, new[id(note)]))
    out, moved = [], 0
    for note in part:
        if note.is_drum:
            out.append(note)
            continue
        pitch = new[id(note)]
        moved += pitch != note.pitch
        if pitch is not None:
            out.append(note if pitch == note.pitch else dataclasses.replace(note, pitch=pitch))
    return tuple(out), moved


def bass_line(part: Sequence[Timed]) -> list[bool]:
    """Which notes are the part's lowest line: nothing lower sounds at their onset, and they
    lie in the lower half of the part's pitches (a lone high note is not the bass)."""
    if not part:
        return []
    median = float(np.median([n.pitch for n in part]))
    eps = 1e-3
    return [note.pitch <= median and not any(
        o.pitch < note.pitch and o.beat <= note.beat + eps < o.beat + o.beats for o in part)
        for note in part]


@dataclass(frozen=True)
class Agreement:
    """How a melody sits on a part (4/4, beats from a bar line): what issue 13 measures."""

    strong: int  # melody notes starting on beat 1 or 3 with a pitched part note sounding
    strong_on_part: int  # of those, how many are a pitch class the part sounds then (held,
    # or starting within a sixteenth: a played part is not on the melody's grid)
    sounding: float  # beats of melody with a pitched part note under it
    clashing: float  # of those, beats against a part note a semitone or a tritone away

    @property
    def strong_share(self) -> float:
        return self.strong_on_part / self.strong if self.strong else 1.0

    @property
    def clash_rate(self) -> float:
        return self.clashing / self.sounding if self.sounding else 0.0


def agreement(melody: Sequence[Timed], part: Sequence[PartNote]) -> Agreement:
    """The melody's strong-beat notes on the part's sounding pitch classes, and its time
    clashing with the part (interval class 1 or 6), as counts and beats."""
    pitched = sorted((n for n in part if not n.is_drum), key=lambda n: n.beat)
    starts = np.array([n.beat for n in pitched])
    strong = on_part = 0
    sounding = clashing = 0.0
    for note in melody:
        end = note.beat + note.beats
        under = [p for p in pitched[:int(np.searchsorted(starts, end))]
                 if p.beat + p.beats > note.beat]
        if any(abs(note.beat % 4 - s) < 1e-3 or abs(note.beat % 4 - 4) < 1e-3
               for s in STRONG_BEATS):
            now = {p.pitch % 12 for p in under if p.beat < note.beat + SIXTEENTH}
            strong += bool(now)
            on_part += note.pitch % 12 in now
        sounding += _union(under, note.beat, end)
        clashing += _union([p for p in under if _clash(p.pitch, note.pitch)], note.beat, end)
    return Agreement(strong, on_part, float(sounding), float(clashing))


def _union(notes: Sequence[Timed], start: float, end: float) -> float:
    """Beats of [start, end) during which any of the notes sounds."""
    spans = sorted((max(start, n.beat), min(end, n.beat + n.beats)) for n in notes)
    total, reached = 0.0, start
    for s, e in spans:
        if e > reached:
            total += e - max(s, reached)
            reached = e
    return total


def _span(melody: Sequence[Timed], part: Sequence[PartNote], start: float, end: float) -> Span:
    """The best chord for [start, end): melody fit, less the melody's share that would clash
    with the chord (a seventh's root and seventh clash with each other's neighbours, so a
    triad usually wins), less EXTRA_TONE a tone past three, plus KEEP for a chord the part
    already plays (_extends) and SHARED_TONE a tone shared with its own."""
    own = own_chord(part, start, end)
    profile = _profile(melody, start, end)
    if profile.sum() <= 0:
        return Span(start, end, own, own, 1.0, 0.0)
    fits = _ROWS @ profile / profile.sum()
    score = fits - _CLASHES @ profile / profile.sum() - EXTRA_TONE * (_SIZES - 3)
    if own.root is not None:
        shared = _ROWS[:, list(own.pitch_classes)].sum(axis=1)
        score = score + SHARED_TONE * shared + KEEP * np.array([_extends(c, own)
                                                                for c in _CHORDS])
    best = int(np.argmax(score))
    return _measured(melody, _CHORDS[best], own, start, end)


def _measured(melody: Sequence[Timed], chord: Chord, own: Chord, start: float,
              end: float) -> Span:
    profile = _profile(melody, start, end)
    total = profile.sum()
    if total <= 0:
        return Span(start, end, chord, own, 1.0, 0.0)
    tones = list(chord.pitch_classes)
    return Span(start, end, chord, own, float(profile[tones].sum() / total),
                float(_clashes(chord.pitch_classes) @ profile / total))


def _extends(chord: Chord, own: Chord) -> bool:
    """Whether the part already plays `chord`: it is `own`, or `own` with tones added on its
    root (C:maj7 over C:maj; not A:min7, whose A the melody would be alone in sounding)."""
    return own.root is None or (chord.root == own.root
                                and chord.pitch_classes >= own.pitch_classes)


def _profile(melody: Sequence[Timed], start: float, end: float) -> np.ndarray:
    """[12] the melody's sounding time per pitch class in [start, end), a note starting on a
    strong beat counted STRONG times."""
    profile = np.zeros(12)
    for note in melody:
        strong = start <= note.beat < end and any(abs(note.beat - s) < 1e-3
                                                  for s in STRONG_BEATS)
        profile[note.pitch % 12] += _overlap(note, start, end) * (STRONG if strong else 1.0)
    return profile


def _overlap(note: Timed, start: float, end: float) -> float:
    return max(0.0, min(end, note.beat + note.beats) - max(start, note.beat))


def _span_at(spans: Sequence[Span], beat: float) -> Span:
    return next((s for s in reversed(spans) if s.start <= beat + 1e-6), spans[0])


def _choices(note: PartNote, span: Span, low: bool) -> list[int]:
    """Pitches the note may take, best first; empty: it stays as it is."""
    if not span.changed or span.chord.root is None:
        return []
    tones = span.chord.pitch_classes
    if low and span.own.root is not None and note.pitch % 12 == span.own.root:
        reach, tones = ROOT_REACH, frozenset({span.chord.root})
    elif note.pitch % 12 in tones:
        return [note.pitch]
    else:
        reach = REACH
    steps = sorted(range(-reach, reach + 1), key=lambda d: (abs(d), d))  # ties downward
    return [note.pitch + d for d in steps if (note.pitch + d) % 12 in tones
            and 0 <= note.pitch + d <= 127]
