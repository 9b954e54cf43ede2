"""NoteSequence <-> performance event ids, exactly as note-seq's performance encoding defines them.

A performance is a stream of NOTE_ON(pitch), NOTE_OFF(pitch), TIME_SHIFT(steps) and
VELOCITY(bin) events on an absolute 10 ms grid (Performance RNN's representation): it keeps
expressive timing and dynamics, and polyphony is just interleaved events. The event order and
ids are note-seq's PerformanceOneHotEncoding, so checkpoints and data agree with Magenta's tools.
Drums are dropped (they are not pitches) and the sustain pedal is applied to note lengths.
"""

from __future__ import annotations

import operator
import warnings
from dataclasses import asdict, dataclass

import numpy as np

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # pydub warns about ffmpeg, which is never used here
    from note_seq import performance_lib, sequences_lib
    from note_seq.performance_encoder_decoder import PerformanceOneHotEncoding
    from note_seq.protobuf import music_pb2


@dataclass(frozen=True)
class PerformanceEncoding:
    steps_per_second: int = 100
    max_shift_steps: int = 100  # one TIME_SHIFT covers up to 1 s; longer rests repeat it
    velocity_bins: int = 16

    @property
    def vocab_size(self) -> int:
        return self._onehot.num_classes

    @property
    def _onehot(self) -> PerformanceOneHotEncoding:
        return PerformanceOneHotEncoding(num_velocity_bins=self.velocity_bins,
                                         max_shift_steps=self.max_shift_steps)

    def to_dict(self) -> dict:
        return asdict(self)

    def encode(self, sequence: music_pb2.NoteSequence) -> np.ndarray:
        """Event ids (int32) of the pitched notes of `sequence`, sustain pedal applied."""
        pitched = music_pb2.NoteSequence()
        pitched.CopyFrom(sequence)
        del pitched.notes[:]
        pitched.notes.extend(n for n in sequence.notes if not n.is_drum)
        if not pitched.notes:
            return np.zeros(0, dtype=np.int32)
        pitched = sequences_lib.apply_sustain_control_changes(pitched)
        quantized = sequences_lib.quantize_note_sequence_absolute(pitched, self.steps_per_second)
        performance = performance_lib.Performance(
            quantized, num_velocity_bins=self.velocity_bins, max_shift_steps=self.max_shift_steps)
        encode = self._onehot.encode_event
        return np.fromiter((encode(e) for e in performance), dtype=np.int32, count=len(performance))

    def primer_tail(self, sequence: music_pb2.NoteSequence, events: int,
                    stretch: float = 1.0) -> music_pb2.NoteSequence:
        """A NoteSequence whose encoding, once stretched by `stretch` (as
        sequences_lib.stretch_note_sequence does), ends in the same `events` ids as
        `sequence`'s: its notes from a cut `2 * events` onsets before the end, and the earlier
        notes whose events can still reach past the cut. Encoding a 600,000-note primer
        whole took 20 s; cutting and encoding its tail takes under one. A primer of up to
        `8 * events` notes is returned as it is.

        After the cut the encodings agree event for event: a note ends either at its own end,
        at the end of the sustain pedal's stroke that holds it, or (pedal down) where its
        pitch is struck again, so a note left out ends before the cut; every note that may
        end after it is kept, with every later note of its pitch and instrument (what can
        still shorten it) and every pedal event. Quantization is monotonic, so a note left
        out has no event after the cut's step plus one; the velocity and time-shift state
        agree from the first note struck after that."""
        if len(sequence.notes) <= 8 * events:
            return sequence
        notes = np.fromiter(map(_NOTE, sequence.notes), dtype=_NOTE_COLUMNS,
                            count=len(sequence.notes))
        index = np.flatnonzero(~notes["is_drum"])  # encode leaves drums out
        notes = notes[index]
        instrument, pitch = notes["instrument"], notes["pitch"]
        start, end = notes["start"] * stretch, notes["end"] * stretch  # as note-seq stretches
        # by instrument and pitch, then as the sustain pass meets them (stable: file order)
        order = np.lexsort((start, pitch, instrument))
        group = np.r_[True, (np.diff(instrument[order]) != 0) | (np.diff(pitch[order]) != 0)]
        # every (instrument, pitch, start) struck sounds once, however often it is doubled
        struck = group | np.r_[True, np.diff(start[order]) != 0]
        onsets = np.sort((start[order][struck] * self.steps_per_second + 0.5).astype(np.int64))
        if len(onsets) < 2 * events:
            return sequence
        # two steps before the onset 2 * events from the end: what is left out ends by the
        # cut, its events by the cut's step plus one
        cut = (onsets[-2 * events] - 2) / self.steps_per_second
        pedal = _sustain_strokes(sequence, stretch)
        keep = np.zeros(len(notes), dtype=bool)
        last = int(np.argmax(np.maximum(start, end)))  # a pedal held to the end lasts to it
        for rows in np.split(order, np.flatnonzero(group)[1:]):
            strokes = pedal.get(int(instrument[rows[0]]), np.zeros((0, 2)))
            latest = _held_until(strokes, end[rows])  # the pedal holds it until then
            again = np.r_[start[rows[1:]], np.inf]  # struck again there, if the pedal is down
            latest = np.where(_pressed(strokes, again), np.minimum(latest, again), latest)
            late = (start[rows] >= cut) | (latest > cut) | (rows == last)
            if late.any():
                keep[rows[int(np.argmax(late)):]] = True  # and every later note of its pitch
        tail = music_pb2.NoteSequence()
        tail.CopyFrom(sequence)
        del tail.notes[:]
        tail.notes.extend(sequence.notes[i] for i in index[keep].tolist())
        return tail

    def decode(self, ids, program: int = 0, max_note_duration: float | None = 5.0
               ) -> music_pb2.NoteSequence:
        """A NoteSequence from event ids. Notes never switched off end after `max_note_duration`."""
        performance = performance_lib.Performance(
            steps_per_second=self.steps_per_second, num_velocity_bins=self.velocity_bins,
            max_shift_steps=self.max_shift_steps)
        decode = self._onehot.decode_event
        for i in np.asarray(ids).tolist():
            performance.append(decode(i))
        return performance.to_sequence(program=program, max_note_duration=max_note_duration)

    def event_seconds(self) -> np.ndarray:
        """For every id, the time it moves the clock by (non-zero only for TIME_SHIFTs)."""
        onehot = self._onehot
        return np.array([onehot.event_to_num_steps(onehot.decode_event(i))
                         for i in range(self.vocab_size)]) / self.steps_per_second

    def seconds(self, ids) -> float:
        """How much time the events cover (the sum of their time shifts)."""
        return float(self.event_seconds()[np.asarray(ids, dtype=np.int64)].sum())

    def kinds(self) -> np.ndarray:
        """For every id, its event type name: 'on', 'off', 'shift' or 'vel'."""
        return np.array([self.describe(i).split(":")[0] for i in range(self.vocab_size)])

    def velocity_id(self, velocity: int) -> int:
        """The VELOCITY event for a MIDI velocity (1..127)."""
        bin_ = performance_lib.velocity_to_bin(velocity, self.velocity_bins)
        return self._onehot.encode_event(performance_lib.PerformanceEvent(
            performance_lib.PerformanceEvent.VELOCITY, bin_))

    def describe(self, i: int) -> str:
        event = self._onehot.decode_event(int(i))
        names = {performance_lib.PerformanceEvent.NOTE_ON: "on",
                 performance_lib.PerformanceEvent.NOTE_OFF: "off",
                 performance_lib.PerformanceEvent.TIME_SHIFT: "shift",
                 performance_lib.PerformanceEvent.VELOCITY: "vel"}
        return f"{names[event.event_type]}:{event.event_value}"


