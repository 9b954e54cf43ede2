"""Standard MIDI File decoding into per-track event arrays, fast enough for Lakh-sized ingest.

mido builds and validates a Python object per message, which is two thirds of the cost of
ingesting an arranged song. Here a track is decoded with NumPy: the length of an event that
would start at every byte offset is computed at once, a tight loop follows that chain from
offset 0, and the fields of all events on the chain are gathered in one go. The one thing the
chain cannot know in advance is the length of a running-status event; it assumes two data
bytes (note, controller, pitch bend: nearly every running-status event in practice) and
checks afterwards. Any track where that guess, or anything else, does not hold is decoded
again by a plain sequential reader that follows mido's rules, so both give the same events
(tests compare them on the corpus).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

_BIG = 1 << 40  # an event length that runs off any track: "cannot decode here"


class SmfError(ValueError):
    """The bytes are not a decodable Standard MIDI File; str() says why in one line."""


@dataclass(frozen=True)
class Meta:
    index: int  # position among the track's events
    tick: int
    type: int
    data: bytes
    offset: int  # where `data` starts in the track chunk (for in-place edits)


@dataclass(frozen=True)
class Track:
    """One MTrk chunk's channel messages as parallel arrays, plus its meta events.

    `index` is each message's position among all the track's events (metas and sysex
    included), which is what orders program changes, notes and controllers against each other.
    For one-data-byte messages (program change, channel pressure) `data2` is 0. `offset` is
    where each message's `data1` byte lies in the chunk, so a note can be edited in place.
    """

    index: np.ndarray  # int64
    tick: np.ndarray  # int64, absolute
    status: np.ndarray  # int64, 0x80..0xEF
    data1: np.ndarray  # int64
    data2: np.ndarray  # int64
    offset: np.ndarray  # int64, position of data1 in the chunk
    metas: tuple[Meta, ...]
    last_tick: int  # tick of the last event of any kind (0 for an empty track)


@dataclass(frozen=True)
class SmfFile:
    format: int
    resolution: int  # ticks per quarter note
    tracks: tuple[Track, ...]


def read_smf(data: bytes) -> SmfFile:
    """Decode a Standard MIDI File; raises SmfError for anything mido could not read either."""
    start, end = smf_span(data)
    fmt, division, _ = _header(data[start:end])
    buf = np.frombuffer(data, dtype=np.uint8)
    tracks = tuple(decode_track(buf[start:end]) for start, end in track_spans(data))
    return SmfFile(fmt, division, tracks)


def is_rmid(data: bytes) -> bool:
    """A RIFF RMID container: the Windows wrapper around a Standard MIDI File."""
    return data[:4] == b"RIFF" and data[8:12] == b"RMID"


def smf_span(data: bytes) -> tuple[int, int]:
    """(start, end) of the Standard MIDI File in `data`: all of it, or the `data` chunk of an
    RMID container (its other chunks are metadata), so offsets stay those of the file."""
    if not is_rmid(data):
        return 0, len(data)
    pos = 12
    while pos + 8 <= len(data):
        name, (size,) = data[pos:pos + 4], struct.unpack("<L", data[pos + 4:pos + 8])
        if name == b"data":
            return pos + 8, min(pos + 8 + size, len(data))
        pos += 8 + size + (size & 1)  # RIFF chunks are padded to even lengths
    raise SmfError("RIFF RMID file without a MIDI data chunk")


def _header(data: bytes) -> tuple[int, int, int]:
    """(format, ticks per quarter note, tracks promised) of a checked MThd chunk at the
    start of `data` (an SMF, not its RMID wrapper)."""
    if len(data) < 14 or data[:4] != b"MThd":
        raise SmfError("truncated MIDI header" if data[:4] == b"MThd" else "no MThd header")
    (size,) = struct.unpack(">L", data[4:8])
    if size < 6 or 8 + size > len(data):
        raise SmfError(f"MIDI header claims {size} bytes (corrupt)")
    fmt, n_tracks, division = struct.unpack(">hHh", data[8:14])  # up to 65,535 tracks
    if n_tracks < 1:
        raise SmfError(f"MIDI header claims {n_tracks} tracks")
    if division <= 0:
        raise SmfError(f"unsupported time division {division} (SMPTE timing)")
    return fmt, division, n_tracks


def track_spans(data: bytes) -> Iterator[tuple[int, int]]:
    """(start, end) in `data` of each MTrk chunk's events, in order, as read_smf reads them.

    Lazy, so a reader that decodes as it goes meets errors in file order.
    """
    base, stop = smf_span(data)
    smf = data[base:stop]
    n_tracks = _header(smf)[2]
    pos = 8 + struct.unpack(">L", smf[4:8])[0]
    found = 0
    while found < n_tracks:
        if pos + 8 > len(smf):
            if not found:
                raise SmfError(f"truncated: header promises {n_tracks} tracks, found none")
            return  # a missing last track is common in the wild and loses nothing decodable
        name, length = struct.unpack(">4sL", smf[pos:pos + 8])
        pos += 8
        if name != b"MTrk":
            pos += length  # unknown chunks are skipped, as the standard asks
            continue
        if pos + length > len(smf):
            raise SmfError(f"truncated: track {found} ends after the file does")
        yield base + pos, base + pos + length
        found += 1
        pos += length


def decode_track(chunk: np.ndarray) -> Track:
    """Decode one MTrk chunk's bytes (uint8 array), vectorised, falling back when unsure."""
    try:
        return _decode_vectorised(chunk)
    except _Unsure:
        return decode_track_sequential(bytes(chunk))


