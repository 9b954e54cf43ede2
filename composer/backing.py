"""A user's accompaniment, analysed: its beats, bars, tempo, key and one chord a beat.

    read_backing(path) -> Backing                      MIDI, or audio (WAV, FLAC, MP3, OGG)
    analyse_sequence(sequence) -> Analysis             the MIDI path, pure
    analyse_audio(samples, sample_rate) -> Analysis    the audio path, pure
    estimate_chords(chroma) -> [Chord]                 [beat, 12] -> a chord a beat
    note_chroma(pitch, start, end, beats) -> chroma    notes -> [beat, 12], and the bass's

`composer melody` places its lead on these beats and conditions it on these chords. Both paths
meet at a beat-synchronous chroma: for MIDI the time each pitch class sounds in each beat, for
audio the spectrum's peaks folded onto pitch classes. Low notes are also kept apart as a bass
chroma, since the bass names the root (A C E G is A:min7 over an A, and C:maj6 over a C).

Numpy, soundfile and soxr only, like the loop detector: librosa is a test-only dependency (its
import and numba compiling cost a command seconds) and libsndfile decodes MP3 itself. Audio
beats come from the loop detector's tracker (composer.loop, librosa's algorithm in numpy). The
chroma takes a long window for the bass, where semitones are a few hertz apart, and a median
over each beat's frames, which keeps held notes and drops drum hits as harmonic-percussive
separation would. Measured against POP909's annotations: benchmarks/backing.py.
"""

from __future__ import annotations

import operator
import os
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from models.lead.chords import Chord, templates
from models.timing import grid_shift

BEATS_PER_BAR = 4
MIN_BARS = 2
SAMPLE_RATE = 22050  # Backing.samples: mono, enough for analysis and a mix preview
MAX_SECONDS = 600.0  # the longest backing read: 10 minutes (a 30-minute file is refused)
CHROMA_RATE = 11025  # the spectrum stops at 5.5 kHz; chords live below C7 (2.1 kHz)
HOP = 512  # 46 ms: a beat at 200 qpm still spans six frames for its median
BASS_FFT, TREBLE_FFT = 8192, 2048  # 1.3 Hz bins below G3 (E1 to F#3 are 2.3-10 Hz apart)
BASS_MIDI, TREBLE_MIDI = (28, 55), (55, 97)  # E1..F#3 and G3..C7, half-open
MIDI_BASS_BELOW = 55  # MIDI notes under G3 count as the bass
PEAK_REACH = 12  # a spectral peak stands above the mean of the 12 bins either side ...
TONAL_RATIO = 2.0  # ... and a tonal one above twice that mean
MIN_TONALITY = 0.1  # share of a beat's spectrum in tonal peaks, under which it holds no chord
SILENT_PEAK = 1e-4  # -80 dBFS
SOUND_DB = -30.0  # the music runs from the first to the last sample this close to the peak
EDGE_SLACK = 0.1  # a beat this share of a beat before the music starts still counts
# Chords (tuned on 20 POP909 songs of the valid split; benchmarks/backing.py):
BASS_WEIGHT = 0.35  # what a chord gains when its root is all of the bass
QUALITY_PRIOR = {"maj": 0.1, "min": 0.1, "sus2": -0.05, "sus4": -0.04, "dim": -0.05}
NO_CHORD_SCORE = 0.45  # the correlation a chord must beat to be named (flat chroma scores ~0)
QUIET = 0.02  # a beat with under this share of the median beat's energy has no chord
CHANGE_COST = (0.12, 0.5, 0.3, 0.5)  # a chord change on beat 1, 2, 3, 4 of a bar
FLAT_CHANGE_COST = 0.35  # ... anywhere, before the bar lines are known
MIN_CHORDED = 0.2  # share of sounding beats with a chord, under which it is not harmony
KEY_CHROMA = 0.5  # weight of the audio chroma beside the chords' notes, for the key
# Bar lines:
ONSET_WEIGHT = 0.25  # a bar line's attack (over the mean attack) against a chord change there
HALF_BAR_CHANGE = 0.5  # a change on beat 3 counts against that beat being a bar line
BAR_JUMP = 3.0  # a bar cut short or run long costs about three bar lines' evidence


