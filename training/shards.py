"""NoteSequence shards: TFRecord files of serialized NoteSequence protos, read with tf.data.

Layout inside a corpus folder: `shards/<split>/part-NNNNN.tfrecord`. TensorFlow is imported
only when a shard is written or read, so the rest of the corpus tools start fast.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

from training.fileio import temp_path_for

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _tf():
    """TensorFlow, imported with its C++ start-up chatter (CUDA probing, oneDNN) silenced.

    That chatter goes straight to file descriptor 2 before TF_CPP_MIN_LOG_LEVEL is read, so
    the descriptor is pointed at /dev/null for the import; Python errors still propagate.
    """
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        sys.stderr.flush()
        os.dup2(devnull, 2)
        import tensorflow as tf
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    return tf


def shard_dir(corpus_dir: str | os.PathLike, split: str) -> Path:
    return Path(corpus_dir) / "shards" / split


def shard_path(corpus_dir: str | os.PathLike, split: str, part: int) -> Path:
    return shard_dir(corpus_dir, split) / f"part-{part:05d}.tfrecord"


def write_shard(path: str | os.PathLike, records: Iterable[bytes]) -> None:
    """Write records to a TFRecord file atomically (temp file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path_for(path)
    try:
        with _tf().io.TFRecordWriter(str(tmp)) as writer:
            for record in records:
                writer.write(record)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def shard_files(corpus_dir: str | os.PathLike, split: str) -> list[str]:
    return sorted(str(p) for p in shard_dir(corpus_dir, split).glob("part-*.tfrecord"))


def dataset(corpus_dir: str | os.PathLike, split: str = "train"):
    """A tf.data.Dataset of serialized NoteSequence protos (tf.string) for one split."""
    tf = _tf()
    files = shard_files(corpus_dir, split)
    return tf.data.TFRecordDataset(files, num_parallel_reads=tf.data.AUTOTUNE if files else None)


def iter_notesequences(corpus_dir: str | os.PathLike, split: str = "train") -> Iterator:
    """NoteSequence protos of one split, in shard order."""
    from note_seq.protobuf import music_pb2

    for record in _tf().data.TFRecordDataset(shard_files(corpus_dir, split)).as_numpy_iterator():
        yield music_pb2.NoteSequence.FromString(record)
