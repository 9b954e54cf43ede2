"""Song fusion as a user hears it: `composer interpolate a.mid b.mid` on two arranged songs.

The songs are made here, with a known form (a drum count-in, a piano intro, verse, chorus,
another verse, the chorus again, an outro), two tempi, their own melody programs, their own
accompaniment and drums, so where the section lands and what the fusion keeps can be checked
exactly. The VAE is the shipped vae-2bar.
"""

from __future__ import annotations

import factories as f
import numpy as np
import pretty_midi
import pytest

CHORDS = [(48, 52, 55), (45, 48, 52), (41, 45, 48), (43, 47, 50)]  # C Am F G
CHORUS = [72, 74, 76, 79, 76, 74, 72, 71, 69, 71, 72, 74, 76, 74, 72, 67]  # 2 bars of eighths
FORM = ["count-in"] + ["intro"] * 3 + ["verse"] * 8 + ["chorus"] * 8 + ["verse2"] * 8 \
    + ["chorus"] * 8 + ["outro"] * 4  # 40 bars; the chorus starts on bar 13


def song(path, qpm: float, lead: int, comp: int, drum: int, seed: int):
    """A 40-bar song in C: melody (program `lead`), chords (program `comp`), drums on `drum`."""
    rng = np.random.default_rng(seed)
    beat = 60.0 / qpm
    pm = pretty_midi.PrettyMIDI(initial_tempo=qpm)
    melody = pretty_midi.Instrument(lead, name="Melody")
    piano = pretty_midi.Instrument(comp, name="Piano")
    drums = pretty_midi.Instrument(0, is_drum=True, name="Drums")
    verses = {name: rng.choice([60, 62, 64, 65, 67, 69], size=(8, 8)) for name in
              ("verse", "verse2")}
    counters: dict[str, int] = {}
    for bar, part in enumerate(FORM):
        k = counters.get(part, 0)
        counters[part] = k + 1
        start = bar * 4 * beat
        for b in range(4):
            drums.notes.append(pretty_midi.Note(100, drum, start + b * beat, start + b * beat + 0.1))
        if part == "count-in":
            continue
        for pitch in CHORDS[bar % 4]:
            piano.notes.append(pretty_midi.Note(70, pitch, start, start + 4 * beat - 0.05))
        if part in ("intro", "outro"):
            continue
        pitches = (CHORUS[(k % 2) * 8:(k % 2) * 8 + 8] if part == "chorus"
                   else verses[part][k % 8])
        for e, pitch in enumerate(pitches):
            at = start + e * beat / 2
            melody.notes.append(pretty_midi.Note(90, int(pitch), at, at + beat / 2 - 0.02))
    pm.instruments += [melody, piano, drums]
    pm.write(str(path))
    return path


@pytest.fixture(scope="module")
def songs(tmp_path_factory):
    root = tmp_path_factory.mktemp("songs")
    a = song(root / "a.mid", 90.0, lead=73, comp=0, drum=36, seed=1)  # flute, piano, kick
    b = song(root / "b.mid", 140.0, lead=65, comp=24, drum=42, seed=2)  # sax, guitar, hats
    return a, b


def test_section_is_the_chorus_never_the_count_in(songs):
    from composer.generation import read_primer
    from composer.sections import choose_section
    from models.melody_track import melody_instrument

    sequence, _, _ = read_primer(songs[0])
    melody = melody_instrument(sequence)
    assert {n.program for n in sequence.notes if n.instrument == melody} == {73}
    chosen = choose_section(sequence, melody, 16)
    assert (chosen.start, chosen.bars) == (12, 16)  # bar 13: the chorus, which comes back
    assert choose_section(sequence, melody, 16, "intro").start == 1  # after the count-in
    assert choose_section(sequence, melody, 16, "5").start == 4
    with pytest.raises(ValueError, match="has 40 bars"):
        choose_section(sequence, melody, 16, "41")


