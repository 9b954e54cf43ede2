"""Files by id: uploads checked by the project's own readers, results written by jobs.

A client names a file by its id alone (32 hex digits); the path is the store's folder, the
id and the suffix the store chose, so nothing a client sends reaches the file system."""

from __future__ import annotations

import os
import re
from pathlib import Path

from composer.web.db import StoredFile, new_id

ID = re.compile(r"[0-9a-f]{32}")
AUDIO_SUFFIXES = {"WAV": ".wav", "FLAC": ".flac", "MP3": ".mp3", "OGG": ".ogg", "AIFF": ".aiff"}
MEDIA_TYPES = {".mid": "audio/midi", ".wav": "audio/wav", ".flac": "audio/flac",
               ".mp3": "audio/mpeg", ".ogg": "audio/ogg", ".aiff": "audio/aiff",
               ".png": "image/png"}


class UploadError(ValueError):
    """An upload refused; str() is the one line the client is shown."""


def is_id(value: str) -> bool:
    return bool(ID.fullmatch(value or ""))


def path_of(folder: Path, row: StoredFile) -> Path:
    return folder / f"{row.id}{row.suffix}"


def check_upload(data: bytes, name: str, max_bytes: int) -> tuple[str, str, dict]:
    """(kind, suffix, info) of an upload: MIDI parsed by training.validate (the reader every
    command uses, with its limits), audio by its header through soundfile. Raises
    UploadError naming the file and the problem."""
    if not data:
        raise UploadError(f"{name}: empty file")
    if len(data) > max_bytes:
        raise UploadError(f"{name}: {len(data) / 1e6:.1f} MB; the limit is "
                          f"{max_bytes / 1e6:.0f} MB")
    if data[:4] == b"MThd" or data[8:12] == b"RMID":
        return "midi", ".mid", _midi_info(data, name)
    kind = _audio_format(data)
    if kind is None:
        raise UploadError(f"{name}: not a MIDI or audio file (WAV, FLAC, MP3, OGG, AIFF)")
    return "audio", AUDIO_SUFFIXES[kind], _audio_info(data, name)


def _midi_info(data: bytes, name: str) -> dict:
    from training.validate import COMMAND_LIMITS, BadMidi, main_tempo, parse_midi

    try:
        score = parse_midi(data, COMMAND_LIMITS)
    except BadMidi as exc:
        raise UploadError(f"{name}: {exc.detail}") from None
    if score.is_drum.all():
        raise UploadError(f"{name}: only drums, no pitched notes")
    return {"notes": int(len(score.notes)), "seconds": round(float(score.end_time), 2),
            "qpm": round(float(main_tempo(score)), 2)}


def _audio_format(data: bytes) -> str | None:
    import io

    import soundfile

    from models.stderr import quiet_stderr

    try:
        with quiet_stderr():
            return soundfile.info(io.BytesIO(data)).format
    except (soundfile.LibsndfileError, RuntimeError, TypeError):
        return None


def _audio_info(data: bytes, name: str) -> dict:
    import io

    import soundfile

    from composer.backing import MAX_SECONDS

    info = soundfile.info(io.BytesIO(data))
    seconds = info.frames / info.samplerate
    if seconds > MAX_SECONDS:
        raise UploadError(f"{name}: {seconds / 60:.1f} minutes of audio; the limit is "
                          f"{MAX_SECONDS / 60:.0f}")
    if info.frames == 0:
        raise UploadError(f"{name}: no audio in it")
    return {"seconds": round(seconds, 2), "sample_rate": info.samplerate,
            "channels": info.channels}


def save(folder: Path, data: bytes, *, name: str, kind: str, suffix: str, origin: str,
         job_id: str | None = None, info: dict | None = None) -> StoredFile:
    """Write the bytes atomically under a new id; the row is the caller's to add."""
    from training.fileio import atomic_write_bytes

    row = StoredFile(id=new_id(), name=_display_name(name, suffix), kind=kind, suffix=suffix,
                     size=len(data), origin=origin, job_id=job_id, info=info or {})
    atomic_write_bytes(path_of(folder, row), data)
    return row


def adopt(folder: Path, path: Path, *, name: str, kind: str, origin: str,
          job_id: str | None = None, info: dict | None = None) -> StoredFile:
    """Move a file a job wrote into the store under a new id."""
    row = StoredFile(id=new_id(), name=_display_name(name, path.suffix.lower()), kind=kind,
                     suffix=path.suffix.lower(), size=path.stat().st_size, origin=origin,
                     job_id=job_id, info=info or {})
    folder.mkdir(parents=True, exist_ok=True)
    os.replace(path, path_of(folder, row))
    return row


def _display_name(name: str, suffix: str) -> str:
    """A name safe to show and to offer in Content-Disposition: no folders, no quotes."""
    stem = re.sub(r"[^\w.\- ]+", "_", Path(name or "file").stem)[:80].strip() or "file"
    return stem + suffix


def notes_of(path: Path) -> dict:
    """{"seconds", "notes": [[start, end, pitch, velocity, track, is_drum], ...]}."""
    from training.score import read_score

    score = read_score(path.read_bytes())
    notes, drums = score.notes[:20000], score.is_drum[:20000]
    rows = [[round(float(n["start"]), 3), round(float(n["end"]), 3), int(n["pitch"]),
             int(n["velocity"]), int(n["instrument"]), bool(drum)]
            for n, drum in zip(notes, drums)]
    return {"seconds": round(float(score.end_time), 3), "notes": rows}
