"""The loop detector's one user-facing error."""

from __future__ import annotations


class LoopError(ValueError):
    """Audio that holds no loop to find (empty, silent, unreadable, too short); str() names
    the file when there is one."""
