"""Live MIDI out: the notes of what the player plays, MIDI clock and start/stop, to a port.

Producers use the endless material in a DAW: the DAW follows the tempo from the clock
(24 per quarter note), records the notes, and plays them with its own instruments. It is a
listener of the player's events, not a sink: each LoopStarted says which loop's downbeat is
heard at which output frame, and the player's OutputClock says when that frame is heard,
so the notes go out in time with the audio (or, with `--no-audio`, in time with a paced
null sink).

    loop_messages(...)  pure: a loop's notes and clock ticks in a window of output frames
    MidiOut(port)       a thread that sends them when they are due; port: anything with
                        send_message(list[int]) (an rtmidi.MidiOut, or a recorder in tests)
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import numpy as np

from composer.audio import Loop
from composer.player.events import Event, LoopStarted, OutputClock, StateChanged

log = logging.getLogger("composer.player")

CLOCKS_PER_QUARTER = 24
CLOCK, START, CONTINUE, STOP = 0xF8, 0xFA, 0xFB, 0xFC
NOTE_ON, NOTE_OFF, PROGRAM, CONTROL = 0x90, 0x80, 0xC0, 0xB0
ALL_NOTES_OFF = 123
DRUMS = 9
LOOKAHEAD = 0.03  # seconds of messages prepared ahead of the clock


@dataclass(frozen=True)
class Segment:
    """A loop as heard: its downbeat at output frame `start`, repeating until `stop`."""

    loop: Loop
    start: int
    stop: int | None = None  # the frame the next loop came in (None: still playing)


def channels_for(loop: Loop) -> dict[tuple[bool, int], int]:
    """MIDI channel per (is_drum, program): drums on channel 10, each pitched program on its
    own channel, 1-9 then 11-16."""
    out: dict[tuple[bool, int], int] = {}
    free = [c for c in range(16) if c != DRUMS]
    notes = loop.phrase.sequence.notes if loop.phrase is not None else ()
    for is_drum, program in sorted({(bool(n.is_drum), int(n.program)) for n in notes}):
        out[(is_drum, program)] = DRUMS if is_drum else free[min(len(out), len(free) - 1)]
    return out


def quarter_qpm(loop: Loop) -> float | None:
    """Quarter notes a minute: the phrase's tempo (the clock counts quarters whatever the
    meter's beat is)."""
    if loop.phrase is not None and loop.phrase.qpm:
        return loop.phrase.qpm
    return loop.qpm


