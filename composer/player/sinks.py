"""Where the audio goes: the speakers (pygame.mixer / SDL), a WAV or FLAC file, or nowhere.

Every sink is a `Sink`; `open_sink(driver)` is the one way the CLI and the shell make one
from what a user typed ("speakers", "null" or a .wav/.flac path).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from typing import Protocol, runtime_checkable

import numpy as np

from models.stderr import quiet_stderr


@runtime_checkable
class Sink(Protocol):
    """`realtime` says whether the sink sets the pace (speakers, a paced file) or takes audio
    as fast as it comes (file, null); `latency` is how long after `write` returns its audio
    is heard (what live MIDI out waits to stay in time)."""

    realtime: bool
    latency: float
    sample_rate: int
    frames: int

    def write(self, block: np.ndarray) -> None: ...

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def close(self) -> None: ...


class NoAudioDevice(RuntimeError):
    """The speakers cannot be opened; str() is the one line a user needs."""


class _OfflineSink:
    """A sink with no clock: audio is taken as fast as it comes, pausing is the caller's."""

    realtime = False
    latency = 0.0

    def pause(self) -> None:
        pass

    def resume(self) -> None:
        pass


class NullSink(_OfflineSink):
    """Takes audio and forgets it: for soak tests and benchmarks."""

    def __init__(self, sample_rate: int = 44100) -> None:
        self.sample_rate = sample_rate
        self.frames = 0

    def write(self, block: np.ndarray) -> None:
        self.frames += len(block)

    def close(self) -> None:
        pass


class FileSink(_OfflineSink):
    """Streams to a WAV or FLAC file; the file appears (atomically) only on close."""

    def __init__(self, path: str | os.PathLike, sample_rate: int = 44100, channels: int = 2) -> None:
        import soundfile

        from composer.render.files import audio_format
        from training.fileio import temp_path_for

        self.path = Path(path)
        kind = audio_format(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)  # as every command does
        self.sample_rate = sample_rate
        self.frames = 0
        self._tmp = temp_path_for(self.path)
        self._file = soundfile.SoundFile(str(self._tmp), "w", samplerate=sample_rate,
                                         channels=channels, format=kind, subtype="PCM_16")

    def write(self, block: np.ndarray) -> None:
        self._file.write(np.clip(block, -1.0, 1.0))
        self.frames += len(block)

    def close(self) -> None:
        if self._file.closed:
            return
        # what the file holds, asked of libsndfile: a Ctrl-C may land between a write and the
        # count of it (here or in soundfile's own bookkeeping)
        self.frames = self._file.tell()
        self._file.close()
        os.replace(self._tmp, self.path)

    def discard(self) -> None:
        """Stop without writing the file (an error happened)."""
        if not self._file.closed:
            self._file.close()
        self._tmp.unlink(missing_ok=True)


