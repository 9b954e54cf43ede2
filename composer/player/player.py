"""The player: settings, controls and status around a producer, a stream and a sink.

On the MIDI path a loop is a phrase generated to be exactly `bars` bars at the player's
tempo, rendered once with its release and reverb tail wrapped onto its start (so it repeats
with no gap and no fade), and its seam measured like any other loop's. Every loop shares
the tempo, so crossfades fall on bar lines and beats stay in step.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from composer.audio import Loop
from composer.player.producer import Producer
from composer.player.stream import Stream

log = logging.getLogger("composer.player")

LIMITS = {"qpm": (20.0, 400.0), "temperature": (0.05, 5.0), "loop_seconds": (0.5, 3600.0),
          "program": (0, 127), "bars": (1, 64), "crossfade_beats": (0.0, 64.0)}

SETTABLE = ("tempo", "model", "temperature", "duration", "instrument", "bars", "crossfade")


@dataclass(frozen=True)
class PlaySettings:
    model: str = "lstm"
    qpm: float = 120.0
    program: int = 0  # GM program of the generated notes (the GAN keeps its voices' own)
    temperature: float | None = None  # None: the model's default
    bars: int = 8  # length of each loop
    loop_seconds: float = 20.0  # how long a loop plays before the next comes in
    crossfade_beats: float = 4.0
    seed: int | None = None
    soundfont: str | None = None
    sample_rate: int = 44100
    ahead: int = 2  # loops kept ready ahead of the playhead
    block: int = 4096  # frames handed to the sink at a time
    patience: float = 30.0  # offline: how long to wait for a late loop before repeating

    def __post_init__(self) -> None:
        """Settings come from users (flags, the shell): one clear ValueError for a bad one."""
        from composer.generation import MODELS

        if self.model not in MODELS:
            raise ValueError(f"unknown model {self.model!r}; one of {', '.join(MODELS)}")
        for field, (low, high) in LIMITS.items():
            value = getattr(self, field)
            if value is not None and not low <= value <= high:
                raise ValueError(f"{field} must be between {low:g} and {high:g}, not {value:g}")


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

    def line(self) -> str:
        key = self.key or "?"
        seam = f", seam {self.seam:.2f}" if self.seam is not None else ""
        return (f"{self.state}: {self.model} loop {self.loops_played + 1}, {self.bars} bars at "
                f"{self.qpm:g} bpm, {key}{seam} | {self.seconds_played:.1f} s played, "
                f"{self.seconds_ahead:.1f} s ahead, next {'ready' if self.next_ready else 'coming'}"
                + (f", {self.errors} errors" if self.errors else ""))


def loop_key(loop: Loop) -> str | None:
    """The key of a loop's notes (drums excluded), for the status line."""
    sequence = loop.sequence
    if sequence is None or not sequence.notes:
        return None
    from training.keys import estimate_key_from_notes

    notes = [n for n in sequence.notes if not n.is_drum]
    if not notes:
        return None
    pitches = np.array([n.pitch for n in notes])
    durations = np.array([n.end_time - n.start_time for n in notes])
    return estimate_key_from_notes(pitches, durations).key.name


