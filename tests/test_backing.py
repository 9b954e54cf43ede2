"""Backing analysis (composer.backing): a user's accompaniment as MIDI and as audio rendered
with the real FluidSynth and GM soundfont, its beats, bars, tempo, key and chords against the
ones it was written with; and every kind of unusable file refused in one line naming it."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pretty_midi
import pytest
import soundfile
from factories import ROOT

from composer.backing import BackingError, analyse_sequence, estimate_chords, read_backing
from models.lead.chords import Chord, templates

QPM = 100.0
BEAT = 60.0 / QPM
BARS = 8
PROGRESSION = (Chord(7, "maj"), Chord(2, "maj"), Chord(4, "min"), Chord(0, "maj"))  # G D Em C
TRUTH = [PROGRESSION[(i // 4) % 4] for i in range(4 * BARS)]


def progression_midi(path, *, pickup: int = 0):
    """G D Em C, a chord a bar at 100 qpm: piano on the beats, a bass line of roots and
    fifths, kick, snare and hats; `pickup` beats of count-in (hats only) before bar 1."""
    pm = pretty_midi.PrettyMIDI(initial_tempo=QPM)
    piano = pretty_midi.Instrument(program=0, name="piano")
    bass = pretty_midi.Instrument(program=33, name="bass")
    kit = pretty_midi.Instrument(program=0, is_drum=True, name="drums")
    for k in range(pickup):
        kit.notes.append(pretty_midi.Note(70, 42, k * BEAT, k * BEAT + 0.1))
    for bar in range(BARS):
        chord = PROGRESSION[bar % 4]
        start = (pickup + 4 * bar) * BEAT
        voicing = [55 + (chord.root + i - 55) % 12 for i in chord_intervals(chord)]
        for beat in range(4):
            at = start + beat * BEAT
            piano.notes += [pretty_midi.Note(75, p, at, at + 0.9 * BEAT) for p in voicing]
            low = 36 + chord.root + (7 if beat == 2 else 0)
            bass.notes.append(pretty_midi.Note(95, low, at, at + 0.8 * BEAT))
            kit.notes.append(pretty_midi.Note(100, (36, 38)[beat % 2], at, at + 0.1))
            for half in (0.0, 0.5):
                kit.notes.append(pretty_midi.Note(70, 42, at + half * BEAT,
                                                  at + half * BEAT + 0.05))
    pm.instruments += [piano, bass, kit]
    pm.write(str(path))
    return path


def chord_intervals(chord: Chord) -> tuple[int, ...]:
    return (0, 3 if chord.quality == "min" else 4, 7)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The progression as a user brings it: a MIDI file and the WAV the project renders."""
    from composer.render import Renderer

    folder = tmp_path_factory.mktemp("backing")
    midi = progression_midi(folder / "backing.mid")
    with Renderer() as renderer:
        clip = renderer.render_midi(midi)
    soundfile.write(str(folder / "backing.wav"), clip.audio, clip.sample_rate)
    return folder


def chords_right(backing, truth_start: float = 0.0) -> float:
    """Share of the written beats whose chord the backing names at the beat's middle."""
    right = 0
    for i, truth in enumerate(TRUTH):
        middle = truth_start + (i + 0.5) * BEAT
        j = int(np.searchsorted(backing.beats, middle)) - 1
        right += j >= 0 and backing.chords[j] == truth
    return right / len(TRUTH)


def test_a_midi_backing_has_its_written_beats_bars_tempo_key_and_chords(files):
    backing = read_backing(files / "backing.mid")
    assert backing.kind == "midi" and backing.samples is None
    assert backing.sequence is not None and len(backing.sequence.notes) > 0
    assert backing.qpm == pytest.approx(QPM, abs=1.0)
    assert backing.key == "G major"
    assert np.allclose(backing.beats[:4 * BARS], np.arange(4 * BARS) * BEAT, atol=0.005)
    assert list(backing.downbeats[:BARS]) == list(range(0, 4 * BARS, 4))
    assert len(backing.chords) == len(backing.beats) == len(backing.confidence)
    assert chords_right(backing) >= 0.9  # measured: 1.0
    assert backing.duration == pytest.approx(BARS * 4 * BEAT, abs=0.1)


def test_the_rendered_backing_has_the_same_beats_tempo_key_and_chords(files):
    backing = read_backing(files / "backing.wav")
    assert backing.kind == "audio" and backing.sequence is None
    assert backing.sample_rate == 22050 and backing.samples.dtype == np.float32
    assert backing.samples.ndim == 1
    assert backing.qpm == pytest.approx(QPM, abs=1.0)  # measured: 100.06
    assert backing.key == "G major"
    true = np.arange(4 * BARS) * BEAT
    off = np.abs(backing.beats[:, None] - true[None, :]).min(axis=0)
    assert np.mean(off <= 0.06) >= 0.9  # measured: every beat within 7 ms
    bar_lines = backing.beats[backing.downbeats]
    assert np.mean(np.abs((bar_lines + 2 * BEAT) % (4 * BEAT) - 2 * BEAT) <= 0.06) >= 0.9
    assert chords_right(backing) >= 0.85  # measured: 1.0


def test_mp3_and_flac_are_read_too(files, tmp_path):
    audio, rate = soundfile.read(str(files / "backing.wav"), dtype="float32")
    for name in ("backing.mp3", "backing.flac"):
        soundfile.write(str(tmp_path / name), audio, rate)
        backing = read_backing(tmp_path / name)
        assert backing.qpm == pytest.approx(QPM, abs=1.0), name
        assert chords_right(backing) >= 0.85, name


