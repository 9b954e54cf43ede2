"""What the window shows, as plain state fed by the inbox: no pygame, no drawing.

Loops are announced when their audio is written, which is ahead of when they are heard, so
the board keeps the last few with the output frame each starts at and answers "which loop,
and where in it" for the frame heard now.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from composer.audio import Loop
from composer.gui.inbox import Item, Note
from composer.player.events import (
    CrossfadeStarted,
    LoopSaved,
    LoopStarted,
    PlayerError,
    StateChanged,
)


@dataclass(frozen=True)
class Heard:
    """Loop `number` (1 for the first played) whose downbeat plays at output frame `start`."""

    number: int
    loop: Loop
    start: int

    def position(self, frame: int) -> float:
        """Where `frame` falls in the loop, 0 (downbeat) to 1, as it repeats."""
        return ((frame - self.start) % self.loop.frames) / self.loop.frames


@dataclass(frozen=True)
class Message:
    text: str
    error: bool
    at: float  # time.monotonic() when it arrived


class Board:
    """The window's state: loops as heard, the player's state, the status-bar line."""

    def __init__(self, keep: int = 4) -> None:
        self.keep = keep
        self.loops: list[Heard] = []
        self.fade: CrossfadeStarted | None = None
        self.state = "starting"
        self.message: Message | None = None
        self.errors = 0

    def say(self, text: str, error: bool = False) -> None:
        self.message = Message(text, error, time.monotonic())
        self.errors += error

    def apply(self, item: Item) -> Heard | None:
        """Take one event or note; returns the loop it announced, if any (to draw its roll
        now, once, rather than every frame)."""
        if isinstance(item, LoopStarted):
            number = self.loops[-1].number + 1 if self.loops else 1
            self.loops = [*self.loops[-(self.keep - 1):], Heard(number, item.loop, item.frame)]
            return self.loops[-1]
        if isinstance(item, CrossfadeStarted):
            self.fade = item
        elif isinstance(item, StateChanged):
            self.state = item.state
        elif isinstance(item, PlayerError):
            self.say(f"making the next loop failed ({item.message}); the current one repeats",
                     error=True)
        elif isinstance(item, LoopSaved):
            self.say("saved " + ", ".join(str(p) for p in item.paths))
        elif isinstance(item, Note):
            self.say(item.text, item.error)
        return None

    def now(self, frame: int | None) -> Heard | None:
        """The loop heard at output `frame`: the newest that started by then (before the
        first is heard, the first)."""
        if not self.loops:
            return None
        if frame is None:
            return self.loops[0]
        started = [heard for heard in self.loops if heard.start <= frame]
        return started[-1] if started else self.loops[0]

    def fading(self, frame: int | None) -> bool:
        fade = self.fade
        return fade is not None and frame is not None and (
            fade.frame <= frame < fade.frame + fade.frames)
