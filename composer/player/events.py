"""What the player tells its listeners, instead of being polled: a GUI, MIDI out, a web page.

Frames are on the output clock: the count of frames the stream has handed to the sink since
playing began (`OutputClock` turns one into the moment it is heard). Events are published
from the playback thread as the stream produces the audio, which is ahead of when it is
heard, so a listener has time to act; a listener must return quickly (queue, don't work).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from composer.audio import Loop

log = logging.getLogger("composer.player")


@dataclass(frozen=True)
class LoopStarted:
    """A loop's downbeat plays at `frame` (the first loop, or one coming in on a crossfade)."""

    loop: Loop
    frame: int

    @property
    def phrase(self):
        return self.loop.phrase

    @property
    def qpm(self) -> float | None:
        return self.loop.qpm


@dataclass(frozen=True)
class CrossfadeStarted:
    frame: int
    frames: int  # length of the crossfade
    outgoing: Loop
    incoming: Loop


@dataclass(frozen=True)
class LoopSaved:
    loop: Loop
    paths: tuple[Path, ...]


@dataclass(frozen=True)
class StateChanged:
    state: str  # playing | paused | stopped
    frame: int


@dataclass(frozen=True)
class PlayerError:
    """Making a loop failed (the music goes on: the current loop repeats)."""

    message: str


Event = LoopStarted | CrossfadeStarted | LoopSaved | StateChanged | PlayerError


class EventBus:
    """Subscribers hear every event in the order published; one that raises is logged and
    kept (a broken view must not stop the music)."""

    def __init__(self) -> None:
        self._subscribers: list[Callable[[Event], None]] = []
        self._lock = threading.Lock()

    def subscribe(self, listener: Callable[[Event], None]) -> Callable[[], None]:
        """Start calling `listener(event)`; returns the function that stops it."""
        with self._lock:
            self._subscribers.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._subscribers:
                    self._subscribers.remove(listener)

        return unsubscribe

    def publish(self, event: Event) -> None:
        with self._lock:
            listeners = list(self._subscribers)
        for listener in listeners:
            try:
                listener(event)
            except Exception:
                log.exception("a player event listener failed on %s", type(event).__name__)


class OutputClock:
    """Output frames to wall-clock time (time.monotonic): frame 0 is heard at `started` plus
    the sink's latency, and each later frame 1/sample_rate after it, less time paused. Audio
    hardware plays at its sample rate, so one anchor serves the whole session."""

    def __init__(self, sample_rate: int, latency: float = 0.0) -> None:
        self.sample_rate = sample_rate
        self.latency = latency
        self.started: float | None = None
        self._paused_at: float | None = None
        self.ready = threading.Event()

    def start(self, now: float | None = None) -> None:
        if self.started is None:
            self.started = (time.monotonic() if now is None else now) + self.latency
            self.ready.set()

    def pause(self) -> None:
        self._paused_at = time.monotonic()

    def resume(self) -> None:
        if self._paused_at is not None and self.started is not None:
            self.started += time.monotonic() - self._paused_at
        self._paused_at = None

    @property
    def paused(self) -> bool:
        return self._paused_at is not None

    def time_of(self, frame: int) -> float:
        """When `frame` is heard (call after start)."""
        return self.started + frame / self.sample_rate

    def frame_at(self, moment: float) -> int:
        return int((moment - self.started) * self.sample_rate)
