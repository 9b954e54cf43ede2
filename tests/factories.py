"""Helpers that make MIDI files, good and bad, and run the CLI the way a user does."""

from __future__ import annotations

import io
import os
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import mido
import pretty_midi

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args, timeout: float = 300, check: bool = False,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run `composer ...` in a subprocess, as a user would (`env` adds to the environment)."""
    result = subprocess.run([sys.executable, "-m", "composer", *map(str, args)],
                            capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                            env={**os.environ, **env} if env else None)
    if check and result.returncode != 0:
        raise AssertionError(f"composer {' '.join(map(str, args))} failed:\n{result.stderr}")
    return result


def lines(text: str) -> list[str]:
    """A command's output lines, less pyfluidsynth's note of where it found its library (it
    prints one to stdout whenever the CI environment variable is set, as in CI runs)."""
    return [line for line in text.strip().splitlines()
            if not re.match(r"^'[\w-]+' was found at ", line)]


def write_midi(path: Path, notes: list[tuple[int, float, float]], *, program: int = 0,
               drums: list[tuple[int, float, float]] | None = None, tempo: float = 120.0) -> Path:
    """A small MIDI file: (pitch, start, end) notes on one instrument, optional drum notes."""
    pm = pretty_midi.PrettyMIDI(initial_tempo=tempo)
    inst = pretty_midi.Instrument(program=program)
    inst.notes = [pretty_midi.Note(90, p, s, e) for p, s, e in notes]
    pm.instruments.append(inst)
    if drums:
        kit = pretty_midi.Instrument(program=0, is_drum=True)
        kit.notes = [pretty_midi.Note(100, p, s, e) for p, s, e in drums]
        pm.instruments.append(kit)
    path.parent.mkdir(parents=True, exist_ok=True)
    pm.write(str(path))
    return path


def drum_and_bass(path: Path, qpm: float, bars: int) -> Path:
    """Kick, snare and hats with a bass line on eighth notes and a chord a bar, at `qpm`: a
    groove whose beats are known (the beat tracker's tests and start-up benchmarks)."""
    beat = 60.0 / qpm
    notes, drums = [], []
    for bar in range(bars):
        root = (40, 45, 43, 38)[bar % 4]
        for k in range(8):
            at = (bar * 4 + k / 2) * beat
            notes.append((root + (7 if k % 4 == 2 else 0), at, at + 0.45 * beat))
            drums.append((42, at, at + 0.1))  # closed hat
            if k in (0, 4):
                drums.append((36, at, at + 0.1))  # kick
            if k in (2, 6):
                drums.append((38, at, at + 0.1))  # snare
        notes += [(root + step, bar * 4 * beat, (bar * 4 + 3.5) * beat) for step in (24, 28, 31)]
    return write_midi(path, notes, program=33, drums=drums, tempo=qpm)


def scale_notes(pitches: list[int], step: float = 0.5) -> list[tuple[int, float, float]]:
    return [(p, i * step, (i + 1) * step) for i, p in enumerate(pitches)]


def copy_tree(files: list[Path], root: Path) -> list[Path]:
    root.mkdir(parents=True, exist_ok=True)
    out = []
    for i, f in enumerate(files):
        dest = root / f"{i:03d}_{f.name}"
        shutil.copy(f, dest)
        out.append(dest)
    return out


# --- bad files, each a way real collections go wrong -------------------------------------

def truncated_header(path: Path) -> Path:
    path.write_bytes(b"MThd\x00\x00\x00\x06\x00")
    return path


def truncated_track(good: Path, path: Path) -> Path:
    data = good.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    return path


def garbage(path: Path) -> Path:
    import random

    rng = random.Random(7)
    path.write_bytes(b"MThd" + bytes(rng.randrange(256) for _ in range(3000)))
    return path


def empty(path: Path) -> Path:
    path.write_bytes(b"")
    return path


def html_named_mid(path: Path) -> Path:
    path.write_bytes(b"<!DOCTYPE html><html><body>404 Not Found</body></html>")
    return path


def zero_notes(path: Path) -> Path:
    mid = mido.MidiFile()
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500000),
                            mido.Message("program_change", program=5),
                            mido.Message("control_change", control=7, value=100, time=480)])
    mid.tracks.append(track)
    mid.save(str(path))
    return path


def many_tempo_events(path: Path, count: int = 5000) -> Path:
    """Thousands of tempo changes, one per tick, around a handful of notes."""
    mid = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    for i in range(count):
        track.append(mido.MetaMessage("set_tempo", tempo=400000 + (i % 50) * 1000, time=1))
    for pitch in (60, 64, 67):
        track.append(mido.Message("note_on", note=pitch, velocity=80, time=0))
        track.append(mido.Message("note_off", note=pitch, velocity=0, time=240))
    mid.tracks.append(track)
    mid.save(str(path))
    return path


