"""A MIDI file as note arrays, read the way pretty_midi reads it, and its NoteSequence.

Ingest needs notes, tempi and a NoteSequence per file, not a Python object per note. This module
turns decoded tracks (training.smf) into arrays with pretty_midi's exact interpretation, so a
corpus built from them equals one built through pretty_midi + note-seq (tests check this on the
corpus): tempo, time and key signatures from track 0 only; one instrument per (program, channel,
track) in order of first note; a note-off closes every open note of its pitch started on an
earlier tick; unclosed notes dropped; the program in force when a note ends; controllers and
pitch bends that come before an instrument's first note kept with it. Two deliberate
differences: an invalid time or key signature (a denominator past 1/64 included) is dropped
instead of failing the whole file, and huge tick values are converted without pretty_midi's
tick-by-tick lookup table.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from training.smf import SmfError, SmfFile, Track, read_smf

if TYPE_CHECKING:
    from google.protobuf.descriptor import FieldDescriptor

MAX_TICK = 10_000_000  # pretty_midi's bound: a larger tick means a corrupt file
DRUM_CHANNEL = 9
# A time signature's denominator is 2 ** its second byte; past 1/64 it is corruption (a byte
# of 255 would be a 78-digit number no NoteSequence can hold), dropped like any invalid one.
MAX_DENOMINATOR_POWER = 6

NOTE = np.dtype([("instrument", np.int32), ("pitch", np.int32), ("velocity", np.int32),
                 ("start", np.float64), ("end", np.float64)])
CONTROL = np.dtype([("instrument", np.int32), ("number", np.int32), ("value", np.int32),
                    ("time", np.float64)])
BEND = np.dtype([("instrument", np.int32), ("bend", np.int32), ("time", np.float64)])


@dataclass(frozen=True)
class Instrument:
    program: int
    is_drum: bool
    name: str


@dataclass(frozen=True)
class Score:
    """Notes, controllers and timing of one MIDI file, ordered as pretty_midi orders them."""

    resolution: int
    instruments: tuple[Instrument, ...]
    notes: np.ndarray  # NOTE
    control_changes: np.ndarray  # CONTROL
    pitch_bends: np.ndarray  # BEND
    tempo_times: np.ndarray
    tempi: np.ndarray  # quarter notes per minute
    time_signatures: tuple[tuple[float, int, int], ...]  # (time, numerator, denominator)
    key_signatures: tuple[tuple[float, int], ...]  # (time, key number: 0-11 major, 12-23 minor)
    text_end: float  # latest text or lyric event, which pretty_midi counts in the end time

    @cached_property
    def is_drum(self) -> np.ndarray:
        """Per note."""
        drums = np.array([inst.is_drum for inst in self.instruments] or [False], dtype=bool)
        return drums[self.notes["instrument"]]

    @cached_property
    def program(self) -> np.ndarray:
        """Per note."""
        programs = np.array([inst.program for inst in self.instruments] or [0], dtype=np.int32)
        return programs[self.notes["instrument"]]

    @cached_property
    def end_time(self) -> float:
        """The latest event of any kind, as pretty_midi's get_end_time."""
        ends = [self.text_end, *(t for t, *_ in self.time_signatures),
                *(t for t, _ in self.key_signatures)]
        for column in (self.notes["end"], self.control_changes["time"],
                       self.pitch_bends["time"], self.tempo_times):
            if len(column):
                ends.append(float(column.max()))
        return max(ends)

    def pitched(self) -> tuple[np.ndarray, np.ndarray]:
        """(pitches, durations) of every non-drum note."""
        keep = ~self.is_drum
        notes = self.notes[keep]
        return notes["pitch"].astype(np.int64), notes["end"] - notes["start"]


def read_score(data: bytes) -> Score:
    """Bytes of a Standard MIDI File to a Score; raises SmfError when it cannot be read."""
    return score_from_smf(read_smf(data))


