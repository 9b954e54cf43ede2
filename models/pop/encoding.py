"""Multi-track pop songs <-> REMI tokens (Huang & Yang 2020), through MidiTok.

One token stream per song: `Bar`, `Position` (16 per 4/4 bar), `Program` (here the track's
role, not a GM instrument: 0 melody, 1 bridge, 2 accompaniment; only written when it changes),
then `Pitch`, `Velocity` (16 bins) and `Duration` per note. MidiTok builds the vocabulary and
encodes the training data. Decoding, which generation runs on every phrase, is the few lines
below instead: importing MidiTok costs half a second, more than generating a phrase, and a
test holds the two decoders to the same notes.

Time is counted in beats, not seconds. For POP909 the beats come from the song's beat
annotations (its MIDI tempo follows the recording, so the grid drifts without them) and its
downbeats start the bars; otherwise from the tempo map, with bar 1 at time 0.
"""

from __future__ import annotations

import functools
import operator
import warnings
from dataclasses import asdict, dataclass

import numpy as np

ROLES = ("melody", "bridge", "accompaniment")  # role i is the token stream's Program_i
TRACK_ROLES = {"MELODY": 0, "BRIDGE": 1, "PIANO": 2}  # POP909's track names
BEATS_PER_BAR = 4


@dataclass(frozen=True)
class RemiEncoding:
    pitch_low: int = 21
    pitch_high: int = 108
    positions_per_beat: int = 4
    velocity_bins: int = 16
    max_duration_beats: int = 8

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def vocab(self) -> list[str]:
        """Token strings in id order (model.json keeps them, so decoding needs no MidiTok)."""
        return _vocab(self)

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def encode(self, sequence) -> np.ndarray:
        """Token ids of a NoteSequence's pitched notes; empty when its bars are not 4/4."""
        score = to_score(sequence)
        if score is None:
            return np.zeros(0, dtype=np.int32)
        tokens = _tokenizer(self).encode(score)
        tokens = tokens[0] if isinstance(tokens, list) else tokens
        return np.asarray(tokens.ids, dtype=np.int32)

    def primer_tail(self, sequence, tokens: int):
        """A NoteSequence whose encoding ends in the same `tokens` ids as `sequence`'s (the
        generator reads no more of a primer): its notes from a bar line `2 * tokens` notes
        before the end, each track named by the role the whole song gives it (the melody-
        track classifier reads the whole song). Encoding a 600,000-note primer whole took
        13-30 s; cutting and encoding its tail takes a second or two. A primer of up to
        `8 * tokens` notes is returned as it is.

        REMI writes each note at its onset from the tokens of its own bar (a Program token
        only where the role changes), so from the first note of the cut's bar on the two
        encodings agree: every note that can round into that bar is kept, with the song's
        first note (where to_score's bars are counted from) and each track's first."""
        if len(sequence.notes) <= 8 * tokens:
            return sequence
        roles = roles_of(sequence)
        notes = np.fromiter(map(_NOTE, sequence.notes), dtype=_NOTE_COLUMNS,
                            count=len(sequence.notes))
        instruments, which = np.unique(notes["instrument"], return_inverse=True)
        role = np.array([roles.get(int(i), -1) for i in instruments], dtype=np.int64)[which]
        index = np.flatnonzero(role >= 0)  # as to_score takes them
        if len(index) <= 8 * tokens:
            return sequence
        notes, role = notes[index], role[index]
        to_beats, pickup, _ = beat_clock(sequence)
        starts = to_beats(notes["start"]) + (BEATS_PER_BAR - pickup if pickup else 0)
        if starts.min() < 0:  # as to_score counts the bars
            starts = starts + int(np.ceil(-starts.min() / BEATS_PER_BAR)) * BEATS_PER_BAR
        # each (role, pitch, position) is one note however often it is doubled
        position = np.floor(starts * self.positions_per_beat)
        order = np.lexsort((position, notes["pitch"], role))
        distinct = np.r_[True, (np.diff(role[order]) != 0) | (np.diff(notes["pitch"][order]) != 0)
                         | (np.diff(position[order]) != 0)]
        bars = np.sort(np.floor(position[order][distinct] / self.positions_per_beat
                                / BEATS_PER_BAR))
        if len(bars) < 2 * tokens:
            return sequence
        keep = starts >= bars[-2 * tokens] * BEATS_PER_BAR - 1  # a beat before: rounding
        keep[int(np.argmin(starts))] = True
        pitched = np.flatnonzero(~notes["is_drum"])
        keep[pitched[np.unique(notes["instrument"][pitched], return_index=True)[1]]] = True
        tail = type(sequence)()
        tail.CopyFrom(sequence)
        del tail.notes[:], tail.instrument_infos[:]
        tail.notes.extend(sequence.notes[i] for i in index[keep].tolist())
        names = {role: name for name, role in TRACK_ROLES.items()}
        for instrument, role in roles.items():
            tail.instrument_infos.add(instrument=instrument, name=names[role])
        return tail

    def decode(self, ids, qpm: float = 120.0, programs=(0, 0, 0)):
        """A NoteSequence from ids: one instrument per role, `programs[role]` its GM program."""
        return Decoder(self.vocab).sequence(ids, qpm, programs)

    def id_of(self, token: str) -> int:
        return self.vocab.index(token)


