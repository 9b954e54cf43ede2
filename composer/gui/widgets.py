"""Small widgets that know how to draw themselves and take a key or a click, and the focus
ring that Tab moves round. They hold no player: each calls the function it was given.

Keys a focused widget takes: Enter (press, flip, submit), Left/Right and Up/Down (step a
value), PageUp/PageDown (ten steps), Home/End; a text field takes typing and Backspace.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pygame
from pygame import Rect

from composer.gui import theme
from composer.gui.theme import Texts

ENTER = (pygame.K_RETURN, pygame.K_KP_ENTER)
LABEL_SHARE = 0.36  # of a row's width, for its label
STEPS = {pygame.K_LEFT: -1, pygame.K_DOWN: -1, pygame.K_RIGHT: 1, pygame.K_UP: 1,
         pygame.K_PAGEDOWN: -10, pygame.K_PAGEUP: 10}


class Widget:
    takes_text = False  # a focused text field gets the keys that are shortcuts elsewhere

    def __init__(self, name: str, label: str) -> None:
        self.name = name
        self.label = label
        self.rect = Rect(0, 0, 0, 0)

    def key(self, key: int, unicode: str) -> bool:
        """Take a key while focused; True if it was used."""
        return False

    def click(self, pos: tuple[int, int]) -> None:
        pass

    def scroll(self, steps: int) -> None:
        pass

    def look(self) -> tuple:
        """What the widget shows: it is drawn again only when this changes."""
        return ()

    def draw(self, surface: pygame.Surface, texts: Texts, size: int, focused: bool) -> None:
        raise NotImplementedError

    def _frame(self, surface: pygame.Surface, focused: bool, fill=theme.PANEL) -> None:
        pygame.draw.rect(surface, fill, self.rect, border_radius=4)
        pygame.draw.rect(surface, theme.FOCUS if focused else theme.EDGE, self.rect,
                         width=2 if focused else 1, border_radius=4)

    def _label(self, surface: pygame.Surface, texts: Texts, size: int) -> int:
        """Draw the label at the left; returns where the value part begins."""
        width = int(self.rect.width * LABEL_SHARE)
        texts.draw(surface, self.label, (self.rect.x + 8, self._text_y(size) + 1), size - 2,
                   theme.DIM, width=width - 10)
        return self.rect.x + width

    def _text_y(self, size: int) -> int:
        return self.rect.centery - int(size * 0.36)


class Button(Widget):
    """Runs `press()` on Enter or a click; `caption()` may change (Play / Pause)."""

    def __init__(self, name: str, label: str, press: Callable[[], None],
                 caption: Callable[[], str] | None = None) -> None:
        super().__init__(name, label)
        self.press = press
        self.caption = caption or (lambda: label)

    def key(self, key: int, unicode: str) -> bool:
        if key in ENTER:
            self.press()
            return True
        return False

    def click(self, pos: tuple[int, int]) -> None:
        self.press()

    def look(self) -> tuple:
        return (self.caption(),)

    def draw(self, surface: pygame.Surface, texts: Texts, size: int, focused: bool) -> None:
        self._frame(surface, focused, fill=(32, 36, 48))
        line = texts.line(texts.fit(self.caption(), size, self.rect.width - 8), size, theme.TEXT)
        surface.blit(line, line.get_rect(center=self.rect.center))


class Stepper(Widget):
    """One of `values`, stepped with the arrow keys, the mouse wheel or a click on its
    arrows; `change(value)` hears each new value."""

    def __init__(self, name: str, label: str, values: Sequence[Any], value: Any,
                 show: Callable[[Any], str], change: Callable[[Any], None]) -> None:
        super().__init__(name, label)
        self.values = list(values)
        if value not in self.values:
            self.values = sorted([*self.values, value], key=_order)
        self.index = self.values.index(value)
        self.show = show
        self.change = change

    @property
    def value(self) -> Any:
        return self.values[self.index]

    def show_value(self, value: Any) -> None:
        """Point at `value`, set elsewhere (a prompt), without calling `change`."""
        if value not in self.values:
            self.values = sorted([*self.values, value], key=_order)
        self.index = self.values.index(value)

    def step(self, delta: int) -> None:
        index = max(0, min(len(self.values) - 1, self.index + delta))
        if index != self.index:
            self.index = index
            self.change(self.value)

    def key(self, key: int, unicode: str) -> bool:
        if key in STEPS:
            self.step(STEPS[key])
            return True
        if key in (pygame.K_HOME, pygame.K_END):
            self.step(-len(self.values) if key == pygame.K_HOME else len(self.values))
            return True
        return False

    def scroll(self, steps: int) -> None:
        self.step(steps)

    def look(self) -> tuple:
        return (self.index, self.show(self.value))

    def _arrows(self) -> tuple[Rect, Rect]:
        side = self.rect.height
        left = Rect(self.rect.x + int(self.rect.width * LABEL_SHARE), self.rect.y, side, side)
        return left, Rect(self.rect.right - side, self.rect.y, side, side)

    def click(self, pos: tuple[int, int]) -> None:
        down, up = self._arrows()
        if down.collidepoint(pos):
            self.step(-1)
        elif up.collidepoint(pos):
            self.step(1)

    def draw(self, surface: pygame.Surface, texts: Texts, size: int, focused: bool) -> None:
        self._frame(surface, focused)
        self._label(surface, texts, size)
        down, up = self._arrows()
        colour = theme.FOCUS if focused else theme.DIM
        for box, sign in ((down, -1), (up, 1)):
            c, r = box.center, box.height // 5
            pygame.draw.polygon(surface, colour, [(c[0] - sign * r, c[1] - r),
                                                  (c[0] - sign * r, c[1] + r),
                                                  (c[0] + sign * r, c[1])])
        middle = (down.right + up.left) // 2
        text = texts.fit(self.show(self.value), size, up.left - down.right - 4)
        line = texts.line(text, size, theme.TEXT)
        surface.blit(line, (middle - line.get_width() // 2, self._text_y(size)))


class Field(Widget):
    """A line of text; Enter hands it to `submit(text)`."""

    takes_text = True

    def __init__(self, name: str, label: str, hint: str, submit: Callable[[str], None],
                 most: int = 120) -> None:
        super().__init__(name, label)
        self.hint = hint
        self.submit = submit
        self.most = most
        self.text = ""

    def key(self, key: int, unicode: str) -> bool:
        if key in ENTER:
            self.submit(self.text)
            return True
        if key == pygame.K_BACKSPACE:
            self.text = self.text[:-1]
            return True
        if unicode and unicode.isprintable() and len(self.text) < self.most:
            self.text += unicode
            return True
        return False

    def look(self) -> tuple:
        return (self.text,)

    def draw(self, surface: pygame.Surface, texts: Texts, size: int, focused: bool) -> None:
        self._frame(surface, focused, fill=(14, 15, 20))
        start = self._label(surface, texts, size)
        room = self.rect.right - start - 8
        if self.text:
            shown = self.text + ("|" if focused else "")
            line = texts.line(shown, size, theme.TEXT)
            # the end of a long text stays in view, as in any text field
            area = Rect(max(0, line.get_width() - room), 0, room, line.get_height())
            surface.blit(line, (start, self._text_y(size)), area)
        else:
            texts.draw(surface, self.hint, (start, self._text_y(size)), size, theme.DIM,
                       width=room)


class Toggle(Widget):
    """On or off, as `get()` says; Enter, an arrow key or a click calls `flip()`."""

    def __init__(self, name: str, label: str, get: Callable[[], bool],
                 flip: Callable[[], None]) -> None:
        super().__init__(name, label)
        self.get = get
        self.flip = flip

    def key(self, key: int, unicode: str) -> bool:
        if key in ENTER or key in STEPS:
            self.flip()
            return True
        return False

    def click(self, pos: tuple[int, int]) -> None:
        self.flip()

    def look(self) -> tuple:
        return (self.get(),)

    def draw(self, surface: pygame.Surface, texts: Texts, size: int, focused: bool) -> None:
        self._frame(surface, focused)
        start = self._label(surface, texts, size)
        on = self.get()
        pill = Rect(start, self.rect.y + 5, int(size * 2.6), self.rect.height - 10)
        pygame.draw.rect(surface, theme.GOOD if on else theme.EDGE, pill,
                         border_radius=pill.height // 2)
        knob = pill.height - 4
        x = pill.right - knob - 2 if on else pill.x + 2
        pygame.draw.rect(surface, theme.TEXT, (x, pill.y + 2, knob, knob),
                         border_radius=knob // 2)
        texts.draw(surface, "on" if on else "off", (pill.right + 8, self._text_y(size)), size,
                   theme.TEXT)


class Focus:
    """Which widget the keyboard talks to: Tab and Shift-Tab move round, a click takes it."""

    def __init__(self, widgets: Sequence[Widget]) -> None:
        self.widgets = list(widgets)
        self.index: int | None = None

    @property
    def widget(self) -> Widget | None:
        return None if self.index is None else self.widgets[self.index]

    def move(self, delta: int) -> None:
        if self.index is None:
            self.index = 0 if delta > 0 else len(self.widgets) - 1
        else:
            self.index = (self.index + delta) % len(self.widgets)

    def take(self, widget: Widget | None) -> None:
        self.index = None if widget is None else self.widgets.index(widget)

    def at(self, pos: tuple[int, int]) -> Widget | None:
        return next((w for w in self.widgets if w.rect.collidepoint(pos)), None)


def _order(value: Any) -> tuple:
    """Sort key for a stepper's values: None (the model's own) first, then numbers."""
    return (value is not None, value if isinstance(value, (int, float)) else 0)