def score_from_smf(smf: SmfFile) -> Score:
    tracks = smf.tracks
    max_tick = max((t.last_tick for t in tracks), default=0) + 1
    if max_tick > MAX_TICK:
        raise SmfError(f"largest tick {max_tick} is implausible (corrupt file)")
    clock = _Clock(smf.resolution, tracks[0] if tracks else None)

    time_signatures, key_signatures, text_ticks = [], [], []
    for meta in tracks[0].metas if tracks else ():
        if (meta.type == 0x58 and len(meta.data) >= 2 and meta.data[0] > 0
                and meta.data[1] <= MAX_DENOMINATOR_POWER):
            time_signatures.append((meta.tick, meta.data[0], 2 ** meta.data[1]))
        elif meta.type == 0x59 and len(meta.data) >= 2:
            sharps = meta.data[0] - 256 if meta.data[0] > 127 else meta.data[0]
            minor = meta.data[1]
            if -7 <= sharps <= 7 and minor in (0, 1):
                key_signatures.append((meta.tick, (7 * sharps + 9 * minor) % 12 + 12 * minor))
    for track in tracks:
        text_ticks += [m.tick for m in track.metas if m.type in (0x01, 0x05)]

    notes, controls, bends, instruments = [], [], [], []
    for number, track in enumerate(tracks):
        _read_track(number, track, notes, controls, bends, instruments)

    note_rows = np.concatenate(notes) if notes else np.zeros(0, dtype=_NOTE_TICKS)
    note_array = np.zeros(len(note_rows), dtype=NOTE)
    for field in ("instrument", "pitch", "velocity"):
        note_array[field] = note_rows[field]
    note_array["start"] = clock.seconds(note_rows["on"])
    note_array["end"] = clock.seconds(note_rows["off"])
    control_array = _timed(controls, CONTROL, clock)
    bend_array = _timed(bends, BEND, clock)
    return Score(
        resolution=smf.resolution,
        instruments=tuple(instruments),
        notes=note_array,
        control_changes=control_array,
        pitch_bends=bend_array,
        tempo_times=clock.seconds(clock.ticks),
        tempi=60.0 / (clock.scales * smf.resolution),
        time_signatures=tuple((float(clock.seconds(np.array([t]))[0]), num, den)
                              for t, num, den in time_signatures),
        key_signatures=tuple((float(clock.seconds(np.array([t]))[0]), key)
                             for t, key in key_signatures),
        text_end=float(clock.seconds(np.array(text_ticks)).max()) if text_ticks else 0.0,
    )


class _Clock:
    """Ticks to seconds through track 0's tempo map, with pretty_midi's arithmetic."""

    def __init__(self, resolution: int, track0: Track | None):
        scales = [(0, 60.0 / (120.0 * resolution))]
        for meta in track0.metas if track0 else ():
            if meta.type != 0x51 or len(meta.data) < 3:
                continue
            tempo = (meta.data[0] << 16) | (meta.data[1] << 8) | meta.data[2]
            if tempo == 0:
                raise SmfError("a tempo of 0 microseconds per quarter note")
            scale = 60.0 / ((6e7 / tempo) * resolution)
            if meta.tick == 0:
                scales = [(0, scale)]
            elif scale != scales[-1][1]:
                scales.append((meta.tick, scale))
        self.ticks = np.array([t for t, _ in scales], dtype=np.int64)
        self.scales = np.array([s for _, s in scales], dtype=np.float64)
        starts = [0.0]
        for k in range(1, len(scales)):
            starts.append(starts[-1] + self.scales[k - 1] * float(self.ticks[k] - self.ticks[k - 1]))
        self.starts = np.array(starts)

    def seconds(self, ticks: np.ndarray) -> np.ndarray:
        ticks = np.asarray(ticks, dtype=np.int64)
        k = np.searchsorted(self.ticks, ticks, side="right") - 1
        return self.starts[k] + self.scales[k] * (ticks - self.ticks[k]).astype(np.float64)


_NOTE_TICKS = np.dtype([("instrument", np.int32), ("pitch", np.int32), ("velocity", np.int32),
                        ("on", np.int64), ("off", np.int64)])


def _timed(rows: list[np.ndarray], dtype: np.dtype, clock: _Clock) -> np.ndarray:
    if not rows:
        return np.zeros(0, dtype=dtype)
    joined = np.concatenate(rows)
    out = np.zeros(len(joined), dtype=dtype)
    for field in dtype.names:
        if field != "time":
            out[field] = joined[field]
    out["time"] = clock.seconds(joined["tick"])
    return out


