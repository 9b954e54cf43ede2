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
never re-ingests a file that is already in the corpus.
"""

from __future__ import annotations

import csv
import io
import json
import multiprocessing
import os
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from training import music21_corpus, shards
from training.fileio import atomic_write_text
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


def _ingest_source_file(item: SourceFile, options: IngestOptions) -> IngestResult:
    return ingest_file(item.path, item.id, item.source, options)


def _reject_row(item: SourceFile, reason: str, detail: str) -> dict:
    return {"id": item.id, "source": item.source, "path": item.path, "reason": reason,
            "detail": detail}


def _start_worker() -> None:
    """Ctrl-C is the parent's to handle (commit, then stop), not each worker's.

    The imports (note-seq brings pandas and bokeh) leave ~160,000 objects that every full
    garbage collection would walk: 70-100 ms of CPU landing inside some unlucky file's time
    limit. They live as long as the worker, so they are frozen out of collection.
    """
    import gc

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    gc.freeze()


LISTERS = {"dir": list_dir, "lakh": list_lakh, "pop909": list_pop909}


def make_executor(workers: int | None):
    """A process pool started from a clean forkserver: workers never inherit TensorFlow."""
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["training.ingest", "training.music21_corpus"])
    return ProcessPoolExecutor(max_workers=workers or os.cpu_count() or 1, mp_context=context,
                               initializer=_start_worker)


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

    started = time.perf_counter()
    store = _PartStore(out)
    summary = BuildSummary(out_dir=str(out))
    pending_rejects: list[dict] = []
    pending: list[IngestResult] = []
    with make_executor(workers) as executor:
        items: list[SourceFile] = []
        for spec in specs:
            if spec.kind == "music21":
                files, failures = _convert_music21(spec, limit, executor, progress)
                pending_rejects += [f for f in failures if f["id"] not in store.done_ids]
            else:
                files = LISTERS[spec.kind](spec, limit)
            items += files
        summary.files_seen = len(items) + len(pending_rejects)
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
        try:
            for done, result in enumerate(executor.map(worker, todo, chunksize=8), 1):
                if not result.ok:
                    pending_rejects.append(_reject_row(
                        SourceFile(result.id, result.source, result.path),
                        result.reason, result.detail))
                elif result.row["hash"] in store.hash_owner:
                    pending_rejects.append(_reject_row(
                        SourceFile(result.id, result.source, result.path), "duplicate",
                        f"same music as {store.hash_owner[result.row['hash']]}"))
                else:
                    store.hash_owner[result.row["hash"]] = result.id
                    pending.append(result)
                progress("ingest", done, len(todo))
                if len(pending) + len(pending_rejects) >= part_size:
                    _commit(store, pending, pending_rejects, summary)
        except KeyboardInterrupt:
            executor.shutdown(wait=True, cancel_futures=True)
            raise
        finally:
            # Commit whatever finished, even on Ctrl-C: a rerun picks up from there.
            _commit(store, pending, pending_rejects, summary)
            store.write_summary_files()
    summary.total_pieces = len(store.rows)
    summary.splits = Counter(r["split"] for r in store.rows)
    summary.seconds = time.perf_counter() - started
    return summary


def _commit(store: _PartStore, pending: list[IngestResult], rejects: list[dict],
            summary: BuildSummary) -> None:
    store.commit(pending, rejects)
    summary.added += len(pending)
    summary.rejected.update(r["reason"] for r in rejects)
    pending.clear()
    rejects.clear()


__all__ = [
    "MANIFEST_COLUMNS",
    "REJECT_COLUMNS",
    "BuildSummary",
    "CorpusError",
    "build_corpus",
    "read_manifest",
    "read_rejected",
]
