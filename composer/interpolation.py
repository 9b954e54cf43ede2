"""`composer interpolate a.mid b.mid`: two songs meeting, as a multi-track arrangement.

Each song goes through the transposer to the common key, and its most representative section
is chosen (composer.sections: the most repeated 16 bars, or `--section intro|BAR`). The lead
melody of that section (the track models/melody_track picks, else the highest line) is
encoded by the VAE, the two latents are joined by spherical interpolation, and each point is
decoded: step 1 reconstructs a, the last step reconstructs b. Around that melody the songs
stay themselves: the tempo moves from a's to b's across the steps, the melody plays on each
song's own program, and the section's other tracks (accompaniment and drums) play under it,
a's for the first half and b's from the midpoint on, switching on a bar line, re-harmonised
bar by bar to the new melody's chords (composer.reharmonise; `keep_harmony` plays them as they
are). The shipped dynamics (models/dynamics) play the melody; the parts keep their velocities.
"""

from __future__ import annotations

import dataclasses
import operator
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from composer.generation import melody_track, only_instrument, read_primer
from composer.generators import GenerationError, resolve
from composer.phrase import Phrase, bar_seconds
from composer.reharmonise import Note, reharmonise
from composer.sections import BarGrid, Section, bar_grid, choose_section
from models.dynamics import Performer
from models.timing import one_tempo, onto_grid

SECTION_BARS = 16  # what "the chorus" means here, unless the model's window is longer
# How far the lead window is looked for, from the section and from the start: note-seq's
# melody extraction is quadratic in a stretch's length (a 2,048-note chord held 59 minutes
# took 9 s), and a real song's sections lie well within this. A stretch ends sooner where
# it holds more notes than LEAD_SEARCH_NOTES (a song has a few thousand in 128 bars; a 4 MB
# file, 600,000, whose melody took seconds to extract).
LEAD_SEARCH_BARS = 128
LEAD_SEARCH_NOTES = 50_000
EARLY = 0.03  # seconds a played note may come before its bar line and still be its first


@dataclass
class Interpolation:
    phrase: Phrase  # all steps back to back
    steps: list[Phrase]  # each step alone, starting at 0
    melodies: np.ndarray  # [steps, window] class ids
    songs: tuple[Song, Song] = ()
    tempos: tuple[float, ...] = ()


@dataclass(frozen=True)
class Backing:
    """A song's note outside its melody, in beats from the start of its section bar."""

    track: int  # the song's instrument number
    pitch: int
    velocity: int
    beat: float
    beats: float
    program: int
    is_drum: bool


@dataclass
class Song:
    """One side of a fusion: the song in the models' key, its melody and chosen section."""

    name: str  # how its tracks are labelled in the fusion ("a: Piano")
    qpm: float
    melody: np.ndarray  # the lead window, class ids of the encoding
    program: int  # the melody track's GM program (0 when the skyline was used)
    section: Section
    backing: list[list[Backing]]  # per bar of the section
    names: dict[int, str]  # track names by instrument number


def read_song(path: str | os.PathLike, encoding, *, track: str | None = None,
              section: str = "auto") -> Song:
    """A song ready to fuse; any reason it cannot be is a GenerationError naming the file."""
    path = Path(path)
    sequence, _, qpm = read_primer(path)
    if len(sequence.tempos) > 1:  # its beats on one tempo, its main one
        sequence = one_tempo(sequence, qpm)
    sequence = onto_grid(sequence)  # a performed file's grid can sit 50-200 ms off its notes
    melody = melody_track(sequence, track, path)
    grid = bar_grid(sequence)
    try:
        chosen = choose_section(sequence, melody, max(SECTION_BARS, encoding.bars), section,
                                grid)
    except ValueError as exc:
        raise GenerationError(f"{path}: {exc}") from None
    notes = _columns(sequence)
    lead = _lead_window(sequence, notes, melody, grid, chosen, encoding, path, track)
    programs = Counter(notes["program"][notes["instrument"] == melody].tolist()
                       if melody is not None else [])
    names = {info.instrument: info.name for info in sequence.instrument_infos}
    return Song(path.stem, float(qpm), lead,
                programs.most_common(1)[0][0] if programs else 0, chosen,
                _backing(sequence, notes, grid, chosen, melody), names)


