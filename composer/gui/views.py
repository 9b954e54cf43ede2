"""One drawing function per panel, each into its own rectangle, from values it is handed.

They read no player and keep no state: the app hands each what it shows. The costly parts
are done elsewhere, once: the piano roll is drawn per loop (roll.py), text per line
(theme.Texts); what is left each frame is a few blits, one small 8-bit image (the
waveform) and a few rectangles.
"""

from __future__ import annotations

import numpy as np
import pygame
from pygame import Rect

from composer.audio import SeamScores
from composer.gui import theme
from composer.gui.board import Heard, Message
from composer.gui.roll import Roll
from composer.gui.scope import FLOOR_DB, bands, envelope
from composer.gui.theme import Texts
from composer.player.player import Status

KEYS_HINT = "space play/pause   n next   s save   q quit   Tab focus   arrows change   Enter apply"


def inside(rect: Rect, size: int) -> Rect:
    """The area of a panel under its title."""
    top = rect.y + max(11, size - 3) + 8
    return Rect(rect.x + 6, top, rect.width - 12, rect.bottom - top - 6)


def panel(surface: pygame.Surface, rect: Rect, texts: Texts, size: int, title: str) -> Rect:
    """A framed panel with its title; returns the area inside, under the title."""
    pygame.draw.rect(surface, theme.PANEL, rect, border_radius=4)
    pygame.draw.rect(surface, theme.EDGE, rect, width=1, border_radius=4)
    texts.draw(surface, title, (rect.x + 8, rect.y + 5), max(11, size - 3), theme.DIM,
               width=rect.width - 16)
    return inside(rect, size)


