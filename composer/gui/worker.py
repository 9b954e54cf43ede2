"""Player calls that may take long, off the drawing thread, and the settings they carry.

`player.set(model=...)` loads the new model where it is called (a second or more for pop),
and a window that stops drawing for that long looks hung; so changes go to one worker
thread, in order. Stepping through tempi sends one change when the stepping pauses, not one
per key press (each change drops the loops made ahead).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

from composer.gui.inbox import Inbox

log = logging.getLogger("composer.gui")

Job = Callable[[], str | None]  # returns a line for the status bar, or None


class Worker:
    """One thread running jobs in the order given; a job's error is a status-bar line."""

    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox
        self._jobs: queue.Queue[Job | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="composer-gui-worker",
                                        daemon=True)
        self._thread.start()

    def submit(self, job: Job) -> None:
        self._jobs.put(job)

    @property
    def idle(self) -> bool:
        return self._jobs.unfinished_tasks == 0

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                if job is None:
                    return
                said = job()
                if said:
                    self.inbox.say(said)
            except (ValueError, OSError) as exc:
                self.inbox.say(str(exc), error=True)
            except Exception as exc:  # the window outlives any one job
                self.inbox.say(f"{type(exc).__name__}: {exc}", error=True)
            finally:
                self._jobs.task_done()

    def close(self, timeout: float = 5.0) -> None:
        self._jobs.put(None)
        self._thread.join(timeout)


class Changes:
    """Setting changes gathered while a user steps through values; due once they have
    rested for `delay` seconds (or at once, on Enter)."""

    def __init__(self, delay: float = 0.4) -> None:
        self.delay = delay
        self._values: dict = {}
        self._since = 0.0

    def add(self, now: float, **values) -> None:
        self._values.update(values)
        self._since = now

    def due(self, now: float, force: bool = False) -> dict | None:
        """The gathered values if it is time to send them (then forgotten), else None."""
        if not self._values or (not force and now - self._since < self.delay):
            return None
        values, self._values = self._values, {}
        return values
