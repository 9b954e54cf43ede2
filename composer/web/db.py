"""Job and file rows (SQLAlchemy), and the schema brought up to date by Alembic at start."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path

from sqlalchemy import JSON, DateTime, Float, Integer, String, Text, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def new_id() -> str:
    return uuid.uuid4().hex


class Base(DeclarativeBase):
    pass


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(16))  # vae, gan, hybrid, melody, pop
    # queued -> running -> done | failed; queued or running -> cancelled (queue.move)
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    stage: Mapped[str] = mapped_column(String(64), default="")
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    result: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    client: Mapped[str] = mapped_column(String(64), default="")
    worker: Mapped[str | None] = mapped_column(String(128), nullable=True)  # host:pid
    created: Mapped[dt.datetime] = mapped_column(DateTime, default=now, index=True)
    started: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    finished: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    updated: Mapped[dt.datetime] = mapped_column(DateTime, default=now, onupdate=now)

    def to_dict(self) -> dict:
        return {"id": self.id, "kind": self.kind, "status": self.status,
                "progress": round(self.progress, 3), "stage": self.stage,
                "params": self.params, "result": self.result, "error": self.error,
                "worker": self.worker,
                "created": _iso(self.created), "started": _iso(self.started),
                "finished": _iso(self.finished)}


class StoredFile(Base):
    __tablename__ = "files"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(255))  # shown and offered on download only
    kind: Mapped[str] = mapped_column(String(8))  # midi or audio
    suffix: Mapped[str] = mapped_column(String(8))  # .mid, .wav, .flac, .mp3, .ogg
    size: Mapped[int] = mapped_column(Integer)
    origin: Mapped[str] = mapped_column(String(16))  # upload, result, gallery
    job_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    info: Mapped[dict] = mapped_column(JSON, default=dict)
    created: Mapped[dt.datetime] = mapped_column(DateTime, default=now)

    def to_dict(self) -> dict:
        return {"file_id": self.id, "name": self.name, "kind": self.kind, "size": self.size,
                "origin": self.origin, "job_id": self.job_id, "info": self.info,
                "created": _iso(self.created)}


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() + "Z" if value else None


def connect(url: str):
    """An engine and its session factory, the schema migrated to head first."""
    migrate(url)
    engine = create_engine(url, json_serializer=json.dumps,
                           **({"connect_args": {"timeout": 30}} if url.startswith("sqlite")
                              else {"pool_pre_ping": True}))
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine, sessionmaker(engine, expire_on_commit=False)


def _sqlite_pragmas(connection, _record) -> None:
    # WAL: the server reads job rows while a worker writes them, without "database is locked"
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def migrate(url: str) -> None:
    """Alembic's upgrade to head: a new database gets the schema, an old one its changes."""
    from alembic import command
    from alembic.config import Config

    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(config, "head")
