"""A shipped checkpoint: model.json (what the network is and how it was made) + weights.npz.

Plain JSON and NumPy, so generation can load a model without importing TensorFlow.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np

PACKAGE_DIR = Path(__file__).resolve().parent


class CheckpointError(Exception):
    """A checkpoint folder that cannot be used; str() names it and says why."""


def default_dir(name: str) -> Path:
    """Where the shipped checkpoint of model `name` lives (models/<name>)."""
    return PACKAGE_DIR / name


def save_checkpoint(folder: str | os.PathLike, info: dict, weights: dict[str, np.ndarray],
                    dtype: str = "float32") -> None:
    """Write weights.npz then model.json, each atomically (model.json last: its presence means done).

    `dtype` "float16" halves the file (to ship more models in less space); the runtimes compute
    in float32 whatever the file holds, and model.json records what was stored."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if dtype != "float32":
        weights = {k: v.astype(dtype) if v.dtype.kind == "f" else v for k, v in weights.items()}
    info = {**info, "weights_dtype": dtype}
    buffer = io.BytesIO()
    np.savez(buffer, **weights)
    _atomic(folder / "weights.npz", buffer.getvalue())
    _atomic(folder / "model.json", (json.dumps(info, indent=1) + "\n").encode())


VAES = ("vae-2bar", "vae-16bar")


def load_checkpoint(folder: str | os.PathLike, kinds: tuple[str, ...] | None = None
                    ) -> tuple[dict, dict[str, np.ndarray]]:
    """model.json and the weights; with `kinds`, refuse a checkpoint of any other model."""
    info = load_info(folder, kinds)
    try:
        with np.load(Path(folder) / "weights.npz") as data:
            arrays = {k: data[k] for k in data.files}
    except (ValueError, OSError) as exc:
        raise CheckpointError(f"{folder}: unreadable checkpoint ({exc})") from None
    return info, arrays


def load_info(folder: str | os.PathLike, kinds: tuple[str, ...] | None = None) -> dict:
    """model.json alone, checked as load_checkpoint checks it (for a runtime that does not
    need the weights, such as a LiteRT flatbuffer beside them)."""
    folder = Path(folder)
    meta, weights = folder / "model.json", folder / "weights.npz"
    if not meta.exists() or not weights.exists():
        raise CheckpointError(f"{folder}: no trained model here (model.json and weights.npz); "
                              "train one with `composer train`")
    try:
        info = json.loads(meta.read_text())
    except (ValueError, OSError) as exc:
        raise CheckpointError(f"{folder}: unreadable checkpoint ({exc})") from None
    if kinds and info.get("model") not in kinds:
        raise CheckpointError(f"{folder}: holds a {info.get('model')!r} model, not "
                              + " or ".join(kinds))
    return info


def _atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def store_as(folder: str | os.PathLike, dtype: str) -> None:
    """Rewrite a finished checkpoint's weights in `dtype` (what --weights-dtype does at export)."""
    info, weights = load_checkpoint(folder)
    save_checkpoint(folder, info, weights, dtype)
