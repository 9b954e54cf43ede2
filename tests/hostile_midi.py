"""Hostile MIDI, made deterministically: every file an attacker tried (issue 14) and mutations.

    corpus(count, seed=0) -> [(name, bytes)]   the named cases first, then seeded mutations
    chord_stream(), many_tracks()             the largest files the size limit allows

Shared by the fuzz test (tests/test_fuzz_commands.py), the transposer's byte-level tests
(tests/test_hostile_transpose.py) and the 10,000-file benchmark (benchmarks/fuzz.py, which
imports it as `tests.hostile_midi`), so it imports nothing from the tests folder. Seeds are
small real songs written by mido and pretty_midi in memory (several tracks, drums, tempo
changes, key and time signatures, sysex, running status) and one built byte by byte whose
note key offsets are known. The same seed always gives the same bytes.
"""

from __future__ import annotations

import io
import random
import struct
from collections.abc import Callable
from functools import cache

import mido
import pretty_midi

DRUMS = 9


# --- byte-level building blocks --------------------------------------------------------

def vlq(value: int) -> bytes:
    out = [value & 0x7F]
    while value > 0x7F:
        value >>= 7
        out.append(0x80 | (value & 0x7F))
    return bytes(reversed(out))


def meta(kind: int, body: bytes) -> bytes:
    return bytes([0xFF, kind]) + vlq(len(body)) + body


def chunk(name: bytes, body: bytes) -> bytes:
    return name + struct.pack(">L", len(body)) + body


def header(n_tracks: int, fmt: int = 1, division: int = 480) -> bytes:
    return chunk(b"MThd", struct.pack(">HHH", fmt, n_tracks, division & 0xFFFF))


class Track:
    """Raw MTrk events; remembers where each note key byte is (offset in the events)."""

    def __init__(self) -> None:
        self.events = bytearray()
        self.keys: list[tuple[int, int]] = []  # (offset, channel)
        self.signatures: list[int] = []  # offsets of well-formed key-signature data

    def raw(self, delta: int, body: bytes) -> Track:
        self.events += vlq(delta) + body
        return self

    def note(self, delta: int, status: int | None, key: int, value: int, channel: int) -> Track:
        """A keyed channel message; `status` None means running status."""
        self.events += vlq(delta) + (bytes([status]) if status is not None else b"")
        self.keys.append((len(self.events), channel))
        self.events += bytes([key, value])
        return self

    def key_signature(self, sharps: int, minor: int) -> Track:
        self.events += b"\x00\xff\x59\x02"
        self.signatures.append(len(self.events))
        self.events += bytes([sharps & 0xFF, minor])
        return self

    def chunk(self) -> bytes:
        return chunk(b"MTrk", bytes(self.events) + b"\x00\xff\x2f\x00")


def song(conductor_extra: bytes = b"", *, between: bytes = b"", n_tracks: int | None = None,
         signature: bool = False) -> tuple[bytes, list[tuple[int, int]], list[int]]:
    """A two-track song built byte by byte: (file, [(offset, channel) of every note key
    byte], [key-signature data offsets]). Program change, sysex, polyphonic aftertouch,
    drums and running status; `conductor_extra` goes into track 0, `between` after MThd."""
    conductor = Track().raw(0, meta(0x51, b"\x07\xa1\x20"))  # 120 qpm
    if signature:
        conductor.key_signature(-2, 0)  # Bb major
    if conductor_extra:
        conductor.raw(0, conductor_extra)
    band = Track().raw(0, b"\xc0\x00").raw(0, b"\xf0\x05\x7e\x7f\x09\x01\xf7")
    for i, pitch in enumerate((58, 62, 65, 70, 127)):
        band.note(0, 0x90, pitch, 90, 0).note(0, 0x99, 36 + i, 100, DRUMS)
        band.note(240, 0xA0, pitch, 30, 0)  # polyphonic aftertouch
        band.note(200, 0x80, pitch, 64, 0).note(0, 0x89, 36 + i, 64, DRUMS)
        band.note(40, 0x90, pitch - 12, 80, 0).note(480, None, pitch - 12, 0, 0)  # running
    chunks = [conductor, band]
    data, keys, signatures = header(n_tracks or len(chunks)) + between, [], []
    for track in chunks:
        start = len(data) + 8
        keys += [(start + at, channel) for at, channel in track.keys]
        signatures += [start + at for at in track.signatures]
        data += track.chunk()
    return data, keys, signatures


