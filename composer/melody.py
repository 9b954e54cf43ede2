"""A melody over a user's backing track: its bars and chords condition the lead model.

    backing = read_backing("band.wav")                      # composer.backing: beats, chords
    melody = write_melody(backing, bars=8, seed=1)          # the lead line on its time line
    write_midi(melody.sequence, "lead.mid"); mix(backing, melody)  # -> stereo audio

The backing's chord per beat becomes one condition per sixteenth (models.lead.encoding), the
model (models/lead, trained on POP909's melodies and chord annotations) samples one melody
event per sixteenth, and the events become notes at the backing's own beat times, so the line
lands on its beats even when a recorded tempo drifts. The lead's velocities come from the
shipped dynamics (POP909's lead role).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from models.lead.encoding import (BEATS_PER_BAR, FIRST_NOTE, HOLD, STEPS_PER_BAR,
                                  STEPS_PER_BEAT, LeadEncoding)

if TYPE_CHECKING:
    from composer.backing import Backing

# The octave POP909's melodies sing in (a song's median melody pitch: 73 at the median song,
# 63..77 for 90 % of them): the model hears chords without octaves, so its line is moved by
# whole octaves until its median is in here, above a backing's chords rather than inside them.
REGISTER = (67, 79)  # centred on 73
DEFAULT_PROGRAM = 53  # GM "Voice Oohs": a sung colour from the soundfont, not vocal synthesis
# Of the pitches (the rhythm samples at 1.0): the one whose melodies over POP909's valid songs
# put as many chord tones on strong beats as the real ones, within 10 %, with the closest
# rhythm (benchmarks/melody.py; docs/BENCHMARKS.md)
DEFAULT_TEMPERATURE = 0.7


class MelodyError(ValueError):
    """A melody that cannot be written as asked; str() says why in one line."""


@dataclass(frozen=True)
class Melody:
    """A lead line written over a backing, with what it was conditioned on."""

    sequence: object  # note_seq.NoteSequence: the lead alone, times on the backing's clock
    events: np.ndarray  # [sixteenth] models.lead.encoding events
    conditions: np.ndarray  # [sixteenth] chord * 16 + position, what each event heard
    first_bar: int  # the backing's bar it starts on (0 = its first)
    bars: int
    start: float  # seconds of its first sixteenth on the backing's clock
    program: int


@dataclass(frozen=True)
class StepGrid:
    """The sixteenths a melody is written on, bar by bar on the backing's own bar lines: a bar
    of two beats (some songs insert one) has eight sixteenths, and the next starts afresh."""

    beats: np.ndarray  # [step + 1] fractional beat index of each sixteenth, then of the end
    positions: np.ndarray  # [step] place in its bar, 0..15 (a bar past 4 beats repeats 0..)

    def conditions(self, chords) -> np.ndarray:
        """[step] condition ids: the chord of each sixteenth's beat (past the backing's last
        beat, its last chord) and the sixteenth's place in the bar."""
        chord_ids = np.array([c.id for c in chords], dtype=np.int64)
        beat = np.minimum(self.beats[:-1].astype(np.int64), len(chord_ids) - 1)
        return chord_ids[beat] * STEPS_PER_BAR + self.positions


def step_grid(downbeats: np.ndarray, first_bar: int, bars: int) -> StepGrid:
    """Sixteenths of bars first_bar .. first_bar + bars - 1; a bar's length is the beats to
    the next bar line (the last bar, or one past them, four)."""
    beats, positions = [], []
    for bar in range(first_bar, first_bar + bars):
        start = int(downbeats[bar]) if bar < len(downbeats) else (
            int(downbeats[-1]) + (bar - len(downbeats) + 1) * BEATS_PER_BAR)
        length = (int(downbeats[bar + 1]) - start if bar + 1 < len(downbeats)
                  else BEATS_PER_BAR)
        steps = np.arange(length * STEPS_PER_BEAT)
        beats.append(start + steps / STEPS_PER_BEAT)
        positions.append(steps % STEPS_PER_BAR)
    last = beats[-1][-1] + 1 / STEPS_PER_BEAT
    return StepGrid(np.concatenate(beats + [[last]]), np.concatenate(positions))


