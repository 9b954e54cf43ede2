"""The control panel: every widget, what it is bound to, where it sits, and the shortcuts.

Values are typed as `Player.set` takes them and chosen from lists within
composer.player.settings.LIMITS, so a control cannot ask for a value the player refuses. Each
is heard from the next loop (composer.player.player.REMAKE; the crossfade at the next change).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

import pygame
from pygame import Rect

from composer import generators
from composer.gui import theme
from composer.gui.commands import Commands
from composer.gui.theme import Texts
from composer.gui.widgets import Button, Field, Focus, Stepper, Toggle, Widget
from composer.player.settings import PlaySettings

TEMPI = [float(q) for q in range(30, 301, 2)]
TEMPERATURES = [None, *(round(0.05 * i, 2) for i in range(1, 61))]
BARS = [1, 2, 4, 8, 16, 32, 64]
CROSSFADES = [0.0, 0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0]

SHORTCUTS = {pygame.K_SPACE: "play_pause", pygame.K_n: "next", pygame.K_s: "save",
             pygame.K_q: "quit", pygame.K_ESCAPE: "quit"}


def model_choices(settings: PlaySettings, checkpoints: Sequence[str | Path] = ()
                  ) -> list[tuple[str, str | None]]:
    """(model, checkpoint) of every registered model, each checkpoint folder given, and the
    one playing."""
    choices = [(name, None) for name in generators.GENERATORS]
    for folder in checkpoints:
        choices.append((generators.resolve(checkpoint=folder)[0].name, str(folder)))
    playing = (settings.model, settings.checkpoint)
    return choices if playing in choices else [*choices, playing]


@functools.cache
def _label(model: str, checkpoint: str | None) -> str:
    return generators.label(model, checkpoint)  # cached: the panel asks every frame


@functools.cache
def _default_temperature(model: str, checkpoint: str | None) -> float | None:
    return generators.resolve(model, checkpoint)[0].temperature


def program_name(program) -> str:
    if program is None:
        return "model's own"
    if isinstance(program, tuple):
        return ",".join(map(str, program))
    import pretty_midi

    return f"{program} {pretty_midi.program_to_instrument_name(program)}"


def build(commands: Commands, settings: PlaySettings,
          checkpoints: Sequence[str | Path] = ()) -> list[Widget]:
    """The widgets in Tab order."""
    player = commands.player

    def temperature(value) -> str:
        if value is not None:
            return f"{value:g}"
        default = _default_temperature(player.settings.model, player.settings.checkpoint)
        return "model's" + (f" ({default:g})" if default is not None else " (none)")

    save_name = Field("save-name", "save as", "blank: a dated name", commands.save)
    return [
        Button("play", "Play", commands.play_pause,
               caption=lambda: "Play" if player.state == "paused" else "Pause"),
        Button("next", "Next", commands.next),
        Button("save", "Save", lambda: commands.save(save_name.text)),
        Button("quit", "Quit", commands.quit),
        save_name,
        Stepper("model", "model", model_choices(settings, checkpoints),
                (settings.model, settings.checkpoint),
                lambda v: _label(*v),
                lambda v: commands.change(model=v[0], checkpoint=v[1])),
        Stepper("program", "instrument", [None, *range(128)], settings.program, program_name,
                lambda v: commands.change(program=v)),
        Stepper("qpm", "tempo", TEMPI, float(settings.qpm), lambda v: f"{v:g} qpm",
                lambda v: commands.change(qpm=v)),
        Stepper("temperature", "temperature", TEMPERATURES, settings.temperature, temperature,
                lambda v: commands.change(temperature=v)),
        Stepper("bars", "bars", BARS, settings.bars, lambda v: f"{v} bars",
                lambda v: commands.change(bars=v)),
        Stepper("crossfade", "crossfade", CROSSFADES, float(settings.crossfade_beats),
                lambda v: f"{v:g} beats", lambda v: commands.change(crossfade_beats=v)),
        Field("prompt", "prompt", "e.g. dark slow strings", commands.prompt),
        Toggle("midi", "MIDI out", lambda: commands.midi.on, commands.toggle_midi),
    ]


def place(widgets: Sequence[Widget], area: Rect, row: int) -> None:
    """The four buttons in a 2x2 grid, then one row per control."""
    gap = max(4, row // 5)
    half = (area.width - gap) // 2
    y = area.y
    buttons = [w for w in widgets if isinstance(w, Button)]
    for i, button in enumerate(buttons):
        button.rect = Rect(area.x + (i % 2) * (half + gap), y + (i // 2) * (row + gap), half, row)
    y += ((len(buttons) + 1) // 2) * (row + gap) + gap
    for widget in widgets:
        if not isinstance(widget, Button):
            widget.rect = Rect(area.x, y, area.width, row)
            y += row + gap


class Controls:
    """The panel's widgets, their focus ring, and the commands they call."""

    def __init__(self, commands: Commands, settings: PlaySettings,
                 checkpoints: Sequence[str | Path] = ()) -> None:
        self.commands = commands
        self.widgets = build(commands, settings, checkpoints)
        self.focus = Focus(self.widgets)
        commands.reflect = self.reflect
        self._panel: pygame.Surface | None = None
        self._drawn_for: tuple | None = None

    def draw(self, screen: pygame.Surface, area: Rect, texts: Texts, size: int) -> None:
        """The panel, drawn again only when a widget's look, the focus or the layout
        changed (rounded frames and text are most of a frame's cost otherwise)."""
        focused = self.focus.widget
        key = (screen.get_size(), tuple(area), size, self.focus.index,
               tuple(w.look() for w in self.widgets))
        if key != self._drawn_for:
            if self._panel is None or self._panel.get_size() != screen.get_size():
                self._panel = pygame.Surface(screen.get_size())
            self._panel.fill(theme.WINDOW, area)
            for widget in self.widgets:
                widget.draw(self._panel, texts, size, widget is focused)
            self._drawn_for = key
        screen.blit(self._panel, area, area)

    def reflect(self, values: dict) -> None:
        """Show settings changed by a prompt on their steppers."""
        if "model" in values:
            self.named("model").show_value((values["model"], values.get("checkpoint")))
        for field in ("program", "qpm", "temperature"):
            if field in values:
                self.named(field).show_value(values[field])

    def named(self, name: str) -> Widget:
        return next(w for w in self.widgets if w.name == name)

    def shortcut(self, key: int) -> None:
        """Run the command a key stands for (SHORTCUTS: space, n, s, q, Escape)."""
        name = SHORTCUTS[key]
        if name == "save":
            self.commands.save(self.named("save-name").text)
        else:
            getattr(self.commands, name)()