def test_fusion_keeps_tempi_programs_accompaniment_and_drums(songs, tmp_path):
    a, b = songs
    out = tmp_path / "fusion.mid"
    result = f.run_cli("interpolate", a, b, "--steps", "4", "-o", out, check=True)
    assert "bars 13-28 (auto: the most repeated), 90 qpm" in result.stdout
    assert "140 qpm" in result.stdout
    pm = pretty_midi.PrettyMIDI(str(out))
    _, tempi = pm.get_tempo_changes()
    assert tempi[0] == pytest.approx(90, rel=1e-4) and tempi[-1] == pytest.approx(140, rel=1e-4)
    assert list(tempi) == sorted(tempi) and len(tempi) == 4  # one tempo a step
    downbeats = pm.get_downbeats()
    assert len(downbeats) == 8  # 4 steps of 2 bars
    midpoint = downbeats[4]

    def notes(where):
        return [n for i in pm.instruments if where(i) for n in i.notes]

    kicks, hats = notes(lambda i: i.is_drum and "a:" in i.name), notes(
        lambda i: i.is_drum and "b:" in i.name)
    assert {n.pitch for n in kicks} == {36} and {n.pitch for n in hats} == {42}
    assert max(n.start for n in kicks) < midpoint - 1e-3 <= min(n.start for n in hats) + 2e-3
    assert kicks and len(hats) >= 12  # b's drums play every beat of the second half
    piano = notes(lambda i: not i.is_drum and i.program == 0)
    guitar = notes(lambda i: not i.is_drum and i.program == 24)
    assert piano and guitar
    assert max(n.start for n in piano) < midpoint <= min(n.start for n in guitar) + 2e-3
    leads = {i.program: i.notes for i in pm.instruments if i.name == "melody"}
    assert set(leads) == {73, 65}  # each song's melody program, a's then b's
    assert max(n.start for n in leads[73]) < midpoint <= min(n.start for n in leads[65]) + 2e-3


def test_fusion_options_fix_the_tempo_and_leave_the_melody_alone(songs, tmp_path):
    a, b = songs
    out = tmp_path / "solo.mid"
    f.run_cli("interpolate", a, b, "--steps", "2", "--qpm", "100", "--melody-only",
              "--program", "40", "--section", "intro", "-o", out, check=True)
    pm = pretty_midi.PrettyMIDI(str(out))
    assert pm.get_tempo_changes()[1].tolist() == pytest.approx([100.0])
    assert [(i.name, i.program, i.is_drum) for i in pm.instruments] == [("melody", 40, False)]

    bad = f.run_cli("interpolate", a, b, "--section", "99", "-o", tmp_path / "x.mid")
    assert bad.returncode != 0
    assert f.lines(bad.stderr) == [f"error: {a}: --section 99: the song has 40 bars"]
    assert not (tmp_path / "x.mid").exists()


def test_a_tempo_map_is_flattened_beat_for_beat():
    """A song that slows down keeps its beats on one tempo, so its melody is one piece."""
    from note_seq.protobuf import music_pb2

    from composer.sections import bar_grid
    from models.timing import one_tempo

    sequence = music_pb2.NoteSequence(total_time=6.0)
    sequence.tempos.add(time=0.0, qpm=120.0)
    sequence.tempos.add(time=4.0, qpm=60.0)  # beat 8 onwards: one beat a second
    sequence.time_signatures.add(time=0.0, numerator=4, denominator=4)
    sequence.notes.add(pitch=60, velocity=80, start_time=3.5, end_time=5.0)  # beats 7..9
    flat = one_tempo(sequence)  # the main tempo: 120 holds 4 s, 60 holds 2
    assert [t.qpm for t in flat.tempos] == [120.0]
    note = flat.notes[0]
    assert (note.start_time, note.end_time) == pytest.approx((3.5, 4.5))
    assert bar_grid(sequence).bars == bar_grid(flat).bars == 3