def unknown_chunk() -> bytes:
    return chunk(b"XFIH", b"\x00\x01\x02\xff\x90")


def rmid(smf: bytes, *, info_first: bool = True, data: bool = True) -> bytes:
    """The SMF in a RIFF RMID container, after an odd-sized (padded) LIST chunk if asked."""
    chunks = b"LIST" + struct.pack("<L", 5) + b"INFOx\0" if info_first else b""
    if data:
        chunks += b"data" + struct.pack("<L", len(smf)) + smf
    return b"RIFF" + struct.pack("<L", 4 + len(chunks)) + b"RMID" + chunks


# The files that crashed or fooled transpose: each a song() the reader accepts.
SONG_CASES: dict[str, dict] = {
    "valid-key-signature": {"signature": True},
    "key-signature-14-05": {"conductor_extra": meta(0x59, b"\x14\x05")},
    "key-signature-8-flats": {"conductor_extra": meta(0x59, b"\xf8\x00")},
    "short-tempo": {"conductor_extra": meta(0x51, b"\x07\xa1")},
    "empty-tempo": {"conductor_extra": meta(0x51, b"")},
    "short-key-signature": {"conductor_extra": meta(0x59, b"\x00")},
    "short-time-signature": {"conductor_extra": meta(0x58, b"\x04")},
    "smpte-frame-rate-7": {"conductor_extra": meta(0x54, b"\xe0\x00\x00\x00\x00")},
    "unknown-chunk-first": {"between": unknown_chunk()},
    "3-MB-text": {"conductor_extra": meta(0x01, b"la " * 1_000_000)},
    "header-promises-more-tracks": {"n_tracks": 5},
    "40000-tracks-promised": {"n_tracks": 40_000},
}


# --- seeds: small real songs -----------------------------------------------------------

def _save(midi: mido.MidiFile) -> bytes:
    out = io.BytesIO()
    midi.save(file=out)
    return out.getvalue()


def _timed(events: list[tuple[int, mido.Message]]) -> mido.MidiTrack:
    track, last = mido.MidiTrack(), 0
    for tick, message in sorted(events, key=lambda e: e[0]):
        track.append(message.copy(time=tick - last))
        last = tick
    return track