def test_a_count_in_moves_the_bar_lines_not_the_chords(tmp_path):
    backing = read_backing(progression_midi(tmp_path / "pickup.mid", pickup=2))
    assert backing.downbeats[0] == 2 and np.all(np.diff(backing.downbeats) == 4)
    assert chords_right(backing, truth_start=2 * BEAT) >= 0.9


def test_annotated_beats_are_used_where_a_sequence_has_them(files):
    from note_seq.protobuf import music_pb2

    from composer.render import read_sequence

    sequence = read_sequence(files / "backing.mid")
    kind = music_pb2.NoteSequence.TextAnnotation.BEAT
    for i in range(4 * BARS):  # POP909-style: a beat a half-note, bars every 2 of them
        sequence.text_annotations.add(time=i * BEAT, annotation_type=kind,
                                      text="downbeat" if i % 2 == 0 else "beat")
    analysis = analyse_sequence(sequence)
    assert list(analysis.downbeats[:4]) == [0, 2, 4, 6]
    assert len(analysis.beats) == 4 * BARS


def test_estimate_chords_names_clean_chroma_and_smooths_a_stray_beat():
    rows, chords = templates()
    for row, chord in zip(rows, chords):  # each template held for a bar, its root in the bass
        bass = np.zeros((4, 12))
        bass[:, chord.root] = 1.0
        assert estimate_chords(np.tile(row, (4, 1)), bass=bass) == [chord] * 4
        if chord.quality != "sus2":  # without a bass, C:sus2 is G:sus4 (the same notes)
            assert estimate_chords(np.tile(row, (4, 1))) == [chord] * 4
    g, c = rows[chords.index(Chord(7, "maj"))], rows[chords.index(Chord(0, "maj"))]
    stray = 0.8 * g + c  # one beat of a bar of G leaning to C (passing notes, a smear)
    assert estimate_chords(stray[None])[0] == Chord(0, "maj")  # alone, it would be C
    noisy = np.array([g, g, stray, g, g, g, g, g])
    assert estimate_chords(noisy) == [Chord(7, "maj")] * 8
    silent_or_flat = np.array([np.zeros(12), np.ones(12), g, g])
    assert estimate_chords(silent_or_flat)[:2] == [Chord(None), Chord(None)]


def write_white_noise(path):
    rng = np.random.default_rng(0)
    soundfile.write(str(path), (0.3 * rng.standard_normal(44100 * 10)).astype(np.float32), 44100)


def write_drum_midi(path):
    pm = pretty_midi.PrettyMIDI(initial_tempo=QPM)
    kit = pretty_midi.Instrument(program=0, is_drum=True)
    kit.notes = [pretty_midi.Note(100, (36, 42, 38, 42)[k % 4], k * BEAT / 2, k * BEAT / 2 + 0.1)
                 for k in range(64)]
    pm.instruments.append(kit)
    pm.write(str(path))


@pytest.mark.parametrize("name, make, problem", [
    ("silence.wav", lambda p: soundfile.write(str(p), np.zeros(441000, np.float32), 44100),
     "is silent"),
    ("noise.wav", write_white_noise, "no chords found: it is drums or noise, not harmony"),
    ("drums.mid", write_drum_midi, "no chords found: only drums, no pitched notes"),
    # 30 minutes at 1 kHz: 3.6 MB, refused from its header before it is decoded
    ("long.wav", lambda p: soundfile.write(str(p), np.zeros(1000 * 1800, np.int16), 1000),
     "is 30:00 long; the limit is 10:00"),
    ("notes.txt", lambda p: p.write_text("my chords: G D Em C\n"),
     "is not MIDI or audio this can read (WAV, FLAC, MP3, OGG, AIFF)"),
    ("fake.mid", lambda p: p.write_text("<html>not a song</html>"), "an HTML page"),
    ("short.mid", lambda p: pretty_midi.PrettyMIDI().write(str(p)), "no notes"),
    ("missing.wav", lambda p: None, "no such file"),
])
def test_an_unusable_backing_is_one_line_naming_the_file(tmp_path, name, make, problem):
    path = tmp_path / name
    make(path)
    with pytest.raises(BackingError) as caught:
        read_backing(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and problem in message, message
    assert "\n" not in message


def test_a_backing_under_two_bars_is_refused(tmp_path):
    pm = pretty_midi.PrettyMIDI(initial_tempo=QPM)
    piano = pretty_midi.Instrument(program=0)
    piano.notes = [pretty_midi.Note(80, p, 0.0, 4 * BEAT) for p in (55, 59, 62)]
    pm.instruments.append(piano)
    pm.write(str(tmp_path / "one-bar.mid"))
    with pytest.raises(BackingError, match=r"one-bar\.mid: is too short: 4 beats .* under 2 bars"):
        read_backing(tmp_path / "one-bar.mid")


def test_reading_an_audio_backing_imports_neither_librosa_numba_nor_scipy_signal(files):
    """They are test-only dependencies, and cost a command seconds to import."""
    code = ("import sys\n"
            "from composer.backing import read_backing\n"
            f"read_backing({str(files / 'backing.wav')!r})\n"
            "print([m for m in ('librosa', 'numba', 'scipy.signal') if m in sys.modules])\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"