_NOTE = operator.attrgetter("instrument", "pitch", "start_time", "is_drum")
_NOTE_COLUMNS = np.dtype([("instrument", np.int64), ("pitch", np.int64), ("start", np.float64),
                          ("is_drum", np.bool_)])


def _config(encoding: RemiEncoding):
    import miditok

    return miditok.TokenizerConfig(
        pitch_range=(encoding.pitch_low, encoding.pitch_high + 1),
        beat_res={(0, 4): encoding.positions_per_beat,
                  (4, encoding.max_duration_beats): encoding.positions_per_beat // 2},
        num_velocities=encoding.velocity_bins, use_programs=True,
        one_token_stream_for_programs=True, programs=list(range(len(ROLES))),
        program_changes=True, use_time_signatures=False,
        special_tokens=["PAD", "BOS", "EOS"])


@functools.lru_cache(maxsize=4)
def _tokenizer(encoding: RemiEncoding):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import miditok

        return miditok.REMI(_config(encoding))


@functools.lru_cache(maxsize=4)
def _vocab(encoding: RemiEncoding) -> list[str]:
    vocab = _tokenizer(encoding).vocab
    return sorted(vocab, key=vocab.get)


class Decoder:
    """Token ids -> notes, parsing each vocabulary entry once."""

    KINDS = ("Bar", "Position", "Program", "Pitch", "Velocity", "Duration")

    def __init__(self, vocab: list[str]):
        self.vocab = list(vocab)
        self.kind = np.full(len(vocab), -1, dtype=np.int64)
        self.value = np.zeros(len(vocab), dtype=np.float64)
        for i, token in enumerate(vocab):
            name, _, value = token.partition("_")
            if name not in self.KINDS:
                continue
            self.kind[i] = self.KINDS.index(name)
            if name == "Duration":  # "beats.ticks.resolution"
                beats, ticks, resolution = (int(x) for x in value.split("."))
                self.value[i] = beats + ticks / resolution
            elif name != "Bar":
                self.value[i] = float(value)
        self.positions_per_beat = int(self.value[self.kind == 1].max() + 1) // BEATS_PER_BAR

    def ids(self, kind: str) -> np.ndarray:
        return np.flatnonzero(self.kind == self.KINDS.index(kind))

    def notes(self, ids) -> np.ndarray:
        """[n, 5] rows of (role, pitch, velocity, start beat, duration beats); a note needs
        Pitch, Velocity and Duration in a row, anything else is skipped."""
        bar, position, role, rows = -1, 0.0, 0, []
        ids = np.asarray(ids, dtype=np.int64)
        kinds, values = self.kind[ids], self.value[ids]
        i, n = 0, len(ids)
        while i < n:
            kind = kinds[i]
            if kind == 0:
                bar, position = bar + 1, 0.0
            elif kind == 1:
                position = values[i] / self.positions_per_beat
            elif kind == 2:
                role = int(values[i])
            elif kind == 3 and i + 2 < n and kinds[i + 1] == 4 and kinds[i + 2] == 5:
                start = max(bar, 0) * BEATS_PER_BAR + position
                rows.append((role, values[i], values[i + 1], start, values[i + 2]))
                i += 2
            i += 1
        return np.array(rows, dtype=np.float64).reshape(-1, 5)

    def bars(self, ids) -> int:
        return int(np.count_nonzero(self.kind[np.asarray(ids, dtype=np.int64)] == 0))

    def sequence(self, ids, qpm: float, programs=(0, 0, 0)):
        from note_seq.protobuf import music_pb2

        seq = music_pb2.NoteSequence(ticks_per_quarter=480)
        seq.tempos.add(qpm=qpm)
        seq.time_signatures.add(numerator=4, denominator=4)
        for role, name in enumerate(ROLES):
            seq.instrument_infos.add(instrument=role, name=name)
        beat = 60.0 / qpm
        for role, pitch, velocity, start, duration in self.notes(ids).tolist():
            seq.notes.add(pitch=int(pitch), velocity=int(velocity), instrument=int(role),
                          program=int(programs[int(role)]), start_time=start * beat,
                          end_time=(start + duration) * beat)
        seq.total_time = max((n.end_time for n in seq.notes), default=0.0)
        return seq


def roles_of(sequence) -> dict[int, int]:
    """Each pitched instrument's role: POP909's track names, else the track the melody-track
    classifier names (models/melody_track; the highest-sounding one when it abstains) is the
    melody and every other one accompaniment."""
    names = {info.instrument: info.name.upper() for info in sequence.instrument_infos}
    pitched = sorted({n.instrument for n in sequence.notes if not n.is_drum})
    if any(names.get(i) in TRACK_ROLES for i in pitched):
        return {i: TRACK_ROLES[names[i]] for i in pitched if names.get(i) in TRACK_ROLES}
    if len(pitched) <= 1:
        return {i: 0 for i in pitched}
    from models.melody_track import melody_instrument

    melody = melody_instrument(sequence)
    if melody not in pitched:  # the highest mean pitch, summed in one pass (3,000 tracks)
        total: dict[int, list[int]] = {i: [0, 0] for i in pitched}
        for note in sequence.notes:
            if note.instrument in total:
                total[note.instrument][0] += note.pitch
                total[note.instrument][1] += 1
        melody = max(pitched, key=lambda i: total[i][0] / total[i][1])
    return {i: 0 if i == melody else 2 for i in pitched}


def beat_clock(sequence):
    """(seconds -> beats function, beats before the first bar line) for a NoteSequence."""
    from note_seq.protobuf import music_pb2

    kind = music_pb2.NoteSequence.TextAnnotation.BEAT
    beats = sorted((a.time, a.text == "downbeat") for a in sequence.text_annotations
                   if a.annotation_type == kind)
    if len(beats) >= 2:
        times = np.array([t for t, _ in beats])
        down = np.flatnonzero([d for _, d in beats])
        first, last = times[1] - times[0], times[-1] - times[-2]

        def to_beats(t):
            t = np.asarray(t, dtype=np.float64)
            b = np.interp(t, times, np.arange(len(times), dtype=np.float64))
            b = np.where(t < times[0], (t - times[0]) / first, b)
            return np.where(t > times[-1], len(times) - 1 + (t - times[-1]) / last, b)

        return to_beats, (int(down[0]) % BEATS_PER_BAR if len(down) else 0), down
    tempos = sorted((t.time, t.qpm) for t in sequence.tempos) or [(0.0, 120.0)]
    if tempos[0][0] > 0:
        tempos.insert(0, (0.0, tempos[0][1]))
    starts = np.array([t for t, _ in tempos])
    rates = np.array([q for _, q in tempos]) / 60.0
    offsets = np.concatenate([[0.0], np.cumsum(np.diff(starts) * rates[:-1])])

    def to_beats(t):
        t = np.asarray(t, dtype=np.float64)
        k = np.clip(np.searchsorted(starts, t, side="right") - 1, 0, len(starts) - 1)
        return offsets[k] + (t - starts[k]) * rates[k]

    return to_beats, 0, None


def to_score(sequence, tpq: int = 480):
    """A symusic Score in ticks of the song's own beats (4/4 bars, one track per role), or
    None when the song's annotated bars are not mostly four beats long."""
    import symusic

    to_beats, pickup, downbeats = beat_clock(sequence)
    if downbeats is not None and len(downbeats) > 2:
        gaps = np.diff(downbeats)
        if np.mean(gaps == BEATS_PER_BAR) < 0.8:
            return None
    roles = roles_of(sequence)
    notes = [n for n in sequence.notes if n.instrument in roles]
    if not notes:
        return None
    # the first bar line falls on beat `pickup`: shift so bar lines land on multiples of 4
    offset = BEATS_PER_BAR - pickup if pickup else 0
    starts = to_beats([n.start_time for n in notes]) + offset
    ends = to_beats([n.end_time for n in notes]) + offset
    if starts.min() < 0:  # notes before the annotated beats: start one bar earlier
        bars = int(np.ceil(-starts.min() / BEATS_PER_BAR))
        starts, ends = starts + bars * BEATS_PER_BAR, ends + bars * BEATS_PER_BAR
    score = symusic.Score(tpq)
    score.time_signatures.append(symusic.TimeSignature(0, 4, 4))
    tracks = {role: symusic.Track(name=ROLES[role], program=role)
              for role in sorted(set(roles.values()))}
    ticks0 = np.round(starts * tpq).astype(np.int64)
    ticks1 = np.maximum(np.round(ends * tpq).astype(np.int64), ticks0 + 1)
    for note, a, b in zip(notes, ticks0.tolist(), ticks1.tolist()):
        tracks[roles[note.instrument]].notes.append(
            symusic.Note(a, b - a, note.pitch, max(1, note.velocity)))
    for track in tracks.values():
        score.tracks.append(track)
    return score
