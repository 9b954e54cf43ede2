"""Atomic file writes: a reader (or a resumed build) never sees half a file.

Every temporary name of ours is `.<name>.<pid>[.<tag>].tmp`, beside the file it becomes. A writer
killed outright (SIGKILL, power cut) cannot remove its own, so the first write of each process
into a folder removes those whose process is gone (`sweep_stale`).
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

# `.<name>.<pid>.tmp` and `.<name>.<pid>.<tag>.tmp`: a tag is mkstemp's random letters or a
# writer's own word ("f32"). The greedy name leaves exactly one reading of each form.
_FORMS = (re.compile(r"\.(.+)\.([0-9]+)\.tmp", re.DOTALL),
          re.compile(r"\.(.+)\.([0-9]+)\.[A-Za-z0-9_]+\.tmp", re.DOTALL))
_swept: set[str] = set()  # folders this process has swept already


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write to a temporary file in the same folder, then rename it over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.",
                               suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a user's file follows the umask
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def temp_path_for(path: str | os.PathLike) -> Path:
    """A hidden sibling name for writers (like TFRecord) that must own the file while writing.

    A writer that needs a second one adds a tag: `.{name}.{pid}.f32.tmp` is swept just the same.
    """
    path = Path(path)
    sweep_stale(path.parent)
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def sweep_stale(folder: str | os.PathLike) -> list[Path]:
    """Remove our temporary files in `folder` whose writer is dead; once per folder per process.

    Only names of our exact form go, and only when no process could still own them: a pid that
    is alive, or that this user may not signal, keeps its file. Returns what was removed.
    """
    key = os.path.abspath(folder)
    if key in _swept:
        return []
    _swept.add(key)
    removed = []
    try:
        entries = list(os.scandir(key))
    except OSError:  # not there yet (nothing stale) or unreadable (nothing we may touch)
        return []
    for entry in entries:
        pids = _temp_pids(entry.name)
        if not pids or any(pid_alive(pid) for pid in pids):
            continue
        try:
            if entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            pass  # another sweeper won, or the folder is not ours to change
    return removed


def _temp_pids(name: str) -> set[int]:
    """The pids a name of ours could carry; empty when it is not ours.

    `.a.12.34.tmp` reads as `a.12` by pid 34, or as `a` by pid 12 with tag `34`: both pids are
    returned, and the file is kept while either lives.
    """
    return {int(match[2]) for form in _FORMS if (match := form.fullmatch(name))
            and int(match[2]) > 0}


def pid_alive(pid: int) -> bool:
    """Whether process `pid` may still be running; unsure (another user's) counts as yes."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # someone else's process (or not a pid we can ask about): keep its file
    return True


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
