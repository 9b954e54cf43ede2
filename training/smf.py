"""Standard MIDI File decoding into per-track event arrays, fast enough for Lakh-sized ingest.

mido builds and validates a Python object per message, which is two thirds of the cost of
ingesting an arranged song. Here all tracks of a file are decoded together with NumPy (a pass
costs mostly per call, not per byte): the length of an event that would start at every byte
offset is computed at once, a tight loop follows that chain from each track's start, and the
fields of all events on the chains are gathered in one go. The per-byte tables are small
integers, about 10 bytes of memory per byte of file, so a hostile file under the size limit
costs tens of megabytes. The one thing the chain cannot know in advance is the length of a
running-status event; it assumes two data bytes (note, controller, pitch bend: nearly every
running-status event in practice) and checks afterwards. Any track where that guess, or
anything else, does not hold is decoded again by a plain sequential reader that follows mido's
rules, so both give the same events (tests compare them on the corpus).
"""

from __future__ import annotations

import array
import struct
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np


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
    spans: list[tuple[int, int]] = []
    error = None
    try:
        spans.extend(track_spans(data))
    except SmfError as exc:
        error = exc
    tracks = decode_tracks(np.frombuffer(data, dtype=np.uint8), spans)
    if error is not None:
        raise error  # after decoding the tracks before it: errors come in file order
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


def decode_tracks(buf: np.ndarray, spans: list[tuple[int, int]]) -> tuple[Track, ...]:
    """Decode the MTrk chunks buf[start:end] (uint8) of one file in a single set of vectorised
    passes (the cost of a pass is mostly per call, not per byte), then any track those passes
    cannot vouch for again with the sequential reader, in file order."""
    if not spans:
        return ()
    base = spans[0][0]
    decoded = _decode_vectorised_spans(buf[base:spans[-1][1]],
                                       [(start - base, end - base) for start, end in spans])
    return tuple(track if track is not None else decode_track_sequential(bytes(buf[start:end]))
                 for track, (start, end) in zip(decoded, spans))


def decode_track(chunk: np.ndarray) -> Track:
    """Decode one MTrk chunk's bytes (uint8 array), vectorised, falling back when unsure."""
    return decode_tracks(chunk, [(0, len(chunk))])[0]


class _Unsure(Exception):
    pass


def _decode_vectorised(chunk: np.ndarray) -> Track:
    """One chunk through the vectorised passes alone; _Unsure where they cannot vouch for it."""
    track = _decode_vectorised_spans(chunk, [(0, len(chunk))])[0]
    if track is None:
        raise _Unsure
    return track


_BLOCK = 1 << 16  # candidate metas and sysex handled at a time, bounding their temporaries


def _vlq_lengths(a: np.ndarray, m: int) -> np.ndarray:
    """Length (1..4, or 5: longer) of a variable-length quantity starting at 0..m-1 (uint8)."""
    last = a < 0x80  # a byte that ends a quantity
    length = np.full(m, 5, dtype=np.uint8)
    for k in (4, 3, 2, 1):
        length[last[k - 1:k - 1 + m]] = k
    return length


def _vlq_values(a: np.ndarray, at: np.ndarray, length: np.ndarray) -> np.ndarray:
    """Values (int64) of the variable-length quantities of the given lengths starting at `at`."""
    value = (a[at] & 0x7F).astype(np.int64)
    for k in (1, 2, 3):
        more = np.flatnonzero(length > k)
        if not len(more):
            break
        value[more] = (value[more] << 7) | (a[at[more] + k] & 0x7F)
    return value