class BackingError(ValueError):
    """A backing this cannot use; str() is one line: the file as the user gave it, and why."""

    def __init__(self, problem: str, path: str | os.PathLike | None = None):
        self.problem = problem
        super().__init__(problem if path is None else f"{os.fspath(path)}: {problem}")


@dataclass(frozen=True)
class Analysis:
    """What both paths find: the beat grid, the tempo, the key and a chord a beat."""

    beats: np.ndarray  # [beat] seconds of every beat, increasing
    downbeats: np.ndarray  # [bar] indices into beats where a bar starts (4 beats, now and
    # then 2 or 6 where the music inserts a short bar: the differences say)
    qpm: float  # quarter notes per minute, one beat a quarter
    key: str  # "G major", "A minor"
    chords: tuple[Chord, ...]  # one a beat; Chord(None) = no chord
    confidence: np.ndarray  # [beat] the chosen chord's chroma correlation, -1..1 (none: 0)


@dataclass(frozen=True)
class Backing(Analysis):
    """A backing file read and analysed: `sequence` is set for MIDI, `samples` for audio."""

    path: Path
    kind: str  # "midi" or "audio"
    duration: float  # seconds
    sequence: object | None  # note_seq.NoteSequence of a MIDI backing
    samples: np.ndarray | None  # float32 mono of an audio backing, at sample_rate
    sample_rate: int | None


# --- reading ---------------------------------------------------------------------------

def read_backing(path: str | os.PathLike, *, max_seconds: float = MAX_SECONDS,
                 qpm: float | None = None) -> Backing:
    """A MIDI or audio file (told apart by its first bytes, else its suffix), analysed. `qpm`
    sets an audio backing's tempo where the tracker's estimate is wrong (a MIDI file has its
    own). Every way the file can be unusable is a BackingError naming it."""
    name, path = os.fspath(path), Path(path)
    try:
        with open(path, "rb") as handle:
            head = handle.read(12)
    except FileNotFoundError:
        raise BackingError("no such file", name) from None
    except IsADirectoryError:
        raise BackingError("is a folder, not a MIDI or audio file", name) from None
    except OSError as exc:
        raise BackingError(exc.strerror or str(exc), name) from None
    try:
        if head.startswith(b"MThd") or head[8:12] == b"RMID" or (not _looks_like_audio(head)
                                        and path.suffix.lower() in (".mid", ".midi")):
            sequence = _read_midi(path)
            _check_length(sequence.total_time, max_seconds)
            return _backing(analyse_sequence(sequence), path=path, kind="midi",
                            duration=float(sequence.total_time), sequence=sequence,
                            samples=None, sample_rate=None)
        samples = _read_audio(path, max_seconds)
        return _backing(analyse_audio(samples, SAMPLE_RATE, qpm=qpm), path=path, kind="audio",
                        duration=len(samples) / SAMPLE_RATE, sequence=None, samples=samples,
                        sample_rate=SAMPLE_RATE)
    except BackingError as exc:
        raise BackingError(exc.problem, name) from None


def _backing(analysis: Analysis, **facts) -> Backing:
    return Backing(**{f.name: getattr(analysis, f.name) for f in fields(Analysis)}, **facts)


def _looks_like_audio(head: bytes) -> bool:
    return (head[:4] in (b"RIFF", b"RF64", b"fLaC", b"OggS", b"FORM") or head[:3] == b"ID3"
            or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0))  # MPEG frame


def _read_midi(path: Path):
    """The project's validating MIDI reader; its one-line reasons, without its file name."""
    from composer.render.midi import RenderError, read_sequence

    try:
        return read_sequence(path)
    except RenderError as exc:
        raise BackingError(str(exc).removeprefix(f"{path}: ")) from None


