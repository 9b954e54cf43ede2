"""Where the studio keeps its state, and its limits: one frozen value shared by server and
workers (they must agree on the database, the queue and the file folder)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DATA = Path.home() / ".local" / "share" / "composer" / "studio"


@dataclass(frozen=True)
class StudioSettings:
    data: Path  # files/, the SQLite database and the SQLite queue live here
    database_url: str  # SQLAlchemy URL of the job rows (PostgreSQL by DATABASE_URL)
    redis_url: str | None = None  # the queue on Redis (several machines), else SQLite
    max_upload_bytes: int = 8 * 1024 * 1024  # audio backings are larger than MIDI
    jobs_per_minute: int = 30  # per client address, on job creation
    max_steps: int = 16  # a fusion's steps
    max_bars: int = 64  # a generated piece's bars
    checkpoints: tuple[Path, ...] = ()  # offered beside the shipped ones (catalogue.py)

    @classmethod
    def from_env(cls, data: str | os.PathLike | None = None,
                 checkpoints: tuple[str | os.PathLike, ...] = ()) -> StudioSettings:
        """--data, else COMPOSER_STUDIO_DATA, else ~/.local/share/composer/studio;
        --checkpoint folders, else COMPOSER_STUDIO_CHECKPOINTS (separated by os.pathsep);
        DATABASE_URL, REDIS_URL and the limits (COMPOSER_STUDIO_JOBS_PER_MINUTE,
        COMPOSER_STUDIO_MAX_UPLOAD_MB) from the environment, as deployments set them."""
        folder = Path(data or os.environ.get("COMPOSER_STUDIO_DATA") or DEFAULT_DATA)
        folder = folder.expanduser().resolve()
        url = _driver(os.environ.get("DATABASE_URL") or f"sqlite:///{folder / 'studio.db'}")
        rate = int(os.environ.get("COMPOSER_STUDIO_JOBS_PER_MINUTE", "30"))
        upload = float(os.environ.get("COMPOSER_STUDIO_MAX_UPLOAD_MB", "8"))
        extra = checkpoints or tuple(
            p for p in os.environ.get("COMPOSER_STUDIO_CHECKPOINTS", "").split(os.pathsep) if p)
        return cls(data=folder, database_url=url, redis_url=os.environ.get("REDIS_URL"),
                   jobs_per_minute=rate, max_upload_bytes=int(upload * 1024 * 1024),
                   checkpoints=tuple(Path(p).expanduser().resolve() for p in extra))

    @property
    def files(self) -> Path:
        return self.data / "files"


def _driver(url: str) -> str:
    """postgres:// and postgresql:// (as hosts write DATABASE_URL) through psycopg 3, the
    driver this project installs; SQLAlchemy's default for them is psycopg2."""
    for scheme in ("postgres://", "postgresql://"):
        if url.startswith(scheme):
            return "postgresql+psycopg://" + url[len(scheme):]
    return url