def sequence_song(sequence, qpm: float, name: str, encoding) -> Song:
    """A generated phrase as one side of a fusion (the hybrid's GAN tunes): all of it is the
    section, its highest voice the melody. Raises NoMelody when that voice has no window."""
    grid = bar_grid(sequence)
    voices: dict[int, list[int]] = {}
    for note in sequence.notes:
        if not note.is_drum:
            voices.setdefault(note.instrument, []).append(note.pitch)
    melody = max(voices, key=lambda i: np.mean(voices[i])) if voices else None
    lead = encoding.lead(only_instrument(sequence, melody) if melody is not None else sequence)
    section = Section(0, grid.bars, "all of it")
    programs = [n.program for n in sequence.notes if n.instrument == melody]
    names = {info.instrument: info.name for info in sequence.instrument_infos}
    return Song(name, float(qpm), lead, programs[0] if programs else 0, section,
                _backing(sequence, _columns(sequence), grid, section, melody), names)


def lead_melody(path: str | os.PathLike, encoding, track: str | None = None,
                section: str = "auto") -> np.ndarray:
    """The lead window interpolate uses: the melody of the song's chosen section."""
    return read_song(path, encoding, track=track, section=section).melody


def _lead_window(sequence, notes: np.ndarray, melody: int | None, grid: BarGrid,
                 section: Section, encoding, path: Path, track: str | None) -> np.ndarray:
    """The first usable window from the section's first bar on, else from the song's start
    (a tempo or meter change can split it into stretches shorter than the window), each
    within LEAD_SEARCH_BARS bars and LEAD_SEARCH_NOTES notes: on the melody track, else (too
    few notes there) the highest line of the arrangement."""
    from note_seq import sequences_lib

    from models.vae.encoding import NoMelody

    starts = np.sort(notes["start"])

    def bar_time(bar: int) -> float:
        beats = grid.beat_times
        return float(beats[min(grid.downbeats[bar], len(beats) - 1)])

    def stretch(first: int):
        """The song from bar `first` on, LEAD_SEARCH_BARS bars and LEAD_SEARCH_NOTES notes
        of it at most."""
        last = first + LEAD_SEARCH_BARS
        begin = bar_time(first)
        end = sequence.total_time if last >= grid.bars else bar_time(last)
        at = int(np.searchsorted(starts, begin))
        if np.searchsorted(starts, end) - at > LEAD_SEARCH_NOTES:
            end = float(starts[at + LEAD_SEARCH_NOTES])
        elif first == 0 and last >= grid.bars:
            return sequence
        return sequences_lib.extract_subsequence(_starting(sequence, begin, end), begin, end)

    error = None
    for first in dict.fromkeys((section.start, 0)):  # the start once, when the section is it
        part = stretch(first)
        lines = [only_instrument(part, melody)] if melody is not None else []
        if track is None:
            lines.append(part)
        for line in lines:
            try:
                return _highest_line(line, encoding)
            except NoMelody as exc:
                error = error or exc
    where = f"track {track}: " if track is not None else ""
    raise GenerationError(f"{path}: {where}{error} (from {section.describe()} or from the "
                          "start)") from None


def _starting(sequence, begin: float, end: float):
    """A copy with only the notes starting in [begin, end): what extract_subsequence keeps of
    them, without sorting every note of the song to find them. A note played up to EARLY
    seconds before `begin` is the bar's first: it starts at `begin`."""
    out = _without_notes(sequence)
    out.notes.extend(n for n in sequence.notes if begin - EARLY <= n.start_time < end)
    for note in out.notes:
        note.start_time = max(note.start_time, begin)
    return out


def _without_notes(sequence):
    out = type(sequence)()
    out.CopyFrom(sequence)
    del out.notes[:]
    return out


def _highest_line(sequence, encoding) -> np.ndarray:
    """encoding.lead(sequence) for an arrangement, one track at a time: note-seq's melody
    extraction reads every note of the piece for each track (3,000 tracks took minutes), so
    each track's notes go to the encoding alone, those that may sound highest first, until
    no other can reach the best line's mean pitch. Tracks tied for the highest line are
    chosen as lead chooses: the first in the piece's meter sections, then by instrument."""
    from note_seq import sequences_lib

    empty = _without_notes(sequence)
    tracks: dict[int, list] = {}
    for note in sequence.notes:
        tracks.setdefault(note.instrument, []).append(note)
    named = {info.instrument for info in sequence.instrument_infos
             if info.name.strip().lower() == "melody"}
    named &= {i for i, notes in tracks.items() if any(not n.is_drum for n in notes)}
    bound = {}  # the highest class id a line of the track can reach
    for i in named or tracks:
        pitches = [n.pitch for n in tracks[i] if not n.is_drum and n.velocity]
        if len(pitches) >= encoding.min_notes:  # a window needs as many notes
            top = max(pitches)
            if top > encoding.max_pitch or min(pitches) < encoding.min_pitch:
                top = encoding.max_pitch  # octave-folded into the range
            bound[i] = top - encoding.min_pitch + 2
    lines: dict[int, tuple[float, np.ndarray]] = {}  # each track's highest, as lead picks
    best = -np.inf
    for i in sorted(bound, key=lambda i: (-bound[i], i)):
        if bound[i] < best:
            break
        line = _without_notes(empty)
        line.notes.extend(tracks[i])
        for ids in encoding.melodies(line):
            rows = encoding.windows(ids)
            mean = float(ids[ids >= 2].mean()) if len(rows) else -np.inf
            if mean > lines.get(i, (-np.inf,))[0]:
                lines[i] = (mean, rows[0])
        best = max(best, lines.get(i, (-np.inf,))[0])
    tied = sorted(i for i, (mean, _) in lines.items() if mean == best)
    if not tied:
        return encoding.lead(empty)  # raises lead's NoMelody
    if len(tied) > 1:
        timing = one_tempo(empty) if len(empty.tempos) > 1 else empty
        if len(sequences_lib.split_note_sequence_on_time_changes(timing)) > 1:
            line = _without_notes(empty)
            line.notes.extend(n for i in tied for n in tracks[i])
            return encoding.lead(line)  # the first section's, as lead orders them
    return lines[tied[0]][1]


