"""Audio files out: WAV or FLAC chosen by suffix, written atomically."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

FORMATS = {".wav": "WAV", ".flac": "FLAC"}
DEPTHS = {"16": "PCM_16", "24": "PCM_24", "float": "FLOAT"}


def audio_format(path: str | os.PathLike) -> str:
    """soundfile's format name for the file's suffix; ValueError naming the file otherwise."""
    path = Path(path)
    try:
        return FORMATS[path.suffix.lower()]
    except KeyError:
        raise ValueError(f"{path}: unknown audio format {path.suffix or '(no suffix)'!r}; "
                         "use .wav or .flac") from None


def check_target(path: str | os.PathLike, depth: str = "16") -> str:
    """The soundfile format for writing `path` at `depth`; ValueError naming the file if the
    pair is unusable. Cheap, so callers can fail before a long render rather than after."""
    kind = audio_format(path)
    if depth not in DEPTHS:
        raise ValueError(f"{path}: unknown sample depth {depth!r}; use 16, 24 or float")
    if depth == "float" and kind != "WAV":
        raise ValueError(f"{path}: FLAC stores integers only; use depth 16 or 24, or a .wav")
    return kind


def write_audio(path: str | os.PathLike, audio: np.ndarray, sample_rate: int,
                depth: str = "16") -> Path:
    """Write (frames, channels) float audio; a reader never sees half a file.

    `depth` is "16", "24" or "float" (WAV only). Integer depths clip at full scale rather than
    wrap around.
    """
    import soundfile

    from training.fileio import temp_path_for

    path = Path(path)
    kind = check_target(path, depth)
    if depth != "float":
        audio = np.clip(audio, -1.0, 1.0)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path_for(path)
    try:
        soundfile.write(str(tmp), audio, sample_rate, subtype=DEPTHS[depth], format=kind)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
