"""From corpus shards to training batches: encode each piece once, then stream windows.

Encoding a NoteSequence is Python work (note-seq), far slower than a training step wants its
data, so each split is encoded once, in parallel, into one flat token array with piece offsets,
cached beside the shards (`cache/` in the corpus folder, keyed by the encoding's settings). Training
then streams random windows from that array through tf.data, which costs nothing per step.
A Lakh-sized corpus is about 10^8 events: 200 MB as int16, which fits in memory.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.fileio import temp_path_for

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class EncodedSplit:
    """Every piece of one split as token ids, concatenated: piece i is tokens[offsets[i]:offsets[i+1]]."""

    tokens: np.ndarray  # int16
    offsets: np.ndarray  # int64, len = pieces + 1

    @property
    def pieces(self) -> int:
        return len(self.offsets) - 1

    def piece(self, i: int) -> np.ndarray:
        return self.tokens[self.offsets[i]:self.offsets[i + 1]]

    def window_starts(self, length: int, stride: int) -> np.ndarray:
        return window_starts(self.offsets, length, stride)


def window_starts(offsets: np.ndarray, length: int, stride: int) -> np.ndarray:
    """Start of every window of `length` tokens lying inside one piece, `stride` apart."""
    starts = [np.arange(a, b - length + 1, stride)
              for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist()) if b - a >= length]
    return np.concatenate(starts).astype(np.int64) if starts else np.zeros(0, dtype=np.int64)


def _encode_record(encoder, record: bytes) -> np.ndarray:
    from note_seq.protobuf import music_pb2

    sequence = music_pb2.NoteSequence.FromString(record)
    return np.asarray(encoder.encode(sequence), dtype=np.int16)


def encode_split(corpus_dir: str | os.PathLike, split: str, encoder, *, workers: int | None = None,
                 progress: Progress | None = None) -> EncodedSplit:
    """Encode (or load from cache) every piece of a split with `encoder.encode(NoteSequence)`.

    `encoder` must be picklable and have `to_dict()` describing its settings (the cache key,
    with its CACHE_VERSION where the way it encodes changed).
    """
    from training.shards import shard_files

    corpus_dir = Path(corpus_dir)
    files = shard_files(corpus_dir, split)
    if not files:
        raise FileNotFoundError(f"{corpus_dir}: no {split} shards (is it a corpus folder?)")
    stamp = json.dumps({"encoder": type(encoder).__name__, "settings": encoder.to_dict(),
                        **({"version": v} if (v := getattr(encoder, "CACHE_VERSION", 0)) else {}),
                        "shards": [(Path(f).name, os.path.getsize(f)) for f in files]},
                       sort_keys=True)
    key = hashlib.blake2b(stamp.encode(), digest_size=8).hexdigest()
    cache = corpus_dir / "cache" / f"{type(encoder).__name__}-{split}-{key}.npz"
    if cache.exists():
        with np.load(cache) as data:
            return EncodedSplit(data["tokens"], data["offsets"])

    from training.corpus import make_executor
    from training.shards import _tf

    tf = _tf()
    records = [bytes(r.numpy()) for r in tf.data.TFRecordDataset(files)]
    pieces: list[np.ndarray] = []
    with make_executor(workers) as pool:
        job = pool.map(_encode_record, [encoder] * len(records), records, chunksize=32)
        for done, tokens in enumerate(job, 1):
            pieces.append(tokens)
            if progress and (done % 64 == 0 or done == len(records)):
                progress(f"encode {split}", done, len(records))
    lengths = np.array([len(p) for p in pieces], dtype=np.int64)
    encoded = EncodedSplit(
        np.concatenate(pieces) if pieces else np.zeros(0, np.int16),
        np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64))
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path_for(cache)
    with open(tmp, "wb") as handle:
        np.savez(handle, tokens=encoded.tokens, offsets=encoded.offsets)
    os.replace(tmp, cache)
    return encoded


def lm_dataset(split: EncodedSplit, length: int, batch: int, *, seed: int = 0,
               training: bool = True, max_windows: int | None = None):
    """(inputs, targets) batches of `length` events for next-event prediction.

    Training: windows half-overlapping, shuffled, repeated forever. Evaluation: windows that do
    not overlap, in order, once (the first `max_windows`, spread over the whole split).
    """
    from training.shards import _tf

    tf = _tf()
    starts = split.window_starts(length + 1, (length // 2) if training else length)
    if len(starts) == 0:
        raise ValueError(f"no piece is {length + 1} events long; use a shorter --seq-len")
    if max_windows and len(starts) > max_windows:
        starts = starts[np.linspace(0, len(starts) - 1, max_windows).astype(np.int64)]
    tokens = tf.constant(split.tokens.astype(np.int32))

    def window(start):
        chunk = tokens[start:start + length + 1]
        return chunk[:-1], chunk[1:]

    ds = tf.data.Dataset.from_tensor_slices(starts)
    if training:
        ds = ds.shuffle(len(starts), seed=seed, reshuffle_each_iteration=True).repeat()
    ds = ds.map(window, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.batch(batch, drop_remainder=training).prefetch(tf.data.AUTOTUNE)


def example_dataset(examples: np.ndarray, batch: int, *, seed: int = 0, training: bool = True,
                    max_examples: int | None = None):
    """Fixed-size examples (melody windows, piano-roll phrases) as batches.

    Training: shuffled, repeated forever. Evaluation: once, at most `max_examples` spread evenly
    over the array; None when there is nothing to evaluate on.
    """
    from training.shards import _tf

    tf = _tf()
    if training:
        ds = tf.data.Dataset.from_tensor_slices(examples)
        ds = ds.shuffle(len(examples), seed=seed, reshuffle_each_iteration=True).repeat()
        return ds.batch(batch, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
    if not len(examples):
        return None
    if max_examples and len(examples) > max_examples:
        examples = examples[np.linspace(0, len(examples) - 1, max_examples).astype(np.int64)]
    return tf.data.Dataset.from_tensor_slices(examples).batch(batch)
