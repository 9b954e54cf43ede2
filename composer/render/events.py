"""A NoteSequence as one time-sorted table of MIDI events, ready to feed a synth in one pass.

Rendering every instrument on its own and summing (pretty_midi's way) runs the synth once per
track; here each (instrument, program, drum) track gets its own MIDI channel instead, so a
whole arrangement plays through a single synth pass. Pure: no synth, no audio.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Event kinds, in the order they are applied when they fall on the same sample: controllers
# (the sustain pedal, volume) before notes, and a note's end before a new note of the same
# pitch, so a repeated note is re-struck rather than cut.
CONTROL, BEND, OFF, ON = 0, 1, 2, 3
DRUM_CHANNEL = 9  # GM's channel 10
DRUM_BANK = 128  # where a soundfont keeps its drum kits
SKIPPED_CONTROLS = (0, 32)  # bank select: the renderer chooses banks itself


@dataclass(frozen=True)
class Track:
    """One MIDI channel's worth of a sequence: what it plays and with which preset."""

    channel: int
    bank: int
    program: int
    is_drum: bool


@dataclass(frozen=True)
class Events:
    """Every event of a sequence, sorted by (sample, kind). Columns are parallel arrays."""

    sample: np.ndarray  # int64, frame at which the event applies
    kind: np.ndarray  # CONTROL, BEND, OFF or ON
    channel: np.ndarray
    data1: np.ndarray  # key, controller number or pitch bend (0..16383)
    data2: np.ndarray  # velocity or controller value
    tracks: tuple[Track, ...]

    @property
    def end(self) -> int:
        """The frame of the last event (0 if there are none)."""
        return int(self.sample[-1]) if len(self.sample) else 0

    def __len__(self) -> int:
        return len(self.sample)


def channel_numbers(count: int, drums: bool, channels: int) -> np.ndarray:
    """`count` channels for drum or pitched tracks: drums on 10, 26, 42, ... (GM's drum
    channel in every group of 16), pitched tracks on all the others. Shared round-robin when
    there are more tracks than channels."""
    pool = np.arange(channels)
    pool = pool[(pool % 16 == DRUM_CHANNEL) == drums]
    return pool[np.arange(count) % len(pool)]


def schedule(sequence, sample_rate: int, program: int | None = None,
             channels: int = 256) -> Events:
    """The sequence's notes, controllers and pitch bends as sorted events.

    `program` replaces the GM program of every pitched track (drums keep their kit). A note's
    end is kept at least one frame after its start, so a zero-length note cannot leave a
    note-on that nothing ends.
    """
    notes = sequence.notes
    count = len(notes)
    instrument = np.fromiter((n.instrument for n in notes), np.int64, count)
    programs = np.fromiter((n.program for n in notes), np.int64, count)
    is_drum = np.fromiter((n.is_drum for n in notes), bool, count)
    if program is not None:
        programs = np.where(is_drum, programs, program)
    keys = np.stack([instrument, programs, is_drum.astype(np.int64)], axis=1)
    unique, track_of_note = (np.unique(keys, axis=0, return_inverse=True) if count
                             else (np.zeros((0, 3), np.int64), np.zeros(0, np.int64)))
    track_of_note = track_of_note.reshape(-1)
    track_channel = np.zeros(len(unique), np.int64)
    for drums in (False, True):
        mask = unique[:, 2] == drums
        track_channel[mask] = channel_numbers(int(mask.sum()), drums, channels)
    tracks = tuple(Track(int(ch), DRUM_BANK if drum else 0, int(prog), bool(drum))
                   for (_, prog, drum), ch in zip(unique.tolist(), track_channel.tolist()))

    start = np.fromiter((n.start_time for n in notes), np.float64, count)
    end = np.fromiter((n.end_time for n in notes), np.float64, count)
    on = np.round(start * sample_rate).astype(np.int64)
    off = np.maximum(np.round(end * sample_rate).astype(np.int64), on + 1)
    pitch = np.clip(np.fromiter((n.pitch for n in notes), np.int64, count), 0, 127)
    velocity = np.clip(np.fromiter((n.velocity for n in notes), np.int64, count), 1, 127)
    note_channel = track_channel[track_of_note]

    # Controllers and bends go to every channel that plays their instrument.
    by_instrument: dict[tuple[int, bool], list[int]] = {}
    for (inst, _, drum), ch in zip(unique.tolist(), track_channel.tolist()):
        by_instrument.setdefault((inst, bool(drum)), []).append(ch)
    controls = [(round(c.time * sample_rate), ch, c.control_number, c.control_value)
                for c in sequence.control_changes
                if c.control_number not in SKIPPED_CONTROLS
                for ch in by_instrument.get((c.instrument, c.is_drum), ())]
    bends = [(round(b.time * sample_rate), ch, min(max(b.bend + 8192, 0), 16383), 0)
             for b in sequence.pitch_bends
             for ch in by_instrument.get((b.instrument, b.is_drum), ())]
    control = np.array(controls, np.int64).reshape(-1, 4)
    bend = np.array(bends, np.int64).reshape(-1, 4)

    sample = np.concatenate([control[:, 0], bend[:, 0], off, on])
    kind = np.concatenate([np.full(len(control), CONTROL), np.full(len(bend), BEND),
                           np.full(count, OFF), np.full(count, ON)])
    channel = np.concatenate([control[:, 1], bend[:, 1], note_channel, note_channel])
    data1 = np.concatenate([control[:, 2], bend[:, 2], pitch, pitch])
    data2 = np.concatenate([control[:, 3], bend[:, 3], np.zeros(count, np.int64), velocity])
    order = np.lexsort((kind, np.maximum(sample, 0)))
    return Events(np.maximum(sample, 0)[order], kind[order], channel[order], data1[order],
                  data2[order], tracks)