def _read_audio(path: Path, max_seconds: float) -> np.ndarray:
    """Mono float32 at SAMPLE_RATE. The length is read from the header first, so a
    half-hour file is refused without being decoded."""
    import soundfile

    from models.stderr import quiet_stderr

    try:
        with quiet_stderr():  # libmpg123 prints its own warnings about a broken MP3 frame
            info = soundfile.info(str(path))
    except (soundfile.LibsndfileError, RuntimeError, TypeError):
        raise BackingError("is not MIDI or audio this can read (WAV, FLAC, MP3, OGG, AIFF)"
                           ) from None
    _check_length(info.frames / info.samplerate, max_seconds)
    try:
        with quiet_stderr():
            audio, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError) as exc:
        raise BackingError(f"cannot decode its audio ({str(exc).split(':')[-1].strip()})"
                           ) from None
    return to_mono(audio, rate)


def to_mono(audio: np.ndarray, sample_rate: int, rate: int = SAMPLE_RATE) -> np.ndarray:
    """Channels averaged, resampled to `rate` with soxr (the resampler librosa uses)."""
    mono = np.asarray(audio, dtype=np.float32)
    if mono.ndim == 2:
        mono = mono.mean(axis=1, dtype=np.float32)
    if sample_rate != rate and len(mono):
        import soxr

        mono = soxr.resample(mono, sample_rate, rate, quality="HQ").astype(np.float32)
    return np.ascontiguousarray(mono)


def _check_length(seconds: float, max_seconds: float) -> None:
    if seconds > max_seconds:
        raise BackingError(f"is {_clock(seconds)} long; the limit is {_clock(max_seconds)}")


def _clock(seconds: float) -> str:
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes}:{rest:02d}"


# --- the MIDI path ---------------------------------------------------------------------

def analyse_sequence(sequence) -> Analysis:
    """Beats from BEAT annotations (POP909's, as ingest adds them) or else the tempo map lined
    up with the notes; chroma from the pitched notes sounding in each beat, drums left out."""
    from models.timing import main_qpm

    notes = np.fromiter(map(_NOTE, sequence.notes), dtype=_NOTE_COLUMNS,
                        count=len(sequence.notes))  # one pass: a file may hold 600,000
    pitched = notes[~notes["is_drum"]]
    if not len(pitched):
        raise BackingError("no chords found: only drums, no pitched notes")
    pitch, start, end = pitched["pitch"], pitched["start"], pitched["end"]
    onset_times, onset_weights = _onsets(notes)
    beats, downbeats = _annotated_beats(sequence)
    if beats is None:
        beats = _tempo_beats(sequence, max(end.max(), sequence.total_time))
        beats = _onto_onsets(beats, onset_times, onset_weights)
    _check_bars(beats)
    chroma, bass = note_chroma(pitch, start, end, beats)
    strength = _beat_onsets(beats, onset_times, onset_weights)
    qpm = float(main_qpm(sequence)) if downbeats is None else _qpm(beats)
    return _conclude(beats, chroma, bass, strength, qpm, downbeats, overtones=False)


def _annotated_beats(sequence) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(beat seconds, downbeat indices or None) from BEAT text annotations, or (None, None)."""
    from note_seq.protobuf import music_pb2

    kind = music_pb2.NoteSequence.TextAnnotation.BEAT
    marks = sorted((a.time, a.text == "downbeat") for a in sequence.text_annotations
                   if a.annotation_type == kind)
    if len(marks) < 2:
        return None, None
    down = np.flatnonzero([d for _, d in marks])
    return np.array([t for t, _ in marks]), (down if len(down) else None)


def _tempo_beats(sequence, end: float) -> np.ndarray:
    """Seconds of every quarter note from 0 to `end`, through the tempo map."""
    from models.timing import beats_of

    count = int(np.floor(float(beats_of(sequence, [end])[0]) - 1e-6)) + 1
    grid = np.linspace(0.0, end, 64 * count + 1)  # beats_of is increasing: invert it
    return np.interp(np.arange(count), beats_of(sequence, grid), grid)


_NOTE = operator.attrgetter("pitch", "velocity", "start_time", "end_time", "is_drum")
_NOTE_COLUMNS = np.dtype([("pitch", np.int64), ("velocity", np.int64), ("start", np.float64),
                          ("end", np.float64), ("is_drum", np.bool_)])


def _onsets(notes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(start seconds, weight) of every note (_NOTE_COLUMNS), drums too: its velocity,
    doubled for drums and the bass, which mark the beat most surely."""
    low = notes["is_drum"] | (notes["pitch"] < MIDI_BASS_BELOW)
    return notes["start"], notes["velocity"] * np.where(low, 2.0, 1.0)