class _Unsure(Exception):
    pass


def _vlq_tables(a: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Length (1..4, or _BIG) and value of a variable-length quantity starting at 0..m-1."""
    b0, b1, b2, b3 = a[0:m], a[1:m + 1], a[2:m + 2], a[3:m + 3]
    c0, c1, c2, c3 = b0 < 128, b1 < 128, b2 < 128, b3 < 128
    v0, v1, v2, v3 = b0 & 127, b1 & 127, b2 & 127, b3 & 127
    length = np.where(c0, 1, np.where(c1, 2, np.where(c2, 3, np.where(c3, 4, _BIG))))
    value = np.where(c0, v0, np.where(c1, (v0 << 7) | v1, np.where(
        c2, (v0 << 14) | (v1 << 7) | v2, (v0 << 21) | (v1 << 14) | (v2 << 7) | v3)))
    return length, value


def _decode_vectorised(chunk: np.ndarray) -> Track:
    n = len(chunk)
    if n == 0:
        return _track([], [], [], [], [], [], [], 0)
    a = np.zeros(n + 16, dtype=np.int64)
    a[:n] = chunk
    m = n + 8
    vlen, vval = _vlq_tables(a, m)

    # For every offset p: where the event after a delta time at p starts, and where it ends.
    e = np.minimum(np.arange(m) + vlen, n + 4)
    s = a[e]
    evlen = np.full(m, _BIG, dtype=np.int64)
    evlen[s < 0x80] = 2  # running status, guessed two data bytes; checked below
    evlen[((s >= 0x80) & (s < 0xC0)) | ((s >= 0xE0) & (s < 0xF0))] = 3
    evlen[(s >= 0xC0) & (s < 0xE0)] = 2
    meta = s == 0xFF
    evlen[meta] = 2 + vlen[e[meta] + 2] + vval[e[meta] + 2]
    sysex = (s == 0xF0) | (s == 0xF7)
    evlen[sysex] = 1 + vlen[e[sysex] + 1] + vval[e[sysex] + 1]
    nxt = (e + evlen).tolist()

    starts = []
    append = starts.append
    p = 0
    while p < n:
        append(p)
        p = nxt[p]
    if p != n:
        raise _Unsure  # the chain overran the chunk: truncated, corrupt, or a wrong guess

    at = np.array(starts, dtype=np.int64)
    ticks = np.cumsum(vval[at])
    ev = e[at]
    st = a[ev]
    explicit = st >= 0x80
    count = len(at)
    order = np.arange(count)
    setter = np.where(explicit & (st != 0xFF), order, -1)
    np.maximum.accumulate(setter, out=setter)
    status = st.copy()
    running = ~explicit
    if running.any():
        source = setter[running]
        if (source < 0).any():
            raise _Unsure
        status[running] = st[source]
        rs = status[running]
        if not (((rs >= 0x80) & (rs < 0xC0)) | ((rs >= 0xE0) & (rs < 0xF0))).all():
            raise _Unsure
    if ((st > 0xF0) & (st != 0xF7) & (st != 0xFF)).any():
        raise _Unsure  # system common/real-time bytes in a file: let the careful reader judge

    channel = (status >= 0x80) & (status < 0xF0)
    off = ev[channel] + explicit[channel]
    cs = status[channel]
    d1 = a[off]
    two = (cs < 0xC0) | (cs >= 0xE0)
    d2 = np.where(two, a[off + 1], 0)
    if (d1 > 127).any() or (d2 > 127).any():
        raise _Unsure

    metas = []
    for i in np.flatnonzero(status == 0xFF).tolist():
        start = int(ev[i])
        kind = int(a[start + 1])
        body = start + 2 + int(vlen[start + 2])
        size = int(vval[start + 2])
        metas.append(Meta(i, int(ticks[i]), kind, bytes(chunk[body:body + size]), body))
    return Track(order[channel], ticks[channel], cs, d1, d2, off, tuple(metas), int(ticks[-1]))


_DATA_BYTES = {0x80: 2, 0x90: 2, 0xA0: 2, 0xB0: 2, 0xC0: 1, 0xD0: 1, 0xE0: 2}
# System common and real-time status bytes as mido reads them (None: undefined, an error).
_SYSTEM_DATA_BYTES = {0xF1: 1, 0xF2: 2, 0xF3: 1, 0xF6: 0, 0xF8: 0, 0xFA: 0, 0xFB: 0, 0xFC: 0,
                      0xFE: 0}


def decode_track_sequential(data: bytes) -> Track:
    """Byte-by-byte decoding with mido's rules (running status, sysex, metas, errors)."""
    n = len(data)
    pos = tick = 0
    last_status = None
    index, ticks, status, d1, d2, offsets, metas = [], [], [], [], [], [], []
    count = 0

    def byte() -> int:
        nonlocal pos
        if pos >= n:
            raise SmfError("truncated track")
        value = data[pos]
        pos += 1
        return value

    def varlen() -> int:
        value = 0
        while True:
            b = byte()
            value = (value << 7) | (b & 0x7F)
            if b < 0x80:
                return value

    while pos < n:
        tick += varlen()
        first = byte()
        if first < 0x80:
            if last_status is None:
                raise SmfError("running status without a previous status byte")
            peek, code = [first], last_status
        else:
            if first != 0xFF:
                last_status = first
            peek, code = [], first
        if code == 0xFF:
            kind = byte()
            length = varlen()
            if pos + length > n:
                raise SmfError("truncated meta event")
            metas.append(Meta(count, tick, kind, data[pos:pos + length], pos))
            pos += length
        elif code in (0xF0, 0xF7):
            length = varlen()
            if pos + length > n:
                raise SmfError("truncated sysex event")
            pos += length
        elif code >= 0xF0:
            wanted = _SYSTEM_DATA_BYTES.get(code)
            if wanted is None:
                raise SmfError(f"undefined status byte 0x{code:02x}")
            values = peek + [byte() for _ in range(wanted - len(peek))]
            if any(v > 127 for v in values):
                raise SmfError("data byte out of range 0..127")
        else:
            wanted = _DATA_BYTES[code & 0xF0]
            offsets.append(pos - len(peek))
            values = peek + [byte() for _ in range(wanted - len(peek))]
            if any(v > 127 for v in values):
                raise SmfError("data byte out of range 0..127")
            index.append(count)
            ticks.append(tick)
            status.append(code)
            d1.append(values[0])
            d2.append(values[1] if wanted == 2 else 0)
        count += 1
    return _track(index, ticks, status, d1, d2, offsets, metas, tick)


def _track(index, ticks, status, d1, d2, offsets, metas, last_tick) -> Track:
    def as_array(values) -> np.ndarray:
        return np.array(values, dtype=np.int64)

    return Track(as_array(index), as_array(ticks), as_array(status), as_array(d1), as_array(d2),
                 as_array(offsets), tuple(metas), int(last_tick))
