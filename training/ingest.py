"""Ingest one MIDI file: validate, estimate its key, transpose, describe it for the manifest.

This is what each worker process runs, once per file. It never raises for a bad file: the
result carries either a manifest row and a serialized NoteSequence, or a reason to skip.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from dataclasses import dataclass, field

import numpy as np
import pretty_midi

from training.keys import Key
from training.pop909 import AnnotationError, annotate, read_annotations
from training.score import Score, fold_pitches, to_notesequence
from training.transposer import DEFAULT_TARGET, plan_transposition
from training.validate import BadMidi, Limits, deadline, main_tempo, parse_midi

with warnings.catch_warnings():
    # Loaded when a worker starts, not inside the first file's time limit. pydub warns about
    # ffmpeg, which is never used here.
    warnings.simplefilter("ignore")
    from note_seq.protobuf import music_pb2  # noqa: F401

SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class IngestOptions:
    keep_key: bool = False
    target: Key = DEFAULT_TARGET
    limits: Limits = field(default_factory=Limits)
    split: tuple[float, float, float] = (0.9, 0.05, 0.05)


@dataclass
class IngestResult:
    id: str
    source: str
    path: str
    row: dict | None = None  # manifest row when accepted
    sequence: bytes | None = None  # serialized NoteSequence when accepted
    reason: str | None = None  # short code when rejected
    detail: str | None = None

    @property
    def ok(self) -> bool:
        return self.row is not None


def content_hash(score: Score) -> str:
    """Hash of the music alone (notes, programs, drums), blind to metadata and track layout.

    Lakh holds the same arrangement many times over with different names, text events or track
    order; those are exact duplicates as far as training is concerned.
    """
    notes = score.notes
    arr = np.stack([score.is_drum.astype(np.int64), score.program.astype(np.int64),
                    notes["pitch"].astype(np.int64), np.round(notes["start"] * 1000),
                    np.round(notes["end"] * 1000), notes["velocity"].astype(np.int64)],
                   axis=1).astype(np.int64)
    arr = arr[np.lexsort(arr.T[::-1])]
    return hashlib.blake2b(arr.tobytes(), digest_size=16).hexdigest()


def split_for(hash_hex: str, fractions: tuple[float, float, float]) -> str:
    """Deterministic split from the content hash: adding files never moves existing ones."""
    u = int(hash_hex[:12], 16) / float(1 << 48)
    if u < fractions[0]:
        return "train"
    if u < fractions[0] + fractions[1]:
        return "valid"
    return "test"


def instrument_names(score: Score) -> str:
    used = np.unique(score.notes["instrument"])
    names = sorted({"drums" if inst.is_drum else pretty_midi.program_to_instrument_name(inst.program)
                    for inst in (score.instruments[i] for i in used.tolist())})
    return "|".join(names)


def ingest_file(path: str, ident: str, source: str, options: IngestOptions) -> IngestResult:
    result = IngestResult(ident, source, path)
    try:
        with open(path, "rb") as handle:
            data = handle.read(options.limits.max_bytes + 1)
        score = parse_midi(data, options.limits)
        annotations = None
        if source.startswith("pop909:"):  # chords, beats and keys in files beside the song
            annotations = read_annotations(os.path.dirname(path))
        with deadline(options.limits.time_limit):
            result.row, result.sequence = _describe(score, options, annotations)
    except BadMidi as exc:
        result.reason, result.detail = exc.reason, exc.detail
    except AnnotationError as exc:
        result.reason, result.detail = "bad-annotation", str(exc)
    except OSError as exc:
        result.reason, result.detail = "unreadable", exc.strerror or str(exc)
    except Exception as exc:  # noqa: BLE001 - one odd file must not stop a 178k-file build
        result.reason, result.detail = "error", f"{type(exc).__name__}: {exc}".splitlines()[0]
    if result.row is not None:
        result.row.update(id=ident, source=source, path=path)
    return result


def _describe(score: Score, options: IngestOptions, annotations=None) -> tuple[dict, bytes]:
    plan = plan_transposition(score, options.target)
    shift = 0 if options.keep_key else plan.shift
    digest = content_hash(score)
    sequence = to_notesequence(score, shift)
    if annotations is not None:
        annotate(sequence, annotations, shift)
    pitched = fold_pitches(score.pitched()[0] + shift)
    signatures = score.time_signatures
    row = {
        "hash": digest,
        "split": split_for(digest, options.split),
        "key": plan.estimate.key.name,
        "key_confidence": round(plan.estimate.confidence, 4),
        "transpose": shift,
        "tempo": round(main_tempo(score), 2),
        "time_signature": f"{signatures[0][1]}/{signatures[0][2]}" if signatures else "",
        "duration": round(score.end_time, 3),
        "notes": len(sequence.notes),
        "pitch_min": int(pitched.min()) if len(pitched) else "",
        "pitch_max": int(pitched.max()) if len(pitched) else "",
        "instruments": instrument_names(score),
    }
    return row, sequence.SerializeToString()