class MidiLoopMaker:
    """generate -> render -> loop, with settings that may change between loops."""

    def __init__(self, settings: PlaySettings, source=None, renderer=None) -> None:
        from concurrent.futures import ThreadPoolExecutor

        from composer.render import Renderer

        self.settings = settings
        # The soundfont loads in C (the GIL is free) while the model loads in Python: doing
        # both at once brings the first note forward.
        with ThreadPoolExecutor(1) as pool:
            loading = None if renderer else pool.submit(
                Renderer, soundfont=settings.soundfont, sample_rate=settings.sample_rate)
            self.source = source or self._source(settings)
            self.renderer = renderer or loading.result()
        self._lock = threading.Lock()

    @staticmethod
    def _source(settings: PlaySettings):
        from composer.player.sources import PhraseSource

        return PhraseSource(settings.model, seed=settings.seed, temperature=settings.temperature,
                            program=settings.program)

    def update(self, settings: PlaySettings) -> None:
        with self._lock:
            if settings.model != self.settings.model:
                self.source = self._source(settings)
            elif settings.temperature is not None:
                self.source.temperature = settings.temperature
            if hasattr(self.source, "program"):
                self.source.program = settings.program
            self.settings = settings

    def compose(self):
        """The next phrase, with the settings it was made under."""
        with self._lock:
            settings, source = self.settings, self.source
        return settings, source(settings.bars, settings.qpm)

    def render(self, item):
        """A phrase as a seamless period (the folded tail adds to the start), not yet
        normalised: `finish` does that, off the rendering thread."""
        settings, sequence = item
        return settings, sequence, self.renderer.render_loop(sequence, normalize=False)

    def next_period(self):
        """compose + render, one after the other."""
        return self.render(self.compose())

    def finish(self, item) -> Loop:
        """Normalise the period's loudness, choose where it wraps (composer.loop.wrap: the
        downbeat unless another bar line joins better), measure the seam, wrap it up as a
        Loop. `Loop.start` records the choice; the stream still counts bar lines from the
        downbeat."""
        from composer.loop.wrap import choose_wrap

        settings, sequence, period = item
        rate = self.renderer.sample_rate
        period = self.renderer.normalize(period)  # as it will be heard, before it is measured
        start, seam = choose_wrap(period, rate, settings.bars)
        audio = np.roll(period, -start, axis=0) if start else period
        return Loop(audio=audio, sample_rate=rate, start=start, bars=settings.bars,
                    qpm=settings.qpm, seam=seam, scores={"seam_at_s": start / rate},
                    sequence=sequence)

    def __call__(self) -> Loop:
        return self.finish(self.next_period())


