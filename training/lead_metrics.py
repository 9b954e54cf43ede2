"""How a melody sits on its chords and beats: the lead model judged as music.

Pure functions of an event stream and its conditions (models.lead.encoding), so a generated
melody and a song's real one over the same chords are measured the same way:

    chord_tones     share of notes starting on a strong beat (beats 1 and 3) whose pitch is
                    in the chord sounding there (notes over no chord are not counted)
    chord_tones_all the same over every note
    on_beat         share of notes starting on a beat; on_eighth: on an eighth-note
    notes_per_bar, rest_share (sixteenths with nothing sounding), pitch_range (semitones,
    5th to 95th percentile), mean_interval (semitones between successive notes)

`compare` runs the shipped (or any) lead model over held-out songs' own chords and puts the
generated statistics beside the real melodies'.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from models.lead.chords import Chord
from models.lead.encoding import FIRST_NOTE, HOLD, STEPS_PER_BAR, LeadEncoding

STRONG = (0, 8)  # sixteenths of beats 1 and 3
STATISTICS = ("chord_tones", "chord_tones_all", "on_beat", "on_eighth", "notes_per_bar",
              "rest_share", "pitch_range", "mean_interval")


def statistics(events: np.ndarray, conditions: np.ndarray,
               encoding: LeadEncoding | None = None) -> dict[str, float]:
    encoding = encoding or LeadEncoding()
    events = np.asarray(events, np.int64)
    conditions = np.asarray(conditions, np.int64)
    onsets = np.flatnonzero(events >= FIRST_NOTE)
    pitches = np.array([encoding.pitch(e) for e in events[onsets]], dtype=np.int64)
    chords, positions = np.divmod(conditions[onsets], STEPS_PER_BAR)
    in_chord = np.array([p % 12 in Chord.from_id(c).pitch_classes
                         for p, c in zip(pitches.tolist(), chords.tolist())], dtype=bool)
    has_chord = chords != 0
    strong = np.isin(positions, STRONG) & has_chord
    sounding, on = np.zeros(len(events), bool), False
    for i, event in enumerate(events.tolist()):
        if event != HOLD:
            on = event >= FIRST_NOTE
        sounding[i] = on

    def share(mask, of):
        return float(mask[of].mean()) if of.any() else float("nan")

    return {
        "chord_tones": share(in_chord, strong),
        "chord_tones_all": share(in_chord, has_chord),
        "on_beat": float(np.mean(positions % 4 == 0)) if len(onsets) else float("nan"),
        "on_eighth": float(np.mean(positions % 2 == 0)) if len(onsets) else float("nan"),
        "notes_per_bar": len(onsets) / max(1, len(events) / STEPS_PER_BAR),
        "rest_share": float(1.0 - sounding.mean()),
        "pitch_range": float(np.subtract(*np.percentile(pitches, [95, 5])))
        if len(pitches) > 1 else 0.0,
        "mean_interval": float(np.abs(np.diff(pitches)).mean()) if len(pitches) > 1 else 0.0,
    }


def song_windows(corpus: str | Path, split: str, bars: int, encoding: LeadEncoding,
                 limit: int | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """(conditions, events) of the first `bars` bars of each song of a split that has them."""
    from training.datasets import encode_split

    encoded = encode_split(corpus, split, encoding, workers=1)
    steps = bars * STEPS_PER_BAR
    out = []
    for i in range(encoded.pieces):
        stream = encoded.piece(i).astype(np.int64)
        if len(stream) >= 2 * steps:
            out.append((stream[0:2 * steps:2], stream[1:2 * steps:2]))
        if limit and len(out) >= limit:
            break
    return out


def compare(corpus: str | Path, checkpoint: str | Path | None = None, *, split: str = "test",
            bars: int = 16, temperature: float = 1.0, seed: int = 0,
            limit: int | None = None, calibrated: bool = True) -> dict:
    """Statistics of generated melodies over held-out songs' chords beside the songs' own
    melodies: the mean of each, per statistic, and the songs counted. `calibrated` samples
    with the checkpoint's onset_bias, as `composer melody` does (False: without it)."""
    from models.checkpoint import default_dir, load_checkpoint
    from models.lead.runtime import LeadRuntime

    info, weights = load_checkpoint(checkpoint or default_dir("lead"), ("lead",))
    encoding = LeadEncoding(**info["encoding"])
    runtime = LeadRuntime(weights)
    windows = song_windows(corpus, split, bars, encoding, limit)
    rng = np.random.default_rng(seed)
    real, generated = [], []
    for conditions, events in windows:
        real.append(statistics(events, conditions, encoding))
        made = runtime.sample(conditions, temperature=temperature, rng=rng,
                              onset_bias=info.get("onset_bias") if calibrated else None)
        generated.append(statistics(made, conditions, encoding))

    def mean(rows, key):
        return round(float(np.nanmean([r[key] for r in rows])), 4) if rows else None

    return {"split": split, "songs": len(windows), "bars": bars, "temperature": temperature,
            "seed": seed,
            "real": {k: mean(real, k) for k in STATISTICS},
            "generated": {k: mean(generated, k) for k in STATISTICS}}


def teacher_forced(corpus: str | Path, checkpoint: str | Path | None = None, *,
                   split: str = "test") -> dict:
    """Next-event accuracy and perplexity of the model on a split's songs, each read whole
    from its first sixteenth (the way `composer melody` runs it)."""
    from models.checkpoint import default_dir, load_checkpoint
    from models.lead.encoding import REST
    from models.lead.runtime import LeadRuntime
    from training.datasets import encode_split

    info, weights = load_checkpoint(checkpoint or default_dir("lead"), ("lead",))
    runtime = LeadRuntime(weights)
    encoded = encode_split(corpus, split, LeadEncoding(**info["encoding"]), workers=1)
    nll, right, count, songs = 0.0, 0, 0, 0
    for i in range(encoded.pieces):
        stream = encoded.piece(i).astype(np.int64)
        if not len(stream):
            continue
        conditions, events = stream[0::2], stream[1::2]
        state = runtime.initial_state()
        last = REST
        for condition, event in zip(conditions.tolist(), events.tolist()):
            logits = runtime.step_conditioned(np.array([last]), np.array([condition]), state)[0]
            logits = logits - logits.max()
            nll -= logits[event] - np.log(np.exp(logits).sum())
            right += int(logits.argmax() == event)
            count += 1
            last = event
        songs += 1
    return {"split": split, "songs": songs, "sixteenths": count,
            "accuracy": round(right / max(count, 1), 4),
            "perplexity": round(float(np.exp(nll / max(count, 1))), 3)}