def _pair_notes(tick, index, key, is_on) -> tuple[np.ndarray, np.ndarray]:
    """Match note-ons to note-offs within one track.

    Returns (on_event, off_event) positions into the given arrays for every note that sounds.
    The common case (each on followed, for its pitch and channel, by an off on a later tick) is
    matched with array operations; a (channel, pitch) whose events do anything else is replayed
    event by event with pretty_midi's rule.
    """
    order = np.lexsort((index, key))
    k, on, t = key[order], is_on[order], tick[order]
    same_next = np.zeros(len(order), dtype=bool)
    same_next[:-1] = k[1:] == k[:-1]
    off_next = np.zeros(len(order), dtype=bool)
    off_next[:-1] = ~on[1:]
    later = np.zeros(len(order), dtype=bool)
    later[:-1] = t[1:] > t[:-1]
    on_before = np.zeros(len(order), dtype=bool)
    on_before[1:] = on[:-1] & (k[1:] == k[:-1])
    paired = on & same_next & off_next & later & ~on_before
    dangling = on & ~same_next & ~on_before  # never closed: dropped, as pretty_midi drops it
    awkward = on & ~paired & ~dangling
    if not awkward.any():
        at = np.flatnonzero(paired)
        return order[at], order[at + 1]
    replay = np.isin(k, np.unique(k[awkward]))
    at = np.flatnonzero(paired & ~replay)
    rows = order[replay]
    rows = rows[np.argsort(index[rows], kind="stable")]
    more_on, more_off = _replay(rows, key, tick, is_on)
    return np.concatenate([order[at], more_on]), np.concatenate([order[at + 1], more_off])


def _replay(rows, key, tick, is_on) -> tuple[np.ndarray, np.ndarray]:
    """pretty_midi's note-off rule, event by event, for the rows given (in track order)."""
    open_notes: dict[int, list[int]] = {}
    ons, offs = [], []
    keys, ticks, starts = key.tolist(), tick.tolist(), is_on.tolist()
    for row in rows.tolist():
        k = keys[row]
        if starts[row]:
            open_notes.setdefault(k, []).append(row)
        elif k in open_notes:
            end = ticks[row]
            waiting = open_notes[k]
            close = [r for r in waiting if ticks[r] != end]
            keep = [r for r in waiting if ticks[r] == end]
            ons += close
            offs += [row] * len(close)
            if close and keep:
                open_notes[k] = keep
            else:
                del open_notes[k]
    return np.array(ons, dtype=np.int64), np.array(offs, dtype=np.int64)


def _program_at(track: Track, channel: np.ndarray, index: np.ndarray) -> np.ndarray:
    """The program in force on each (channel, event index): the latest earlier change, else 0."""
    changes = (track.status & 0xF0) == 0xC0
    if not changes.any():
        return np.zeros(len(index), dtype=np.int64)
    pc_key = (track.status[changes] & 0x0F) * (1 << 40) + track.index[changes]
    order = np.argsort(pc_key, kind="stable")
    pc_key, programs = pc_key[order], track.data1[changes][order]
    pos = np.searchsorted(pc_key, channel * (1 << 40) + index) - 1
    valid = pos >= 0
    valid[valid] = (pc_key[pos[valid]] >> 40) == channel[valid]
    return np.where(valid, programs[np.maximum(pos, 0)], 0)


def _read_track(number: int, track: Track, notes: list, controls: list, bends: list,
                instruments: list) -> None:
    kind = track.status & 0xF0
    channel = track.status & 0x0F
    note_on = (kind == 0x90) & (track.data2 > 0)
    note_any = (kind == 0x80) | (kind == 0x90)
    rows = np.flatnonzero(note_any)
    names = [(m.index, m.data.decode("latin-1")) for m in track.metas if m.type == 0x03]

    local: dict[tuple[int, int], int] = {}  # (program, channel) -> instrument number
    created: list[tuple[int, int, int]] = []  # (event index, program, channel) in order
    if len(rows):
        key = channel[rows] * 128 + track.data1[rows]
        on_rows, off_rows = _pair_notes(track.tick[rows], track.index[rows], key,
                                        note_on[rows])
        on, off = rows[on_rows], rows[off_rows]
        off_index = track.index[off]
        programs = _program_at(track, channel[off], off_index)
        inst_key = programs * 16 + channel[off]
        # Instruments appear in the order of their first note-off; notes within one are in
        # note-off order, then note-on order, as pretty_midi appends them.
        keys, which = np.unique(inst_key, return_inverse=True)
        first = np.full(len(keys), np.iinfo(np.int64).max)
        np.minimum.at(first, which, off_index)
        number_of_key = np.zeros(len(keys), dtype=np.int32)
        for rank in np.argsort(first, kind="stable").tolist():
            program, chan = divmod(int(keys[rank]), 16)
            at = int(first[rank])
            name = next((text for index, text in reversed(names) if index < at), "")
            number_of_key[rank] = local[(program, chan)] = len(instruments)
            created.append((at, program, chan))
            instruments.append(Instrument(program, chan == DRUM_CHANNEL, name))
        number_of = number_of_key[which]
        final = np.lexsort((track.index[on], off_index, number_of))
        block = np.zeros(len(final), dtype=_NOTE_TICKS)
        block["instrument"] = number_of[final]
        block["pitch"] = track.data1[on][final]
        block["velocity"] = track.data2[on][final]
        block["on"] = track.tick[on][final]
        block["off"] = track.tick[off][final]
        notes.append(block)

    cc = np.flatnonzero((kind == 0xB0) | (kind == 0xE0))
    if len(cc) and created:
        _attach_controls(track, cc, channel, created, local, controls, bends)