@pytest.mark.parametrize("late", [0.09, 0.2])
def test_a_performed_songs_grid_is_moved_onto_its_notes(songs, tmp_path, late):
    """POP909's files sit a constant 20-200 ms off their tempo grid: quantized as they are,
    downbeat notes land on the sixteenth after. Moved onto the grid, the same song late by
    `late` seconds reads as the song itself, in fusion and in the training windows."""
    from composer.interpolation import lead_melody
    from models.vae.encoding import MelodyEncoding
    from training.score import read_score, to_notesequence

    pm = pretty_midi.PrettyMIDI(str(songs[0]))
    for instrument in pm.instruments:
        for note in instrument.notes:
            note.start += late
            note.end += late
    performed = tmp_path / "performed.mid"
    pm.write(str(performed))
    encoding = MelodyEncoding()
    assert np.array_equal(lead_melody(performed, encoding), lead_melody(songs[0], encoding))

    def windows(path):
        return encoding.encode(to_notesequence(read_score(path.read_bytes())))

    assert np.array_equal(windows(performed), windows(songs[0]))


def test_the_grid_stays_where_off_beats_are_the_musics_own():
    from models.timing import grid_shift

    beats = np.arange(0.0, 16.0, 0.5)
    syncopated = np.concatenate([beats[::2], beats[::2] + 0.25, beats[::4] + 0.375])
    assert grid_shift(beats, syncopated, np.ones(len(syncopated))) == 0.0
    jig = np.concatenate([beats, beats + 0.25])  # as many on the half-beats as on the beats
    assert grid_shift(beats, jig, np.ones(len(jig))) == 0.0
    late = beats + 0.1
    assert grid_shift(beats, late, np.ones(len(late))) == pytest.approx(0.1, abs=0.01)
    early = beats[1:] - 0.15
    assert grid_shift(beats, early, np.ones(len(early))) == pytest.approx(-0.15, abs=0.01)
    assert grid_shift(beats, beats + 0.01, np.ones(len(beats))) == 0.0  # within 20 ms


def test_hybrid_keeps_its_tunes_voices_under_the_walking_melody(tmp_path):
    """The hybrid's GAN tunes are fused the same way: the walking melody over the first
    tune's other voices, then the second's from the midpoint (bar 5 of 8)."""
    out = tmp_path / "hybrid.mid"
    f.run_cli("generate", "--model", "hybrid", "--bars", "8", "--seed", "3", "-o", out,
              check=True)
    pm = pretty_midi.PrettyMIDI(str(out))
    names = {i.name for i in pm.instruments}
    assert "melody" in names and len(names) >= 4
    midpoint = 8.0  # 4 bars at 120 qpm
    for inst in pm.instruments:
        if inst.name.startswith("tune 1"):
            assert max(n.start for n in inst.notes) < midpoint
        elif inst.name.startswith("tune 2"):
            assert min(n.start for n in inst.notes) >= midpoint - 1e-3
    assert max(n.end for i in pm.instruments for n in i.notes) <= 16.0 + 1e-3


@pytest.mark.parametrize("numerator", [1, 2])
def test_placeholder_meters_are_counted_in_four_four_bars(numerator):
    """POP909 marks its songs 2/4 or 1/4; a fusion's bars are 4/4, or the parts under the
    melody would fill a quarter or half of each bar and leave the rest silent."""
    from note_seq import midi_io

    from composer.sections import bar_grid

    pm = pretty_midi.PrettyMIDI(initial_tempo=120)
    pm.time_signature_changes.append(pretty_midi.TimeSignature(numerator, 4, 0.0))
    piano = pretty_midi.Instrument(0)
    piano.notes.extend(pretty_midi.Note(80, 60, b * 0.5, b * 0.5 + 0.4) for b in range(32))
    pm.instruments.append(piano)
    grid = bar_grid(midi_io.midi_to_note_sequence(pm))
    assert grid.bars == 8 and set(np.diff(grid.downbeats)) == {4}
