"""A sink that passes audio on and remembers the last few seconds, for the window's views.

The player writes ahead of what is heard (a block or two for the speakers, half a second for
a paced file), so the views ask for the audio that ends at the frame heard now
(`player.clock.frame_at(time.monotonic())`), not for the newest audio written.
"""

from __future__ import annotations

import threading

import numpy as np

from composer.player.sinks import Sink, Wrapped


class Tap(Wrapped):
    """Any sink, plus a ring of its last `seconds` of audio (mono) by output frame.

    `write` runs on the playback thread and `window` on the drawing thread; a lock keeps
    each read whole. Output frame n is the n-th frame written since playing began, the same
    count the player's events and clock use."""

    def __init__(self, sink: Sink, seconds: float = 4.0) -> None:
        super().__init__(sink)
        self.realtime = getattr(sink, "realtime", False)
        self.latency = getattr(sink, "latency", 0.0)
        self._ring = np.zeros(int(seconds * sink.sample_rate), dtype=np.float32)
        self._written = 0  # frames ever written: the output frame after the newest one
        self._lock = threading.Lock()

    # -- the Sink protocol, passed on ---------------------------------------------------

    @property
    def underruns(self) -> int | None:
        """Underruns the wrapped sink counted (the speakers), or None if it cannot tell."""
        inner = self.sink
        while not hasattr(inner, "underruns") and hasattr(inner, "sink"):
            inner = inner.sink  # through Paced and the like
        return getattr(inner, "underruns", None)

    def write(self, block: np.ndarray) -> None:
        self.sink.write(block)
        mono = block.mean(axis=1) if block.ndim == 2 else block
        self._keep(mono.astype(np.float32, copy=False))

    # -- what the views read ------------------------------------------------------------

    @property
    def written(self) -> int:
        return self._written

    def _keep(self, mono: np.ndarray) -> None:
        size, count = len(self._ring), len(mono)
        kept = mono[-size:]  # a block longer than the ring: only its end fits
        with self._lock:
            start = (self._written + count - len(kept)) % size
            first = min(len(kept), size - start)
            self._ring[start:start + first] = kept[:first]
            self._ring[:len(kept) - first] = kept[first:]
            self._written += count

    def window(self, end: int, frames: int) -> np.ndarray:
        """Mono audio of output frames [end - frames, end): zeros where nothing was written
        yet, or where it has already left the ring."""
        out = np.zeros(frames, dtype=np.float32)
        size = len(self._ring)
        with self._lock:
            newest = self._written
            low = max(end - frames, newest - size, 0)
            high = min(end, newest)
            if high <= low:
                return out
            at, start = low - (end - frames), low % size
            first = min(high - low, size - start)  # up to the ring's end, then from its start
            out[at:at + first] = self._ring[start:start + first]
            out[at + first:at + high - low] = self._ring[:high - low - first]
        return out