_NOTE = operator.attrgetter("instrument", "pitch", "start_time", "end_time", "is_drum")
_NOTE_COLUMNS = np.dtype([("instrument", np.int64), ("pitch", np.int64), ("start", np.float64),
                          ("end", np.float64), ("is_drum", np.bool_)])


def _sustain_strokes(sequence: music_pb2.NoteSequence, stretch: float
                     ) -> dict[int, np.ndarray]:
    """Per instrument, [stroke, (down, up)] seconds (stretched) of the sustain pedal (CC 64)
    as note-seq applies it: at one instant a release counts after a press; up is inf for a
    pedal never released."""
    events: dict[int, list[tuple[float, int]]] = {}
    for cc in sequence.control_changes:
        if cc.control_number == 64:
            events.setdefault(cc.instrument, []).append(
                (cc.time * stretch, 0 if cc.control_value >= 64 else 1))
    out = {}
    for instrument, rows in events.items():
        rows.sort()
        strokes, down = [], None
        for time, release in rows:
            if release and down is not None:
                strokes.append((down, time))
                down = None
            elif not release and down is None:
                down = time
        if down is not None:
            strokes.append((down, np.inf))
        out[instrument] = np.array(strokes, dtype=np.float64).reshape(-1, 2)
    return out


def _pressed(strokes: np.ndarray, times: np.ndarray, *, or_changing: bool = False
             ) -> np.ndarray:
    """Whether the pedal is down for a note struck at each time (pedal events come first at
    one instant); `or_changing` also counts the instant it comes up, where a note released
    is not held: a bound from above."""
    if not len(strokes):
        return np.zeros(len(times), dtype=bool)
    i = np.searchsorted(strokes[:, 0], times, side="right") - 1
    up = strokes[np.maximum(i, 0), 1]
    return (i >= 0) & ((times <= up) if or_changing else (times < up))


def _held_until(strokes: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """When notes released at `ends` stop sounding: the end of the stroke holding them."""
    if not len(strokes):
        return ends
    i = np.maximum(np.searchsorted(strokes[:, 0], ends, side="right") - 1, 0)
    return np.where(_pressed(strokes, ends, or_changing=True), np.maximum(ends, strokes[i, 1]),
                    ends)
