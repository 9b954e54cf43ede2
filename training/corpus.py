"""Build a corpus folder from sources: parallel, resumable, de-duplicated, split by hash.

Layout of a corpus folder:

    build.json                  options the corpus was built with (a rerun must match them)
    manifest.csv                one row per piece (see MANIFEST_COLUMNS)
    rejected.csv                one row per skipped file, with its reason
    report.json                 counts: pieces per split and source, rejections per reason
    shards/<split>/part-N.tfrecord   serialized NoteSequences, read with training.shards
    parts/part-N.csv            the rows committed with shard N (and part-N.rejected.csv)

Work is committed in parts: a part's shards are written first, then its CSV, atomically.
A part without its CSV is discarded on the next run, so a killed build resumes cleanly and
never re-ingests a file that is already in the corpus. A part closes at `part_size` files or
when its oldest file has waited COMMIT_SECONDS, so a SIGKILL loses at most that much work.
"""

from __future__ import annotations

import csv
import io
import json
import multiprocessing
import os
import signal
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import TimeoutError as StillRunning
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from training import music21_corpus, shards
from training.fileio import atomic_write_text, pid_alive, sweep_stale
from training.ingest import SPLITS, IngestOptions, IngestResult, ingest_file
from training.sources import (
    SourceFile,
    SourceSpec,
    list_dir,
    list_lakh,
    list_pop909,
    parse_source,
)

MANIFEST_COLUMNS = (
    "id", "source", "path", "hash", "split", "key", "key_confidence", "transpose", "tempo",
    "time_signature", "duration", "notes", "pitch_min", "pitch_max", "instruments",
)
REJECT_COLUMNS = ("id", "source", "path", "reason", "detail")
COMMIT_SECONDS = 30.0  # finished work waits at most this long to be committed

# progress(stage, done, total): stage is a short label such as "ingest" or "music21:bach".
ProgressFn = Callable[[str, int, int], None]


class CorpusError(Exception):
    """A corpus folder that cannot be used as asked (wrong options, not a corpus)."""


@dataclass
class BuildSummary:
    out_dir: str
    added: int = 0
    already_done: int = 0
    rejected: Counter = field(default_factory=Counter)
    splits: Counter = field(default_factory=Counter)
    total_pieces: int = 0
    seconds: float = 0.0
    files_seen: int = 0

    @property
    def files_per_second(self) -> float:
        processed = self.added + sum(self.rejected.values())
        return processed / self.seconds if self.seconds else 0.0


