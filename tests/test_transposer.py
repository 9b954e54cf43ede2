"""The transposer on real pieces and on files with drums, tempo maps and controllers."""

import io

import factories as f
import mido
import pretty_midi
import pytest

from training.transposer import (
    estimate_midi_key,
    fold_pitch,
    transpose_midi_bytes,
    transpose_notesequence,
)


def _notes(data: bytes):
    mid = mido.MidiFile(file=io.BytesIO(data))
    return [(t, m.channel, m.note) for t, track in enumerate(mid.tracks) for m in track
            if m.type in ("note_on", "note_off")]


def _non_notes(data: bytes):
    mid = mido.MidiFile(file=io.BytesIO(data))
    return [(t, str(m)) for t, track in enumerate(mid.tracks) for m in track
            if m.type not in ("note_on", "note_off", "key_signature")]


def _timeline(data: bytes):
    mid = mido.MidiFile(file=io.BytesIO(data))
    return [[(m.time, m.type) for m in track] for track in mid.tracks]


@pytest.mark.parametrize("shift", [-6, -1, 3, 5])
def test_round_trip_restores_every_pitch(chorales, folk_tunes, shift):
    for path in chorales[:4] + folk_tunes[:4]:
        data = path.read_bytes()
        moved = transpose_midi_bytes(data, shift)
        assert [n + shift for *_, n in _notes(data)] == [n for *_, n in _notes(moved)]
        back = transpose_midi_bytes(moved, -shift)
        assert _notes(back) == _notes(data)
        assert _non_notes(back) == _non_notes(data)  # tempo, programs, controllers untouched
        assert _timeline(back) == _timeline(data)  # every delta time preserved


def test_transposed_real_piece_lands_in_target_signature(chorales):
    for path in chorales[:4]:
        data = path.read_bytes()
        pm = pretty_midi.PrettyMIDI(io.BytesIO(data))
        est = estimate_midi_key(pm)
        shift = (0 - est.key.relative_major + 6) % 12 - 6
        moved = pretty_midi.PrettyMIDI(io.BytesIO(transpose_midi_bytes(data, shift)))
        assert estimate_midi_key(moved).key.fifths == 0
        # the notated key signatures moved with the notes, modes unchanged
        before = [k.key_number for k in pm.key_signature_changes]
        after = [k.key_number for k in moved.key_signature_changes]
        assert before and [a % 12 for a in after] == [(b + shift) % 12 for b in before]
        assert [a // 12 for a in after] == [b // 12 for b in before]


def test_drums_never_move(tmp_path):
    path = f.write_midi(tmp_path / "band.mid", f.scale_notes([62, 64, 66, 67, 69, 71, 73, 74]),
                        drums=[(36, 0, 0.1), (38, 0.5, 0.6), (42, 1.0, 1.1)])
    data = path.read_bytes()
    moved = transpose_midi_bytes(data, -2)
    drums_before = [n for _, ch, n in _notes(data) if ch == 9]
    drums_after = [n for _, ch, n in _notes(moved) if ch == 9]
    assert drums_before == drums_after == [36, 36, 38, 38, 42, 42]
    pitched = [n for _, ch, n in _notes(moved) if ch != 9]
    assert pitched[0] == 60


def test_notes_stay_inside_midi_range(tmp_path):
    path = f.write_midi(tmp_path / "edges.mid", f.scale_notes([0, 1, 126, 127]))
    moved = transpose_midi_bytes(path.read_bytes(), 5)
    pitches = [n for *_, n in _notes(moved)]
    assert all(0 <= p <= 127 for p in pitches)
    assert pitches[::2] == [5, 6, 119, 120]  # over the top folds down an octave
    assert fold_pitch(-3) == 9 and fold_pitch(130) == 118


def test_notesequence_transposition(chorales):
    from note_seq import midi_io

    seq = midi_io.midi_file_to_note_sequence(str(chorales[0]))
    moved = transpose_notesequence(seq, 4)
    assert [n.pitch + 4 for n in seq.notes] == [n.pitch for n in moved.notes]
    assert [n.start_time for n in seq.notes] == [n.start_time for n in moved.notes]
    assert seq.notes[0].pitch != moved.notes[0].pitch  # the original is untouched
    back = transpose_notesequence(moved, -4)
    assert [n.pitch for n in back.notes] == [n.pitch for n in seq.notes]


def test_cli_transpose_says_what_it_did_in_one_line(tmp_path, chorales):
    out = tmp_path / "c.mid"
    result = f.run_cli("transpose", chorales[1], out, check=True)
    lines = f.lines(result.stdout)
    assert len(lines) == 1 and "key" in lines[0] and "confidence" in lines[0]
    assert "semitones" in lines[0] and str(out) in lines[0]
    pm = pretty_midi.PrettyMIDI(str(out))
    assert estimate_midi_key(pm).key.fifths == 0
    assert len(pm.instruments) == len(pretty_midi.PrettyMIDI(str(chorales[1])).instruments)


def test_cli_transpose_to_other_key(tmp_path, folk_tunes):
    out = tmp_path / "g.mid"
    f.run_cli("transpose", folk_tunes[0], out, "--to", "G", check=True)
    est = estimate_midi_key(pretty_midi.PrettyMIDI(str(out)))
    assert est.key.fifths == 1


@pytest.mark.parametrize("make", [f.garbage, f.empty, f.html_named_mid])
def test_cli_transpose_bad_file(tmp_path, make):
    bad = make(tmp_path / "broken.mid")
    result = f.run_cli("transpose", bad, tmp_path / "out.mid")
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "broken.mid" in lines[0], result.stderr
    assert not (tmp_path / "out.mid").exists()


def test_cli_transpose_missing_file(tmp_path):
    result = f.run_cli("transpose", tmp_path / "nope.mid", tmp_path / "out.mid")
    assert result.returncode == 1 and "nope.mid" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_cli_transpose_bad_key(tmp_path, chorales):
    result = f.run_cli("transpose", chorales[0], tmp_path / "o.mid", "--to", "H#")
    assert result.returncode == 1 and "H#" in result.stderr
