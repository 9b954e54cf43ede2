"""One-shots: single drum hits and pitched notes rendered from the soundfont, ready for a
sampler.

Each is rendered dry (reverb and chorus off, unless asked) until its release has died away,
then trimmed: leading silence cut at the first sample within `floor_db` of the peak (the
attack is kept whole, so there is no fade-in), trailing silence cut where the sound last rises
above that floor, with a short fade over the last few milliseconds only, so the cut never
clicks. Peaks are normalised to `peak_db`. Pure functions below; `render_oneshots` drives
the synth.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

FLOOR_DB = -60.0  # below the peak: silence
PEAK_DB = -1.0
FADE_SECONDS = 0.01
NOTE = re.compile(r"^([A-Ga-g])([#b]?)(-?\d)$")
GM_DRUMS = range(35, 82)  # General MIDI percussion keys, Acoustic Bass Drum .. Open Triangle


@dataclass(frozen=True)
class OneShot:
    name: str  # file stem, e.g. "acoustic-snare_38" or "string-ensemble-1_C3"
    audio: np.ndarray  # float32 (frames, 2)
    sample_rate: int
    pitch: int
    program: int | None  # None: a drum hit
    velocity: int

    @property
    def seconds(self) -> float:
        return len(self.audio) / self.sample_rate


def note_number(text: str) -> int:
    """"C4" -> 60, "F#2" -> 42, "Bb-1" -> 10 (scientific pitch: C4 is middle C)."""
    match = NOTE.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a note name like C4, F#2 or Bb3")
    letter, accidental, octave = match.groups()
    pitch = ("C", "D", "E", "F", "G", "A", "B").index(letter.upper())
    number = (0, 2, 4, 5, 7, 9, 11)[pitch] + {"#": 1, "b": -1, "": 0}[accidental]
    number += 12 * (int(octave) + 1)
    if not 0 <= number <= 127:
        raise ValueError(f"{text!r} is outside MIDI's notes (C-1..G9)")
    return number


def note_range(text: str) -> list[int]:
    """"C2..C4" (both ends, chromatic), "C2..C4/3" (every third semitone) or "C4,E4,G4"."""
    if ".." not in text:
        return [note_number(part) for part in text.split(",") if part.strip()]
    span, _, step = text.partition("/")
    low, _, high = span.partition("..")
    try:
        step_size = int(step) if step else 1
    except ValueError:
        raise ValueError(f"{text!r}: the step after / must be a whole number") from None
    first, last = note_number(low), note_number(high)
    if first > last or step_size < 1:
        raise ValueError(f"{text!r}: give the low note first and a step of 1 or more")
    return list(range(first, last + 1, step_size))


def note_name(pitch: int) -> str:
    import pretty_midi

    return pretty_midi.note_number_to_name(pitch)


def trim(audio: np.ndarray, sample_rate: int, floor_db: float = FLOOR_DB,
         fade_seconds: float = FADE_SECONDS) -> np.ndarray:
    """The sound from its first sample within `floor_db` of the peak to its last, with a
    linear fade over the final `fade_seconds` (none at the start: the attack is the point)."""
    level = np.abs(audio).max(axis=1) if audio.ndim == 2 else np.abs(audio)
    peak = float(level.max()) if len(level) else 0.0
    if peak == 0.0:
        raise ValueError("the sound is silent")
    loud = np.flatnonzero(level >= peak * 10.0 ** (floor_db / 20.0))
    out = np.array(audio[loud[0]:loud[-1] + 1], dtype=np.float32)
    fade = min(len(out), max(1, round(fade_seconds * sample_rate)))
    ramp = np.linspace(1.0, 0.0, fade, dtype=np.float32)
    out[-fade:] *= ramp[:, None] if out.ndim == 2 else ramp
    return out


def normalize_peak(audio: np.ndarray, peak_db: float = PEAK_DB) -> np.ndarray:
    peak = float(np.abs(audio).max())
    return audio if peak == 0.0 else (audio * (10.0 ** (peak_db / 20.0) / peak)).astype(
        np.float32)


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def render_oneshots(*, program: int | None, pitches: list[int], velocity: int = 100,
                    seconds: float = 1.0, soundfont=None, sample_rate: int = 44100,
                    effects: bool = False, progress=None) -> list[OneShot]:
    """One OneShot per pitch: `program` None renders GM drum keys on the kit (channel 10),
    else that GM program holding each note for `seconds` before its release."""
    import note_seq
    import pretty_midi

    from composer.render import Renderer

    if not 1 <= velocity <= 127:
        raise ValueError(f"velocity must be 1-127, not {velocity}")
    if not 0.01 <= seconds <= 30:
        raise ValueError(f"a note is held 0.01-30 seconds, not {seconds:g}")
    shots = []
    with Renderer(soundfont, sample_rate, reverb=effects, chorus=effects) as renderer:
        for done, pitch in enumerate(pitches, 1):
            sequence = note_seq.NoteSequence(ticks_per_quarter=220)
            sequence.tempos.add(qpm=120.0)
            held = 0.1 if program is None else seconds
            sequence.notes.add(pitch=pitch, velocity=velocity, start_time=0.0, end_time=held,
                               is_drum=program is None, program=program or 0,
                               instrument=9 if program is None else 0)
            sequence.total_time = held
            clip = renderer.render(sequence, normalize=False)
            if program is None:
                name = f"{slug(pretty_midi.note_number_to_drum_name(pitch) or 'drum')}_{pitch}"
            else:
                instrument = slug(pretty_midi.program_to_instrument_name(program))
                name = f"{instrument}_{note_name(pitch)}"
            try:
                audio = normalize_peak(trim(clip.audio, sample_rate))
            except ValueError:
                audio = None  # the soundfont has nothing on this key
            if audio is not None:
                shots.append(OneShot(name, audio, sample_rate, pitch, program, velocity))
            if progress:
                progress("one-shots", done, len(pitches))
    return shots


INDEX_FIELDS = ("file", "kind", "pitch", "note", "program", "velocity", "seconds")


def write_oneshots(folder, shots: list[OneShot]) -> list[dict]:
    """Each one-shot as a 24-bit WAV in `folder` (atomically), then index.csv and index.json
    listing them; the rows."""
    import csv
    import io
    import json
    from pathlib import Path

    import soundfile

    from training.fileio import atomic_write_bytes, atomic_write_text

    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{folder}: not a folder")
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for shot in shots:
        buffer = io.BytesIO()
        soundfile.write(buffer, shot.audio, shot.sample_rate, subtype="PCM_24", format="WAV")
        atomic_write_bytes(folder / f"{shot.name}.wav", buffer.getvalue())
        rows.append({"file": f"{shot.name}.wav",
                     "kind": "drum" if shot.program is None else "note",
                     "pitch": shot.pitch, "note": note_name(shot.pitch),
                     "program": "" if shot.program is None else shot.program,
                     "velocity": shot.velocity, "seconds": round(shot.seconds, 4)})
    text = io.StringIO()
    writer = csv.DictWriter(text, INDEX_FIELDS)
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(folder / "index.csv", text.getvalue())
    atomic_write_text(folder / "index.json", json.dumps(rows, indent=1) + "\n")
    return rows
