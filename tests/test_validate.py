"""Every way a MIDI file can be bad gets its own reason; good files pass."""

import factories as f
import pytest

from training.validate import BadMidi, Limits, main_tempo, parse_midi


@pytest.mark.parametrize("make,reason", [
    (f.empty, "empty"),
    (f.html_named_mid, "not-midi"),
    (f.truncated_header, "corrupt"),
    (f.header_only, "corrupt"),
    (f.garbage, "corrupt"),
    (f.zero_notes, "no-notes"),
    (f.many_tempo_events, "tempo-events"),
    (f.absurd_tempo, "absurd-tempo"),
])
def test_bad_files_have_reasons(tmp_path, make, reason):
    path = make(tmp_path / "bad.mid")
    with pytest.raises(BadMidi) as info:
        parse_midi(path.read_bytes())
    assert info.value.reason == reason
    assert str(info.value)  # a human-readable detail


def test_truncated_real_piece_is_corrupt(tmp_path, chorales):
    path = f.truncated_track(chorales[0], tmp_path / "cut.mid")
    with pytest.raises(BadMidi) as info:
        parse_midi(path.read_bytes())
    assert info.value.reason == "corrupt"


def test_size_limit(chorales):
    data = chorales[0].read_bytes()
    with pytest.raises(BadMidi) as info:
        parse_midi(data, Limits(max_bytes=len(data) - 1))
    assert info.value.reason == "too-large"


def test_parse_time_limit(tmp_path):
    path = f.huge_but_valid(tmp_path / "huge.mid")
    with pytest.raises(BadMidi) as info:
        parse_midi(path.read_bytes(), Limits(time_limit=0.05, max_bytes=1 << 30))
    assert info.value.reason == "timeout"


def test_too_long(tmp_path):
    path = f.write_midi(tmp_path / "long.mid", [(60, 0, 1), (62, 7200, 7201)])
    with pytest.raises(BadMidi) as info:
        parse_midi(path.read_bytes())
    assert info.value.reason == "too-long"


def test_real_pieces_pass(chorales, folk_tunes):
    for path in chorales + folk_tunes:
        score = parse_midi(path.read_bytes())
        assert len(score.notes) > 10
        assert 20 <= main_tempo(score) <= 300
