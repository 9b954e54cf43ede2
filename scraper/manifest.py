"""What the crawler did with every file URL, in SQLite: the memory that makes reruns cheap.

One row per (URL, zip member): the content hash, size, time, status and reason. A rerun skips
URLs that already have a final row, and a file whose hash is already kept is recorded as a
duplicate of it instead of being written twice, however many URLs serve it.

Statuses: `saved` (written to `path`), `duplicate` (same bytes as `path`), `archive` (a zip
whose members have their own rows), `rejected` (the content is not usable: html, not-midi,
zip-bomb, ...) and `failed` (the transfer failed: timeout, http-500, ...; retried next run).
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    url TEXT NOT NULL,
    member TEXT NOT NULL DEFAULT '',
    sha256 TEXT,
    size INTEGER,
    time TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT '',
    path TEXT,
    limit_bytes INTEGER,
    PRIMARY KEY (url, member)
);
CREATE INDEX IF NOT EXISTS files_by_hash ON files (sha256, status);
"""

FINAL = ("saved", "duplicate", "archive", "rejected")


@dataclass(frozen=True)
class Row:
    url: str
    member: str
    sha256: str | None
    size: int | None
    time: str
    status: str
    reason: str
    detail: str
    path: str | None
    limit_bytes: int | None


class Manifest:
    """A thin wrapper over one SQLite file; every record is committed at once (kill-safe)."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def record(self, url: str, status: str, *, member: str = "", sha256: str | None = None,
               size: int | None = None, reason: str = "", detail: str = "",
               path: str | None = None, limit_bytes: int | None = None) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (url, member, sha256, size, time.strftime("%Y-%m-%dT%H:%M:%S%z"), status, reason,
             detail, path, limit_bytes))

    def is_done(self, url: str, max_bytes: int) -> bool:
        """True when a rerun need not download `url` again.

        A `too-large` rejection is retried when the size limit has been raised since.
        """
        row = self.db.execute("SELECT status, reason, limit_bytes FROM files "
                              "WHERE url = ? AND member = ''", (url,)).fetchone()
        if row is None or row[0] not in FINAL:
            return False
        status, reason, limit = row
        return not (status == "rejected" and reason == "too-large" and (limit or 0) < max_bytes)

    def kept(self, sha256: str) -> tuple[str, str, str] | None:
        """(url, member, path) of the saved file with this hash, if any."""
        return self.db.execute("SELECT url, member, path FROM files WHERE sha256 = ? AND "
                               "status = 'saved' LIMIT 1", (sha256,)).fetchone()

    def path_taken(self, path: str) -> bool:
        return self.db.execute("SELECT 1 FROM files WHERE path = ? AND status = 'saved' LIMIT 1",
                               (path,)).fetchone() is not None

    def saved_count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM files WHERE status = 'saved'").fetchone()[0]

    def forget_saved(self, sha256: str) -> None:
        """The kept file vanished from disk: let the next copy with this hash be saved."""
        self.db.execute("UPDATE files SET status = 'failed', reason = 'deleted', "
                        "detail = 'file removed from the output folder' "
                        "WHERE sha256 = ? AND status = 'saved'", (sha256,))

    def rows(self) -> list[Row]:
        return [Row(*r) for r in self.db.execute("SELECT * FROM files ORDER BY time, url, member")]
