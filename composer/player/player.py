"""The player: settings, controls, status and events around a producer, a stream and a sink.

On the MIDI path a loop is a phrase generated to be exactly `bars` bars at the player's
tempo, rendered once with its release and reverb tail wrapped onto its start (so it repeats
with no gap and no fade), and its seam measured like any other loop's. Loops may differ in
tempo (a change of `qpm`, a user's checkpoint, an audio source): each crossfade starts on
the outgoing loop's bar line and lasts whole beats of the incoming one.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from composer.audio import Loop
from composer.fir import use_scipy_fft
from composer.player.events import (
    Event,
    EventBus,
    LoopSaved,
    OutputClock,
    PlayerError,
    StateChanged,
)
from composer.player.makers import LoopMaker, make_maker
from composer.player.producer import Producer
from composer.player.settings import PlaySettings, changed
from composer.player.sinks import Sink
from composer.player.stream import Stream

log = logging.getLogger("composer.player")

# settings whose change is heard from the next loop made (the loops made ahead are dropped)
REMAKE = ("model", "checkpoint", "qpm", "temperature", "program", "bars", "source", "mode",
          "prompt", "clip_seconds", "musicgpt_model")


@dataclass(frozen=True)
class Status:
    state: str  # starting | playing | paused | stopped
    model: str
    qpm: float
    key: str | None
    bars: int
    loops_played: int
    seconds_played: float
    seconds_ahead: float  # music ready ahead of the playhead
    next_ready: bool
    errors: int
    late_switches: int
    seam: float | None  # worst seam score of the loop now playing
    note: str | None = None  # the loop maker's own news (MusicGPT's progress)

    def line(self) -> str:
        key = self.key or "?"
        seam = f", seam {self.seam:.2f}" if self.seam is not None else ""
        return (f"{self.state}: {self.model} loop {self.loops_played + 1}, {self.bars} bars at "
                f"{self.qpm:g} qpm, {key}{seam} | {self.seconds_played:.1f} s played, "
                f"{self.seconds_ahead:.1f} s ahead, next {'ready' if self.next_ready else 'coming'}"
                + (f", {self.errors} errors" if self.errors else "")
                + (f" | {self.note}" if self.note else ""))


class Player:
    """Endless music into a sink, with play / pause / resume / next / stop / save / status.

    `run(seconds)` plays a fixed amount in the calling thread (a file is written at full
    speed); `start()` plays in a background thread until `stop()`.
    """

    def __init__(self, settings: PlaySettings, sink: Sink, *,
                 make: LoopMaker | Callable[[], Loop] | None = None) -> None:
        """`make` is a loop maker (default: the one `settings.source` names) or any
        function that returns the next Loop."""
        self.settings = settings
        self.sink = sink
        self.maker = make if make is not None else make_maker(settings)
        stages = self.maker.stages() if isinstance(self.maker, LoopMaker) else (self.maker,)
        self.events = EventBus()
        self.clock = OutputClock(settings.sample_rate, getattr(sink, "latency", 0.0))
        self.producer = Producer(*stages, ahead=settings.ahead, on_error=self._failed)
        self.stream = Stream(self._next_loop, loop_seconds=settings.loop_seconds,
                             crossfade_beats=settings.crossfade_beats,
                             realtime=getattr(sink, "realtime", False),
                             on_event=self.events.publish)
        self.state = "starting"
        self.first_sound: float | None = None  # seconds from construction to the first block
        self.created_at = time.perf_counter()
        self._resume = threading.Event()
        self._resume.set()
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None
        if hasattr(self.maker, "attach"):  # an audio maker brings its first clip in early
            self.maker.attach(self)
        self.producer.start()

    def subscribe(self, listener: Callable[[Event], None]) -> Callable[[], None]:
        """Hear the player's events (composer.player.events); returns the unsubscribe."""
        return self.events.subscribe(listener)

    def _failed(self, message: str) -> None:
        self.events.publish(PlayerError(message))

    def _set_state(self, state: str) -> None:
        self.state = state
        self.events.publish(StateChanged(state, self.stream.frames_out))

    # -- playing ------------------------------------------------------------------------

    def _next_loop(self, wait: bool) -> Loop | None:
        if not wait:
            return self.producer.get(False)
        timeout = None if self.stream.current is None else self.settings.patience
        return self.producer.get(True, timeout)

    def _write_block(self, frames: int) -> None:
        block = self.stream.read(frames)
        if self.first_sound is None:
            self.first_sound = time.perf_counter() - self.created_at
            self.clock.start()
            # the faster FFTs for the producer's analyses, now that their import delays no one
            threading.Thread(target=use_scipy_fft, name="composer-fft", daemon=True).start()
            if self.state == "starting":
                self._set_state("playing")
        self.sink.write(block)

    def run(self, seconds: float,
            progress: Callable[[str, int, int], None] | None = None) -> None:
        """Play exactly `seconds` of music (rounded to a frame), then return.

        `progress(stage, done, total)` hears about each second of music written."""
        sample_rate = self.settings.sample_rate
        total = int(round(seconds * sample_rate))
        if self.state != "playing":
            self._set_state("playing")
        written = 0
        while written < total and not self._halt.is_set():
            self._resume.wait()
            frames = min(self.settings.block, total - written)
            self._write_block(frames)
            done = (written + frames) // sample_rate
            if progress is not None and done != written // sample_rate:
                progress("music", done, total // sample_rate)
            written += frames
        if progress is not None:
            progress("music", total // sample_rate, total // sample_rate)

    def start(self) -> Player:
        """Play in a background thread until stop()."""
        def loop() -> None:
            while not self._halt.is_set():
                if not self._resume.wait(0.1):
                    continue
                self._write_block(self.settings.block)

        self._thread = threading.Thread(target=loop, name="composer-playback", daemon=True)
        self._thread.start()
        return self

    # -- controls -----------------------------------------------------------------------

    def pause(self) -> None:
        self._maker_does("pause")
        self._resume.clear()
        self.sink.pause()
        self.clock.pause()
        self._set_state("paused")

    def resume(self) -> None:
        self._maker_does("resume")
        self.clock.resume()
        self.sink.resume()
        self._resume.set()
        self._set_state("playing")

    def _maker_does(self, what: str) -> None:
        """Pause, resume or close the maker where it has work of its own (MusicGPT)."""
        action = getattr(self.maker, what, None)
        if callable(action):
            action()

    def next(self) -> None:
        self.stream.request_next()

    def stop(self) -> None:
        self._halt.set()
        self._resume.set()
        if self._thread is not None:
            self._thread.join(5.0)
        self._maker_does("close")
        self.producer.stop()
        self.sink.close()
        self._set_state("stopped")

    def __enter__(self) -> Player:
        return self

    def __exit__(self, kind, exc, tb) -> None:
        """An error discards a file being written; Ctrl-C keeps what was played (a valid
        file of that length), as a normal stop does."""
        failed = exc is not None and not isinstance(exc, KeyboardInterrupt)
        if failed and hasattr(self.sink, "discard"):
            self._halt.set()
            self._maker_does("close")
            self.producer.stop()
            self.sink.discard()
            self._set_state("stopped")
        elif self.state != "stopped":
            self.stop()

    def set(self, **values) -> None:
        """Change settings, typed (`player.set(qpm=96.0)`); checked, then heard from the next
        loop made (loops made ahead under the old settings are dropped). The shell and CLI
        parse text with composer.player.settings.parse_setting."""
        before = self.settings
        self.settings = changed(self.settings, **values)
        self.stream.loop_seconds = self.settings.loop_seconds
        self.stream.crossfade_beats = self.settings.crossfade_beats
        if self.settings.source != before.source and isinstance(self.maker, LoopMaker):
            try:
                self._swap_maker()
            except Exception:
                self.settings = before  # no MusicGPT, say: play on as before
                raise
        elif set(values) & set(REMAKE):
            if isinstance(self.maker, LoopMaker):
                self.maker.update(self.settings)
            self.producer.clear()

    def _swap_maker(self) -> None:
        """Another source (MIDI <-> MusicGPT): a new maker and producer; the stream plays on
        what it has until the new one's first loop is ready."""
        maker = make_maker(self.settings)  # may raise (no MusicGPT): nothing changed yet
        old_maker, old_producer = self.maker, self.producer
        self.maker = maker
        self.producer = Producer(*maker.stages(), ahead=self.settings.ahead,
                                 on_error=self._failed)
        if hasattr(maker, "attach"):
            maker.attach(self)
        self.producer.start()
        old_producer.stop()
        if callable(getattr(old_maker, "close", None)):
            old_maker.close()

    def save(self, path: str | os.PathLike) -> list[Path]:
        """The loop now playing as WAV (with loop points and tempo) and, on the MIDI path,
        its notes as MIDI beside it."""
        from composer.loop import write_loop

        loop = self.stream.now_playing
        if loop is None:
            raise ValueError("nothing is playing yet")
        path = Path(path)
        if path.suffix.lower() not in (".wav", ".flac"):
            path = path.with_suffix(".wav")
        write_loop(path, loop)  # from the downbeat, so a DAW lines it up with its bars
        written = [path]
        if loop.phrase is not None:
            from composer.generation import write_midi

            write_midi(loop.phrase, path.with_suffix(".mid"))
            written.append(path.with_suffix(".mid"))
        self.events.publish(LoopSaved(loop, tuple(written)))
        return written

    def status(self) -> Status:
        loop = self.stream.now_playing
        key = loop.phrase.key if loop is not None and loop.phrase is not None else None
        queued = self.producer.ready.qsize()
        ahead = 0.0
        if loop is not None:
            # each queued loop will play for loop_seconds, and the current one has some left
            ahead = self.stream.seconds_left() + queued * max(self.settings.loop_seconds,
                                                              loop.seconds)
        return Status(state=self.state, model=self.settings.model_label,
                      qpm=loop.qpm if loop and loop.qpm else self.settings.qpm, key=key,
                      bars=loop.bars if loop else self.settings.bars,
                      loops_played=self.stream.switches,
                      seconds_played=self.stream.frames_out / self.settings.sample_rate,
                      seconds_ahead=ahead, next_ready=queued > 0, errors=self.producer.errors,
                      late_switches=self.stream.late,
                      seam=loop.seam.worst if loop is not None else None,
                      note=getattr(self.maker, "note", None))


