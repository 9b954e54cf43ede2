"""Re-harmonising a song's parts under a new melody (composer.reharmonise), and interpolate
playing them that way unless `--keep-harmony`.

The pure functions get hand-built bars whose right answer is plain: an A minor melody over a
C major part, a C major melody over it, a melody that changes chord at the half bar. The CLI
test fuses two songs built like test_fusion's (its `song`), with different choruses, so the
VAE's middle steps sing a melody neither song's chords were written for.
"""

from __future__ import annotations

import factories as f
import pretty_midi
import pytest
import test_fusion

from composer.interpolation import Backing
from composer.reharmonise import (Note, Span, agreement, bass_line, choose_chords,
                                  reharmonise, voice)
from models.lead.chords import Chord

C_MAJOR, A_MINOR, F_MAJOR = Chord(0, "maj"), Chord(9, "min"), Chord(5, "maj")


def part() -> list[Backing]:
    """A bar of C major: a held bass C, chords on every beat (C E G), a kick on every beat."""
    notes = [Backing(1, 48, 70, 0.0, 4.0, 0, False)]
    notes += [Backing(1, p, 60 + beat, float(beat), 0.9, 0, False)
              for beat in range(4) for p in (60, 64, 67)]
    notes += [Backing(2, 36, 100, float(beat), 0.1, 0, True) for beat in range(4)]
    return notes


def arpeggio(pitches, start: float = 0.0) -> list[Note]:
    return [Note(p, start + i, 1.0) for i, p in enumerate(pitches)]


def test_an_a_minor_melody_moves_a_c_major_part_to_a_minor():
    bar = reharmonise(arpeggio([69, 72, 76, 81]), part())
    assert [(s.chord, s.own) for s in bar.spans] == [(A_MINOR, C_MAJOR)]
    before, after = part(), list(bar.notes)
    assert len(after) == len(before)
    for old, new in zip(before, after):  # rhythm, velocity, track and register kept
        assert (new.beat, new.beats, new.velocity, new.track, new.is_drum) == \
            (old.beat, old.beats, old.velocity, old.track, old.is_drum)
        assert abs(new.pitch - old.pitch) <= (3 if old.pitch == 48 else 2)
    assert [n for n in after if n.is_drum] == [n for n in before if n.is_drum]
    assert {n.pitch % 12 for n in after if not n.is_drum} == {9, 0, 4}
    assert after[0].pitch == 45  # the bass on the old root goes to the new one: C3 -> A2
    chords = [sorted(n.pitch for n in after if n.beat == beat and n.track == 1 and n.beats < 1)
              for beat in range(4)]
    assert chords == [[60, 64, 69]] * 4  # G moved up to A; C and E were chord tones already
    assert bar.moved == 5  # the bass and four Gs


def test_a_part_that_already_fits_is_left_alone():
    bar = reharmonise(arpeggio([72, 76, 79, 84]), part())
    assert bar.notes == tuple(part()) and bar.moved == 0
    assert [(s.chord, s.own) for s in bar.spans] == [(C_MAJOR, C_MAJOR)]
    # a chord that is the part's own with a tone added (the melody's seventh) moves nothing
    seventh = Span(0.0, 4.0, Chord(0, "maj7"), C_MAJOR, 1.0)
    assert not seventh.changed and voice(part(), [seventh]) == (tuple(part()), 0)
    # nor does a rest: nothing to go by
    assert reharmonise([], part()).notes == tuple(part())


def test_a_bar_is_only_changed_where_that_helps():
    """A held F after a short C major chord: a chord with F in it fits the melody better, but
    nothing of the part sounds under the F, so moving the chord would only change the song."""
    short = [Backing(1, p, 70, 0.0, 0.5, 0, False) for p in (48, 60, 64, 67)]
    bar = reharmonise([Note(65, 1.0, 3.0)], short)
    assert bar.notes == tuple(short) and bar.moved == 0
    assert [(s.chord, s.own) for s in bar.spans] == [(C_MAJOR, C_MAJOR)]
    wanted = choose_chords([Note(65, 1.0, 3.0)], short)[0]
    assert wanted.changed and 5 in wanted.chord.pitch_classes  # C:sus4 as it happens


def test_a_melody_that_changes_chord_at_the_half_bar_gets_two():
    melody = [Note(72, 0.0, 1.0), Note(76, 1.0, 1.0), Note(77, 2.0, 1.0), Note(81, 3.0, 1.0)]
    spans = choose_chords(melody, part())
    assert [(s.start, s.end, s.chord) for s in spans] == [(0.0, 2.0, C_MAJOR),
                                                         (2.0, 4.0, F_MAJOR)]
    bar = reharmonise(melody, part())
    chords = [sorted(n.pitch for n in bar.notes if n.beat == beat and n.track == 1
                     and n.beats < 1) for beat in range(4)]
    # the first half as it was; the second on F: E up to F, G up to A (F is taken), C stays
    assert chords == [[60, 64, 67]] * 2 + [[60, 65, 69]] * 2
    assert bar.notes[0].pitch == 48  # the bass starts in the first half: C major, it stays


