"""Loops on disk: audio in with clear errors, loops out with their loop points and tempo.

A WAV gets a `smpl` chunk (one forward loop over the whole file: samplers loop it) and an
`acid` chunk (tempo, beats and meter: DAWs place it on their grid), plus LIST/INFO text. A
FLAC gets the Vorbis comments LOOPSTART / LOOPLENGTH / BPM that game engines and samplers
read. Chunks are written with struct around the audio soundfile encodes; files appear
atomically (temporary name, then os.replace).
"""

from __future__ import annotations

import io
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from composer.audio import Clip, Loop
from composer.loop.errors import LoopError

SUBTYPE = "PCM_16"
ACID_LOOP_STRETCH = 0x04  # flag bits: 0x01 would be one-shot; 0x04 lets the host stretch
MIDI_UNITY_NOTE = 60


@dataclass(frozen=True)
class LoopPoints:
    """Where a file says it loops; `end` is exclusive. Tempo fields are None when absent."""

    start: int
    end: int
    frames: int
    sample_rate: int
    bpm: float | None = None
    beats: int | None = None
    beats_per_bar: int | None = None


# --- reading audio ----------------------------------------------------------------------

def read_audio(path: str | os.PathLike, seconds: float | None = None) -> Clip:
    """Any file libsndfile reads (WAV, FLAC, OGG, AIFF, MP3 ...) as a float32 Clip; with
    `seconds`, only that much from the start (an hour-long file is not read whole to find
    a loop of a few bars)."""
    import soundfile

    from models.stderr import quiet_stderr

    path = Path(path)
    if not path.exists():
        raise LoopError(f"{path}: no such file")
    if path.is_dir():
        raise LoopError(f"{path}: is a folder, not an audio file")
    try:
        with quiet_stderr(), soundfile.SoundFile(str(path)) as handle:  # libmpg123 talks
            sample_rate = handle.samplerate
            frames = -1 if seconds is None else round(seconds * sample_rate)
            audio = handle.read(frames, dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as exc:
        reason = str(exc).split(":")[-1].strip() or "unknown format"
        raise LoopError(f"{path}: not an audio file this can read ({reason})") from None
    if len(audio) == 0:
        raise LoopError(f"{path}: no audio (0 frames)")
    return Clip(audio=np.ascontiguousarray(audio), sample_rate=int(sample_rate))


# --- writing loops ------------------------------------------------------------------------

def write_loop(path: str | os.PathLike, loop: Loop, beats_per_bar: int | None = None) -> Path:
    """The loop period, from its downbeat (so a DAW lines it up with its bars), as .wav
    (smpl + acid + INFO) or .flac (Vorbis comments)."""
    import soundfile

    from training.fileio import atomic_write_bytes

    path = Path(path)
    kind = {".wav": "WAV", ".flac": "FLAC"}.get(path.suffix.lower())
    if kind is None:
        raise LoopError(f"{path}: loops are written as .wav or .flac, not "
                        f"{path.suffix or '(no suffix)'!r}")
    buffer = io.BytesIO()
    audio = np.clip(np.asarray(loop.from_downbeat(), dtype=np.float32), -1.0, 1.0)
    soundfile.write(buffer, audio, loop.sample_rate, subtype=SUBTYPE, format=kind)
    beats_per_bar = beats_per_bar or loop.beats_per_bar
    beats = loop.bars * beats_per_bar
    bpm = loop.qpm if loop.qpm else 60.0 * beats / loop.seconds
    if kind == "WAV":
        data = _wav_with_chunks(buffer.getvalue(), [
            _smpl_chunk(loop.frames, loop.sample_rate),
            _acid_chunk(beats, beats_per_bar, bpm),
            _info_chunk({"ISFT": "composer",
                         "ICMT": f"loop: {loop.bars} bars, {beats} beats at {bpm:.3f} bpm"})])
    else:
        data = _flac_with_comments(buffer.getvalue(), {
            "LOOPSTART": "0", "LOOPLENGTH": str(loop.frames), "BPM": f"{bpm:.3f}",
            "BEATS": str(beats), "TIMESIGNATURE": f"{beats_per_bar}/4"})
    atomic_write_bytes(path, data)
    return path


def _chunk(tag: bytes, payload: bytes) -> bytes:
    return tag + struct.pack("<I", len(payload)) + payload + (b"\0" if len(payload) % 2 else b"")


def _smpl_chunk(frames: int, sample_rate: int) -> bytes:
    header = struct.pack("<9I", 0, 0, round(1e9 / sample_rate), MIDI_UNITY_NOTE, 0, 0, 0,
                         1, 0)
    # One forward loop, played forever; the end is the loop's last frame (inclusive).
    loop = struct.pack("<6I", 0, 0, 0, frames - 1, 0, 0)
    return _chunk(b"smpl", header + loop)


def _acid_chunk(beats: int, beats_per_bar: int, bpm: float) -> bytes:
    return _chunk(b"acid", struct.pack("<IHHfIHHf", ACID_LOOP_STRETCH, MIDI_UNITY_NOTE, 0x8000,
                                       0.0, beats, 4, beats_per_bar, bpm))


def _info_chunk(fields: dict[str, str]) -> bytes:
    body = b"".join(_chunk(key.encode("ascii"), value.encode("ascii") + b"\0")
                    for key, value in fields.items())
    return _chunk(b"LIST", b"INFO" + body)


def _wav_with_chunks(wav: bytes, chunks: list[bytes]) -> bytes:
    """soundfile's WAV with `chunks` appended after its own, RIFF size fixed."""
    body = wav[12:] + (b"\0" if len(wav) % 2 else b"") + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WAVE" + body


def _flac_with_comments(flac: bytes, comments: dict[str, str]) -> bytes:
    """soundfile's FLAC with one VORBIS_COMMENT block holding `comments` (and any it had)."""
    blocks, audio = _flac_blocks(flac)
    vendor, existing = b"composer", []
    for kind, payload in blocks:
        if kind == 4:
            vendor, existing = _parse_vorbis(payload)
    ours = {k.upper() for k in comments}
    entries = [e for e in existing if e.split(b"=", 1)[0].decode("ascii", "replace").upper()
               not in ours] + [f"{k}={v}".encode() for k, v in comments.items()]
    payload = (struct.pack("<I", len(vendor)) + vendor + struct.pack("<I", len(entries))
               + b"".join(struct.pack("<I", len(e)) + e for e in entries))
    kept = [(k, p) for k, p in blocks if k != 4]
    kept.insert(1, (4, payload))  # STREAMINFO must stay first
    out = [b"fLaC"]
    for i, (kind, body) in enumerate(kept):
        last = 0x80 if i == len(kept) - 1 else 0
        out.append(bytes([last | kind]) + len(body).to_bytes(3, "big") + body)
    return b"".join(out) + audio


def _flac_blocks(flac: bytes) -> tuple[list[tuple[int, bytes]], bytes]:
    if flac[:4] != b"fLaC":
        raise LoopError("not a FLAC stream")
    pos, blocks = 4, []
    while True:
        head = flac[pos]
        size = int.from_bytes(flac[pos + 1:pos + 4], "big")
        blocks.append((head & 0x7F, flac[pos + 4:pos + 4 + size]))
        pos += 4 + size
        if head & 0x80:
            return blocks, flac[pos:]


def _parse_vorbis(payload: bytes) -> tuple[bytes, list[bytes]]:
    (size,) = struct.unpack_from("<I", payload, 0)
    vendor = payload[4:4 + size]
    pos = 4 + size
    (count,) = struct.unpack_from("<I", payload, pos)
    pos += 4
    entries = []
    for _ in range(count):
        (size,) = struct.unpack_from("<I", payload, pos)
        entries.append(payload[pos + 4:pos + 4 + size])
        pos += 4 + size
    return vendor, entries


# --- reading loop points --------------------------------------------------------------

def read_loop_points(path: str | os.PathLike) -> LoopPoints:
    """The loop a .wav (smpl, acid) or .flac (LOOPSTART/LOOPLENGTH, BPM) declares."""
    import soundfile

    path = Path(path)
    try:
        data = path.read_bytes()
        info = soundfile.info(str(path))
    except FileNotFoundError:
        raise LoopError(f"{path}: no such file") from None
    except (soundfile.LibsndfileError, RuntimeError) as exc:
        raise LoopError(f"{path}: not an audio file this can read ({exc})") from None
    frames, sample_rate = int(info.frames), int(info.samplerate)
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        points = _wav_points(data, frames, sample_rate)
    elif data[:4] == b"fLaC":
        points = _flac_points(data, frames, sample_rate)
    else:
        points = None
    if points is None:
        raise LoopError(f"{path}: no loop points (a WAV smpl chunk or FLAC LOOPSTART tag)")
    return points


def _riff_chunks(data: bytes) -> dict[bytes, bytes]:
    chunks, pos = {}, 12
    while pos + 8 <= len(data):
        tag, size = data[pos:pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        chunks.setdefault(tag, data[pos + 8:pos + 8 + size])
        pos += 8 + size + (size & 1)
    return chunks


def _wav_points(data: bytes, frames: int, sample_rate: int) -> LoopPoints | None:
    chunks = _riff_chunks(data)
    smpl = chunks.get(b"smpl")
    if smpl is None or len(smpl) < 36 + 24 or struct.unpack_from("<I", smpl, 28)[0] < 1:
        return None
    _, _, start, last, _, _ = struct.unpack_from("<6I", smpl, 36)
    bpm = beats = meter = None
    acid = chunks.get(b"acid")
    if acid is not None and len(acid) >= 24:
        _, _, _, _, beats, _, meter, bpm = struct.unpack_from("<IHHfIHHf", acid, 0)
    return LoopPoints(start=start, end=last + 1, frames=frames, sample_rate=sample_rate,
                      bpm=None if bpm is None else float(bpm), beats=beats, beats_per_bar=meter)


def _flac_points(data: bytes, frames: int, sample_rate: int) -> LoopPoints | None:
    blocks, _ = _flac_blocks(data)
    tags: dict[str, str] = {}
    for kind, payload in blocks:
        if kind == 4:
            for entry in _parse_vorbis(payload)[1]:
                key, _, value = entry.decode("utf-8", "replace").partition("=")
                tags[key.upper()] = value
    if "LOOPSTART" not in tags:
        return None
    try:
        start = int(tags["LOOPSTART"])
        length = int(tags.get("LOOPLENGTH", frames - start))
        bpm = float(tags["BPM"]) if "BPM" in tags else None
        beats = int(tags["BEATS"]) if "BEATS" in tags else None
        meter = int(tags["TIMESIGNATURE"].split("/")[0]) if "TIMESIGNATURE" in tags else None
    except ValueError:
        return None
    return LoopPoints(start=start, end=start + length, frames=frames, sample_rate=sample_rate,
                      bpm=bpm, beats=beats, beats_per_bar=meter)