def _backing(sequence, notes: np.ndarray, grid: BarGrid, section: Section,
             melody: int | None) -> list[list[Backing]]:
    """The section's notes off the melody track, bar by bar, timed in beats (drums included;
    a note held past its bar line is cut there); `notes` are the sequence's _columns."""
    bars: list[list[Backing]] = [[] for _ in range(section.bars)]
    # no melody track: the skyline is the melody, the rest is not known (drums are kept)
    index = np.flatnonzero(notes["instrument"] != melody if melody is not None
                           else notes["is_drum"])
    start = grid.beat_of(notes["start"][index])
    bar_of = np.searchsorted(grid.downbeats, start + 1e-6, side="right") - 1
    inside = (bar_of >= section.start) & (bar_of < section.start + section.bars)
    index, start, bar_of = index[inside], start[inside], bar_of[inside]
    end = grid.beat_of(notes["end"][index])
    for i, s, e, bar in zip(index.tolist(), start, end, bar_of.tolist()):
        note = sequence.notes[i]
        first, last = grid.downbeats[bar], grid.downbeats[bar + 1]
        bars[bar - section.start].append(Backing(note.instrument, note.pitch, note.velocity,
                                                 float(s - first),
                                                 float(max(min(e, last) - s, 0.05)),
                                                 note.program, note.is_drum))
    return bars


def _columns(sequence) -> np.ndarray:
    """The notes' fields as columns, read once (a pass over 600,000 notes takes half a
    second)."""
    return np.fromiter(map(_FIELDS, sequence.notes), dtype=_COLUMNS, count=len(sequence.notes))


_FIELDS = operator.attrgetter("instrument", "program", "is_drum", "start_time", "end_time")
_COLUMNS = np.dtype([("instrument", np.int64), ("program", np.int64), ("is_drum", np.bool_),
                     ("start", np.float64), ("end", np.float64)])


def interpolate(a: str | os.PathLike, b: str | os.PathLike, *, steps: int = 8,
                qpm: float | None = None, checkpoint: str | os.PathLike | None = None,
                model: str | None = None, program: int | tuple[int, ...] | None = None,
                tracks: tuple[str | None, str | None] = (None, None),
                sections: tuple[str, str] = ("auto", "auto"),
                backing: bool = True, keep_harmony: bool = False) -> Interpolation:
    """`model` (default vae-2bar) or `checkpoint` must be a model with a latent space;
    `tracks` names each song's melody track (None: found by models/melody_track);
    `qpm` None moves from a's tempo to b's; `program` an int sets the melody's, a tuple each
    track's (the melody first); `backing` False leaves the melody alone; `keep_harmony` plays
    the songs' parts with their own chords instead of the new melody's."""
    from models.vae.runtime import interpolate as walk

    if steps < 2:
        raise GenerationError("--steps must be at least 2 (the two ends)")
    if qpm is not None and not 20 <= qpm <= 400:
        raise GenerationError(f"--qpm {qpm:g}: use 20..400")
    spec, folder = resolve(model or (None if checkpoint else "vae-2bar"), checkpoint)
    if not spec.interpolates:
        raise GenerationError(f"{spec.name} has no latent space to interpolate in; use a VAE")
    vae = spec.build(folder)
    encoding = vae.encoding
    songs = (read_song(a, encoding, track=tracks[0], section=sections[0]),
             read_song(b, encoding, track=tracks[1], section=sections[1]))
    # ends searched among 16 posterior draws, measured to help on held-out POP909 sections
    # (mean end accuracy, 2-bar: 0.88 -> 0.94, ~0.1 s; the stacked 16-bar model searches each
    # 2-bar segment and carries the residual: median 0.78 / 0.85 -> 0.91 / 0.98)
    melodies = walk(vae.runtime, songs[0].melody, songs[1].melody, steps, candidates=16)
    tempos = (tuple([float(qpm)] * steps) if qpm is not None else
              tuple(float(t) for t in np.round(np.linspace(songs[0].qpm, songs[1].qpm, steps), 1)))
    parts = arrange(melodies, encoding, songs, tempos, program, backing,
                    keep_harmony=keep_harmony)
    whole = _concatenate(parts)
    return Interpolation(whole, parts, melodies, songs, tempos)


