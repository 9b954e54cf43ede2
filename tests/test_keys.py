import numpy as np
import pretty_midi
import pytest

from training.keys import (
    Key,
    estimate_key,
    estimate_key_from_notes,
    key_from_signature,
    parse_key,
    pitch_class_histogram,
    transposition,
)
from training.transposer import estimate_midi_key


@pytest.mark.parametrize("text,tonic,mode", [
    ("C", 0, "major"), ("Am", 9, "minor"), ("F# minor", 6, "minor"), ("Bb major", 10, "major"),
    ("ebm", 3, "minor"), ("Db", 1, "major"), ("g", 7, "major"), ("B", 11, "major"),
])
def test_parse_key(text, tonic, mode):
    assert parse_key(text) == Key(tonic, mode)


@pytest.mark.parametrize("bad", ["H", "C##", "", "major", "C dorian"])
def test_parse_key_rejects(bad):
    with pytest.raises(ValueError):
        parse_key(bad)


@pytest.mark.parametrize("key,fifths", [
    (Key(0), 0), (Key(7), 1), (Key(2), 2), (Key(5), -1), (Key(10), -2), (Key(9, "minor"), 0),
    (Key(4, "minor"), 1), (Key(2, "minor"), -1), (Key(6), -6), (Key(11), 5),
])
def test_signature(key, fifths):
    assert key.fifths == fifths
    assert key_from_signature(fifths, minor=key.mode == "minor") == key


@pytest.mark.parametrize("source,shift", [
    (Key(0), 0), (Key(7), 5), (Key(2), -2), (Key(5), -5), (Key(6), -6), (Key(11), 1),
    (Key(4, "minor"), 5), (Key(9, "minor"), 0), (Key(0, "minor"), -3),
])
def test_transposition_to_c_is_smallest_shift(source, shift):
    assert transposition(source, Key(0)) == shift
    assert -6 <= shift <= 5
    # relative minor and major count as the same target signature
    assert transposition(source, Key(9, "minor")) == shift


def test_transposition_to_other_target():
    assert transposition(Key(0), parse_key("G")) == -5  # C -> G: down a fourth beats up a fifth
    assert transposition(Key(9, "minor"), parse_key("Em")) == -5


def _scale(pitches, weights=None):
    pitches = np.array(pitches)
    return pitch_class_histogram(pitches, np.ones(len(pitches)) if weights is None else weights)


def test_estimates_major_and_minor_scales():
    # C major: tonic and dominant weighted like a real melody
    assert estimate_key(_scale([60, 62, 64, 65, 67, 69, 71, 72, 67, 64, 60])).key == Key(0)
    # A harmonic minor, tonic-heavy
    est = estimate_key(_scale([57, 59, 60, 62, 64, 65, 68, 69, 64, 57, 60, 57]))
    assert est.key == Key(9, "minor")
    assert 0 < est.confidence <= 1


def test_every_transposition_of_a_tune_is_found():
    tune = [67, 67, 69, 67, 72, 71, 67, 67, 69, 67, 74, 72, 67, 67, 79, 76, 72, 71, 69]
    for shift in range(-6, 6):
        est = estimate_key_from_notes(np.array(tune) + shift, np.ones(len(tune)))
        assert est.key.relative_major == (0 + shift) % 12 or est.key.relative_major == (7 + shift) % 12


def test_empty_histogram_is_c_major_with_zero_confidence():
    est = estimate_key(np.zeros(12))
    assert est.key == Key(0) and est.confidence == 0.0


def test_chorales_match_their_key_signatures(chorales):
    """Real Bach chorales: the estimate's signature equals the notated one on nearly all."""
    hits = 0
    for path in chorales:
        pm = pretty_midi.PrettyMIDI(str(path))
        notated = pm.key_signature_changes[0].key_number  # 0-11 major, 12-23 minor
        notated_key = Key(notated % 12, "major" if notated < 12 else "minor")
        hits += estimate_midi_key(pm).key.fifths == notated_key.fifths
    assert hits >= len(chorales) - 1, f"{hits}/{len(chorales)}"