def whole_bars(backing: Backing) -> int:
    """Bars whose four beats the backing holds (a last downbeat at its very end is none)."""
    return int(np.sum(backing.downbeats + BEATS_PER_BAR <= len(backing.beats)))


def seconds_of(beats: np.ndarray, where: np.ndarray) -> np.ndarray:
    """Fractional beat indices as seconds between the backing's beats; past its last beat at
    its last beat's pace."""
    index = np.arange(len(beats), dtype=np.float64)
    times = np.interp(where, index, beats)
    period = beats[-1] - beats[-2] if len(beats) > 1 else 0.5
    past = where > index[-1]
    times[past] = beats[-1] + (where[past] - index[-1]) * period
    return times


def notes_of(events: np.ndarray) -> list[tuple[int, int, int]]:
    """(event, first step, end step) of each note an event stream plays."""
    notes, current = [], None
    for step, event in enumerate(events.tolist()):
        if event == HOLD:
            continue
        if current is not None:
            notes.append((current[0], current[1], step))
            current = None
        if event >= FIRST_NOTE:
            current = (event, step)
    if current is not None:
        notes.append((current[0], current[1], len(events)))
    return notes


def register_shift(pitches) -> int:
    """Semitones (whole octaves) that bring the median pitch into REGISTER."""
    if not len(pitches):
        return 0
    median = float(np.median(pitches))
    return 12 * int(np.ceil((REGISTER[0] - median) / 12)) if median < REGISTER[0] else (
        -12 * int(np.ceil((median - REGISTER[1] + 1) / 12)) if median >= REGISTER[1] else 0)


def melody_sequence(events: np.ndarray, times: np.ndarray, *, program: int, qpm: float,
                    positions: np.ndarray | None = None, seed: int | None = None,
                    encoding: LeadEncoding | None = None):
    """The events as a one-track NoteSequence, each sixteenth at times[step], velocities from
    the shipped dynamics (lead role) by each note's place in its bar (`positions`, default
    4/4 bars from step 0), moved by octaves into REGISTER."""
    from note_seq.protobuf import music_pb2

    from models.dynamics import Dynamics

    encoding = encoding or LeadEncoding()
    notes = notes_of(events)
    steps = np.array([first for _, first, _ in notes], dtype=np.int64)
    if positions is None:
        positions = np.arange(len(events)) % STEPS_PER_BAR
    bar = np.cumsum(positions == 0) - 1
    rng = np.random.default_rng(None if seed is None else seed + 0x1EAD)
    velocity, _ = Dynamics.load().sample(np.ones(len(notes), bool), positions[steps],
                                         np.maximum(bar[steps], 0), rng)
    sequence = music_pb2.NoteSequence(ticks_per_quarter=480)
    sequence.tempos.add(time=0.0, qpm=qpm)
    sequence.time_signatures.add(time=0.0, numerator=4, denominator=4)
    sequence.instrument_infos.add(instrument=0, name="MELODY")
    shift = register_shift([encoding.pitch(event) for event, _, _ in notes])
    for (event, first, end), v in zip(notes, np.clip(np.round(velocity), 1, 127).tolist()):
        sequence.notes.add(pitch=encoding.pitch(event) + shift, velocity=int(v), program=program,
                           instrument=0, start_time=float(times[first]),
                           end_time=float(times[end]))
    sequence.total_time = float(times[-1])
    return sequence


