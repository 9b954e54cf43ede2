"""Loops made ahead of the playhead, in background threads.

The producer runs `make()` (generate -> render -> loop) until `ahead` loops wait in its
queue. A failing or slow stage is logged and retried with back-off; the stream meanwhile
keeps repeating what it has, so a fault is never heard as silence.

Given several stages (`Producer(compose, render, finish)`), each runs in its own thread with
a one-item hand-off between them, so the next phrase is composed and the last one analysed
while the current one renders. Synthesis (FluidSynth, in C) and the seam analysis (SciPy
FFTs) run without the GIL, and the renderer keeps the GIL through its many short calls into
FluidSynth (composer.render.synth), so on two cores the stages around rendering cost little
wall time.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

from composer.audio import Loop

log = logging.getLogger("composer.player")


class Producer:
    def __init__(self, make: Callable[[], object], *then: Callable[[object], object],
                 ahead: int = 2, retry: float = 0.2, max_retry: float = 5.0,
                 on_error: Callable[[str], None] | None = None) -> None:
        self.stages = (make, *then)
        self.on_error = on_error  # hears each failure, as "Kind: message"
        self.ready: queue.Queue[Loop] = queue.Queue(maxsize=ahead)
        # hand-offs between stages, each item tagged with the settings generation it used
        self._handoffs = [queue.Queue(maxsize=1) for _ in then]
        self.retry = retry
        self.max_retry = max_retry
        self.made = 0
        self.errors = 0
        self.last_error: str | None = None
        self.seconds_making = 0.0  # wall time spent in the first stage
        self._stop = threading.Event()
        self._generation = 0  # bumped by clear(): loops made under old settings are dropped
        self._threads = [threading.Thread(target=self._run, name="composer-producer",
                                          daemon=True)]
        self._threads += [threading.Thread(target=self._run_stage, args=(i,), daemon=True,
                                           name=f"composer-stage-{i}")
                          for i in range(1, len(self.stages))]

    def start(self) -> Producer:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)

    def get(self, wait: bool = False, timeout: float | None = None) -> Loop | None:
        """The next ready loop; with `wait`, block up to `timeout` seconds (None: forever,
        unless the producer stops)."""
        if not wait:
            try:
                return self.ready.get_nowait()
            except queue.Empty:
                return None
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._stop.is_set():
            left = 0.1 if deadline is None else min(0.1, deadline - time.monotonic())
            if left <= 0:
                return None
            try:
                return self.ready.get(timeout=left)
            except queue.Empty:
                continue
        return None

    def clear(self) -> None:
        """Drop the loops made ahead, so a change of settings is heard at the next switch."""
        self._generation += 1
        while True:
            try:
                self.ready.get_nowait()
            except queue.Empty:
                return

    def _failed(self, exc: Exception, delay: float) -> None:
        self.errors += 1
        self.last_error = f"{type(exc).__name__}: {exc}"
        log.warning("making the next loop failed (%s); retrying in %.1f s", self.last_error, delay)
        if self.on_error is not None:
            self.on_error(self.last_error)
        self._stop.wait(delay)

    def _put(self, target: queue.Queue, item, generation: int) -> None:
        """Hand on `item` unless settings changed meanwhile (then it is dropped)."""
        while not self._stop.is_set() and generation == self._generation:
            try:
                target.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def _run(self) -> None:
        delay = self.retry
        last = len(self.stages) == 1
        while not self._stop.is_set():
            generation = self._generation
            started = time.perf_counter()
            try:
                item = self.stages[0]()
            except Exception as exc:  # a model or render fault must not stop the music
                self._failed(exc, delay)
                delay = min(self.max_retry, delay * 2)
                continue
            finally:
                self.seconds_making += time.perf_counter() - started
            delay = self.retry
            if last:
                self.made += 1
                self._put(self.ready, item, generation)
            else:
                self._put(self._handoffs[0], (generation, item), generation)

    def _run_stage(self, stage: int) -> None:
        source, last = self._handoffs[stage - 1], stage == len(self.stages) - 1
        while not self._stop.is_set():
            try:
                generation, item = source.get(timeout=0.1)
            except queue.Empty:
                continue
            if generation != self._generation:
                continue
            try:
                item = self.stages[stage](item)
            except Exception as exc:  # a fault in a later stage: drop this one, go on
                self._failed(exc, self.retry)
                continue
            if last:
                self.made += 1
                self._put(self.ready, item, generation)
            else:
                self._put(self._handoffs[stage], (generation, item), generation)
