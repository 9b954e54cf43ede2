"""Atomic writes confined to one folder: a killed crawl never leaves half a MIDI file behind.

Temporary files end in `.tmp`, so `composer corpus build dir:` (which reads `.mid` files) never
ingests one. scraper/ may not import training/, hence this small copy of the same idea.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


class OutsideFolder(ValueError):
    """A computed path would land outside the output folder."""


def inside(root: Path, path: Path) -> Path:
    """`path`, after checking it resolves inside `root` (defence in depth behind safe names)."""
    resolved = path.resolve()
    if not resolved.is_relative_to(root.resolve()):
        raise OutsideFolder(f"{path}: refusing to write outside {root}")
    return resolved


def atomic_write_bytes(root: Path, path: Path, data: bytes) -> Path:
    """Write `data` to `path` under `root` through a temporary sibling and os.replace."""
    path = inside(root, path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)  # mkstemp makes 0600; a user's file follows the umask
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path