def absurd_tempo(path: Path) -> Path:
    mid = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=10)])  # 6,000,000 bpm
    track += [mido.Message("note_on", note=60, velocity=80), mido.Message("note_off", note=60, time=480)]
    mid.tracks.append(track)
    mid.save(str(path))
    return path


def huge_but_valid(path: Path, notes: int = 380_000) -> Path:
    """A valid file just under the 4 MB limit that takes about a second to read: a parser hang.

    Every note overlaps the last one of its pitch and running status carries over
    channel-pressure messages, which defeats the vectorised reader (training.smf) and sends
    each event down the careful byte-by-byte paths.
    """
    mid = mido.MidiFile(ticks_per_beat=96)
    track = mido.MidiTrack()
    for i in range(notes):
        track.append(mido.Message("note_on", note=40 + i % 3, velocity=64, time=1))
        track.append(mido.Message("aftertouch", value=i % 100, time=0))
    for i in range(notes):
        track.append(mido.Message("note_off", note=40 + i % 3, velocity=0, time=1))
    mid.tracks.append(track)
    mid.save(str(path))
    return path


def header_only(path: Path) -> Path:
    """A header that promises a track that never comes."""
    path.write_bytes(b"MThd" + struct.pack(">IHHH", 6, 1, 1, 480))
    return path


def tangled_midi(seed: int) -> bytes:
    """A random but legal MIDI file full of what real files do and tidy writers never do.

    Overlapping notes of one pitch, note-offs on the note-on's tick, spurious and missing
    note-offs, program changes mid-track, controllers and pitch bends before the first note,
    several channels per track, tempo and signature changes, text, sysex, running status
    across one-data-byte messages. Written with mido, which uses running status throughout.
    """
    import random

    rng = random.Random(seed)
    midi = mido.MidiFile(type=rng.choice([0, 1]), ticks_per_beat=rng.choice([96, 220, 480]))
    n_tracks = 1 if midi.type == 0 else rng.randint(2, 4)
    for number in range(n_tracks):
        track = mido.MidiTrack()
        midi.tracks.append(track)
        events = []  # (tick, message)
        if number == 0:
            events.append((0, mido.MetaMessage("set_tempo", tempo=rng.randint(300_000, 900_000))))
            events.append((0, mido.MetaMessage("time_signature", numerator=3, denominator=4)))
            events.append((0, mido.MetaMessage("key_signature", key=rng.choice(["C", "Eb", "F#m"]))))
            for _ in range(rng.randint(0, 4)):
                events.append((rng.randint(1, 4000), mido.MetaMessage(
                    "set_tempo", tempo=rng.randint(300_000, 900_000))))
            events.append((rng.randint(0, 4000), mido.MetaMessage("time_signature",
                                                                  numerator=6, denominator=8)))
        events.append((0, mido.MetaMessage("track_name", name=f"part {number}")))
        events.append((rng.randint(0, 500), mido.MetaMessage("text", text="verse")))
        events.append((0, mido.Message("sysex", data=[0x7E, 0x7F, 0x09, 0x01])))
        channels = rng.sample([0, 1, 2, 9], k=rng.randint(1, 3))
        for _ in range(rng.randint(20, 120)):
            ch = rng.choice(channels)
            tick = rng.randint(0, 4000)
            roll = rng.random()
            if roll < 0.6:
                pitch = rng.choice([60, 62, 64, 67, rng.randint(0, 127)])
                length = rng.choice([0, 0, 1, 30, 240, 480])
                events.append((tick, mido.Message("note_on", channel=ch, note=pitch,
                                                  velocity=rng.randint(1, 127))))
                if rng.random() < 0.93:
                    off = (mido.Message("note_off", channel=ch, note=pitch, velocity=64)
                           if rng.random() < 0.5 else
                           mido.Message("note_on", channel=ch, note=pitch, velocity=0))
                    events.append((tick + length, off))
            elif roll < 0.7:
                events.append((tick, mido.Message("program_change", channel=ch,
                                                  program=rng.randint(0, 127))))
            elif roll < 0.8:
                events.append((tick, mido.Message("control_change", channel=ch,
                                                  control=rng.choice([7, 10, 64]),
                                                  value=rng.randint(0, 127))))
            elif roll < 0.88:
                events.append((tick, mido.Message("pitchwheel", channel=ch,
                                                  pitch=rng.randint(-8192, 8191))))
            elif roll < 0.94:
                events.append((tick, mido.Message("aftertouch", channel=ch,
                                                  value=rng.randint(0, 127))))
            else:
                events.append((tick, mido.Message("note_off", channel=ch,
                                                  note=rng.randint(0, 127))))  # spurious
        events.sort(key=lambda e: e[0])
        last = 0
        for tick, msg in events:
            track.append(msg.copy(time=tick - last))
            last = tick
        track.append(mido.MetaMessage("end_of_track", time=0))
    out = io.BytesIO()
    midi.save(file=out)
    return out.getvalue()