def header(surface: pygame.Surface, rect: Rect, texts: Texts, size: int, *,
           status: Status | None, heard: Heard | None, state: str, fading: bool,
           speed: str) -> None:
    """Now playing: model and loop number large; key, tempo, bars and state beneath."""
    pygame.draw.rect(surface, theme.PANEL, rect)
    pygame.draw.line(surface, theme.EDGE, (rect.x, rect.bottom - 1), (rect.right, rect.bottom - 1))
    big = int(size * 1.35)
    model = status.model if status else "..."
    if heard is None:
        first = f"{model}: making the first loop..."
        second = "the music starts as soon as it is ready"
    else:
        loop = heard.loop
        key = loop.phrase.key if loop.phrase is not None else None
        tempo = f"{loop.qpm:g} qpm" if loop.qpm else "free tempo"
        first = f"{model}   loop {heard.number}"
        second = "   ".join([key or "key ?", tempo, f"{loop.bars} bars", state]
                           + (["crossfading"] if fading else []))
    texts.draw(surface, first, (rect.x + 12, rect.y + 6), big, theme.TEXT, bold=True,
               width=rect.width // 2)
    texts.draw(surface, second, (rect.x + 12, rect.y + 8 + int(big * 0.75)), size, theme.ACCENT,
               width=rect.width // 2)
    if status is not None:
        right = rect.right - 12
        texts.draw(surface, f"{status.seconds_played:.0f} s played", (right, rect.y + 8), size,
                   theme.DIM, right=True)
        texts.draw(surface, speed, (right, rect.y + 8 + int(big * 0.75)), size, theme.DIM,
                   right=True)


def roll(surface: pygame.Surface, rect: Rect, texts: Texts, size: int, *,
         drawn: Roll | None, heard: Heard | None, position: float | None) -> None:
    """The current loop's piano roll (drawn once per loop) with the playhead over it."""
    title = "piano roll" + (f": loop {heard.number}, {heard.loop.bars} bars" if heard else "")
    inside = panel(surface, rect, texts, size, title)
    if drawn is None:
        texts.draw(surface, "waiting for the first loop", (inside.x + 8, inside.centery), size,
                   theme.DIM)
        return
    surface.blit(drawn.surface, inside.topleft)
    if position is not None:
        x = inside.x + int(position * inside.width)
        pygame.draw.line(surface, theme.PLAYHEAD, (x, inside.y), (x, inside.bottom - 1), 2)
    small = max(11, size - 3)
    x = rect.right - 8
    for track in reversed(drawn.tracks[:6]):  # the legend, right-aligned on the title row
        width = texts.draw(surface, track.label, (x, rect.y + 5), small, theme.TEXT, right=True)
        pygame.draw.rect(surface, track.colour, (x - width - 14, rect.y + 7, 10, small - 6))
        x -= width + 24


def wave(surface: pygame.Surface, rect: Rect, texts: Texts, size: int, *,
         samples: np.ndarray, seconds: float) -> None:
    """The last `seconds` heard, newest at the right edge: it scrolls as the music plays."""
    inside = panel(surface, rect, texts, size, f"waveform: the last {seconds:g} s heard")
    if inside.width < 2 or inside.height < 2:
        return
    # Painted as an 8-bit image by NumPy, one column per pixel: a polygon of a thousand
    # points made thousands of Python lists a frame, and the collector's full passes they
    # set off held the GIL for 40 ms every few seconds.
    middle = inside.height // 2
    low, high = envelope(samples, inside.width)
    half = inside.height / 2 - 1
    top = (middle - np.clip(high, -1, 1) * half).astype(int)
    # silence is still a visible line
    bottom = np.maximum((middle - np.clip(low, -1, 1) * half).astype(int), top + 1)
    rows = np.arange(inside.height)
    shade = np.zeros((inside.width, inside.height), np.uint8)  # 0 panel, 1 zero line, 2 wave
    shade[:, middle] = 1
    shade[(rows >= top[:, None]) & (rows <= bottom[:, None])] = 2
    image = pygame.surfarray.make_surface(shade)
    image.set_palette([theme.PANEL, theme.EDGE, theme.WAVE])
    surface.blit(image, inside.topleft)


def spectrum(surface: pygame.Surface, rect: Rect, texts: Texts, size: int, *,
             samples: np.ndarray, sample_rate: int) -> None:
    """Level per band (40 Hz to 16 kHz, spaced by pitch) of the last samples heard."""
    inside = panel(surface, rect, texts, size, f"spectrum: last {len(samples)} samples")
    count = max(8, min(64, inside.width // 6))
    levels = bands(samples, sample_rate, count)
    heights = ((levels - FLOOR_DB) / -FLOOR_DB * inside.height).astype(int)
    width = inside.width / count
    for i, height in enumerate(heights):
        if height > 0:
            x = inside.x + int(i * width)
            colour = theme.ACCENT if levels[i] < -12 else theme.WARN
            surface.fill(colour, (x, inside.bottom - height, max(1, int(width) - 1), height))


def seams(surface: pygame.Surface, rect: Rect, texts: Texts, size: int, *,
          scores: SeamScores | None) -> None:
    """The loop's seam scores against 1 (no more abrupt than the music itself)."""
    inside = panel(surface, rect, texts, size, "seam of this loop (at most 1: unheard)")
    if scores is None:
        return
    rows = (("click", scores.click), ("dip", scores.dip), ("flux", scores.flux))
    step = inside.height / len(rows)
    label_w = int(size * 3.2)
    bar = Rect(inside.x + label_w, 0, inside.width - label_w - int(size * 3), 0)
    one = bar.x + bar.width // 2  # the scale runs 0..2, so 1 sits in the middle
    for i, (name, value) in enumerate(rows):
        y = int(inside.y + i * step + (step - size * 0.7) / 2)
        texts.draw(surface, name, (inside.x + 2, y), size, theme.DIM)
        length = int(min(value, 2.0) / 2.0 * bar.width)
        colour = theme.GOOD if value <= 1.0 else theme.WARN
        surface.fill(colour, (bar.x, y, max(1, length), int(size * 0.65)))
        texts.draw(surface, f"{value:.2f}", (inside.right - 2, y), size, theme.TEXT, right=True)
    pygame.draw.line(surface, theme.TEXT, (one, inside.y), (one, inside.bottom - 1))


def meter(surface: pygame.Surface, rect: Rect, texts: Texts, size: int, *,
          status: Status | None, underruns: int | None) -> None:
    """Music ready ahead of the playhead: it empties when generation falls behind."""
    inside = panel(surface, rect, texts, size, "buffer: music ready ahead")
    if status is None:
        return
    ahead = status.seconds_ahead
    scale = max(60.0, ahead)
    bar = Rect(inside.x + 2, inside.y + 4, inside.width - 4, int(size * 0.9))
    pygame.draw.rect(surface, theme.EDGE, bar, width=1)
    filled = int(bar.width * min(1.0, ahead / scale))
    colour = theme.GOOD if ahead >= 10 else theme.WARN if ahead >= 3 else theme.ERROR
    surface.fill(colour, (bar.x, bar.y, filled, bar.height))
    lines = [f"{ahead:.1f} s ahead, next loop {'ready' if status.next_ready else 'coming'}",
             f"late switches {status.late_switches}, errors {status.errors}"
             + ("" if underruns is None else f", underruns {underruns}")]
    y = bar.bottom + 4
    for line in lines:
        if y + size * 0.7 > inside.bottom:
            break
        texts.draw(surface, line, (inside.x + 2, y), size, theme.TEXT, width=inside.width - 4)
        y += int(size * 0.85)


def status_bar(surface: pygame.Surface, rect: Rect, texts: Texts, size: int, *,
               message: Message | None) -> None:
    """The last message (errors in red), else the keys."""
    pygame.draw.rect(surface, theme.PANEL, rect)
    if message is not None:
        colour = theme.ERROR if message.error else theme.TEXT
        text = ("error: " if message.error else "") + message.text
    else:
        colour, text = theme.DIM, KEYS_HINT
    texts.draw(surface, text, (rect.x + 10, rect.centery - int(size * 0.36)), size, colour,
               width=rect.width - 20)