class SpeakerSink:
    """Real-time playback through pygame.mixer: one sound playing and one queued on a channel.

    Blocks are handed to SDL in sounds of `chunk` frames (two of the player's blocks): the
    start of a queued sound waits for pygame's callback, which needs the GIL, so every join
    between sounds is a moment a busy machine can turn into a gap. Fewer, longer sounds and
    an SDL buffer of 93 ms make those moments rarer and each one more forgiving (a 10-minute
    soak with a training run on both cores: 5 underruns with 4,096-frame sounds and a 46 ms
    buffer). The cost is how far ahead of the ear the stream runs, not what is heard: the
    output clock counts from the first sound.

    `underruns` counts the sounds that found the channel idle after playing began: the
    playhead ran dry (a gap was heard) because the audio came late."""

    realtime = True

    def __init__(self, sample_rate: int = 44100, buffer: int = 8192, chunk: int = 16384) -> None:
        os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
        import pygame

        self.sample_rate = sample_rate
        self.frames = 0
        self.underruns = 0
        self.chunk = chunk
        self.latency = buffer / sample_rate  # SDL's own buffer, after the sound playing
        try:
            with quiet_stderr():  # ALSA prints pages of noise before SDL reports the failure
                pygame.mixer.init(frequency=sample_rate, size=-16, channels=2, buffer=buffer)
        except pygame.error as exc:
            raise NoAudioDevice(f"no audio device ({exc})") from None
        self._pygame = pygame
        self._channel = pygame.mixer.Channel(0)
        self._paused = False
        self._pending: list[np.ndarray] = []
        self._pending_frames = 0
        self._started = False

    def write(self, block: np.ndarray) -> None:
        self._pending.append((np.clip(block, -1.0, 1.0) * 32767).astype(np.int16))
        self._pending_frames += len(block)
        self.frames += len(block)
        if self._pending_frames < self.chunk and self._channel.get_busy():
            return  # gather a whole chunk while the channel has audio
        self._submit()

    def _submit(self) -> None:
        if not self._pending:
            return
        pcm = self._pending[0] if len(self._pending) == 1 else np.concatenate(self._pending)
        self._pending, self._pending_frames = [], 0
        sound = self._pygame.sndarray.make_sound(np.ascontiguousarray(pcm))
        # Wait for room: one sound playing and one queued. Not busy with a sound still queued
        # is the moment between two: SDL's audio thread is waiting for the GIL to start the
        # queued one. Calling play() then would replace that sound a moment after it starts
        # (a skip, counted as an underrun), so that too is a wait.
        idle_since = None
        while self._channel.get_queue() is not None:
            if self._channel.get_busy():
                idle_since = None
            elif idle_since is None:
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since > 0.5:  # never started it: play ours
                break
            time.sleep(0.005)
        if not self._channel.get_busy():
            if self._started:  # a paused channel stays busy, so idle here means it ran dry
                self.underruns += 1
            self._channel.play(sound)
        else:
            self._channel.queue(sound)
        self._started = True

    def pause(self) -> None:
        self._pygame.mixer.pause()

    def resume(self) -> None:
        self._pygame.mixer.unpause()

    def close(self) -> None:
        if self._pygame.mixer.get_init():
            self._submit()  # the last blocks gathered
            while self._channel.get_busy():
                time.sleep(0.01)
            self._pygame.mixer.quit()


DRIVERS = "speakers, null, or a .wav/.flac file"


def open_sink(driver: str | os.PathLike | None = "speakers", sample_rate: int = 44100, *,
              paced: bool = False) -> Sink:
    """The sink a user named: "speakers" (or None), "null", or a .wav/.flac path. With
    `paced`, a file or null sink keeps to the wall clock (the shell, MIDI out without audio)
    instead of taking audio as fast as it comes. Raises NoAudioDevice (speakers) or
    ValueError (anything else unusable) with one line that says why."""
    if driver is None or str(driver) == "speakers":
        return SpeakerSink(sample_rate)
    if str(driver) == "null":
        sink = NullSink(sample_rate)
    elif Path(driver).suffix.lower() in (".wav", ".flac"):
        sink = FileSink(driver, sample_rate)
    else:
        raise ValueError(f"{driver}: not a driver; use {DRIVERS}")
    return Paced(sink) if paced else sink


class Wrapped:
    """A sink around another sink: everything passed on, for wrappers to override what they
    add (Paced keeps time, the GUI's Tap keeps the last seconds heard)."""

    def __init__(self, sink) -> None:
        self.sink = sink
        self.sample_rate = sink.sample_rate

    @property
    def frames(self) -> int:
        return self.sink.frames

    @property
    def path(self):
        return getattr(self.sink, "path", None)

    def write(self, block: np.ndarray) -> None:
        self.sink.write(block)

    def pause(self) -> None:
        self.sink.pause()

    def resume(self) -> None:
        self.sink.resume()

    def close(self) -> None:
        self.sink.close()

    def discard(self) -> None:
        if hasattr(self.sink, "discard"):
            self.sink.discard()


class Paced(Wrapped):
    """Any sink held to the wall clock: a file written as it is heard (the shell's file
    driver), not hours ahead."""

    realtime = True
    latency = 0.0  # the clock starts at the first write, and frames are due from there

    def __init__(self, sink, lead: float = 0.5) -> None:
        from composer.player.events import OutputClock

        super().__init__(sink)
        self.lead = lead  # seconds written ahead of the clock
        self.clock = OutputClock(sink.sample_rate)  # frame -> when it is due

    def write(self, block: np.ndarray) -> None:
        self.clock.start()  # the first write sets the clock
        ahead = self.clock.time_of(self.sink.frames) - time.monotonic()
        if ahead > self.lead:
            time.sleep(ahead - self.lead)
        self.sink.write(block)

    def pause(self) -> None:
        self.clock.pause()

    def resume(self) -> None:
        self.clock.resume()
