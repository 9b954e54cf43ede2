"""The playhead: loops repeat for a while, then the next comes in on a bar line.

A `Stream` is pulled block by block (`read(frames)`) by whoever owns the clock: the speaker
sink in real time, or a file writer at full speed. It never emits silence once a loop has
started: when the next loop is late (generation failed or is slow) the current one keeps
repeating, and the switch is tried again at the next bar line.

The crossfade is equal-power (cos/sin gains), so two unrelated loops keep the loudness
constant through the change; it starts on a bar line of the outgoing loop, the incoming loop
starts on its own downbeat, and the fade lasts `crossfade_beats` of the incoming loop's
beats, so it ends on the incoming loop's grid whatever the two tempi are.

The stream says what it does through `on_event` (composer.player.events): a loop started,
a crossfade started, with their frames on the output clock.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from composer.audio import Loop
from composer.player.events import CrossfadeStarted, Event, LoopStarted


@dataclass
class Deck:
    """A loop and how far it has played. A loop's period need not begin on its downbeat
    (`Loop.downbeat` says where bar 1 is, composer.loop.wrap why); a deck starts on the
    downbeat and counts bar lines from it."""

    loop: Loop
    played: int = field(init=False)  # position in the period, counting every repetition
    downbeat: int = field(init=False)  # where bar 1 begins in the period
    edges: np.ndarray = field(init=False)  # bar lines, from the downbeat

    def __post_init__(self) -> None:
        bars = max(1, self.loop.bars)
        self.downbeat = self.loop.downbeat
        self.played = self.downbeat
        self.edges = np.round(np.arange(bars + 1) * self.loop.frames / bars).astype(np.int64)

    @property
    def elapsed(self) -> int:
        """Frames played since the deck started."""
        return self.played - self.downbeat

    def take(self, frames: int) -> np.ndarray:
        """The next `frames` of the loop repeated end to start."""
        period = self.loop.audio
        index = (self.played + np.arange(frames)) % len(period)
        self.played += frames
        return period[index]

    def wraps(self, frames: int) -> np.ndarray:
        """Offsets within the next `frames` where the loop goes from its end to its start."""
        size = self.loop.frames
        first = size if self.played == 0 else (-self.played) % size
        return np.arange(first, frames, size)

    def to_bar_line(self) -> int:
        """Frames until the next bar line (0 when the playhead is on one)."""
        position = self.elapsed % self.loop.frames
        following = self.edges[np.searchsorted(self.edges, position)]
        return int(following - position)

    def bar_frames(self) -> int:
        return int(self.edges[1] - self.edges[0])


class Stream:
    """Loops in, audio out.

    `next_loop(wait)` gives the next ready loop or None; `wait` says whether the stream may
    block for it (offline rendering may: it has no clock; real-time playback never does).
    """

    def __init__(self, next_loop: Callable[[bool], Loop | None], *, loop_seconds: float = 20.0,
                 crossfade_beats: float = 4.0, realtime: bool = True,
                 on_event: Callable[[Event], None] | None = None) -> None:
        self.next_loop = next_loop
        self.on_event = on_event
        self.loop_seconds = loop_seconds
        self.crossfade_beats = crossfade_beats
        self.realtime = realtime
        self.current: Deck | None = None
        self.incoming: Deck | None = None
        self.fade_length = 0
        self.fade_done = 0
        self.skip = threading.Event()
        self.frames_out = 0
        self.switches = 0
        self.late = 0  # bar lines where a switch was due but no loop was ready
        self.silent_frames = 0  # frames with nothing to play (only before the first loop)
        self._late_pending = False
        # Output frames where a loop wrapped end -> start or a crossfade began or ended: the
        # places to listen for clicks. Bounded, so hours of playing keep memory flat.
        self.joins: deque[int] = deque(maxlen=4096)
        self._position = 0

    # -- control ------------------------------------------------------------------------

    def request_next(self) -> None:
        """Move to the next loop at the next bar line (if one is ready by then)."""
        self.skip.set()

    @property
    def now_playing(self) -> Loop | None:
        deck = self.incoming or self.current
        return deck.loop if deck else None

    def seconds_left(self) -> float:
        """How long the current loop plays before its change is due."""
        if self.current is None:
            return 0.0
        loop = self.current.loop
        due = self._due_frames(loop)
        return max(0.0, (due - self.current.elapsed) / loop.sample_rate)

    # -- audio --------------------------------------------------------------------------

    def read(self, frames: int) -> np.ndarray:
        """The next `frames` frames of audio (float32, channels last)."""
        blocks: list[np.ndarray] = []
        left = frames
        while left > 0:
            block = self._segment(left)
            blocks.append(block)
            left -= len(block)
            self._position += len(block)
        self.frames_out += frames
        return np.concatenate(blocks) if len(blocks) > 1 else blocks[0]

    def _due_frames(self, loop: Loop) -> int:
        """Whole repetitions that fill `loop_seconds` (at least one)."""
        repeats = max(1, int(round(self.loop_seconds * loop.sample_rate / loop.frames)))
        return repeats * loop.frames

    def _segment(self, most: int) -> np.ndarray:
        if self.current is None:
            loop = self.next_loop(True)
            if loop is None:
                self.silent_frames += most
                return np.zeros((most, 2), dtype=np.float32)
            self.current = Deck(loop)
            self._tell(LoopStarted(loop, self._position))
        if self.incoming is not None:
            return self._fade(most)
        deck = self.current
        due = self.skip.is_set() or deck.elapsed >= self._due_frames(deck.loop)
        if not due:
            until = self._due_frames(deck.loop) - deck.elapsed
            return self._take(deck, min(most, until))
        to_line = deck.to_bar_line()
        if to_line == 0:
            loop = self.next_loop(not self.realtime)
            if loop is not None:
                self._start_fade(loop)
                return self._fade(most)
            if not self._late_pending:
                self.late += 1
                self._late_pending = True
            to_line = deck.bar_frames()  # keep repeating; try again at the next bar line
        return self._take(deck, min(most, to_line))

    def _take(self, deck: Deck, count: int) -> np.ndarray:
        self.joins.extend((self._position + deck.wraps(count)).tolist())
        return deck.take(count)

    def _tell(self, event: Event) -> None:
        if self.on_event is not None:
            self.on_event(event)

    def _start_fade(self, loop: Loop) -> None:
        """Start the crossfade to `loop` here (a bar line of the outgoing loop): `loop` from
        its downbeat, for `crossfade_beats` of its own beats."""
        outgoing = self.current.loop
        beat = (60.0 / loop.qpm if loop.qpm else
                loop.seconds / max(1, loop.bars) / max(1, loop.beats_per_bar))
        length = int(round(self.crossfade_beats * beat * loop.sample_rate))
        self.fade_length = max(1, min(length, outgoing.frames, loop.frames))
        self.fade_done = 0
        self.incoming = Deck(loop)
        self.skip.clear()
        self._late_pending = False
        self._tell(CrossfadeStarted(self._position, self.fade_length, outgoing, loop))
        self._tell(LoopStarted(loop, self._position))

    def _fade(self, most: int) -> np.ndarray:
        count = min(most, self.fade_length - self.fade_done)
        t = (self.fade_done + np.arange(count) + 0.5) / self.fade_length * (np.pi / 2)
        if self.fade_done == 0:
            self.joins.append(self._position)
        out = (self._take(self.current, count) * np.cos(t)[:, None]
               + self._take(self.incoming, count) * np.sin(t)[:, None])
        self.fade_done += count
        if self.fade_done >= self.fade_length:
            self.joins.append(self._position + count)
            self.current, self.incoming = self.incoming, None
            self.switches += 1
        return out.astype(np.float32, copy=False)