def loop_messages(segment: Segment, begin: int, end: int, clock: bool = True
                  ) -> list[tuple[int, list[int]]]:
    """(output frame, MIDI bytes) of `segment` that fall in [begin, end), sorted.

    Notes repeat every period from the segment's start; a note still sounding when the next
    loop comes in is released then. Program changes go out at the start, before any note;
    clock ticks run from the start at the loop's tempo."""
    loop, start = segment.loop, segment.start
    stop = segment.stop if segment.stop is not None else np.iinfo(np.int64).max
    sample_rate, period = loop.sample_rate, loop.frames
    out: list[tuple[int, int, list[int]]] = []  # (frame, order, message)
    channels = channels_for(loop)
    if begin <= start < min(end, stop):
        for (is_drum, program), channel in channels.items():
            if not is_drum:
                out.append((start, 0, [PROGRAM | channel, program]))
    if loop.phrase is not None and len(loop.phrase.sequence.notes):
        notes = loop.phrase.sequence.notes
        on = np.array([round(n.start_time * sample_rate) for n in notes], dtype=np.int64)
        off = np.array([min(round(n.end_time * sample_rate), period) for n in notes], dtype=np.int64)
        off = np.maximum(off, on + 1)
        first = max(0, (begin - start - period) // period)
        last = max(0, (min(end, stop) - start) // period + 1)
        for k in range(first, last + 1):
            base = start + k * period
            for i, note in enumerate(notes):
                channel = channels[(bool(note.is_drum), int(note.program))]
                t_on, t_off = base + on[i], min(base + off[i], stop)
                if t_on >= stop:
                    continue
                if begin <= t_on < end:
                    out.append((int(t_on), 2, [NOTE_ON | channel, note.pitch, note.velocity]))
                if begin <= t_off < end:
                    out.append((int(t_off), 1, [NOTE_OFF | channel, note.pitch, 0]))
    qpm = quarter_qpm(loop)
    if clock and qpm:
        step = sample_rate * 60.0 / (qpm * CLOCKS_PER_QUARTER)
        j0 = max(0, int(np.ceil((begin - start) / step - 1e-9)))
        j1 = int(np.ceil((min(end, stop) - start) / step - 1e-9))
        for j in range(j0, j1):
            frame = start + int(round(j * step))
            if begin <= frame < min(end, stop):
                out.append((frame, -1, [CLOCK]))
    out.sort(key=lambda item: (item[0], item[1]))
    return [(frame, message) for frame, _, message in out]


class MidiOut:
    """Sends what the player plays to `port`, on time. Attach it to a player before it
    starts; it stops (all notes off, MIDI stop) when the player stops."""

    def __init__(self, port, *, clock: bool = True, lookahead: float = LOOKAHEAD) -> None:
        self.port = port
        self.send_clock = clock
        self.lookahead = lookahead
        self.sent = 0
        self._segments: list[Segment] = []
        self._lock = threading.Lock()
        self._state = "starting"
        self._halt = threading.Event()
        self._clock: OutputClock | None = None
        self._thread: threading.Thread | None = None
        self._used: set[int] = set()
        self._started = False

    def attach(self, player) -> MidiOut:
        self._clock = player.clock
        player.subscribe(self)
        self._thread = threading.Thread(target=self._run, name="composer-midi-out", daemon=True)
        self._thread.start()
        return self

    # -- events (the playback thread: quick) ------------------------------------------------

    def __call__(self, event: Event) -> None:
        if isinstance(event, LoopStarted):
            with self._lock:
                if self._segments and self._segments[-1].stop is None:
                    last = self._segments[-1]
                    self._segments[-1] = Segment(last.loop, last.start, event.frame)
                self._segments.append(Segment(event.loop, event.frame))
        elif isinstance(event, StateChanged):
            self._change(event.state)

    def _change(self, state: str) -> None:
        previous, self._state = self._state, state
        if state == "paused" and self._started:
            self._silence()
            self._send([STOP])
        elif state == "playing" and previous == "paused" and self._started:
            self._send([CONTINUE])
        elif state == "stopped":
            self._halt.set()
            if self._thread is not None and self._thread is not threading.current_thread():
                self._thread.join(2.0)
            if self._started:
                self._silence()
                self._send([STOP])

    # -- sending --------------------------------------------------------------------------

    def _send(self, message: list[int]) -> None:
        try:
            self.port.send_message(message)
            self.sent += 1
        except Exception as exc:  # a vanished port must not stop the music
            log.warning("MIDI out failed: %s", exc)

    def _silence(self) -> None:
        for channel in sorted(self._used):
            self._send([CONTROL | channel, ALL_NOTES_OFF, 0])

    def _due(self, begin: int, end: int) -> list[tuple[int, list[int]]]:
        with self._lock:
            segments = [s for s in self._segments if s.stop is None or s.stop > begin]
            self._segments = segments  # finished segments are forgotten
        messages = []
        for segment in segments:
            if segment.start < end:
                messages += loop_messages(segment, begin, end, self.send_clock)
        messages.sort(key=lambda item: item[0])
        return messages

    def _run(self) -> None:
        clock = self._clock
        while not clock.ready.wait(0.05):
            if self._halt.is_set():
                return
        cursor = 0
        while not self._halt.is_set():
            if clock.paused:
                time.sleep(0.01)
                continue
            horizon = clock.frame_at(time.monotonic() + self.lookahead)
            if horizon <= cursor:
                time.sleep(0.005)
                continue
            for frame, message in self._due(cursor, horizon):
                wait = clock.time_of(frame) - time.monotonic()
                if wait > 0 and self._halt.wait(wait):
                    return
                if not self._started:
                    self._started = True
                    self._send([START])
                if message[0] & 0xF0 in (NOTE_ON, PROGRAM):
                    self._used.add(message[0] & 0x0F)
                self._send(message)
            cursor = horizon


def open_port(name: str | None = None):
    """An rtmidi output: the port whose name contains `name`, or a new virtual port named
    "composer" (None or "composer"). One-line ValueError when there is no MIDI system (no
    ALSA sequencer) or no such port."""
    try:
        import rtmidi
    except ImportError:
        raise ValueError("MIDI out needs python-rtmidi (pip install python-rtmidi)") from None
    from models.stderr import quiet_stderr

    try:
        with quiet_stderr():  # ALSA prints its own lines before rtmidi raises
            port = rtmidi.MidiOut(name="composer")
    except Exception as exc:
        raise ValueError(f"no MIDI output here ({str(exc).split('.')[0]}); an ALSA sequencer "
                         "(/dev/snd/seq) is needed for --midi-out") from None
    if name in (None, "", "composer"):
        port.open_virtual_port("composer")
        return port
    ports = port.get_ports()
    for index, found in enumerate(ports):
        if name.lower() in found.lower():
            port.open_port(index)
            return port
    raise ValueError(f"no MIDI output port named {name!r}; ports: "
                     + (", ".join(ports) if ports else "none"))