def _band(fmt: int) -> bytes:
    """Eight bars: piano chords, bass with bends and controllers, a lead, drums; two
    tempi, 4/4 then 3/4, E-flat major. Format 0 puts every channel on one track."""
    q = 480
    conductor = [(0, mido.MetaMessage("track_name", name="conductor")),
                 (0, mido.MetaMessage("set_tempo", tempo=500_000)),
                 (0, mido.MetaMessage("time_signature", numerator=4, denominator=4)),
                 (0, mido.MetaMessage("key_signature", key="Eb")),
                 (16 * q, mido.MetaMessage("set_tempo", tempo=600_000)),
                 (24 * q, mido.MetaMessage("time_signature", numerator=3, denominator=4)),
                 (8 * q, mido.MetaMessage("marker", text="chorus"))]
    parts: list[list] = [[(0, mido.Message("program_change", channel=c, program=p))]
                         for c, p in ((0, 0), (1, 33), (2, 73))]
    parts.append([(0, mido.Message("sysex", data=[0x7E, 0x7F, 0x09, 0x01]))])
    for bar in range(8):
        root, at = (51, 56, 58, 51)[bar % 4], bar * 4 * q
        for step in (0, 4, 7):
            parts[0] += [(at, mido.Message("note_on", note=root + 12 + step, velocity=70)),
                         (at + 4 * q - 10, mido.Message("note_off", note=root + 12 + step))]
        parts[1] += [(at, mido.Message("pitchwheel", channel=1, pitch=1000 * (bar % 3))),
                     (at, mido.Message("control_change", channel=1, control=7, value=100)),
                     (at, mido.Message("note_on", channel=1, note=root - 12, velocity=90)),
                     (at + 2 * q, mido.Message("note_on", channel=1, note=root - 12,
                                               velocity=0))]
        for beat in range(4):
            t = at + beat * q
            pitch = root + 24 + (0, 2, 4, 7)[(beat + bar) % 4]
            parts[2] += [(t, mido.Message("note_on", channel=2, note=pitch, velocity=80)),
                         (t + q // 2, mido.Message("note_off", channel=2, note=pitch))]
            drum = 36 if beat % 2 == 0 else 38
            parts[3] += [(t, mido.Message("note_on", channel=DRUMS, note=drum, velocity=100)),
                         (t + 60, mido.Message("note_off", channel=DRUMS, note=drum))]
    midi = mido.MidiFile(type=fmt, ticks_per_beat=q)
    if fmt == 0:
        midi.tracks.append(_timed(conductor + [e for part in parts for e in part]))
    else:
        midi.tracks += [_timed(conductor)] + [_timed(part) for part in parts]
    return _save(midi)


def _pretty() -> bytes:
    """Four bars written by pretty_midi: strings, a flute, drums, 6/8 in F-sharp minor."""
    pm = pretty_midi.PrettyMIDI(initial_tempo=90.0)
    pm.time_signature_changes.append(pretty_midi.TimeSignature(6, 8, 0.0))
    pm.key_signature_changes.append(pretty_midi.KeySignature(18, 0.0))
    strings, flute = pretty_midi.Instrument(48, name="strings"), pretty_midi.Instrument(73)
    kit = pretty_midi.Instrument(0, is_drum=True, name="drums")
    for i in range(24):
        t = i / 3
        flute.notes.append(pretty_midi.Note(85, (66, 69, 73, 71)[i % 4], t, t + 0.3))
        kit.notes.append(pretty_midi.Note(100, 42, t, t + 0.1))
    strings.notes += [pretty_midi.Note(60, p, 0.0, 8.0) for p in (54, 57, 61)]
    pm.instruments += [strings, flute, kit]
    out = io.BytesIO()
    pm.write(out)
    return out.getvalue()


@cache
def seeds() -> dict[str, bytes]:
    return {"band": _band(1), "band-type-0": _band(0), "pretty": _pretty(),
            "bytes-song": song(signature=True)[0]}


# --- the named cases -------------------------------------------------------------------

def _one_note(ticks: int, *, tempo: int = 500_000, division: int = 96, extra: bytes = b""
              ) -> bytes:
    body = (b"\x00" + meta(0x51, tempo.to_bytes(3, "big")) + extra + b"\x00\x90\x3c\x64"
            + vlq(ticks) + b"\x80\x3c\x40\x00\xff\x2f\x00")
    return header(1, 0, division) + chunk(b"MTrk", body)


def _chord(notes: int, ticks: int) -> bytes:
    """`notes` notes (up to 2,048: every key of every channel) struck at once, held `ticks`."""
    on = b"".join(b"\x00" + bytes([0x90 | c, p, 80]) for c in range(16)
                  for p in range(128))[:4 * notes]
    off = vlq(ticks) + b"".join(b"\x00" + bytes([0x80 | c, p, 0]) for c in range(16)
                                for p in range(128))[1:4 * notes]
    return header(1, 0, 96) + chunk(b"MTrk", on + off + b"\x00\xff\x2f\x00")


def _storm(event: Callable[[int], bytes], count: int, notes: int = 2000) -> bytes:
    """`count` meta events a tick apart, then `notes` short notes."""
    body = b"".join(b"\x01" + event(i) for i in range(count)) + b"".join(
        bytes([0, 0x90, 60 + i % 12, 80, 0x60, 0x80, 60 + i % 12, 0]) for i in range(notes))
    return header(1, 0, 96) + chunk(b"MTrk", body + b"\x00\xff\x2f\x00")


def _tracks_of_one_note(count: int) -> bytes:
    return header(count) + b"".join(
        Track().raw(0, bytes([0xC0 | i % 16, i % 128])).note(0, 0x90 | i % 16, 40 + i % 50, 80,
        i % 16).note(96, 0x80 | i % 16, 40 + i % 50, 0, i % 16).chunk() for i in range(count))


def _dense(notes: int) -> bytes:
    """`notes` notes a tick apart, running status throughout, on and off by velocity."""
    body = b"\x00\x90\x3c\x50\x01\x3c\x00" + b"".join(
        bytes([0, 40 + i % 40, 80, 1, 40 + i % 40, 0]) for i in range(notes - 1))
    return header(1, 0, 480) + chunk(b"MTrk", body + b"\x00\xff\x2f\x00")


# --- the largest files the 4 MB limit allows (tests/test_huge_midi.py; not in the corpus:
# each takes a command seconds, not milliseconds) ----------------------------------------

CADENCE = ((60, 64, 67), (57, 60, 64), (53, 57, 60), (55, 59, 62))  # C Am F G, a bar each


def chord_stream(notes: int = 600_000, voices: int = 6) -> bytes:
    """`notes` notes on one track, `voices` at a time a tick apart (96 per beat, 120 qpm),
    every one a tone of its bar's chord (CADENCE, in two octaves): 600,000 notes are 3.6 MB
    and 8.7 minutes, harmony a backing's chords can be read from. Running status throughout,
    notes ended by velocity 0: six bytes a note, the densest a file can be."""
    body = bytearray(b"\x00" + meta(0x51, b"\x07\xa1\x20") + b"\x00\x90")
    for tick in range(notes // voices):
        chord = CADENCE[tick // (4 * 96) % len(CADENCE)]
        keys = bytes(chord[k % 3] - 12 + 12 * (k // 3 % 2) for k in range(voices))
        body += b"\x00".join(bytes([key, 80]) for key in keys) + b"\x01"
        body += b"\x00".join(bytes([key, 0]) for key in keys) + b"\x00"
    return header(1, 0, 96) + chunk(b"MTrk", bytes(body[:-1]) + b"\x00\xff\x2f\x00")


def many_tracks(count: int = 3000, notes: int = 40) -> bytes:
    """`count` tracks of `notes` quarter notes, a quarter rest after each, every track with a
    program and a line of its own (a melody-track classifier weighs each against the rest)."""
    tracks = []
    for i in range(count):
        track = Track().raw(0, bytes([0xC0 | i % 16, i % 128]))
        for k in range(notes):
            key = 36 + (i * 7 + k * 5) % 60
            track.note(0 if k == 0 else 96, 0x90 | i % 16, key, 80, i % 16)
            track.note(96, 0x80 | i % 16, key, 0, i % 16)
        tracks.append(track.chunk())
    return header(count, 1, 96) + b"".join(tracks)


def named_cases() -> list[tuple[str, bytes]]:
    """Every file issue 14 names, and the refusals every reader must word the same way."""
    band = seeds()["band"]
    cases = [(f"song-{name}", song(**kwargs)[0]) for name, kwargs in SONG_CASES.items()]
    cases += [(f"header-only-{n}-tracks", header(n)) for n in (1, 32_768, 40_000, 65_535)]
    cases += [
        ("band-with-65535-tracks-promised", header(65_535) + band[14:]),
        ("time-signature-denominator-255",
         _one_note(96, extra=b"\x00" + meta(0x58, b"\x04\xff\x18\x08"))),
        ("time-signature-denominator-2-to-31",
         _one_note(96, extra=b"\x00" + meta(0x58, b"\x04\x1f\x18\x08"))),
        ("time-signature-numerator-0", _one_note(96, extra=b"\x00" + meta(0x58, b"\0\2\x18\x08"))),
        ("time-signature-255-over-1",
         _one_note(96 * 8, extra=b"\x00" + meta(0x58, b"\xff\x00\x18\x08"))),
        ("one-59-minute-note", _one_note(59 * 60 * 2 * 96)),
        ("one-29-minute-note", _one_note(29 * 60 * 2 * 96)),
        ("59-minutes-at-999-qpm", _one_note(59 * 999 * 96, tempo=60_060)),
        ("chord-2048-notes-4-s", _chord(2048, 8 * 96)),
        ("chord-2048-notes-59-min", _chord(2048, 59 * 60 * 2 * 96)),
        ("one-bit-flip-makes-an-unknown-chunk", band.replace(b"MTrk", b"MTrj", 1)),
        ("rmid", rmid(band)),
        ("rmid-data-first", rmid(band, info_first=False)),
        ("rmid-without-data", rmid(band, data=False)),
        ("rmid-data-size-past-end", rmid(band)[:-100]),
        ("too-large", header(1) + chunk(b"MTrk", b"\x00\xff\x01" + vlq(5 << 20)
                                         + b"x" * (5 << 20))),
        ("tempo-0", _one_note(96, tempo=0)),
        ("tempo-1-microsecond", _one_note(96, tempo=1)),
        ("tempo-max", _one_note(96, tempo=0xFFFFFF)),
        ("1001-tempo-changes", _one_note(96, extra=b"".join(
            b"\x01" + meta(0x51, (400_000 + i).to_bytes(3, "big")) for i in range(1001)))),
        ("tick-past-10-million", _one_note(10_000_001)),
        ("no-notes", header(1) + Track().raw(0, meta(0x51, b"\x07\xa1\x20")).chunk()),
        ("smpte-division", header(5, 1, -(25 << 8) + 40) + band[14:]),  # -25 fps, 40 per frame
        ("division-0", header(5, 1, 0) + band[14:]),
        ("format-2", header(5, 2) + band[14:]),
        ("format-65535", header(5, 0xFFFF) + band[14:]),
        ("empty", b""),
        ("text", b"These are not the notes you are looking for.\n" * 3),
        ("html", b"<!DOCTYPE html><html><body>404 Not Found</body></html>"),
        ("wav-header", b"RIFF" + struct.pack("<L", 36) + b"WAVEfmt " + struct.pack(
            "<LHHLLHH", 16, 1, 1, 44100, 88200, 2, 16) + b"data" + struct.pack("<L", 0)),
        ("mp3-frame-header", b"\xff\xfb\x90\x64" + bytes(400)),
        ("mthd-then-garbage", b"MThd" + random.Random(7).randbytes(3000)),
        ("truncated-header", b"MThd\x00\x00\x00\x06\x00"),
        ("999-tempo-changes", _storm(lambda i: meta(0x51, (300_000 + i % 7 * 50_000).to_bytes(
            3, "big")), 999)),
        ("5000-time-signatures", _storm(lambda i: meta(0x58, bytes([1 + i % 7, 2 + i % 2, 24,
                                                                    8])), 5000)),
        ("5000-key-signatures", _storm(lambda i: meta(0x59, bytes([(i % 15 - 7) & 0xFF,
                                                                   i % 2])), 5000)),
        ("2000-tracks", _tracks_of_one_note(2000)),
        ("dense-50k-notes", _dense(50_000)),
    ]
    return cases


# --- mutations -------------------------------------------------------------------------

def _tracks(data: bytes) -> list[int]:
    """Offsets of the MTrk chunk headers in a seed."""
    out, at = [], data.find(b"MTrk")
    while at >= 0:
        out.append(at)
        at = data.find(b"MTrk", at + 4)
    return out


def _insert(rng: random.Random, data: bytes, events: bytes) -> bytes:
    """`events` spliced into a track on an event boundary (its start, or just before its
    end-of-track meta), the chunk length fixed up."""
    at = rng.choice(_tracks(data))
    (length,) = struct.unpack(">L", data[at + 4:at + 8])
    body = data[at + 8:at + 8 + length]
    cut = len(body) - 4 if body.endswith(b"\xff\x2f\x00") and rng.random() < 0.6 else 0
    body = body[:cut] + events + body[cut:]
    return data[:at] + chunk(b"MTrk", body) + data[at + 8 + length:]


def _flips(rng, data):
    out = bytearray(data)
    for _ in range(rng.choice([1, 1, 2, 4, 16])):
        at = rng.randrange(len(out))
        out[at] = out[at] ^ (1 << rng.randrange(8)) if rng.random() < 0.7 else rng.randrange(256)
    return bytes(out)


def _truncate(rng, data):
    return data[:rng.randrange(1, len(data))]


def _chunk_length(rng, data):
    at = rng.choice([4] + [t + 4 for t in _tracks(data)])
    (length,) = struct.unpack(">L", data[at:at + 4])
    wrong = rng.choice([0, 1, 5, length - 1, length + 1, length + 1000, 0x7FFFFFFF, 0xFFFFFFFF,
                        rng.randrange(1 << 32)])
    return data[:at] + struct.pack(">L", max(wrong, 0) & 0xFFFFFFFF) + data[at + 4:]


def _tempo(rng, data):
    value = rng.choice([0, 1, 2, 59_999, 6_000_001, 0x7FFFFF, 0xFFFFFF, rng.randrange(1 << 24)])
    times = rng.choice([1, 1, 3, 1200])
    return _insert(rng, data, b"".join(vlq(rng.choice([0, 1, 480])) + meta(
        0x51, value.to_bytes(3, "big")) for _ in range(times)))


def _division(rng, data):
    division = rng.choice([0, 1, 0x7FFF, -(24 << 8) + 4, -(30 << 8) + 80, -1, -(29 << 8) + 10])
    return data[:12] + struct.pack(">h", division) + data[14:]


def _header_fields(rng, data):
    fmt, n = rng.choice([0, 1, 2, 3, 0x8000, 0xFFFF]), rng.choice([0, 1, 2, 3, 4, 5, 6, 32_767,
                                                                   32_768, 65_535])
    return data[:8] + struct.pack(">HH", fmt, n) + data[12:]


def _sysex(rng, data):
    body = rng.randbytes(rng.randrange(0, 40))
    length = rng.choice([len(body), len(body) + 1, len(body) + 3, 0x0FFFFFFF])
    kind = rng.choice([b"\xf0", b"\xf7"])
    tail = rng.choice([b"", b"\xf7", b"\x90\x3c\x40"])
    return _insert(rng, data, b"\x00" + kind + vlq(length) + body + tail)


def _running_status(rng, data):
    garbage = rng.choice([
        b"\x00\x3c\x40",  # data bytes where a status byte should be (after a meta)
        b"\x00\xf0\x01\xf7\x00\x3c\x40",  # after a sysex
        b"\x00" + bytes([rng.choice([0xF1, 0xF2, 0xF3, 0xF4, 0xF5, 0xF6, 0xF8, 0xF9, 0xFA,
                                     0xFD, 0xFE])]) + b"\x3c\x40\x00\x3c\x40",
        b"\x00\xc0\x05\x00\x3c\x40" * rng.randrange(1, 50),  # running status over 1-byte msgs
        b"\x00\x90\x3c\xff\x00\x80\x3c\x40",  # data byte over 127
        b"\x00" + rng.randbytes(rng.randrange(1, 30)),
    ])
    return _insert(rng, data, garbage)


def _metas(rng, data):
    kind = rng.choice([0x00, 0x01, 0x03, 0x20, 0x21, 0x2F, 0x51, 0x54, 0x58, 0x59, 0x7F,
                       rng.randrange(256)])
    body = rng.randbytes(rng.choice([0, 1, 2, 3, 4, 5, 7, 200]))
    return _insert(rng, data, vlq(rng.choice([0, 0, 1, 0x0FFFFFFF])) + meta(kind, body))


def _notes(rng, data):
    events = b""
    for _ in range(rng.randrange(1, 300)):
        status = rng.choice([0x80, 0x90, 0xA0, 0xB0, 0xC0, 0xD0, 0xE0]) | rng.randrange(16)
        values = [rng.randrange(128) for _ in range(1 if 0xC0 <= status < 0xE0 else 2)]
        events += vlq(rng.choice([0, 0, 1, 96, 5000])) + bytes([status, *values])
    return _insert(rng, data, events)


def _not_midi(rng, data):
    return rng.choice([b"", rng.randbytes(rng.randrange(1, 5000)), b"MThd", b"MThd" + data[4:10],
                       rng.randbytes(3) + data[3:], b"RIFF" + rng.randbytes(60)])


def _rmid(rng, data):
    return rmid(_flips(rng, data) if rng.random() < 0.5 else data,
                info_first=rng.random() < 0.5)


MUTATIONS: dict[str, Callable[[random.Random, bytes], bytes]] = {
    "byte-flip": _flips, "truncated": _truncate, "bad-chunk-length": _chunk_length,
    "absurd-tempo": _tempo, "division": _division, "header-fields": _header_fields,
    "sysex-garbage": _sysex, "running-status-abuse": _running_status, "meta-garbage": _metas,
    "random-notes": _notes, "not-midi": _not_midi, "rmid": _rmid,
}


def corpus(count: int, seed: int = 0) -> list[tuple[str, bytes]]:
    """`count` hostile files: the named cases first (all of them once count allows), then
    mutations of the seeds, each named by what was done to which seed. Deterministic."""
    named = named_cases()
    out = named[:count]
    rng = random.Random(seed)
    sources = sorted(seeds().items())
    kinds = sorted(MUTATIONS)
    for i in range(count - len(out)):
        kind = kinds[i % len(kinds)]
        source, data = rng.choice(sources)
        mutated = MUTATIONS[kind](rng, data)
        if mutated and rng.random() < 0.25:  # a second blow, one that needs no valid file
            mutated = rng.choice([_flips, _truncate])(rng, mutated)
        out.append((f"{kind}-{source}-{i}", mutated))
    return out
