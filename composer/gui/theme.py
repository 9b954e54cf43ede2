"""The window's look: colours, and text rendered once and reused.

Rendering text is the costliest thing most panels do, and most of it does not change from
one frame to the next, so `Texts` keeps each rendered line until the cache fills.
"""

from __future__ import annotations

import pygame

WINDOW = (12, 13, 17)
PANEL = (22, 24, 31)
EDGE = (48, 52, 66)
TEXT = (225, 228, 235)
DIM = (140, 146, 160)
ACCENT = (92, 200, 255)
GOOD = (120, 220, 120)
WARN = (255, 180, 70)
ERROR = (255, 100, 90)
FOCUS = (255, 225, 90)
WAVE = (120, 220, 170)
PLAYHEAD = (255, 255, 255)


class Texts:
    """Fonts by size (pygame's own, always there) and rendered lines by (text, size,
    colour)."""

    def __init__(self, most: int = 600) -> None:
        self.most = most
        self._fonts: dict[tuple[int, bool], pygame.font.Font] = {}
        self._lines: dict[tuple[str, int, tuple, bool], pygame.Surface] = {}
        self._fits: dict[tuple[str, int, int], str] = {}

    def font(self, size: int, bold: bool = False) -> pygame.font.Font:
        key = (size, bold)
        if key not in self._fonts:
            font = pygame.font.Font(None, size)
            font.set_bold(bold)
            self._fonts[key] = font
        return self._fonts[key]

    def line(self, text: str, size: int, colour=TEXT, bold: bool = False) -> pygame.Surface:
        key = (text, size, tuple(colour), bold)
        surface = self._lines.get(key)
        if surface is None:
            if len(self._lines) >= self.most:
                self._lines.clear()
            surface = self.font(size, bold).render(text, True, colour)
            self._lines[key] = surface
        return surface

    def fit(self, text: str, size: int, width: int) -> str:
        """`text`, cut with an ellipsis to fit `width` pixels."""
        key = (text, size, width)
        fitted = self._fits.get(key)
        if fitted is None:
            font, fitted = self.font(size), text
            if font.size(text)[0] > width:
                while fitted and font.size(fitted + "...")[0] > width:
                    fitted = fitted[:-1]
                fitted += "..."
            if len(self._fits) >= self.most:
                self._fits.clear()
            self._fits[key] = fitted
        return fitted

    def draw(self, surface: pygame.Surface, text: str, at: tuple[int, int], size: int,
             colour=TEXT, *, width: int | None = None, bold: bool = False,
             right: bool = False) -> int:
        """Blit one line at `at` (its top-left, or top-right with `right`); returns its
        width."""
        if width is not None:
            text = self.fit(text, size, width)
        line = self.line(text, size, colour, bold)
        x = at[0] - line.get_width() if right else at[0]
        surface.blit(line, (x, at[1]))
        return line.get_width()
