"""The audio loop maker: MusicGPT's clips through the loop detector, with the MIDI path, steered
by the same prompt, playing whenever no clip is ready.

MusicGPT takes tens of seconds a clip on a CPU, so on speakers a thread of its own generates
clips ahead (one process at a time) while the MIDI maker fills every slot that has no clip:
there is sound within seconds and never a silent wait. The first clip is brought in at the
next bar line (the MIDI loops queued ahead are dropped); later ones take their turn. A clip
that fails is tried once more; if that fails too, one line on the player's error channel says
why and the MIDI path keeps the slot. Written to a file (no listener waiting), each slot waits
for its clip instead, and falls back the same way.

A clip becomes a loop as any audio does (composer.loop.find_loop: the beat grid estimated,
the most seamless whole bars chosen) at the player's sample rate and at its own tempo.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

from composer.audio import Loop
from composer.player.makers import MidiLoopMaker
from composer.player.settings import PlaySettings

log = logging.getLogger("composer.player")


class MusicGptLoopMaker:
    def __init__(self, settings: PlaySettings, midi: MidiLoopMaker | None = None) -> None:
        from dataclasses import replace

        from composer.musicgpt import find_binary

        if not settings.prompt:
            raise ValueError("the musicgpt engine needs a prompt: --prompt \"...\"")
        self.settings = settings
        self.binary = find_binary(settings.musicgpt)
        self.request = self._request(settings)
        self.midi = midi or MidiLoopMaker(replace(settings, source="midi"))
        self.note = "musicgpt: starting"  # the player's status line shows it
        self.realtime = True
        self.clips_made = 0
        self.fallbacks = 0
        self.on_error: Callable[[str], None] = lambda message: None
        self.show_progress: Callable[[str, int, int], None] | None = None
        self._player = None
        self._ready: queue.Queue[Loop] = queue.Queue(maxsize=1)
        self._halt = threading.Event()  # stop for good
        self._interrupt = threading.Event()  # stop the clip being made (pause, new prompt)
        self._running = threading.Event()
        self._running.set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    # -- the player's side ----------------------------------------------------------------

    def attach(self, player) -> None:
        """Called by the Player that plays these loops: where errors go, whether anyone is
        listening in real time, and how to bring the first clip in early."""
        self._player = player
        self.on_error = player._failed
        self.realtime = bool(getattr(player.sink, "realtime", False))
        if self.realtime:
            self._thread = threading.Thread(target=self._ahead, name="composer-musicgpt",
                                            daemon=True)
            self._thread.start()

    def stages(self) -> tuple[Callable, ...]:
        return (self,)

    def __call__(self) -> Loop:
        if not self.realtime:
            return self._slot()
        try:
            return self._ready.get_nowait()
        except queue.Empty:
            return self.midi()

    def update(self, settings: PlaySettings) -> None:
        from dataclasses import replace

        with self._lock:
            changed = (settings.prompt, settings.clip_seconds, settings.musicgpt_model) != (
                self.settings.prompt, self.settings.clip_seconds, self.settings.musicgpt_model)
            self.settings = settings
            if changed and settings.prompt:
                self.request = self._request(settings)
                self._interrupt.set()  # the clip being made is for the old prompt
                while not self._ready.empty():
                    self._ready.get_nowait()
        self.midi.update(replace(settings, source="midi"))

    @staticmethod
    def _request(settings: PlaySettings):
        from composer.musicgpt import MusicGptRequest

        return MusicGptRequest(settings.prompt, seconds=settings.clip_seconds,
                               model=settings.musicgpt_model, timeout=settings.musicgpt_timeout)

    def pause(self) -> None:
        """Nothing is generated while paused: the running MusicGPT is stopped."""
        self._running.clear()
        self._interrupt.set()

    def resume(self) -> None:
        self._running.set()

    def close(self) -> None:
        self._halt.set()
        self._interrupt.set()
        self._running.set()
        if self._thread is not None:
            self._thread.join(10.0)

    # -- making clips ---------------------------------------------------------------------

    def _slot(self) -> Loop:
        """Offline: this slot's clip, waited for; the MIDI path's loop after two failures."""
        try:
            return self._clip_loop()
        except Exception as exc:  # noqa: BLE001 - any failure gives the slot to MIDI
            self._fell_back(exc)
            return self.midi()

    def _ahead(self) -> None:
        delay = 1.0
        while not self._halt.is_set():
            self._running.wait()
            if self._halt.is_set():
                return
            if self._ready.full():
                self._halt.wait(0.1)
                continue
            try:
                loop = self._clip_loop()
            except Exception as exc:  # noqa: BLE001
                if self._halt.is_set() or not self._running.is_set():
                    continue  # stopped or paused on purpose: not a failure
                if "stopped" in str(exc):  # a new prompt: start over at once
                    continue
                self._fell_back(exc)
                self._halt.wait(delay)  # a broken install must not spin
                delay = min(60.0, delay * 2)
                continue
            delay = 1.0
            first = self.clips_made == 1
            self._put(loop)
            if first and self._player is not None:  # in at the next bar line, not in a minute
                self._player.producer.clear()
                self._player.next()

    def _put(self, loop: Loop) -> None:
        while not self._halt.is_set():
            try:
                self._ready.put(loop, timeout=0.1)
                return
            except queue.Full:
                continue

    def _clip_loop(self) -> Loop:
        """A clip made into a loop, tried twice."""
        from composer.loop import find_loop
        from composer.musicgpt import MusicGptError, generate

        for attempt in (1, 2):
            self._interrupt.clear()
            with self._lock:
                request = self.request
            self.note = f"musicgpt: writing {request.seconds} s" + (
                " (second try)" if attempt == 2 else "")
            try:
                clip = generate(self.binary, request, sample_rate=self.settings.sample_rate,
                                progress=self._progress, stop=self._interrupt)
                loop = find_loop(clip, max_bars=8, name="MusicGPT's clip")
            except Exception as exc:  # noqa: BLE001
                if attempt == 2 or self._halt.is_set() or self._interrupt.is_set():
                    raise MusicGptError(str(exc)) from exc
                log.info("MusicGPT failed (%s); trying once more", exc)
                continue
            self.clips_made += 1
            self.note = f"musicgpt: {self.clips_made} clips"
            return loop
        raise AssertionError("unreachable")

    def _progress(self, fraction: float) -> None:
        self.note = f"musicgpt: {100 * fraction:.0f}%"
        if self.show_progress is not None:
            self.show_progress("musicgpt", round(100 * fraction), 100)

    def _fell_back(self, exc: Exception) -> None:
        if self._halt.is_set():  # stopped while a clip was being made: nothing failed
            return
        self.fallbacks += 1
        self.note = "musicgpt: failed, MIDI plays"
        self.on_error(f"MusicGPT failed twice ({exc}); the MIDI path plays this slot")