def _attach_controls(track: Track, rows: np.ndarray, channel: np.ndarray,
                     created: list[tuple[int, int, int]], local: dict, controls: list,
                     bends: list) -> None:
    """pretty_midi's bookkeeping for controllers and pitch bends, including its "stragglers".

    An event goes to the instrument of (current program, channel) if that exists yet, else to a
    placeholder per channel whose lists the next instrument created on that channel adopts
    (sharing them, so later placeholder events show up there too). Events no instrument ever
    adopts are lost, as in pretty_midi.
    """
    programs = _program_at(track, channel[rows], track.index[rows]).tolist()
    events = sorted([(int(track.index[r]), 1, i) for i, r in enumerate(rows.tolist())]
                    + [(at, 0, j) for j, (at, _, _) in enumerate(created)])
    lists: dict[int, tuple[list, list]] = {}  # instrument number -> (controls, bends)
    stragglers: dict[int, tuple[list, list]] = {}
    status, d1, d2, ticks = (track.status.tolist(), track.data1.tolist(), track.data2.tolist(),
                             track.tick.tolist())
    for _, is_event, j in events:
        if not is_event:
            _, program, chan = created[j]
            number = local[(program, chan)]
            lists[number] = stragglers.get(chan, ([], []))
            continue
        row = int(rows[j])
        chan = status[row] & 0x0F
        number = local.get((programs[j], chan))
        target = lists.get(number) if number is not None else None
        if target is None:
            target = stragglers.setdefault(chan, ([], []))
        if status[row] & 0xF0 == 0xB0:
            target[0].append((d1[row], d2[row], ticks[row]))
        else:
            target[1].append(((d2[row] << 7 | d1[row]) - 8192, ticks[row]))
    for number, (ccs, pbs) in lists.items():
        if ccs:
            block = np.zeros(len(ccs), dtype=[("instrument", np.int32), ("number", np.int32),
                                              ("value", np.int32), ("tick", np.int64)])
            block["instrument"] = number
            block["number"], block["value"], block["tick"] = np.array(ccs, dtype=np.int64).T
            controls.append(block)
        if pbs:
            block = np.zeros(len(pbs), dtype=[("instrument", np.int32), ("bend", np.int32),
                                              ("tick", np.int64)])
            block["instrument"] = number
            block["bend"], block["tick"] = np.array(pbs, dtype=np.int64).T
            bends.append(block)


