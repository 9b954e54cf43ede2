"""`composer serve` and `composer worker`: the API in uvicorn, jobs in huey consumers."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

from composer.web.settings import StudioSettings


def serve(settings: StudioSettings, *, host: str = "127.0.0.1", port: int = 8000,
          worker: bool = True, on_ready=None) -> None:
    """The API and page; with `worker`, one worker process beside it, stopped with it."""
    import uvicorn

    from composer.web.app import create_app

    _check_port(host, port)
    app = create_app(settings)  # migrates the database before any worker opens it
    child = None
    if worker:  # the worker offers the same checkpoints
        paths = os.pathsep.join(str(p) for p in settings.checkpoints)
        child = subprocess.Popen([sys.executable, "-m", "composer", "worker",
                                  "--data", str(settings.data)],
                                 env={**os.environ, "COMPOSER_STUDIO_CHECKPOINTS": paths})
    if on_ready:
        on_ready(f"http://{host}:{port}/")
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        if child is not None:
            child.terminate()
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()


def _check_port(host: str, port: int) -> None:
    """A taken port is one line before anything starts, not uvicorn's log after the banner."""
    import errno
    import socket

    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            hint = "; is another server running there?" if exc.errno == errno.EADDRINUSE else ""
            raise ValueError(f"--host {host} --port {port}: "
                             f"{(exc.strerror or str(exc)).lower()}{hint}") from None


def work(settings: StudioSettings, *, workers: int = 1) -> None:
    """A worker: runs queued jobs until SIGTERM or Ctrl-C (huey's consumer).

    One BLAS thread per job: workers are the parallelism, and BLAS threads of their own fight
    the other workers for the cores (two workers on 2 cores: 12 fusions in 6.6 s with
    OpenBLAS's default threads, 5.3 s with one). Set before NumPy is first imported."""
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")
    from composer.web.queue import Studio

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s",
                        stream=sys.stdout, force=True)
    for noisy in ("huey", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from composer.web.queue import WORKER

    log = logging.getLogger("composer.studio")
    studio = Studio(settings)
    requeued = studio.requeue_stale()
    if requeued:
        log.info("requeued %d stale jobs", requeued)
    consumer = studio.consumer(workers)
    log.info("worker %s ready (%s queue)", WORKER, "Redis" if settings.redis_url else "SQLite")
    consumer.run()


GALLERY = (("gan", {"bars": 8, "qpm": 100.0, "seed": 1}),
           ("hybrid", {"bars": 8, "qpm": 96.0, "seed": 2}),
           ("pop", {"bars": 8, "qpm": 92.0, "seed": 4}))


def make_gallery(settings: StudioSettings, *, progress=None) -> list[dict]:
    """Examples for the page's gallery, run here and now (no worker needed): one job of each
    kind that needs no upload, stored as jobs of the client "gallery"."""
    from composer.web.db import Job
    from composer.web.queue import Studio
    from composer.web.schemas import REQUESTS

    studio = Studio(settings)
    made = []
    for kind, params in GALLERY:
        with studio.session() as s:
            job = Job(kind=kind, params=REQUESTS[kind](**params).model_dump(), client="gallery")
            s.add(job)
            s.commit()
            job_id = job.id
        if progress:
            progress(kind)
        studio.run_job(job_id)
        with studio.session() as s:
            made.append(s.get(Job, job_id).to_dict())
    return made
