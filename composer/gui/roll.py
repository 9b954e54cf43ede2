"""A loop's piano roll, drawn once per loop and panel size into a Surface the views blit.

`note_boxes` is pure (notes to pixel rectangles); `draw_roll` paints them, with bar and beat
lines and black-key rows, coloured by track (a track: one instrument of the phrase, or its
drums).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pygame

from composer.audio import Loop

TRACK_COLOURS = ((92, 200, 255), (255, 170, 70), (140, 230, 120), (240, 110, 170),
                 (200, 160, 255), (255, 225, 90), (90, 220, 200), (250, 120, 100))
BACKGROUND = (22, 24, 31)
BLACK_KEY_ROW = (17, 18, 24)
BAR_LINE = (88, 94, 112)
BEAT_LINE = (38, 41, 52)
BLACK_KEYS = {1, 3, 6, 8, 10}


@dataclass(frozen=True)
class Track:
    label: str
    colour: tuple[int, int, int]


@dataclass(frozen=True)
class Roll:
    surface: pygame.Surface
    tracks: tuple[Track, ...]
    low: int  # lowest and highest pitch shown
    high: int


def track_keys(notes) -> list[tuple[bool, int, int]]:
    """(is_drum, instrument, program) of each track, in a stable order."""
    return sorted({(bool(n.is_drum), int(n.instrument), int(n.program)) for n in notes})


def pitch_span(pitches: np.ndarray, least: int = 24) -> tuple[int, int]:
    """Lowest and highest pitch to show: the notes' range plus a margin, at least `least`
    semitones, so a short line is not drawn as huge blocks."""
    if len(pitches) == 0:
        return 48, 48 + least
    low, high = int(pitches.min()) - 2, int(pitches.max()) + 2
    if high - low < least:
        grow = least - (high - low)
        low, high = low - grow // 2, high + grow - grow // 2
    return max(0, low), min(127, high)


def note_boxes(notes, seconds: float, size: tuple[int, int], low: int, high: int
               ) -> np.ndarray:
    """(x, y, width, height) in pixels of each note in a `size` panel that spans `seconds`
    across and pitches low..high up; notes run past the end are cut at the edge."""
    width, height = size
    row = height / (high - low + 1)
    start = np.array([n.start_time for n in notes], dtype=float)
    end = np.minimum(np.array([n.end_time for n in notes], dtype=float), seconds)
    pitch = np.array([n.pitch for n in notes], dtype=float)
    x = np.floor(start / seconds * width)
    w = np.maximum(2, np.ceil((end - start) / seconds * width))
    y = np.floor((high - pitch) * row)
    h = np.maximum(2, np.ceil(row) - 1)
    return np.stack([x, y, w, np.full_like(x, h)], axis=1).astype(int)


def _label(key: tuple[bool, int, int], duplicate: bool) -> str:
    import pretty_midi

    is_drum, instrument, program = key
    name = "drums" if is_drum else pretty_midi.program_to_instrument_name(program)
    return f"{name} ({instrument + 1})" if duplicate else name


def draw_roll(loop: Loop, size: tuple[int, int]) -> Roll:
    """The loop's notes as a Surface of `size` pixels, downbeat at the left edge."""
    width, height = max(1, size[0]), max(1, size[1])
    surface = pygame.Surface((width, height))
    surface.fill(BACKGROUND)
    notes = list(loop.phrase.sequence.notes) if loop.phrase is not None else []
    low, high = pitch_span(np.array([n.pitch for n in notes if not n.is_drum], dtype=int))
    row = height / (high - low + 1)
    for pitch in range(low, high + 1):
        if pitch % 12 in BLACK_KEYS:
            top, bottom = int((high - pitch) * row), int((high - pitch + 1) * row)
            surface.fill(BLACK_KEY_ROW, (0, top, width, max(1, bottom - top)))
    beats = max(1, loop.bars * loop.beats_per_bar)
    for beat in range(beats):
        x = int(beat * width / beats)
        colour = BAR_LINE if beat % loop.beats_per_bar == 0 else BEAT_LINE
        pygame.draw.line(surface, colour, (x, 0), (x, height - 1))
    keys = track_keys(notes)
    programs = [key[2] for key in keys]
    tracks = tuple(Track(_label(key, programs.count(key[2]) > 1),
                         TRACK_COLOURS[i % len(TRACK_COLOURS)]) for i, key in enumerate(keys))
    if notes:
        index = {key: i for i, key in enumerate(keys)}
        boxes = note_boxes(notes, loop.seconds, (width, height), low, high)
        for note, box in zip(notes, boxes):
            track = tracks[index[(bool(note.is_drum), int(note.instrument), int(note.program))]]
            if note.is_drum:  # a tick along the bottom: a drum's pitch is not a pitch
                box = (box[0], height - 6, 3, 6)
            surface.fill(track.colour, box)
    return Roll(surface, tracks, low, high)


class Rolls:
    """The rolls drawn so far, by loop and size: each loop is drawn once per panel size
    (when it is announced, and again only if the window is resized)."""

    def __init__(self, most: int = 8) -> None:
        self.most = most
        self._drawn: dict[tuple[int, tuple[int, int]], tuple[Loop, Roll]] = {}

    def get(self, loop: Loop, size: tuple[int, int]) -> Roll:
        key = (id(loop), tuple(size))
        found = self._drawn.get(key)
        if found is None:
            if len(self._drawn) >= self.most:
                del self._drawn[next(iter(self._drawn))]  # the oldest
            found = (loop, draw_roll(loop, size))  # the loop kept alive, so its id stays its own
            self._drawn[key] = found
        return found[1]