def test_ties_go_downward_and_a_note_out_of_reach_stays():
    notes = [Backing(1, 62, 80, 0.0, 1.0, 0, False), Backing(1, 61, 80, 1.0, 1.0, 0, False)]
    augmented = Span(0.0, 4.0, Chord(0, "aug"), C_MAJOR, 1.0)  # C E G#: D is 2 from C and E
    moved, count = voice(notes, [augmented])
    assert [n.pitch for n in moved] == [60, 60] and count == 2  # C# is 1 from C
    diminished = Span(0.0, 4.0, Chord(0, "dim"), C_MAJOR, 1.0)  # C Eb F#: A is 3 from both
    moved, count = voice([Backing(1, 69, 80, 0.0, 1.0, 0, False)], [diminished])
    assert [n.pitch for n in moved] == [69] and count == 0


def test_the_bass_line_is_the_lowest_note_sounding_at_each_onset():
    notes = [Backing(1, 48, 70, 0.0, 1.0, 0, False), Backing(1, 64, 70, 0.0, 2.0, 0, False),
             Backing(1, 55, 70, 1.0, 1.0, 0, False), Backing(1, 72, 70, 2.0, 1.0, 0, False)]
    assert bass_line(notes) == [True, False, True, False]  # 72 starts alone, but high


def test_agreement_counts_strong_beats_and_clashing_time():
    melody = [Note(72, 0.0, 2.0), Note(66, 2.0, 1.0), Note(67, 3.5, 0.5)]
    part_notes = [Backing(1, 61, 70, 0.0, 1.0, 0, False), Backing(1, 64, 70, 1.0, 1.0, 0, False),
                  Backing(1, 60, 70, 2.0, 2.0, 0, False), Backing(2, 37, 90, 0.0, 4.0, 0, True)]
    found = agreement(melody, part_notes)
    # C over C# (a semitone) for 1 beat, over E for 1; F# over C (a tritone) for 1; G over C
    assert (found.sounding, found.clashing) == (3.5, 2.0)
    assert (found.strong, found.strong_on_part) == (2, 0)  # beats 1 and 3; 3.5 is not strong
    assert found.clash_rate == pytest.approx(2.0 / 3.5)


CHORDS_B = [(45, 48, 52), (41, 45, 48), (48, 52, 55), (43, 47, 50)]  # Am F C G
CHORUS_B = [69, 72, 76, 72, 69, 72, 76, 81, 77, 76, 72, 69, 65, 69, 72, 77]  # Am, then F


@pytest.fixture(scope="module")
def two_songs(tmp_path_factory):
    root = tmp_path_factory.mktemp("reharmonise")
    a = test_fusion.song(root / "a.mid", 100.0, lead=73, comp=0, drum=36, seed=1)
    with pytest.MonkeyPatch.context() as patch:  # b: another progression and chorus
        patch.setattr(test_fusion, "CHORDS", CHORDS_B)
        patch.setattr(test_fusion, "CHORUS", CHORUS_B)
        b = test_fusion.song(root / "b.mid", 100.0, lead=65, comp=24, drum=42, seed=2)
    return a, b


def fused(path) -> tuple[list[Note], list[Backing], list[tuple]]:
    """(melody, accompaniment, drums) of a fusion written at 120 qpm, in beats."""
    pm = pretty_midi.PrettyMIDI(str(path))
    melody, parts, drums = [], [], []
    for k, inst in enumerate(pm.instruments):
        for n in inst.notes:
            if inst.is_drum:
                drums.append((n.pitch, round(n.start, 3)))
            elif inst.name == "melody":
                melody.append(Note(n.pitch, n.start * 2, (n.end - n.start) * 2))
            else:
                parts.append(Backing(k, n.pitch, n.velocity, n.start * 2, (n.end - n.start) * 2,
                                     inst.program, False))
    return melody, parts, sorted(drums)


def test_interpolate_re_harmonises_the_parts_unless_told_to_keep_them(two_songs, tmp_path):
    a, b = two_songs
    out = {}
    for name, flags in (("kept", ["--keep-harmony"]), ("new", [])):
        out[name] = tmp_path / f"{name}.mid"
        f.run_cli("interpolate", a, b, "--steps", "6", "--qpm", "120", *flags,
                  "-o", out[name], check=True)
    kept_melody, kept, kept_drums = fused(out["kept"])
    new_melody, new, new_drums = fused(out["new"])
    assert new_melody == kept_melody and new_drums == kept_drums  # only the parts change
    assert sorted(n.pitch for n in new) != sorted(n.pitch for n in kept)
    onsets = sorted({(n.track, round(n.beat, 3), round(n.beats, 3)) for n in kept})
    assert sorted({(n.track, round(n.beat, 3), round(n.beats, 3)) for n in new}) == onsets
    before, after = agreement(kept_melody, kept), agreement(new_melody, new)
    assert before.clashing > 0  # the songs' own parts clash with the walk somewhere
    assert after.clash_rate < before.clash_rate