def _next_event(a: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(next, length): for every offset p < n, where an event whose delta time starts at p would
    end (a value past any track where the bytes cannot tell), and the length of a variable-length
    quantity at every offset < n + 8. Compact dtypes: about 10 bytes of memory per byte."""
    index_type = np.int32 if n < 1 << 30 else np.int64
    never = np.iinfo(index_type).max
    length = _vlq_lengths(a, n + 8)
    lead = length[:n]
    status = a[1:n + 1].copy()  # the byte after the delta time
    for k in (2, 3, 4):
        np.copyto(status, a[k:n + k], where=lead >= k)
    size = np.full(n, 3, dtype=np.uint8)  # status and two data bytes
    size[status < 0x80] = 2  # running status, guessed two data bytes; checked later
    size[(status & 0xE0) == 0xC0] = 2  # program change, channel pressure
    nxt = np.arange(n, dtype=index_type)
    nxt += lead
    nxt += size
    del size
    nxt[(status >= 0xF0) | (lead > 4)] = never
    for code, skip in ((0xFF, 2), (0xF0, 1), (0xF7, 1)):  # FF type size data, F0 size data
        found = np.flatnonzero((status == code) & (lead <= 4))
        for i in range(0, len(found), _BLOCK):
            p = found[i:i + _BLOCK]
            q = p + lead[p] + skip  # where the size starts
            end = q + length[q] + _vlq_values(a, q, length[q])
            nxt[p] = np.where(length[q] <= 4, np.minimum(end, never), never)
    return nxt, length


def _decode_vectorised_spans(region: np.ndarray, spans: list[tuple[int, int]]
                             ) -> list[Track | None]:
    """The track at region[start:end] for each span, or None where these passes are unsure."""
    n = len(region)
    a = np.zeros(n + 16, dtype=np.uint8)
    a[:n] = region
    nxt, length = _next_event(a, n)
    code = "i" if nxt.dtype == np.int32 else "q"
    follow = memoryview(nxt).cast("B").cast(code)  # indexes fast, to Python ints
    starts = array.array(code)  # every event's position, track after track: 4 bytes each
    counts, sure = [], []
    append = starts.append
    for start, end in spans:
        first, p = len(starts), start
        while p < end:
            append(p)
            p = follow[p]
        if p != end:  # the chain overran the chunk: truncated, corrupt, or a wrong guess
            del starts[first:]
        counts.append(len(starts) - first)
        sure.append(p == end)
    del follow, nxt
    if not starts:
        return [_track([], [], [], [], [], [], [], 0) if ok else None for ok in sure]
    return _tracks(a, length, np.frombuffer(starts, dtype=code), spans, counts, sure)


def _tracks(a: np.ndarray, length: np.ndarray, at: np.ndarray, spans: list[tuple[int, int]],
            counts: list[int], sure: list[bool]) -> list[Track | None]:
    """The events starting at `at` (counts[t] of them for track t, in order) decoded, the
    chain's guesses checked, and split into Tracks. Temporaries are compact and freed early:
    a dense file has an event every three bytes."""
    per_track = np.array(counts, dtype=np.int64)
    ends = np.cumsum(per_track)
    firsts = ends - per_track  # each track's first event
    own_first = np.repeat(firsts.astype(at.dtype), per_track)  # per event
    ticks = _vlq_values(a, at, length[at])
    ev = at + length[at]  # status byte, or first data byte under running status
    np.cumsum(ticks, out=ticks)
    before = np.where(firsts > 0, ticks[np.maximum(firsts - 1, 0)], 0)  # earlier tracks' ticks
    ticks -= np.repeat(before, per_track)
    lasts = np.where(per_track > 0, ticks[np.maximum(ends - 1, 0)], 0).tolist()

    st = a[ev]
    explicit = st >= 0x80
    setter = np.where(explicit & (st != 0xFF), np.arange(len(ev), dtype=ev.dtype), -1)
    np.maximum.accumulate(setter, out=setter)
    # running status continues the last channel message of the same track, or nothing
    status = np.where(explicit, st, np.where(setter < own_first, 0, st[setter]))
    del setter
    pair = ((status >= 0x80) & (status < 0xC0)) | ((status >= 0xE0) & (status < 0xF0))
    channel = pair | ((status >= 0xC0) & (status < 0xE0))
    bad = (st > 0xF0) & (st != 0xF7) & (st != 0xFF)  # system bytes: the careful reader judges
    bad |= ~explicit & ~pair  # the chain guessed two data bytes for running status
    offset = ev[channel] + explicit[channel]
    data1, data2 = a[offset], a[offset + 1]
    data2[~pair[channel]] = 0  # one data byte
    bad[channel] |= (data1 > 127) | (data2 > 127)
    for t in np.searchsorted(ends, np.flatnonzero(bad), side="right").tolist():
        sure[t] = False

    meta = status == 0xFF
    metas = _metas(a, length, ev[meta], ticks[meta], np.flatnonzero(meta), firsts, spans, sure)
    del ev, st, explicit, pair, bad, meta

    at_channel = np.flatnonzero(channel)
    cuts = np.searchsorted(at_channel, np.append(firsts, len(at))).tolist()
    index = at_channel - own_first[at_channel]
    del at_channel, own_first
    ticks = ticks[channel]
    kind, data1, data2 = (column.astype(np.int64) for column in (status[channel], data1, data2))
    offset = offset.astype(np.int64)
    out: list[Track | None] = []
    for t, (start, _) in enumerate(spans):
        if not sure[t]:
            out.append(None)
            continue
        lo, hi = cuts[t], cuts[t + 1]
        offset[lo:hi] -= start
        out.append(Track(index[lo:hi], ticks[lo:hi], kind[lo:hi], data1[lo:hi], data2[lo:hi],
                         offset[lo:hi], tuple(metas[t]), lasts[t]))
    return out


def _metas(a: np.ndarray, length: np.ndarray, ev: np.ndarray, ticks: np.ndarray,
           number: np.ndarray, firsts: np.ndarray, spans: list[tuple[int, int]],
           sure: list[bool]) -> list[list[Meta]]:
    """Each sure track's meta events, given where each starts (`ev`, at its FF), its tick and
    its number among all the file's events."""
    metas: list[list[Meta]] = [[] for _ in spans]
    size_at = ev + 2
    size, body = _vlq_values(a, size_at, length[size_at]), size_at + length[size_at]
    owners = np.searchsorted(firsts, number, side="right") - 1
    for i, t, type_, tick, start, count in zip(
            number.tolist(), owners.tolist(), a[ev + 1].tolist(), ticks.tolist(), body.tolist(),
            size.tolist()):
        if sure[t]:
            metas[t].append(Meta(i - int(firsts[t]), tick, type_,
                                 a[start:start + count].tobytes(), start - spans[t][0]))
    return metas


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
