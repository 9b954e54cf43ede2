"""Everything the window hears from other threads, in one queue it drains each frame.

Player events arrive on the playback thread and messages from the worker thread; pygame's
display is touched by the main thread alone, so they are queued, never drawn where they land.
"""

from __future__ import annotations

import logging
import queue
from dataclasses import dataclass

from composer.player.events import Event


@dataclass(frozen=True)
class Note:
    """A line for the status bar."""

    text: str
    error: bool = False


Item = Event | Note


class Inbox:
    """A thread-safe queue of player events and notes; `put` is the player's listener."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Item] = queue.SimpleQueue()

    def __call__(self, item: Item) -> None:
        self._queue.put(item)

    put = __call__

    def say(self, text: str, error: bool = False) -> None:
        self._queue.put(Note(text, error))

    def drain(self, most: int = 256) -> list[Item]:
        """What arrived since the last call (at most `most`, so one frame stays short)."""
        items: list[Item] = []
        while len(items) < most:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return items


class LogToInbox(logging.Handler):
    """The engine's warnings as status-bar lines instead of text in the terminal."""

    def __init__(self, inbox: Inbox) -> None:
        super().__init__(logging.WARNING)
        self.inbox = inbox

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.inbox.say(record.getMessage(), error=record.levelno >= logging.ERROR)
        except Exception:  # a bad format string must not reach the terminal either
            pass