def _csv_text(rows: Iterable[dict], columns: tuple[str, ...]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def require_corpus(corpus_dir: str | os.PathLike) -> Path:
    """The manifest of a corpus folder; a clear error when the folder is not one."""
    path = Path(corpus_dir) / "manifest.csv"
    if not path.exists():
        raise CorpusError(f"{corpus_dir}: not a corpus folder (no manifest.csv); "
                          "build one with `composer corpus build`")
    return path


def read_manifest(corpus_dir: str | os.PathLike) -> list[dict]:
    return _read_csv(require_corpus(corpus_dir))


def read_rejected(corpus_dir: str | os.PathLike) -> list[dict]:
    path = Path(corpus_dir) / "rejected.csv"
    return _read_csv(path) if path.exists() else []


def _options_record(options: IngestOptions) -> dict:
    return {"keep_key": options.keep_key, "target": options.target.name,
            "split": list(options.split)}


class _PartStore:
    """Committed parts of a corpus folder and the writer of new ones."""

    def __init__(self, out_dir: Path):
        self.out_dir = out_dir
        self.parts_dir = out_dir / "parts"
        self.parts_dir.mkdir(parents=True, exist_ok=True)
        self.rows: list[dict] = []
        self.rejects: list[dict] = []
        committed = sorted(self.parts_dir.glob("part-*[0-9].csv"))
        for path in committed:
            self.rows += _read_csv(path)
            rejected = path.with_name(path.stem + ".rejected.csv")
            if rejected.exists():
                self.rejects += _read_csv(rejected)
        numbers = [int(p.stem.split("-")[1]) for p in committed]
        self.next_part = max(numbers, default=-1) + 1
        self._discard_uncommitted(set(numbers))
        self.done_ids = {r["id"] for r in self.rows} | {r["id"] for r in self.rejects}
        self.hash_owner = {r["hash"]: r["id"] for r in self.rows}

    def _discard_uncommitted(self, committed: set[int]) -> None:
        for split in SPLITS:
            for path in shards.shard_dir(self.out_dir, split).glob("*"):
                stale = path.name.startswith(".") or not path.name.startswith("part-")
                if stale or int(path.stem.split("-")[1]) not in committed:
                    path.unlink()

    def commit(self, results: list[IngestResult], rejects: list[dict]) -> None:
        if not results and not rejects:
            return
        part = self.next_part
        for split in SPLITS:
            records = [r.sequence for r in results if r.row["split"] == split]
            if records:
                shards.write_shard(shards.shard_path(self.out_dir, split, part), records)
        rows = [r.row for r in results]
        if rejects:
            atomic_write_text(self.parts_dir / f"part-{part:05d}.rejected.csv",
                              _csv_text(rejects, REJECT_COLUMNS))
        # The part's CSV is written last: it is what marks the part as committed.
        atomic_write_text(self.parts_dir / f"part-{part:05d}.csv", _csv_text(rows, MANIFEST_COLUMNS))
        self.rows += rows
        self.rejects += rejects
        self.next_part += 1

    def write_summary_files(self) -> None:
        atomic_write_text(self.out_dir / "manifest.csv", _csv_text(self.rows, MANIFEST_COLUMNS))
        atomic_write_text(self.out_dir / "rejected.csv", _csv_text(self.rejects, REJECT_COLUMNS))
        report = {
            "pieces": len(self.rows),
            "splits": dict(Counter(r["split"] for r in self.rows)),
            "sources": dict(Counter(r["source"] for r in self.rows)),
            "rejected": dict(Counter(r["reason"] for r in self.rejects)),
            "notes": sum(int(r["notes"]) for r in self.rows),
            "hours": round(sum(float(r["duration"]) for r in self.rows) / 3600, 3),
        }
        atomic_write_text(self.out_dir / "report.json", json.dumps(report, indent=2) + "\n")


@dataclass
class _Pending:
    """Finished work not yet committed, and since when the oldest of it has waited."""

    results: list[IngestResult] = field(default_factory=list)
    rejects: list[dict] = field(default_factory=list)
    since: float | None = None

    def add(self, result: IngestResult, store: _PartStore) -> None:
        self.since = self.since or time.monotonic()
        item = SourceFile(result.id, result.source, result.path)
        if not result.ok:
            self.rejects.append(_reject_row(item, result.reason, result.detail))
        elif result.row["hash"] in store.hash_owner:
            self.rejects.append(_reject_row(
                item, "duplicate", f"same music as {store.hash_owner[result.row['hash']]}"))
        else:
            store.hash_owner[result.row["hash"]] = result.id
            self.results.append(result)

    def due(self, part_size: int) -> bool:
        waited = self.since is not None and time.monotonic() - self.since >= COMMIT_SECONDS
        return waited or len(self.results) + len(self.rejects) >= part_size

    def commit(self, store: _PartStore, summary: BuildSummary) -> None:
        store.commit(self.results, self.rejects)
        summary.added += len(self.results)
        summary.rejected.update(r["reason"] for r in self.rejects)
        self.results, self.rejects, self.since = [], [], None


def _ingest_source_file(item: SourceFile, options: IngestOptions) -> IngestResult:
    return ingest_file(item.path, item.id, item.source, options)


def _reject_row(item: SourceFile, reason: str, detail: str) -> dict:
    return {"id": item.id, "source": item.source, "path": item.path, "reason": reason,
            "detail": detail}


def _start_worker(owner: int) -> None:
    """Ctrl-C is the parent's to handle (commit, then stop), not each worker's.

    The imports (note-seq brings pandas and bokeh) leave ~160,000 objects that every full
    garbage collection would walk: 70-100 ms of CPU landing inside some unlucky file's time
    limit. They live as long as the worker, so they are frozen out of collection.
    """
    import gc
    import threading

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with, args=(owner,), name="exit-with-owner", daemon=True).start()
    gc.freeze()


def _exit_with(owner: int) -> None:
    """End this worker as soon as process `owner` (the one that made the pool) has ended.

    A worker's parent is the forkserver, not the owner, so PR_SET_PDEATHSIG would watch the
    wrong process; and a worker outlives a SIGKILLed owner on its own, since it holds both
    ends of its task pipe. Once the workers are gone the forkserver and the resource tracker
    read end-of-file on their pipes and exit too: nothing is orphaned.
    """
    import select

    try:
        handle = os.pidfd_open(owner)  # readable once the owner has exited (Linux 5.3+)
    except ProcessLookupError:
        os._exit(1)
    except (AttributeError, OSError):  # no pidfd here: ask once a second instead
        while pid_alive(owner):
            time.sleep(1.0)
        os._exit(1)
    select.select([handle], [], [])
    os._exit(1)


LISTERS = {"dir": list_dir, "lakh": list_lakh, "pop909": list_pop909}


