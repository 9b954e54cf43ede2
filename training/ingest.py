"""Ingest one MIDI file: validate, estimate its key, transpose, describe it for the manifest.

This is what each worker process runs, once per file. It never raises for a bad file: the
result carries either a manifest row and a serialized NoteSequence, or a reason to skip.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass, field

import numpy as np
import pretty_midi

from training.keys import Key
from training.transposer import DEFAULT_TARGET, plan_transposition, transpose_notesequence
from training.validate import BadMidi, Limits, deadline, main_tempo, parse_midi

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # pydub warns about ffmpeg, which note-seq never needs here
    from note_seq import midi_io

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


def content_hash(pm: pretty_midi.PrettyMIDI) -> str:
    """Hash of the music alone (notes, programs, drums), blind to metadata and track layout.

    Lakh holds the same arrangement many times over with different names, text events or track
    order; those are exact duplicates as far as training is concerned.
    """
    rows = [
        (int(inst.is_drum), inst.program, n.pitch, round(n.start * 1000), round(n.end * 1000),
         n.velocity)
        for inst in pm.instruments
        for n in inst.notes
    ]
    arr = np.array(rows, dtype=np.int64).reshape(-1, 6)
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


def instrument_names(pm: pretty_midi.PrettyMIDI) -> str:
    names = sorted({"drums" if inst.is_drum else pretty_midi.program_to_instrument_name(inst.program)
                    for inst in pm.instruments if inst.notes})
    return "|".join(names)


def ingest_file(path: str, ident: str, source: str, options: IngestOptions) -> IngestResult:
    result = IngestResult(ident, source, path)
    try:
        with open(path, "rb") as handle:
            data = handle.read(options.limits.max_bytes + 1)
        pm = parse_midi(data, options.limits)
        with deadline(options.limits.time_limit):
            result.row, result.sequence = _describe(pm, options)
    except BadMidi as exc:
        result.reason, result.detail = exc.reason, exc.detail
    except OSError as exc:
        result.reason, result.detail = "unreadable", exc.strerror or str(exc)
    except Exception as exc:  # noqa: BLE001 - one odd file must not stop a 178k-file build
        result.reason, result.detail = "error", f"{type(exc).__name__}: {exc}".splitlines()[0]
    if result.row is not None:
        result.row.update(id=ident, source=source, path=path)
    return result


def _describe(pm: pretty_midi.PrettyMIDI, options: IngestOptions) -> tuple[dict, bytes]:
    plan = plan_transposition(pm, options.target)
    shift = 0 if options.keep_key else plan.shift
    digest = content_hash(pm)
    sequence = transpose_notesequence(midi_io.midi_to_note_sequence(pm), shift)
    pitched = [n.pitch for n in sequence.notes if not n.is_drum]
    signatures = pm.time_signature_changes
    row = {
        "hash": digest,
        "split": split_for(digest, options.split),
        "key": plan.estimate.key.name,
        "key_confidence": round(plan.estimate.confidence, 4),
        "transpose": shift,
        "tempo": round(main_tempo(pm), 2),
        "time_signature": f"{signatures[0].numerator}/{signatures[0].denominator}"
        if signatures else "",
        "duration": round(float(pm.get_end_time()), 3),
        "notes": len(sequence.notes),
        "pitch_min": min(pitched) if pitched else "",
        "pitch_max": max(pitched) if pitched else "",
        "instruments": instrument_names(pm),
    }
    return row, sequence.SerializeToString()
