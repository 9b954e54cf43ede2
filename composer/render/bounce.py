"""A MIDI file bounced to disk: FluidSynth straight into the file, in memory that does not grow
with the piece.

Held in memory, a 39-minute piece took 4.9 GB (2.1 MB a second of audio, and normalising
copied it twice). Here the synth's chunks go to a float32 scratch file beside the output
while a second thread measures their loudness (BS.1770: K-weighted, gated) on the other core;
then one pass reads the scratch back in blocks, applies the gain (and the limiter, only where
a peak would pass the ceiling) and writes the output's format. Both temporary files carry the
process id, are removed whatever happens, and the output appears whole or not at all.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from composer.render.files import DEPTHS, check_target
from composer.render.loudness import (
    LoudnessMeter,
    db_to_gain,
    limit,
    limiter_margin,
)

BLOCK = 1 << 16  # frames per block of the gain pass
QUEUE_CHUNKS = 8  # chunks the synth may run ahead of the meter (8 x 256 KB)
LOUDNESS_TOLERANCE = 0.05  # LU the limiter may take off before the gain is raised to make up


@dataclass(frozen=True)
class Bounce:
    """What was written: `seconds` of music plus `tail` seconds of release and reverb."""

    path: Path
    sample_rate: int
    seconds: float
    tail: float
    loudness: float  # LUFS as written (-inf: silent)
    peak_db: float  # highest sample as written, dBFS
    gain_db: float  # applied to the synth's output
    limited: bool  # the limiter caught peaks above the ceiling
    dropped_voices: int  # notes FluidSynth had no voice for
    render_seconds: float  # synthesis and metering, wall time
    finish_seconds: float  # the gain pass and writing, wall time


def bounce(renderer, sequence, path: str | os.PathLike, *, program: int | None = None,
           normalize: bool = True, depth: str = "16",
           progress: Callable[[str, int, int], None] | None = None) -> Bounce:
    """Render `sequence` with `renderer` (a composer.render.Renderer) into `path` (.wav or
    .flac at `depth`), at the renderer's LUFS target and ceiling when `normalize`."""
    path = Path(path)
    kind = check_target(path, depth)
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f".{path.name}.{os.getpid()}.f32.tmp")
    from training.fileio import temp_path_for

    target = temp_path_for(path)
    sample_rate = renderer.sample_rate
    started = time.perf_counter()
    try:
        meter = _synthesise(renderer.stream(sequence, program=program, progress=progress),
                            meter=LoudnessMeter(sample_rate), scratch=scratch)
        rendered = time.perf_counter()
        gain, limited, loudness = 1.0, False, meter.loudness()
        if normalize and np.isfinite(loudness):
            gain = db_to_gain(renderer.lufs - loudness)
            limited = meter.peak * gain > db_to_gain(renderer.ceiling_db)
        written = _write(scratch, meter.frames, target, kind, depth, sample_rate, gain,
                         renderer.ceiling_db if limited else None)
        if limited:
            lost = renderer.lufs - written.loudness()
            if lost > LOUDNESS_TOLERANCE:  # make up what the limiter took, once (as normalize)
                gain *= db_to_gain(lost)
                written = _write(scratch, meter.frames, target, kind, depth, sample_rate, gain,
                                 renderer.ceiling_db)
        os.replace(target, path)
    finally:
        scratch.unlink(missing_ok=True)
        target.unlink(missing_ok=True)
    frames = round(sequence.total_time * sample_rate)
    return Bounce(path=path, sample_rate=sample_rate, seconds=frames / sample_rate,
                  tail=max(0, meter.frames - frames) / sample_rate,
                  loudness=written.loudness() if limited else loudness + 20 * np.log10(gain),
                  peak_db=20 * np.log10(written.peak) if written.peak > 0 else float("-inf"),
                  gain_db=20 * np.log10(gain), limited=limited,
                  dropped_voices=renderer.dropped_voices,
                  render_seconds=rendered - started,
                  finish_seconds=time.perf_counter() - rendered)


def _synthesise(chunks: Iterator[np.ndarray], meter: LoudnessMeter,
                scratch: Path) -> LoudnessMeter:
    """Drain the synth's chunks into the scratch file, metering them in a second thread (the
    synth lets go of the GIL while it renders, so both cores work)."""
    handoff: queue.Queue[np.ndarray | None] = queue.Queue(QUEUE_CHUNKS)
    failure: list[BaseException] = []

    def consume(out) -> None:
        while (chunk := handoff.get()) is not None:
            if failure:
                continue  # keep draining so the synth never blocks on a full queue
            try:
                meter.add(chunk)
                out.write(chunk.tobytes())
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                failure.append(exc)

    with open(scratch, "wb") as out:
        worker = threading.Thread(target=consume, args=(out,), name="bounce-meter",
                                  daemon=True)
        worker.start()
        try:
            for chunk in chunks:
                if failure:
                    break
                handoff.put(chunk)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()  # an interrupted render still leaves the synth silent
            handoff.put(None)
            worker.join()
    if failure:
        raise failure[0]
    return meter


def _write(scratch: Path, frames: int, target: Path, kind: str, depth: str, sample_rate: int,
           gain: float, ceiling_db: float | None) -> LoudnessMeter:
    """The scratch audio times `gain` (limited to `ceiling_db` when given) into `target`;
    the written audio's meter (its loudness measured only when limited)."""
    import soundfile

    written = LoudnessMeter(sample_rate)
    margin = limiter_margin(sample_rate) if ceiling_db is not None else 0
    scale = np.float32(gain)
    with (open(scratch, "rb") as source,
          soundfile.SoundFile(str(target), "w", sample_rate, 2, DEPTHS[depth],
                              format=kind) as out):
        for start in range(0, frames, BLOCK):
            stop = min(start + BLOCK, frames)
            if ceiling_db is None:
                block = _read(source, start, stop) * scale
            else:  # the limiter sees the neighbours it would have seen in one piece
                low, high = max(0, start - margin), min(frames, stop + margin)
                block = limit(_read(source, low, high) * scale, sample_rate, ceiling_db)
                block = block[start - low:stop - low]
                written.add(block)
            if depth != "float":
                np.clip(block, -1.0, 1.0, out=block)
            written.peak = max(written.peak, float(np.max(np.abs(block))))
            out.write(block)
    return written


def _read(source, start: int, stop: int) -> np.ndarray:
    """Frames start..stop of the scratch file (plain reads: a memory map's pages would count
    against the process as it went)."""
    source.seek(start * 8)
    return np.fromfile(source, np.float32, (stop - start) * 2).reshape(-1, 2)