def make_executor(workers: int | None):
    """A process pool started from a clean forkserver: workers never inherit TensorFlow."""
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["training.ingest", "training.music21_corpus"])
    return ProcessPoolExecutor(max_workers=workers or os.cpu_count() or 1, mp_context=context,
                               initializer=_start_worker, initargs=(os.getpid(),))


def _run_chunk(fn: Callable, chunk: list) -> list:
    return [fn(item) for item in chunk]


def _in_order(executor, fn: Callable, items: list, *, chunksize: int, tick: float
              ) -> Iterator[IngestResult | None]:
    """fn(item) for each item in order, as executor.map gives them, plus a None for every
    `tick` seconds spent waiting: a slow file must not hold back the commit of those before it.
    """
    chunks = [items[at:at + chunksize] for at in range(0, len(items), chunksize)]
    futures = deque(executor.submit(_run_chunk, fn, chunk) for chunk in chunks)
    try:
        while futures:
            try:
                results = futures[0].result(timeout=tick)
            except StillRunning:
                yield None
                continue
            futures.popleft()  # let go of its results once they are handed over
            yield from results
    finally:
        for future in futures:
            future.cancel()


def _convert_music21(spec: SourceSpec, limit: int | None, executor, progress: ProgressFn
                     ) -> tuple[list[SourceFile], list[dict]]:
    """Convert what the cache lacks; return the converted files and the failures."""
    pieces = music21_corpus.list_pieces(spec.value, limit)
    todo = [p for p in pieces if not music21_corpus.is_converted(p)]
    label = f"convert {spec}"
    if todo:
        progress(label, 0, len(todo))
    for done, _ in enumerate(executor.map(music21_corpus.convert_piece, todo, chunksize=4), 1):
        progress(label, done, len(todo))
    files, failures = [], []
    for piece in pieces:
        item = SourceFile(f"music21:{piece.piece_id}", str(spec), piece.midi_path)
        reason = music21_corpus.failure_reason(piece)
        if reason is None:
            files.append(item)
        else:
            failures.append(_reject_row(item, "music21-failed", reason))
    return files, failures


def build_corpus(
    sources: list[str],
    out_dir: str | os.PathLike,
    options: IngestOptions = IngestOptions(),
    *,
    workers: int | None = None,
    limit: int | None = None,
    part_size: int = 2000,
    progress: ProgressFn | None = None,
) -> BuildSummary:
    """Ingest every source into `out_dir`, skipping what an earlier run already did."""
    progress = progress or (lambda stage, done, total: None)
    specs = [spec for text in sources for spec in parse_source(text)]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    record = _options_record(options)
    build_file = out / "build.json"
    if build_file.exists():
        previous = json.loads(build_file.read_text())
        if previous != record:
            raise CorpusError(f"{out}: built with {previous}, not {record}; "
                              "use another output folder or delete this one")
    else:
        atomic_write_text(build_file, json.dumps(record, indent=2) + "\n")
    sweep_stale(out)  # temp files a killed run left; parts/ and shards/ are swept as written

    started = time.perf_counter()
    store = _PartStore(out)
    summary = BuildSummary(out_dir=str(out))
    pending = _Pending()
    with make_executor(workers) as executor:
        items: list[SourceFile] = []
        for spec in specs:
            if spec.kind == "music21":
                files, failures = _convert_music21(spec, limit, executor, progress)
                pending.rejects += [f for f in failures if f["id"] not in store.done_ids]
            else:
                files = LISTERS[spec.kind](spec, limit)
            items += files
        summary.files_seen = len(items) + len(pending.rejects)
        seen: set[str] = set()
        todo = []
        for item in items:
            if item.id in store.done_ids:
                summary.already_done += 1
            elif item.id not in seen:
                seen.add(item.id)
                todo.append(item)

        worker = partial(_ingest_source_file, options=options)
        progress("ingest", 0, len(todo))
        done = 0
        try:
            for result in _in_order(executor, worker, todo, chunksize=8,
                                    tick=min(1.0, COMMIT_SECONDS)):
                if result is not None:
                    pending.add(result, store)
                    done += 1
                    progress("ingest", done, len(todo))
                if pending.due(part_size):
                    pending.commit(store, summary)
        except KeyboardInterrupt:
            executor.shutdown(wait=True, cancel_futures=True)
            raise
        finally:
            # Commit whatever finished, even on Ctrl-C: a rerun picks up from there.
            pending.commit(store, summary)
            store.write_summary_files()
    summary.total_pieces = len(store.rows)
    summary.splits = Counter(r["split"] for r in store.rows)
    summary.seconds = time.perf_counter() - started
    return summary


__all__ = [
    "MANIFEST_COLUMNS",
    "REJECT_COLUMNS",
    "BuildSummary",
    "CorpusError",
    "build_corpus",
    "read_manifest",
    "read_rejected",
]
