"""The task queue (huey) and the worker's side of a job: its row moves queued -> running ->
done | failed | cancelled, with progress written as it goes.

The database row is the truth; the queue carries only job ids. A job cancelled while queued
is skipped when a worker takes it; one cancelled while running stops at its next progress
report. A worker that starts puts back on the queue the jobs a dead worker left running."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile
import traceback
from datetime import timedelta
from pathlib import Path

from sqlalchemy import update

from composer.web import files
from composer.web.catalogue import catalogue
from composer.web.db import Job, StoredFile, connect, now
from composer.web.settings import StudioSettings

log = logging.getLogger("composer.studio")
STALE = timedelta(minutes=10)  # a running job not heard from for this long lost its worker
WORKER = f"{socket.gethostname()}:{os.getpid()}"


class Cancelled(Exception):
    """Raised inside a job when its row says it was cancelled."""


class Studio:
    """The database, the file folder and the queue of one settings: what server and workers
    share. `enqueue` is the only way a job reaches a worker."""

    def __init__(self, settings: StudioSettings):
        self.settings = settings
        settings.files.mkdir(parents=True, exist_ok=True)
        self.engine, self.session = connect(settings.database_url)
        self.huey = _huey(settings)
        self._task = self.huey.task(name="composer.run_job")(self.run_job)
        self.catalogue = catalogue(settings)

    def enqueue(self, job_id: str) -> None:
        self._task(job_id)

    def run_job(self, job_id: str) -> None:
        """The worker's body: one job, start to finish. Never raises: a job's failure is its
        row's error."""
        from composer.web.jobs import JOBS

        with self.session() as s:
            claimed = move(s, job_id, ("queued",), status="running", started=now(),
                           stage="starting", worker=WORKER)
            s.commit()
            if not claimed:
                return  # cancelled while queued, or taken by another worker
            job = s.get(Job, job_id)
            kind, params = job.kind, dict(job.params)
            rows = {i: s.get(StoredFile, i) for i in input_ids(params)}
        folder = Path(tempfile.mkdtemp(prefix="job-", dir=self.settings.data))
        try:
            missing = [i for i, row in rows.items() if row is None]
            if missing:
                raise ValueError(f"file {missing[0]} is gone")
            inputs = {i: files.path_of(self.settings.files, row) for i, row in rows.items()}
            params["names"] = {i: row.name for i, row in rows.items()}
            chosen = params.get("checkpoint") or params.get("model")
            if chosen:
                if chosen not in self.catalogue:
                    raise ValueError(f"checkpoint {chosen} is not offered by this worker "
                                     "(start it with the server's --checkpoint folders)")
                params["checkpoint_folder"] = self.catalogue[chosen].folder
            made = JOBS[kind](params, inputs, folder, lambda f, st: self._progress(job_id, f, st))
            self._progress(job_id, 0.95, "saving")
            self._finish(job_id, made)
        except Cancelled:
            log.info("job %s cancelled while running", job_id)
        except Exception as exc:  # noqa: BLE001 - a job's error goes to its row, not the worker
            log.warning("job %s failed: %s", job_id, traceback.format_exc(limit=3))
            self._update(job_id, status="failed", finished=now(),
                         error=self._without_paths(_one_line(exc), rows, folder))
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _without_paths(self, text: str, rows: dict, folder: Path) -> str:
        """An error as the client may see it: the server's folders replaced by the names
        the client knows (its files' names, the checkpoints' names)."""
        names = {str(files.path_of(self.settings.files, row)): row.name
                 for row in rows.values() if row is not None}
        names.update({str(e.folder): e.name for e in self.catalogue.values()})
        names.update({str(folder): "the job's folder", str(self.settings.data): "the studio"})
        for path in sorted(names, key=len, reverse=True):  # longest first: nested folders
            text = text.replace(path, names[path])
        return text

    def _progress(self, job_id: str, fraction: float, stage: str) -> None:
        with self.session() as s:
            job = s.get(Job, job_id)
            if job is None or job.status == "cancelled":
                raise Cancelled(job_id)
            job.progress, job.stage = max(job.progress, fraction), stage
            s.commit()

    def _finish(self, job_id: str, made) -> None:
        """The files into the store and the row to done, unless a cancel came first (one
        conditional UPDATE decides, so a cancel is never overwritten)."""
        rows = [files.adopt(self.settings.files, made.midi, name=made.name, kind="midi",
                            origin="result", job_id=job_id)]
        if made.audio is not None:
            rows.append(files.adopt(self.settings.files, made.audio, name=made.name,
                                    kind="audio", origin="result", job_id=job_id))
        result = {"file_id": rows[0].id, "wav_file_id": rows[1].id if len(rows) > 1 else None,
                  "summary": made.summary}
        with self.session() as s:
            if move(s, job_id, ("running",), status="done", progress=1.0, stage="done",
                    result=result, finished=now()):
                s.add_all(rows)
                s.commit()
                return
            s.rollback()
        for row in rows:
            files.path_of(self.settings.files, row).unlink(missing_ok=True)
        raise Cancelled(job_id)

    def _update(self, job_id: str, **values) -> None:
        with self.session() as s:
            move(s, job_id, ("queued", "running"), **values)
            s.commit()

    def requeue_stale(self) -> int:
        """Jobs left 'running' by a worker that died: queued again. Returns how many."""
        with self.session() as s:
            stale = s.query(Job).filter(Job.status == "running",
                                        Job.updated < now() - STALE).all()
            for job in stale:
                job.status, job.progress, job.stage = "queued", 0.0, "requeued"
            s.commit()
            ids = [job.id for job in stale]
        for job_id in ids:
            self.enqueue(job_id)
        return len(ids)

    def consumer(self, workers: int = 1):
        """A huey consumer running this studio's jobs (threads: a job is mostly NumPy and
        FluidSynth, which release the GIL, and one process keeps the models loaded once)."""
        return self.huey.create_consumer(workers=workers, worker_type="thread",
                                         periodic=False, initial_delay=0.05, max_delay=0.5)


def move(session, job_id: str, allowed: tuple[str, ...], **values) -> bool:
    """Set `values` on the job if its status is one of `allowed` (the caller commits); False
    if it was not (another worker took it, or it was cancelled meanwhile). One conditional
    UPDATE, a compare-and-set: of two processes moving the same job, one wins."""
    done = session.execute(update(Job).where(Job.id == job_id, Job.status.in_(allowed))
                           .values(updated=now(), **values))
    return done.rowcount == 1


def _huey(settings: StudioSettings):
    from huey import RedisHuey, SqliteHuey

    if settings.redis_url:
        return RedisHuey("composer-studio", url=settings.redis_url)
    return SqliteHuey("composer-studio", filename=str(settings.data / "queue.db"))


def input_ids(params: dict) -> list[str]:
    """The uploaded files a job's parameters name."""
    ids = list(params.get("file_ids") or [])
    if params.get("file_id"):
        ids.append(params["file_id"])
    return ids


def _one_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:500]
