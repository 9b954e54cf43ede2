"""Major or minor on request: a phrase moved to the parallel mode of its own key.

The symbolic models were not trained with a mode to condition on, so a prompt's "dark" or
"happy" is honoured after the fact, the way an arranger writes a minor version of a tune:
the key is estimated from the notes (training.keys) and the three degrees that differ
between the modes move by a semitone (major -> natural minor: the 3rd, 6th and 7th down;
minor -> major: up). Rhythm, register, velocities, drums and the tonic stay as they were.
Pure functions of a NoteSequence.
"""

from __future__ import annotations

import numpy as np

MODES = ("major", "minor")
# semitones above the tonic -> where they go in the other mode
TO_MINOR = {4: 3, 9: 8, 11: 10}
TO_MAJOR = {3: 4, 8: 9, 10: 11}


def estimate(sequence):
    """The key of a NoteSequence's pitched notes (training.keys.Key), or None without any."""
    from training.keys import estimate_key_from_notes

    notes = [n for n in sequence.notes if not n.is_drum]
    if not notes:
        return None
    pitches = np.array([n.pitch for n in notes])
    durations = np.array([n.end_time - n.start_time for n in notes])
    return estimate_key_from_notes(pitches, durations).key


def to_mode(sequence, mode: str):
    """A copy of `sequence` in `mode` ("major" or "minor") on the same tonic, and its key
    name ("A minor"); a sequence already in that mode comes back as it was."""
    from training.keys import Key

    if mode not in MODES:
        raise ValueError(f"mode must be major or minor, not {mode!r}")
    key = estimate(sequence)
    copy = type(sequence)()
    copy.CopyFrom(sequence)
    if key is None or key.mode == mode:
        return copy, (key.name if key else None)
    moves = TO_MINOR if mode == "minor" else TO_MAJOR
    seen = set()
    keep = []
    for note in copy.notes:
        if not note.is_drum:
            step = (note.pitch - key.tonic) % 12
            note.pitch = min(127, max(0, note.pitch + moves.get(step, step) - step))
            # a blue third beside the plain one would now double it: play it once
            where = (note.instrument, note.pitch, round(note.start_time, 4))
            if where in seen:
                continue
            seen.add(where)
        keep.append(note)
    del copy.key_signatures[:]  # a DAW shows the new key
    copy.key_signatures.add(time=0.0, key=key.tonic,
                            mode=copy.KeySignature.MINOR if mode == "minor" else
                            copy.KeySignature.MAJOR)
    if len(keep) != len(copy.notes):
        keep = [type(n).FromString(n.SerializeToString()) for n in keep]
        del copy.notes[:]
        copy.notes.extend(keep)
    return copy, Key(key.tonic, mode).name