def write_melody(backing: Backing, *, bars: int | None = None, start_bar: int = 0,
                 checkpoint: str | os.PathLike | None = None,
                 temperature: float | None = None, seed: int | None = None,
                 program: int = DEFAULT_PROGRAM) -> Melody:
    """A melody of `bars` bars (default: to the backing's end) from its bar `start_bar`."""
    from models.checkpoint import default_dir, load_checkpoint
    from models.lead.runtime import LeadRuntime

    if not 0 <= program <= 127:
        raise MelodyError(f"--program {program}: a GM program is 0..127")
    temperature = DEFAULT_TEMPERATURE if temperature is None else temperature
    if temperature <= 0:
        raise MelodyError(f"--temperature {temperature}: must be above 0")
    whole = whole_bars(backing)
    available = whole - start_bar
    if start_bar < 0 or available < 1:
        raise MelodyError(f"{backing.path}: it has {whole} bars; "
                          f"--start-bar {start_bar + 1} is past them")
    bars = available if bars is None else bars
    if bars < 1:
        raise MelodyError(f"--bars {bars}: must be at least 1")
    if bars > available:
        raise MelodyError(f"--bars {bars}: {backing.path} has {available} bars from bar "
                          f"{start_bar + 1} on")
    info, weights = load_checkpoint(checkpoint or default_dir("lead"), ("lead",))
    encoding = LeadEncoding(**info["encoding"])
    grid = step_grid(backing.downbeats, start_bar, bars)
    conditions = grid.conditions(backing.chords)
    events = LeadRuntime(weights).sample(conditions, temperature=temperature,
                                         rng=np.random.default_rng(seed),
                                         onset_bias=info.get("onset_bias"))
    times = seconds_of(backing.beats, grid.beats)
    sequence = melody_sequence(events, times, program=program, qpm=backing.qpm,
                               positions=grid.positions, seed=seed, encoding=encoding)
    if backing.sequence is not None:  # a MIDI backing's tempo map: its bars line up in a DAW
        del sequence.tempos[:], sequence.time_signatures[:]
        sequence.tempos.extend(backing.sequence.tempos)
        sequence.time_signatures.extend(backing.sequence.time_signatures)
    return Melody(sequence, events, conditions, start_bar, bars, float(times[0]), program)


def mix(backing: Backing, melody: Melody, *, soundfont: str | os.PathLike | None = None,
        sample_rate: int = 44100, lead_db: float = 1.0) -> np.ndarray:
    """Stereo audio of the melody (FluidSynth, its program) over the backing (the file's own
    audio, or the MIDI rendered), the lead brought to the backing's loudness plus `lead_db`,
    the sum at -16 LUFS with no peak above -1 dBFS."""
    from composer.render import Renderer, integrated_loudness, normalize

    with Renderer(soundfont, sample_rate) as renderer:
        lead = renderer.render(melody.sequence, normalize=False).audio
        if backing.kind == "midi":
            band = renderer.render(backing.sequence, normalize=False).audio
        else:
            band = _audio_at(backing, sample_rate)
    band_lufs = integrated_loudness(band, sample_rate)
    lead_lufs = integrated_loudness(lead, sample_rate)
    if np.isfinite(band_lufs) and np.isfinite(lead_lufs):
        lead = lead * np.float32(10 ** ((band_lufs + lead_db - lead_lufs) / 20))
    out = np.zeros((max(len(band), len(lead)), 2), np.float32)
    out[:len(band)] += band
    out[:len(lead)] += lead
    return normalize(out, sample_rate)[0]


def _audio_at(backing: Backing, sample_rate: int) -> np.ndarray:
    """The backing file's own audio as stereo float32 at `sample_rate` (it was analysed in
    mono; the mix keeps its stereo image). soundfile and soxr, as the analysis reads it."""
    import soundfile
    import soxr

    audio, rate = soundfile.read(str(backing.path), dtype="float32", always_2d=True)
    audio = np.repeat(audio, 2, axis=1) if audio.shape[1] == 1 else audio[:, :2]
    if rate != sample_rate:
        audio = soxr.resample(audio, rate, sample_rate, quality="HQ")
    return np.ascontiguousarray(audio, dtype=np.float32)


__all__ = ["DEFAULT_PROGRAM", "Melody", "MelodyError", "StepGrid", "melody_sequence", "mix",
           "notes_of", "seconds_of", "step_grid", "whole_bars", "write_melody"]