def arrange(melodies: np.ndarray, encoding, songs: tuple[Song, Song],
            tempos: tuple[float, ...], program=None, backing: bool = True,
            perform: bool = True, keep_harmony: bool = False) -> list[Phrase]:
    """Each step as a Phrase of its own: the decoded melody on track 0 with the shipped
    dynamics (`perform` False: left for the caller, who performs the whole), over the bars of
    a's section (first half) or b's (from the midpoint), each bar re-harmonised to the melody
    unless `keep_harmony`."""
    from note_seq.protobuf import music_pb2

    steps, bars = len(melodies), encoding.bars
    half = (steps * bars) // 2  # the bar where b's parts come in
    tracks = _track_numbers(songs)
    performer = Performer(seed=0)  # one performance across the steps, the same every run
    parts = []
    for k, (ids, q) in enumerate(zip(melodies, tempos)):
        lead = songs[0].program if k < steps / 2 else songs[1].program
        sequence = encoding.decode(ids, qpm=q, program=program if isinstance(program, int)
                                   else lead)
        sequence.total_time = bars * bar_seconds(q)
        beat = 60.0 / q
        tune = [Note(n.pitch, n.start_time / beat, (n.end_time - n.start_time) / beat)
                for n in sequence.notes]
        if perform:
            performer.apply(sequence, q)
        for note in sequence.notes:
            note.instrument = 0
        out = music_pb2.NoteSequence()
        out.CopyFrom(sequence)
        out.instrument_infos.add(instrument=0, name="melody")
        for side, song in enumerate(songs):
            for track, number in tracks[side].items():
                name = song.names.get(track) or f"track {track}"
                out.instrument_infos.add(instrument=number, name=f"{song.name}: {name}")
        for j in range(bars if backing else 0):
            bar = k * bars + j
            side = 0 if bar < half else 1
            song = songs[side]
            source = (bar if side == 0 else bar - half) % song.section.bars
            part = song.backing[source]
            if not keep_harmony:
                part = list(reharmonise([dataclasses.replace(n, beat=n.beat - 4 * j)
                                         for n in tune], part).notes)
            for n in part:
                start = (j * 4 + n.beat) * beat
                end = min(start + n.beats * beat, (j + 1) * 4 * beat)
                if end > start:
                    out.notes.add(pitch=n.pitch, velocity=n.velocity, start_time=start,
                                  end_time=end, program=n.program, is_drum=n.is_drum,
                                  instrument=tracks[side][n.track])
        phrase = Phrase.make(out, q, bars)
        parts.append(phrase.with_program(program if isinstance(program, tuple) else None))
    return parts


def _track_numbers(songs: tuple[Song, Song]) -> tuple[dict[int, int], dict[int, int]]:
    """Instrument numbers in the fusion: the melody is 0, then a's parts, then b's."""
    out, next_number = [], 1
    for song in songs:
        used = sorted({n.track for bar in song.backing for n in bar})
        out.append({track: next_number + i for i, track in enumerate(used)})
        next_number += len(used)
    return out[0], out[1]


def _concatenate(parts: list[Phrase]) -> Phrase:
    """The steps back to back, with a tempo change wherever the tempo moves."""
    from note_seq import sequences_lib

    whole = sequences_lib.concatenate_sequences([p.sequence for p in parts],
                                                [p.seconds for p in parts])
    bars = sum(p.bars for p in parts)
    tempos = {p.qpm for p in parts}
    if len(tempos) == 1:
        return Phrase.make(whole, parts[0].qpm, bars)
    del whole.tempos[:]
    at = 0.0
    for part in parts:
        if not whole.tempos or whole.tempos[-1].qpm != part.qpm:
            whole.tempos.add(time=at, qpm=part.qpm)
        at += part.seconds
    del whole.time_signatures[:]
    whole.time_signatures.add(time=0.0, numerator=4, denominator=4)
    whole.total_time = at
    return dataclasses.replace(Phrase.from_sequence(whole), bars=bars)