class Player:
    """Endless music into a sink, with play / pause / resume / next / stop / save / status.

    `run(seconds)` plays a fixed amount in the calling thread (a file is written at full
    speed); `start()` plays in a background thread until `stop()`.
    """

    @staticmethod
    def stages(maker) -> tuple[Callable, ...]:
        """The producer's threads: on the MIDI path compose, render and seam analysis each in
        its own, so the next phrase is composed and the last one analysed while one renders
        (FluidSynth and the FFTs run without the GIL; see docs/BENCHMARKS.md for the split
        measured against compose + render in one thread)."""
        if isinstance(maker, MidiLoopMaker):
            return maker.compose, maker.render, maker.finish
        return (maker,)

    def __init__(self, settings: PlaySettings, sink, *,
                 make: Callable[[], Loop] | None = None) -> None:
        self.settings = settings
        self.sink = sink
        self.maker = make if make is not None else MidiLoopMaker(settings)
        self.producer = Producer(*self.stages(self.maker), ahead=settings.ahead)
        self.stream = Stream(self._next_loop, loop_seconds=settings.loop_seconds,
                             crossfade_beats=settings.crossfade_beats,
                             realtime=getattr(sink, "realtime", False))
        self.state = "starting"
        self.first_sound: float | None = None  # seconds from construction to the first block
        self.created_at = time.perf_counter()
        self._resume = threading.Event()
        self._resume.set()
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None
        self._key_cache: tuple[int, str | None] = (0, None)
        self.producer.start()

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
            if self.state == "starting":
                self.state = "playing"
        self.sink.write(block)

    def run(self, seconds: float,
            progress: Callable[[str, int, int], None] | None = None) -> None:
        """Play exactly `seconds` of music (rounded to a frame), then return.

        `progress(stage, done, total)` hears about each second of music written."""
        rate = self.settings.sample_rate
        total = int(round(seconds * rate))
        self.state = "playing"
        written = 0
        while written < total and not self._halt.is_set():
            self._resume.wait()
            frames = min(self.settings.block, total - written)
            self._write_block(frames)
            if progress is not None and (written + frames) // rate != written // rate:
                progress("music", (written + frames) // rate, total // rate)
            written += frames
        if progress is not None:
            progress("music", total // rate, total // rate)

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
        self._resume.clear()
        self.sink.pause()
        self.state = "paused"

    def resume(self) -> None:
        self.sink.resume()
        self._resume.set()
        self.state = "playing"

    def next(self) -> None:
        self.stream.request_next()

    def stop(self) -> None:
        self._halt.set()
        self._resume.set()
        if self._thread is not None:
            self._thread.join(5.0)
        self.producer.stop()
        self.sink.close()
        self.state = "stopped"

    def __enter__(self) -> Player:
        return self

    def __exit__(self, kind, exc, tb) -> None:
        if exc is not None and hasattr(self.sink, "discard"):
            self._halt.set()
            self.producer.stop()
            self.sink.discard()
            self.state = "stopped"
        elif self.state != "stopped":
            self.stop()

    def set(self, name: str, value: str) -> None:
        """Change a setting as a user types it (see `with_setting`); it is heard from the next
        loop made, and loops made ahead under the old settings are dropped."""
        self.settings = with_setting(self.settings, name, value)
        self.stream.loop_seconds = self.settings.loop_seconds
        self.stream.crossfade_beats = self.settings.crossfade_beats
        if name in ("tempo", "model", "temperature", "instrument", "bars"):
            if hasattr(self.maker, "update"):
                self.maker.update(self.settings)
            self.producer.clear()

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
        if loop.start:  # files start on the downbeat, so a DAW lines them up with its bars
            from composer.loop import seam_scores

            audio = np.roll(loop.audio, loop.start, axis=0)
            loop = replace(loop, audio=audio, start=0, seam=seam_scores(audio, loop.sample_rate))
        write_loop(path, loop)
        written = [path]
        if loop.sequence is not None:
            from composer.generation import write_midi

            write_midi(loop.sequence, path.with_suffix(".mid"))
            written.append(path.with_suffix(".mid"))
        return written

    def status(self) -> Status:
        loop = self.stream.now_playing
        key = None
        if loop is not None:
            if self._key_cache[0] != id(loop):
                self._key_cache = (id(loop), loop_key(loop))
            key = self._key_cache[1]
        queued = self.producer.ready.qsize()
        ahead = 0.0
        if loop is not None:
            # each queued loop will play for loop_seconds, and the current one has some left
            ahead = self.stream.seconds_left() + queued * max(self.settings.loop_seconds,
                                                              loop.seconds)
        return Status(state=self.state, model=self.settings.model,
                      qpm=loop.qpm if loop and loop.qpm else self.settings.qpm, key=key,
                      bars=loop.bars if loop else self.settings.bars,
                      loops_played=self.stream.switches,
                      seconds_played=self.stream.frames_out / self.settings.sample_rate,
                      seconds_ahead=ahead, next_ready=queued > 0, errors=self.producer.errors,
                      late_switches=self.stream.late,
                      seam=loop.seam.worst if loop is not None else None)


FIELDS = {"tempo": ("qpm", float), "model": ("model", str), "temperature": ("temperature", float),
          "duration": ("loop_seconds", float), "instrument": ("program", int),
          "bars": ("bars", int), "crossfade": ("crossfade_beats", float)}


def with_setting(settings: PlaySettings, name: str, value: str) -> PlaySettings:
    """`settings` with one user-facing setting (one of SETTABLE) parsed from text and checked."""
    if name not in FIELDS:
        raise ValueError(f"unknown setting {name!r}; one of {', '.join(SETTABLE)}")
    field, kind = FIELDS[name]
    try:
        parsed = kind(value)
    except ValueError:
        raise ValueError(f"{name}: {value!r} is not a {kind.__name__}") from None
    return replace(settings, **{field: parsed})  # PlaySettings checks the value