def _onto_onsets(beats: np.ndarray, times: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The tempo map's beats moved as a whole to where the notes start (models.timing), so
    the lead sounds with the notes."""
    shift = grid_shift(beats, times, weights)
    if not shift:
        return beats
    moved = beats + shift
    return moved[moved >= 0.0]


def _beat_onsets(beats: np.ndarray, times: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """[beat] weight of the notes starting within 60 ms of each beat."""
    i = np.clip(np.searchsorted(beats, times), 1, len(beats) - 1)
    i = np.where(np.abs(beats[i - 1] - times) < np.abs(beats[i] - times), i - 1, i)
    near = np.abs(beats[i] - times) < 0.06
    return np.bincount(i[near], weights=weights[near], minlength=len(beats))


def note_chroma(pitch: np.ndarray, start: np.ndarray, end: np.ndarray, beats: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """([beat, 12] chroma, [beat, 12] its bass part) of pitched notes (MIDI pitch, start and
    end seconds) over beats: what estimate_chords takes, from any notes (a transcription)."""
    edges, low = _edges(beats), pitch < MIDI_BASS_BELOW
    return (_sounding(pitch, start, end, edges),
            _sounding(pitch[low], start[low], end[low], edges))


def _sounding(pitch: np.ndarray, start: np.ndarray, end: np.ndarray,
              edges: np.ndarray) -> np.ndarray:
    """[beat, 12] seconds each pitch class sounds within each beat, notes summed: the
    integral of the notes' on-time, sum(max(0, t - start) - max(0, t - end)), at the edges."""
    def ramp(x: np.ndarray) -> np.ndarray:  # sum(max(0, t - x)) at every edge t
        x = np.sort(x)
        k = np.searchsorted(x, edges, side="right")
        return edges * k - np.concatenate([[0.0], np.cumsum(x)])[k]

    out = np.zeros((len(edges) - 1, 12))
    for pc in range(12):
        mine = pitch % 12 == pc
        if mine.any():
            out[:, pc] = np.diff(ramp(start[mine]) - ramp(end[mine]))
    return out


# --- the audio path --------------------------------------------------------------------

def analyse_audio(samples: np.ndarray, sample_rate: int, *, qpm: float | None = None
                  ) -> Analysis:
    """Beats by the loop detector's tracker, at its own tempo estimate or at `qpm`; chroma
    of the spectrum between them, the bass apart; bar lines from chord changes and attacks."""
    mono = to_mono(samples, sample_rate, CHROMA_RATE)
    if len(mono) == 0 or float(np.max(np.abs(mono))) < SILENT_PEAK:
        raise BackingError("is silent")
    beats, strength = _audio_beats(mono, qpm)
    beats = _extended(beats, _sound_span(mono))
    _check_bars(beats)
    chroma, bass, tonality = _spectral_chroma(mono, _edges(beats))
    sounding = tonality > 0.0
    if not sounding.any() or np.median(tonality[sounding]) < MIN_TONALITY:
        raise BackingError("no chords found: it is drums or noise, not harmony")
    chroma[tonality < MIN_TONALITY] = 0.0
    bass[tonality < MIN_TONALITY] = 0.0
    return _conclude(beats, chroma, bass, strength(beats), _qpm(beats), None, overtones=True)


def _audio_beats(mono: np.ndarray, qpm: float | None):
    """(beat seconds, seconds -> onset strength) of mono audio at CHROMA_RATE."""
    from composer.loop.beats import beat_track
    from composer.loop.grid import ANALYSIS_RATE, ONSET_HOP, attacks, onset_envelope, track

    analysis = to_mono(mono, CHROMA_RATE, ANALYSIS_RATE)
    if qpm is None:
        grid, envelope = track(analysis, ANALYSIS_RATE)
        beats = grid.beats / ANALYSIS_RATE
    else:
        envelope = onset_envelope(analysis, ANALYSIS_RATE)
        frames = beat_track(envelope, ANALYSIS_RATE / ONSET_HOP, qpm)
        beats = attacks(analysis, ANALYSIS_RATE, frames * ONSET_HOP) / ANALYSIS_RATE

    def strength(seconds: np.ndarray) -> np.ndarray:
        frame = np.round(seconds * ANALYSIS_RATE / ONSET_HOP).astype(int)
        return envelope[np.clip(frame, 0, len(envelope) - 1)]

    return beats, strength


def _sound_span(mono: np.ndarray) -> tuple[float, float]:
    """Seconds of the first and last sample within SOUND_DB of the peak: the music, less a
    quiet lead-in and its reverb tail."""
    loud = np.flatnonzero(np.abs(mono) >= np.max(np.abs(mono)) * 10 ** (SOUND_DB / 20))
    return loud[0] / CHROMA_RATE, loud[-1] / CHROMA_RATE


def _extended(beats: np.ndarray, span: tuple[float, float]) -> np.ndarray:
    """The tracked beats continued at their median spacing over the whole span: the tracker
    drops beats near the ends, and a lead must be able to start with the first chord."""
    if len(beats) < 2:
        return beats
    step = float(np.median(np.diff(beats)))
    before = beats[0] - step * np.arange(int((beats[0] - span[0]) / step + EDGE_SLACK), 0, -1)
    after = beats[-1] + step * np.arange(1, int((span[1] - beats[-1]) / step + EDGE_SLACK) + 1)
    return np.concatenate([np.maximum(before, 0.0), beats, after])


def _spectral_chroma(mono: np.ndarray, edges: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """([beat, 12] chroma, [beat, 12] its bass part, [beat] tonality). Per frame the spectral
    peaks (_peaks) summed onto semitones and log-compressed; per beat the median over its
    frames, folded onto pitch classes. Tonality is the median share of the treble's magnitude
    in tonal peaks: about 0.4 in music, 0.01-0.03 in noise and a drum kit."""
    centres = np.arange(len(mono) // HOP + 1) * HOP / CHROMA_RATE
    bounds = np.searchsorted(centres, edges)  # beat i holds frames bounds[i]:bounds[i + 1]
    chroma, bass, tonality = np.zeros((len(edges) - 1, 12)), None, None
    for n_fft, (low, high) in ((TREBLE_FFT, TREBLE_MIDI), (BASS_FFT, BASS_MIDI)):
        semis, share = _peaks(mono, n_fft, low, high)
        semis = np.log1p(semis / (semis.max() + 1e-12) * 100.0)
        per_beat = np.zeros((len(edges) - 1, high - low))
        shares = np.zeros(len(edges) - 1)
        for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
            if b > a:
                per_beat[i], shares[i] = np.median(semis[a:b], axis=0), np.median(share[a:b])
        fold = np.zeros((high - low, 12))
        fold[np.arange(high - low), np.arange(low, high) % 12] = 1.0
        bass = per_beat @ fold  # the treble's first, then the bass's
        chroma += bass
        tonality = shares if tonality is None else tonality
    return chroma, bass, tonality


def _peaks(mono: np.ndarray, n_fft: int, low: int, high: int) -> tuple[np.ndarray, np.ndarray]:
    """([frame, semitone] spectral peak magnitude at MIDI pitches low..high-1, [frame] share
    of the magnitude in tonal peaks), a frame every HOP samples centred on it. A peak is what
    stands above the mean of the PEAK_REACH bins either side: a note's partials do, the
    broadband hiss of noise and drums hardly ever does (peak picking as in HPCP, Gomez 2006)."""
    freqs = np.fft.rfftfreq(n_fft, 1.0 / CHROMA_RATE)
    with np.errstate(divide="ignore"):
        nearest = np.round(69.0 + 12.0 * np.log2(freqs / 440.0))
    keep = np.flatnonzero((nearest >= low) & (nearest < high))
    to_semi = np.zeros((len(keep), high - low), np.float32)
    to_semi[np.arange(len(keep)), (nearest[keep] - low).astype(int)] = 1.0
    first, last = max(keep[0] - PEAK_REACH, 0), keep[-1] + PEAK_REACH + 1
    width = 2 * PEAK_REACH + 1
    frames = np.lib.stride_tricks.sliding_window_view(
        np.pad(mono, (n_fft // 2, n_fft // 2)), n_fft)[::HOP][:len(mono) // HOP + 1]
    window = np.hanning(n_fft).astype(np.float32)
    out = np.empty((len(frames), high - low), np.float32)
    share = np.empty(len(frames), np.float32)
    for at in range(0, len(frames), 256):  # blocks: only the kept bins outlive a block
        spectrum = np.abs(np.fft.rfft(frames[at:at + 256] * window, axis=1))[:, first:last]
        total = np.cumsum(np.pad(spectrum, ((0, 0), (PEAK_REACH + 1, PEAK_REACH)), "edge"),
                          axis=1)
        floor = ((total[:, width:] - total[:, :-width]) / width)[:, keep - first]
        mine = spectrum[:, keep - first]
        out[at:at + 256] = np.maximum(mine - floor, 0.0) @ to_semi
        share[at:at + 256] = (np.maximum(mine - TONAL_RATIO * floor, 0.0).sum(axis=1)
                              / np.maximum(mine.sum(axis=1), 1e-12))
    return out, share


# --- both paths ------------------------------------------------------------------------

def _edges(beats: np.ndarray) -> np.ndarray:
    """Beat boundaries: each beat runs to the next, the last for the median beat."""
    step = float(np.median(np.diff(beats))) if len(beats) > 1 else 0.5
    return np.append(beats, beats[-1] + step)


def _qpm(beats: np.ndarray) -> float:
    return float(60.0 / np.median(np.diff(beats)))


def _check_bars(beats: np.ndarray) -> None:
    if len(beats) < MIN_BARS * BEATS_PER_BAR:
        seconds = float(beats[-1] - beats[0]) if len(beats) > 1 else 0.0
        raise BackingError(f"is too short: {len(beats)} beats ({seconds:.1f} s), "
                           f"under {MIN_BARS} bars")


def _conclude(beats: np.ndarray, chroma: np.ndarray, bass: np.ndarray, onsets: np.ndarray,
              qpm: float, downbeats: np.ndarray | None, *, overtones: bool) -> Analysis:
    """Chords once without bar lines, the bar lines from them, the chords again with them.
    The key from the notes; where the chroma has `overtones` (audio), mostly from the chords,
    since a recording's overtones count as notes (0.65 against 0.90 on POP909 songs)."""
    from training.keys import estimate_key

    energy = chroma.sum(axis=1)
    sounding = energy > 1e-3 * energy.max()
    if not sounding.any():
        raise BackingError("is silent")
    if downbeats is None:
        downbeats = bar_lines(_chords(chroma, bass, None)[0], onsets)
    chords, confidence = _chords(chroma, bass, downbeats)
    named = np.array([c.root is not None for c in chords])
    if named[sounding].mean() < MIN_CHORDED:
        raise BackingError("no chords found: it is drums or noise, not harmony")
    notes = chroma.sum(axis=0)
    if overtones:
        in_chords = np.zeros(12)
        for chord in chords:
            in_chords[list(chord.pitch_classes)] += 1.0
        notes = in_chords / max(in_chords.sum(), 1.0) + KEY_CHROMA * notes / notes.sum()
    return Analysis(beats, downbeats, float(qpm), estimate_key(notes).key.name, tuple(chords),
                    confidence)


def bar_lines(chords: list[Chord], onsets: np.ndarray) -> np.ndarray:
    """Indices of the beats that start bars: the likeliest position in a 4-beat bar for each
    beat, where chords change on bar lines more than anywhere (and on beat 3 more than on 2
    and 4) and the strongest attacks fall. A bar may be cut short or run long at BAR_JUMP's
    cost: pop songs insert a 2-beat bar now and then (a third of POP909's songs do)."""
    change = np.array([0.0] + [a != b for a, b in zip(chords, chords[1:])])
    score = np.zeros((len(chords), BEATS_PER_BAR))
    score[:, 0] = change + ONSET_WEIGHT * onsets / (onsets.mean() + 1e-12)
    score[:, 2] = -HALF_BAR_CHANGE * change
    position = _viterbi(score, np.full(len(score), BAR_JUMP),
                        (np.arange(BEATS_PER_BAR) - 1) % BEATS_PER_BAR)
    return np.flatnonzero(position == 0)


def estimate_chords(chroma: np.ndarray, *, bass: np.ndarray | None = None,
                    downbeats: np.ndarray | None = None) -> list[Chord]:
    """One chord a beat from [beat, 12] chroma: optionally its bass part apart ([beat, 12]),
    which names the root, and the bar lines, where changes cost less. Chord(None) where
    the chroma is weak or flat."""
    return _chords(np.asarray(chroma, np.float64), bass, downbeats)[0]


def _chords(chroma: np.ndarray, bass: np.ndarray | None, downbeats: np.ndarray | None
            ) -> tuple[list[Chord], np.ndarray]:
    """A chord scores the Pearson correlation of the beat's chroma with its template, plus
    BASS_WEIGHT times its root's share of the bass, plus its quality's prior (pop is mostly
    major and minor triads, and a sus2 chord is a sus4 on its fifth); no chord scores
    NO_CHORD_SCORE; a change costs CHANGE_COST by position in the bar. The best path through
    the beats: a beat alone rarely decides, pop chords last two or four beats."""
    rows, chords = templates()
    centred = rows - rows.mean(axis=1, keepdims=True)
    centred /= np.linalg.norm(centred, axis=1, keepdims=True)
    energy = chroma.sum(axis=1)
    loud = energy > QUIET * (np.median(energy[energy > 0]) if energy.any() else 1.0)
    x = chroma - chroma.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    correlation = np.where(loud[:, None] & (norm > 1e-9), x / np.maximum(norm, 1e-12), 0.0)
    correlation = correlation @ centred.T
    score = correlation + np.array([QUALITY_PRIOR.get(c.quality, 0.0) for c in chords])
    if bass is not None:
        share = bass / np.maximum(bass.sum(axis=1, keepdims=True), 1e-12)
        score += BASS_WEIGHT * share[:, [c.root for c in chords]]
    score = np.concatenate([score, np.full((len(score), 1), NO_CHORD_SCORE)], axis=1)
    cost = np.full(len(score), FLAT_CHANGE_COST)
    if downbeats is not None and len(downbeats):
        cost = np.asarray(CHANGE_COST)[_positions(len(score), downbeats)]
    path = _viterbi(score, cost, np.arange(score.shape[1]))
    named = path < len(chords)
    confidence = np.where(named, correlation[np.arange(len(path)), np.where(named, path, 0)],
                          0.0)
    return [chords[k] if k < len(chords) else Chord(None) for k in path], confidence


def _positions(count: int, downbeats: np.ndarray) -> np.ndarray:
    """[beat] position in its bar (0 on a downbeat), counting on through a long bar."""
    beat = np.arange(count)
    last = np.searchsorted(downbeats, beat, side="right") - 1
    since = beat - downbeats[np.maximum(last, 0)]
    return np.where(last >= 0, since, beat - downbeats[0]) % BEATS_PER_BAR


def _viterbi(score: np.ndarray, cost: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """The state path with the most summed score, where state s follows state expected[s]
    for free and any state follows any other for cost[t] at beat t."""
    total = score[0].copy()
    back = np.zeros(score.shape, np.int64)
    for t in range(1, len(score)):
        usual, best = total[expected], int(np.argmax(total))
        jump = total[best] - cost[t]
        back[t] = np.where(usual >= jump, expected, best)
        total = np.maximum(usual, jump) + score[t]
    path = np.empty(len(score), np.int64)
    path[-1] = int(np.argmax(total))
    for t in range(len(score) - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path