def to_notesequence(score: Score, shift: int = 0):
    """The NoteSequence note-seq's midi_to_note_sequence would make, pitched notes and key
    signatures shifted by `shift` semitones (folded into 0..127 by octaves, drums unmoved).

    Notes, controllers and pitch bends (thousands in a song) are written as protobuf wire bytes
    by NumPy and parsed once by protobuf's C code: a Python call per note took three quarters
    of the time, and the message is the same.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydub warns about ffmpeg, which is never used here
        from note_seq.protobuf import music_pb2

    seq = music_pb2.NoteSequence()
    seq.ticks_per_quarter = score.resolution
    seq.source_info.parser = music_pb2.NoteSequence.SourceInfo.PRETTY_MIDI
    seq.source_info.encoding_type = music_pb2.NoteSequence.SourceInfo.MIDI
    for time, numerator, denominator in score.time_signatures:
        seq.time_signatures.add(time=time, numerator=numerator, denominator=denominator)
    for time, key in score.key_signatures:
        seq.key_signatures.add(time=time, key=(key % 12 + shift) % 12, mode=key // 12)
    for time, qpm in zip(score.tempo_times.tolist(), score.tempi.tolist()):
        seq.tempos.add(time=time, qpm=qpm)
    for number, inst in enumerate(score.instruments):
        if inst.name:
            seq.instrument_infos.add(name=inst.name, instrument=number)

    notes = score.notes
    if len(notes):
        seq.total_time = float(notes["end"].max())
    pitch = notes["pitch"]
    if shift:
        pitch = np.where(score.is_drum, pitch, fold_pitches(pitch.astype(np.int64) + shift))
    programs = np.array([inst.program for inst in score.instruments] or [0])
    drums = np.array([inst.is_drum for inst in score.instruments] or [False])
    fields = seq.DESCRIPTOR.fields_by_name
    wire = [seq.SerializeToString()]
    number = notes["instrument"]
    wire.append(_repeated(fields["notes"], {
        "instrument": number, "program": programs[number], "start_time": notes["start"],
        "end_time": notes["end"], "pitch": pitch, "velocity": notes["velocity"],
        "is_drum": drums[number]}))
    number = score.pitch_bends["instrument"]
    wire.append(_repeated(fields["pitch_bends"], {
        "instrument": number, "program": programs[number], "time": score.pitch_bends["time"],
        "bend": score.pitch_bends["bend"], "is_drum": drums[number]}))
    controls = score.control_changes
    number = controls["instrument"]
    wire.append(_repeated(fields["control_changes"], {
        "instrument": number, "program": programs[number], "time": controls["time"],
        "control_number": controls["number"], "control_value": controls["value"],
        "is_drum": drums[number]}))
    return music_pb2.NoteSequence.FromString(b"".join(wire))


def _repeated(field: FieldDescriptor, columns: dict[str, np.ndarray]) -> bytes:
    """Protobuf wire bytes of one message per row in the repeated message `field`, whose
    int32, bool and double fields are the columns. Every varint is padded to its column's
    widest (legal protobuf), so each message has the same length and NumPy writes them as rows
    of one matrix."""
    from google.protobuf.descriptor import FieldDescriptor

    rows = len(next(iter(columns.values())))
    if not rows:
        return b""
    parts = []
    for name, values in columns.items():
        member = field.message_type.fields_by_name[name]
        if member.type == FieldDescriptor.TYPE_DOUBLE:
            octets = np.ascontiguousarray(values, dtype="<f8").view(np.uint8).reshape(rows, 8)
            parts.append((member.number << 3 | 1, octets))
        elif member.type in (FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_BOOL):
            parts.append((member.number << 3, _varints(np.asarray(values, dtype=np.int64))))
        else:
            raise TypeError(f"{name}: no wire encoding for field type {member.type}")
    width = sum(1 + column.shape[1] for _, column in parts)
    assert field.number < 16 and width < 128  # one-byte tags and lengths
    out = np.empty((rows, 2 + width), dtype=np.uint8)
    out[:, 0], out[:, 1] = field.number << 3 | 2, width
    at = 2
    for tag, column in parts:
        out[:, at] = tag
        out[:, at + 1:at + 1 + column.shape[1]] = column
        at += 1 + column.shape[1]
    return out.tobytes()


def _varints(values: np.ndarray) -> np.ndarray:
    """Each value as a varint as wide as the widest (negatives: ten bytes, as protobuf writes
    an int32), rows of a (len, width) uint8 matrix."""
    top = int(values.max()) if len(values) else 0
    width = 10 if len(values) and values.min() < 0 else max(1, (top.bit_length() + 6) // 7)
    bits = values.view(np.uint64)
    out = np.empty((len(values), width), dtype=np.uint8)
    for k in range(width):
        out[:, k] = (bits >> np.uint64(7 * k)) & np.uint64(0x7F)
    out[:, :-1] |= 0x80
    return out


def fold_pitches(pitch: np.ndarray) -> np.ndarray:
    """Bring pitches into 0..127 by whole octaves."""
    pitch = np.where(pitch < 0, pitch + 12 * ((-pitch + 11) // 12), pitch)
    return np.where(pitch > 127, pitch - 12 * ((pitch - 116) // 12), pitch)
