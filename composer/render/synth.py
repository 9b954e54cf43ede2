"""FluidSynth rendering: one synth, soundfont loaded once, phrases to float32 stereo.

Loading the General MIDI soundfont takes about a second, so a Renderer keeps one synth for its
lifetime and every phrase reuses it. A phrase plays in a single pass: its events, sorted by
sample, go to the synth through ctypes, and between events fluid_synth_write_float renders
straight into one preallocated numpy buffer (no per-instrument passes, no per-block copies).
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Self

import numpy as np

from composer.audio import SAMPLE_RATE, Clip
from composer.render.events import BEND, CONTROL, DRUM_BANK, OFF, ON, Events, schedule
from composer.render.loudness import normalize as normalize_loudness
from composer.phrase import Phrase
from composer.render.midi import RenderError, bar_seconds, excerpt, read_sequence
from composer.render.seams import wrap_tail

BLOCK = 64  # FluidSynth's internal block: events take effect on block boundaries
TAIL_CHUNK_SECONDS = 0.05  # the tail ends once a chunk this long is quiet enough
FLUSH = 8 * BLOCK  # after a reset, what FluidSynth still holds
SILENT = 1e-7  # -140 dBFS: the reverb has rung out
TAIL_FLOOR = 1e-6  # -120 dBFS: a tail always ends here, however quiet the phrase
MAX_DRAIN_SECONDS = 30.0
SUSTAIN, ALL_NOTES_OFF = 64, 123
CHUNK = 1 << 15  # frames a streamed render hands out at a time (0.74 s at 44.1 kHz)
FLUID_ERR, FLUID_WARN = 1, 2  # FluidSynth's log levels
NO_VOICE = "Failed to allocate a synthesis process"
NO_PRESET = "There is no preset with bank number"  # Renderer._select falls back, or says so


class _VoiceLog:
    """FluidSynth's warnings and errors, with its voice-allocation failures counted rather than
    printed: a chord larger than the polyphony makes it print one line per note it drops
    (thousands), where one line of summary says it all. A missing preset is not news either
    (the renderer falls back, or raises saying so). Anything else still reaches stderr."""

    def __init__(self) -> None:
        self.dropped = 0
        self._callback = None

    def install(self, library) -> None:
        if self._callback is not None:
            return

        def log(level: int, message: bytes | None, data) -> None:
            text = message.decode(errors="replace") if message else ""
            if text.startswith(NO_VOICE):
                self.dropped += 1
            elif not text.startswith(NO_PRESET):
                kind = "error" if level == FLUID_ERR else "warning"
                sys.stderr.write(f"fluidsynth: {kind}: {text}\n")

        self._callback = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_char_p,
                                          ctypes.c_void_p)(log)
        setter = library.fluid_set_log_function
        setter.restype = ctypes.c_void_p
        setter.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
        for level in (FLUID_ERR, FLUID_WARN):
            setter(level, ctypes.cast(self._callback, ctypes.c_void_p), None)


_VOICE_LOG = _VoiceLog()


class _Tape:
    """Synth output written straight into float32 chunks of a fixed size (no copies); a full
    chunk waits until the generator hands it out with take()."""

    def __init__(self, synth, write, write_held, size: int):
        self._synth, self._write, self._write_held, self.size = synth, write, write_held, size
        self.pos = 0  # frames rendered in all
        self._buffer: np.ndarray | None = None
        self._fill = 0
        self._done: list[np.ndarray] = []
        self._peak = 0.0

    def run(self, frames: int, *, held: bool = False, measure: bool = False) -> float:
        """Render `frames` more; with `measure`, the sum of their squares."""
        write = self._write_held if held else self._write
        energy = 0.0
        while frames > 0:
            if self._buffer is None:
                self._buffer = np.empty((self.size, 2), np.float32)  # the synth overwrites
            n = min(frames, self.size - self._fill)
            address = self._buffer.ctypes.data + 8 * self._fill
            write(self._synth, n, address, 0, 2, address, 1, 2)
            if measure:
                part = self._buffer[self._fill:self._fill + n]
                energy += float(np.sum(np.square(part, dtype=np.float64)))
            self._fill += n
            self.pos += n
            frames -= n
            if self._fill == self.size:
                self._peak = max(self._peak, float(np.max(np.abs(self._buffer))))
                self._done.append(self._buffer)
                self._buffer, self._fill = None, 0
        return energy

    def peak(self) -> float:
        """The highest sample so far."""
        if self._buffer is None or not self._fill:
            return self._peak
        return max(self._peak, float(np.max(np.abs(self._buffer[:self._fill]))))

    def take(self, final: bool = False) -> Iterator[np.ndarray]:
        """The full chunks; with `final`, the partial one too."""
        done, self._done = self._done, []
        yield from done
        if final and self._buffer is not None and self._fill:
            last, self._buffer, self._fill = self._buffer[:self._fill], None, 0
            yield last


def _bind(library) -> dict:
    """Plain ctypes prototypes (pyfluidsynth's add argument-flag handling to every call).

    Only rendering lets go of the GIL. A note-on takes a microsecond; releasing the GIL for it
    means queueing to get it back behind whatever Python runs in the other threads (the model
    composing the next phrase), up to the interpreter's 5 ms switch interval per event, so
    the short calls keep it (PYFUNCTYPE) and a phrase hands the GIL over once per stretch
    of audio it renders."""
    vp, i = ctypes.c_void_p, ctypes.c_int

    def released(name: str, *args):
        return ctypes.CFUNCTYPE(i, *args)((name, library))

    def held(name: str, *args):
        return ctypes.PYFUNCTYPE(i, *args)((name, library))

    return {
        "write": released("fluid_synth_write_float", vp, i, vp, i, i, vp, i, i),
        # a short stretch (a tail chunk, a discard) costs less than a GIL handover
        "write_held": held("fluid_synth_write_float", vp, i, vp, i, i, vp, i, i),
        "noteon": held("fluid_synth_noteon", vp, i, i, i),
        "noteoff": held("fluid_synth_noteoff", vp, i, i),
        "cc": held("fluid_synth_cc", vp, i, i, i),
        "bend": held("fluid_synth_pitch_bend", vp, i, i),
        "select": held("fluid_synth_program_select", vp, i, i, i, i),
        "reset": held("fluid_synth_system_reset", vp),
        "sounds_off": held("fluid_synth_all_sounds_off", vp, i),
        "voices": held("fluid_synth_get_active_voice_count", vp),
    }


def _check_soundfont(path: Path) -> Path:
    """Refuse what is not a SoundFont before FluidSynth sees it: given junk, FluidSynth and
    libinstpatch print several lines of their own to stderr before failing."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(12)
    except OSError as exc:
        raise RenderError(f"{path}: {exc.strerror or exc}") from None
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"sfbk":
        raise RenderError(f"{path}: not a SoundFont (no RIFF sfbk header)")
    return path


class Renderer:
    """A loaded FluidSynth. Not for concurrent use from several threads (calls are serialised
    by a lock); make one per thread for parallel rendering.

    `reverb` and `chorus` switch FluidSynth's effects (its default settings when on); `gain` is
    the synth's master gain before loudness normalisation, which only matters with
    `normalize=False`. `tail_db` is how far below the phrase's peak the tail must fall before
    it ends, `max_tail` the most seconds it may ring past the last note.
    """

    def __init__(self, soundfont: str | os.PathLike | None = None, sample_rate: int = SAMPLE_RATE,
                 *, gain: float = 0.2, reverb: bool = True, chorus: bool = True,
                 polyphony: int = 256, channels: int = 256, lufs: float = -16.0,
                 ceiling_db: float = -1.0, tail_db: float = -80.0, max_tail: float = 5.0):
        import fluidsynth

        from composer.soundfont import find_soundfont

        if not 8000 <= sample_rate <= 192000:
            raise RenderError(f"sample rate {sample_rate} Hz is outside 8000..192000")
        self.soundfont = _check_soundfont(find_soundfont(soundfont).path)
        self.sample_rate = int(sample_rate)
        self.channels = int(channels)
        self.lufs, self.ceiling_db = lufs, ceiling_db
        self.tail_db, self.max_tail = tail_db, max_tail
        # Settings are read when the synth is made, so they go in as constructor options.
        self._synth = fluidsynth.Synth(gain=gain, samplerate=float(sample_rate),
                                       channels=self.channels, **{
                                           "synth.reverb.active": int(reverb),
                                           "synth.chorus.active": int(chorus),
                                           "synth.polyphony": int(polyphony)})
        self._c = _bind(fluidsynth._fl)
        self._handle = self._synth.synth
        self._font = self._synth.sfload(str(self.soundfont))
        if self._font < 0:
            self._synth.delete()
            raise RenderError(f"{self.soundfont}: FluidSynth cannot load this soundfont")
        self._written = 0  # frames rendered since the synth was made, for block alignment
        self.dropped_voices = 0  # notes the last render lost for want of polyphony
        _VOICE_LOG.install(fluidsynth._fl)
        self._lock = threading.Lock()
        self._silence()  # start the first render the way every later one starts

    # -- lifetime -------------------------------------------------------------------------

    def close(self) -> None:
        if self._synth is not None:
            self._synth.delete()
            self._synth = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- rendering ------------------------------------------------------------------------

    def render(self, phrase: Phrase | object, *, program: int | None = None,
               normalize: bool = True, max_tail: float | None = None,
               progress: Callable[[str, int, int], None] | None = None) -> Clip:
        """A Phrase (or a bare NoteSequence, read as `Phrase.from_sequence`) as a Clip:
        `frames` is its musical length (total_time), the audio runs on until the releases
        and reverb have died away (the tail). The clip's tempo and meter are the phrase's.

        `program` sets the GM program of every pitched track; drums keep their kit. With
        `normalize`, the clip (tail included) is brought to the renderer's LUFS target with no
        peak above its ceiling. `progress("render", seconds done, seconds in all)` hears about
        each second of music rendered (a long file's progress bar).
        """
        if not isinstance(phrase, Phrase):
            phrase = Phrase.from_sequence(phrase)
        sample_rate = self.sample_rate
        frames = round(phrase.sequence.total_time * sample_rate)
        chunks = list(self.stream(phrase, program=program, max_tail=max_tail, chunk=None,
                                  progress=progress))
        audio = (chunks[0] if len(chunks) == 1 else
                 np.concatenate(chunks) if chunks else np.zeros((0, 2), np.float32))
        if normalize:
            audio = self.normalize(audio)
        return Clip(audio=audio, sample_rate=sample_rate, frames=frames, qpm=phrase.grid_qpm,
                    beats_per_bar=phrase.beats_per_bar, phrase=phrase)

    def render_midi(self, path: str | os.PathLike, **options) -> Clip:
        """A MIDI file rendered; bad files raise RenderError naming the file."""
        return self.render(read_sequence(path), **options)

    def render_loop(self, phrase: Phrase | object, bars: int | None = None,
                    qpm: float | None = None, *, program: int | None = None,
                    normalize: bool = True) -> Clip:
        """One seamless loop period: the phrase with its own tail folded onto its start, as a
        Clip with no tail (its audio is exactly the period).

        The period is `bars` bars at `qpm` (default: the phrase's tempo) when given, else the
        phrase's length; what starts after it is left out, what starts inside and sounds past
        the end wraps round like the tail. Loudness is normalised on the period, as it will
        be heard.
        """
        if not isinstance(phrase, Phrase):
            phrase = Phrase.from_sequence(phrase)
        if bars is not None:
            qpm = qpm or phrase.qpm or 120.0
            cut = excerpt(phrase.sequence, bars * bar_seconds(phrase.sequence, qpm))
            phrase = replace(phrase, sequence=cut, bars=bars)
        clip = self.render(phrase, program=program, normalize=False)
        period = wrap_tail(clip)
        return replace(clip, audio=self.normalize(period) if normalize else period,
                       frames=len(period))

    def normalize(self, audio: np.ndarray) -> np.ndarray:
        """`audio` at this renderer's LUFS target, no peak above its ceiling. Needs no synth,
        so a pipeline may do it in another thread than the rendering."""
        return normalize_loudness(audio, self.sample_rate, self.lufs, self.ceiling_db)[0]

    def stream(self, phrase: Phrase | object, *, program: int | None = None,
               max_tail: float | None = None, chunk: int | None = CHUNK,
               progress: Callable[[str, int, int], None] | None = None) -> Iterator[np.ndarray]:
        """The phrase's audio (tail included, not normalised) as float32 (frames, 2) chunks of
        `chunk` frames, the last one shorter: what a file of any length is rendered through,
        in memory that does not grow with it (None: one chunk, the whole). The synth is held
        until the iterator is done or closed."""
        if not isinstance(phrase, Phrase):
            phrase = Phrase.from_sequence(phrase)
        if program is not None and not 0 <= program <= 127:
            raise RenderError(f"GM program {program} is outside 0..127")
        sequence, sample_rate = phrase.sequence, self.sample_rate
        events = schedule(sequence, sample_rate, program, self.channels)
        frames = round(sequence.total_time * sample_rate)
        cap = round((self.max_tail if max_tail is None else max_tail) * sample_rate)
        with self._lock:
            if self._synth is None:
                raise RenderError("this renderer is closed")
            if not len(sequence.notes):  # exactly silent, not the reverb's anti-denormal hum
                size = chunk or max(frames, 1)
                for start in range(0, frames, size):
                    yield np.zeros((min(size, frames - start), 2), np.float32)
                return
            end = max(frames, events.end)
            yield from self._play(events, end, cap, chunk or end + cap, progress)

    def _play(self, events: Events, end: int, cap: int, chunk: int,
              progress: Callable[[str, int, int], None] | None = None) -> Iterator[np.ndarray]:
        """Run the synth through the events, then on through the tail; leave it silent."""
        c, synth = self._c, self._handle
        noteon, noteoff, cc, bend = c["noteon"], c["noteoff"], c["cc"], c["bend"]
        self._select(events)
        tape = _Tape(synth, c["write"], c["write_held"], chunk)
        second, total, report = self.sample_rate, end // self.sample_rate, self.sample_rate
        dropped = _VOICE_LOG.dropped
        try:
            for sample, kind, ch, a, b in zip(events.sample.tolist(), events.kind.tolist(),
                                              events.channel.tolist(), events.data1.tolist(),
                                              events.data2.tolist()):
                if sample > tape.pos:
                    tape.run(sample - tape.pos)
                    yield from tape.take()
                    if progress is not None and tape.pos >= report:
                        report = (tape.pos // second + 1) * second
                        progress("render", tape.pos // second, total)
                if kind == ON:
                    noteon(synth, ch, a, b)
                elif kind == OFF:
                    noteoff(synth, ch, a)
                elif kind == CONTROL:
                    cc(synth, ch, a, b)
                elif kind == BEND:
                    bend(synth, ch, a)
            if end > tape.pos:
                tape.run(end - tape.pos)
                yield from tape.take()
            if progress is not None:
                progress("render", total, total)
            for track in events.tracks:  # a pedal still down would hold notes forever
                cc(synth, track.channel, SUSTAIN, 0)
                cc(synth, track.channel, ALL_NOTES_OFF, 0)
            yield from self._tail(tape, end + cap)
            yield from tape.take(final=True)
        finally:
            self._written += tape.pos
            self.dropped_voices = _VOICE_LOG.dropped - dropped
            self._silence()

    def _tail(self, tape: _Tape, stop: int) -> Iterator[np.ndarray]:
        """Render on in short chunks until one is `tail_db` below the body's peak."""
        peak = tape.peak()
        if peak == 0.0:
            return
        threshold = max(peak * 10.0 ** (self.tail_db / 20.0), TAIL_FLOOR)
        piece = max(BLOCK, round(TAIL_CHUNK_SECONDS * self.sample_rate))
        while tape.pos < stop:
            n = min(piece, stop - tape.pos)
            energy = tape.run(n, held=True, measure=True)
            yield from tape.take()
            if np.sqrt(energy / (2 * n)) < threshold:
                break

    def _silence(self) -> None:
        """Nothing of this phrase may reach the next. FluidSynth's system reset neither stops
        voices at once (they fade over ~0.2 s) nor fully clears its reverb (filter and
        interpolator states survive and recirculate at -70 dB), so: cut every voice, render
        the reverb out into scratch until it is below -140 dBFS, then reset controllers and
        programs, and end on a block boundary so no half-rendered block is handed out at the
        start of the next phrase. Rendering silence costs ~3 ms a second."""
        self._c["sounds_off"](self._handle, -1)
        chunk = 32 * BLOCK
        for _ in range(int(MAX_DRAIN_SECONDS * self.sample_rate) // chunk):
            if self._discard(chunk) < SILENT and self._c["voices"](self._handle) == 0:
                break
        self._c["reset"](self._handle)
        self._discard(FLUSH)
        self._discard(-self._written % BLOCK)

    def _discard(self, frames: int) -> float:
        """Render `frames` into scratch; their peak."""
        if frames <= 0:
            return 0.0
        scratch = np.zeros((frames, 2), np.float32)
        address = scratch.ctypes.data
        self._c["write_held"](self._handle, frames, address, 0, 2, address, 1, 2)
        self._written += frames
        return float(np.abs(scratch).max())

    def _select(self, events: Events) -> None:
        """The GM preset of each track, falling back to the bank's first preset (a kit or a
        piano) when the soundfont lacks one."""
        for track in events.tracks:
            for bank, program in ((track.bank, track.program), (track.bank, 0), (0, 0)):
                if self._c["select"](self._handle, track.channel, self._font, bank, program) == 0:
                    break
            else:
                kind = "drum kit" if track.bank == DRUM_BANK else "program"
                raise RenderError(f"{self.soundfont}: has no {kind} {track.program} and no "
                                  "fallback preset")


def render_file(path: str | os.PathLike, soundfont: str | os.PathLike | None = None,
                sample_rate: int = SAMPLE_RATE, **options) -> Clip:
    """One-off convenience: load a synth, render a MIDI file, unload."""
    with Renderer(soundfont, sample_rate) as renderer:
        return renderer.render_midi(Path(path), **options)
