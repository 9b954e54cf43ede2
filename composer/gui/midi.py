"""Live MIDI out switched on and off while the player plays.

`MidiOut.attach` is meant for before a player starts; here it can come at any moment, so the
link joins at the current loop's next downbeat (a loop already under way is not sent from
its middle, nor all at once from its start), and leaves with all notes off and a MIDI Stop.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from types import SimpleNamespace

from composer.gui.board import Heard
from composer.player.events import LoopStarted, StateChanged
from composer.player.midi_out import MidiOut, open_port
from composer.player.player import Player


class MidiLink:
    """On or off; `switch()` says what happened in one line. `opener(name)` makes the port
    (composer.player.midi_out.open_port; a ValueError says why it cannot)."""

    def __init__(self, player: Player, port_name: str | None = None,
                 opener: Callable[[str | None], object] = open_port) -> None:
        self.player = player
        self.port_name = port_name
        self.opener = opener
        self.out: MidiOut | None = None
        self._port = None
        self._unsubscribe: Callable[[], None] | None = None

    @property
    def on(self) -> bool:
        return self.out is not None

    def switch(self, loops: Sequence[Heard] = ()) -> str:
        return self.stop() if self.on else self.start(loops)

    def start(self, loops: Sequence[Heard] = ()) -> str:
        """Open the port and send from now on. `loops` are those announced so far (the
        window's board): the one playing joins at its next downbeat, any already written
        ahead at their own. Raises ValueError (no MIDI system, no such port)."""
        port = self.opener(self.port_name)
        out = MidiOut(port)
        # MidiOut subscribes itself; keep the handle to take it off again.
        out.attach(SimpleNamespace(clock=self.player.clock, subscribe=self._subscribe))
        if self.player.clock.ready.is_set():
            now = self.player.clock.frame_at(time.monotonic() + 0.1)
            playing = [heard for heard in loops if heard.start < now][-1:]
            for heard in [*playing, *(heard for heard in loops if heard.start >= now)]:
                start = heard.start
                if start < now:  # under way: from its next downbeat
                    start += -(-(now - start) // heard.loop.frames) * heard.loop.frames
                out(LoopStarted(heard.loop, start))
        self.out, self._port = out, port
        return f"MIDI out on ({self.port_name or 'virtual port composer'})"

    def _subscribe(self, listener) -> Callable[[], None]:
        self._unsubscribe = self.player.subscribe(listener)
        return self._unsubscribe

    def stop(self) -> str:
        if self.out is None:
            return "MIDI out is off"
        if self._unsubscribe is not None:
            self._unsubscribe()
        self.out(StateChanged("stopped", self.player.stream.frames_out))  # notes off, Stop
        close = getattr(self._port, "close_port", None)
        if close is not None:
            close()
        self.out = self._port = self._unsubscribe = None
        return "MIDI out off"
