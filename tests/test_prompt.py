"""Text prompts on the MIDI path, the parallel-mode move, and sample packs.

The word table is pure and checked directly; the rest runs as a user would: `composer play
--prompt ... --keep DIR` and `composer loops`, whose files are parsed and measured (the
programs, tempo and key of the notes, the WAV's length and loop points, the index).
"""

from __future__ import annotations

import csv
import json
import re
import warnings

import factories as f
import numpy as np
import pretty_midi
import pytest
import soundfile

from composer.loop.files import read_loop_points
from composer.modes import estimate, to_mode
from composer.prompt import changes, read_prompt, steer, table_markdown
from training.score import read_score, to_notesequence

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from composer.player.settings import PlaySettings


def test_dark_slow_strings_reads_as_minor_70_qpm_strings():
    plan = read_prompt("Dark, SLOW strings")
    assert (plan.mode, plan.qpm, plan.programs, plan.model) == ("minor", 70.0, (48,), None)
    assert plan.describe() == "dark -> minor, slow -> 70 qpm, strings -> program 48"
    assert read_prompt("Dark, SLOW strings") == plan  # deterministic


def test_a_number_wins_over_a_tempo_word_and_two_instruments_share_the_tracks():
    plan = read_prompt("upbeat happy pop, flute and strings at 92 bpm")
    assert (plan.qpm, plan.mode, plan.model, plan.programs) == (92.0, "major", "pop", (73, 48))
    assert plan.instrument == "flute"
    assert plan.program(tracks=3) == (73, 48, 48) and plan.program(tracks=1) == 73
    model, values = steer(plan, None, None, dict.fromkeys(("qpm", "program", "temperature",
                                                          "mode")))
    assert model == "pop" and values["program"] == (73, 48, 48)


def test_flags_win_over_the_prompt_and_density_scales_the_models_temperature():
    plan = read_prompt("sparse folk piano, slow, sad")
    model, values = steer(plan, None, None, {"qpm": 100.0, "program": None,
                                             "temperature": None, "mode": "major"})
    assert model == "lstm"
    assert values == {"qpm": 100.0, "program": 0, "temperature": 0.8, "mode": "major"}
    assert steer(plan, "gan", None, dict.fromkeys(("qpm", "program", "temperature",
                                                   "mode")))[0] == "gan"
    assert read_prompt("the sound of rain on a tin roof").heard == ()


def test_a_prompt_typed_while_playing_changes_only_what_it_names():
    now = PlaySettings(model="pop", qpm=96.0, program=(0, 0, 0), temperature=0.9)
    assert changes(read_prompt("dark"), now) == {"mode": "minor"}
    assert changes(read_prompt("chorale on organ"), now) == {
        "model": "gan", "checkpoint": None, "program": 16}


def test_the_table_in_the_docs_is_the_table_in_the_code():
    assert f.ROOT.joinpath("docs/prompts.md").read_text().endswith(table_markdown())


@pytest.fixture(scope="module")
def major_tune(folk_tunes):
    for path in folk_tunes:
        sequence = to_notesequence(read_score(path.read_bytes()))
        key = estimate(sequence)
        if key.mode == "major":
            return sequence, key
    pytest.skip("no major tune among the folk tunes")


def test_a_major_tune_moves_to_its_parallel_minor_on_three_degrees(major_tune):
    sequence, key = major_tune
    minor, name = to_mode(sequence, "minor")
    assert name == f"{key.name.split()[0]} minor"
    assert estimate(minor).mode == "minor"
    moved = [(a.pitch - b.pitch, (b.pitch - key.tonic) % 12)
             for a, b in zip(minor.notes, sequence.notes)]
    assert {d for d, degree in moved if degree in (4, 9, 11)} == {-1}
    assert {d for d, degree in moved if degree not in (4, 9, 11)} == {0}
    assert [n.start_time for n in minor.notes] == [n.start_time for n in sequence.notes]
    assert minor.key_signatures[0].mode == minor.KeySignature.MINOR
    back, _ = to_mode(minor, "major")  # the tune again, but for notes outside its scale
    assert {(b.pitch - key.tonic) % 12 for a, b in zip(back.notes, sequence.notes)
            if a.pitch != b.pitch} <= {3, 8, 10}
    assert [n.pitch for n in to_mode(sequence, "major")[0].notes] == [
        n.pitch for n in sequence.notes]


def _notes_key(path):
    midi = pretty_midi.PrettyMIDI(str(path))
    notes = [n for i in midi.instruments if not i.is_drum for n in i.notes]
    from training.keys import estimate_key_from_notes

    key = estimate_key_from_notes(np.array([n.pitch for n in notes]),
                                  np.array([n.end - n.start for n in notes])).key
    return midi, key


def test_play_with_a_prompt_plays_minor_strings_slowly(tmp_path):
    wav, kept = tmp_path / "dark.wav", tmp_path / "kept"
    result = f.run_cli("play", "--prompt", "dark slow strings", "-o", wav, "--minutes", "0.5",
                       "--loop-seconds", "8", "--bars", "2", "--seed", "3", "--keep", kept,
                       check=True)
    assert "prompt: dark -> minor, slow -> 70 qpm, strings -> program 48" in result.stderr
    assert "at 70 qpm" in result.stdout
    assert soundfile.info(str(wav)).duration == pytest.approx(30.0, abs=0.01)
    index = json.loads((kept / "index.json").read_text())
    assert len(index) >= 3 and re.search(r"\d+ loops kept", result.stderr)
    thirds = {3: 0, 4: 0}  # minor and major thirds above each loop's tonic, all loops
    for row in index:
        midi, _ = _notes_key(kept / row["midi"])
        assert {i.program for i in midi.instruments if not i.is_drum} == {48}
        assert midi.get_tempo_changes()[1][0] == pytest.approx(70.0, abs=0.001)  # µs a beat
        assert row["key"].endswith("m") and row["file"].startswith("strings_70bpm_")
        tonic = pretty_midi.note_name_to_number(row["key"][:-1] + "0") % 12
        for note in (n for i in midi.instruments for n in i.notes):
            degree = (note.pitch - tonic) % 12
            if degree in thirds:
                thirds[degree] += 1
    assert thirds[3] >= 4 * max(1, thirds[4]), thirds  # the notes are minor, not the label only


def test_loops_writes_a_tempo_exact_pack_with_an_index(tmp_path):
    pack = tmp_path / "pack"
    args = ("loops", "--prompt", "happy flute", "--bpm", "90", "--bars", "2", "-o", pack)
    result = f.run_cli(*args, "--count", "3", "--seed", "1", check=True)
    assert "3 loops of 2 bars at 90 bpm" in f.lines(result.stdout)[-1]
    with open(pack / "index.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 3
    frames = round(2 * 4 * 60 / 90 * 44100)
    for row in rows:
        assert re.fullmatch(r"flute_90bpm_[A-G][#b]?_0[1-3]\.wav", row["file"])
        assert row["file"] == f"flute_90bpm_{row['key']}_{row['file'][-6:-4]}.wav"
        assert not row["key"].endswith("m")  # happy: major
        points = read_loop_points(pack / row["file"])
        assert abs(points.frames - frames) <= 1 and points.bpm == pytest.approx(90.0)
        assert (points.start, points.end) == (0, points.frames)
        assert float(row["seam"]) <= 1.0
        midi, key = _notes_key(pack / row["midi"])
        assert key.mode == "major" and {i.program for i in midi.instruments} == {73}
    f.run_cli(*args, "--count", "1", "--seed", "2", check=True)  # a second run adds to it
    assert len(json.loads((pack / "index.json").read_text())) == 4
    assert len(list(pack.glob("*.wav"))) == 4


def test_loops_refuses_a_file_for_a_folder_in_one_line(tmp_path):
    taken = tmp_path / "taken"
    taken.write_text("a file")
    result = f.run_cli("loops", "--count", "1", "-o", taken)
    assert result.returncode == 1
    assert f.lines(result.stderr) == [f"error: {taken}: not a folder"]
    assert taken.read_text() == "a file"


def test_oneshots_of_the_gm_kit_are_trimmed_normalised_and_faded_only_at_the_tail(tmp_path):
    kit = tmp_path / "kit"
    result = f.run_cli("oneshots", "--kit", "gm-drums", "-o", kit, check=True)
    rows = json.loads((kit / "index.json").read_text())
    assert len(rows) >= 40 and f"{len(rows)} one-shots" in f.lines(result.stdout)[-1]
    names = {row["file"] for row in rows}
    assert {"acoustic-snare_38.wav", "closed-hi-hat_42.wav", "crash-cymbal-1_49.wav"} <= names
    lengths = {}
    for row in rows:
        audio, rate = soundfile.read(str(kit / row["file"]), dtype="float32")
        level = np.abs(audio).max(axis=1)
        assert level.max() == pytest.approx(10 ** (-1 / 20), abs=2e-3), row["file"]  # -1 dBFS
        assert level[0] >= 1e-3 * level.max()  # no silence and no fade-in before the attack
        assert level[-1] < 0.05 * level.max()  # faded out at the tail
        assert soundfile.info(str(kit / row["file"])).subtype == "PCM_24"
        lengths[row["file"]] = len(audio) / rate
    assert lengths["crash-cymbal-1_49.wav"] > 4 * lengths["closed-hi-hat_42.wav"]


def test_pitched_oneshots_sound_at_their_notes(tmp_path):
    import librosa

    notes = tmp_path / "strings"
    f.run_cli("oneshots", "--program", "48", "--notes", "C3,A3", "--seconds", "0.8", "-o",
              notes, check=True)
    for name, hertz in (("string-ensemble-1_C3.wav", 130.81), ("string-ensemble-1_A3.wav", 220.0)):
        audio, rate = soundfile.read(str(notes / name), dtype="float32")
        body = audio[int(0.2 * rate):int(0.7 * rate)].mean(axis=1)
        f0 = np.median(librosa.yin(body, fmin=60, fmax=600, sr=rate))
        assert f0 == pytest.approx(hertz, rel=0.03), name


@pytest.mark.parametrize("args, words", [
    (("--kit", "gm-drums", "--program", "0"), "one of the two"),
    (("--kit", "909"), "the kit is gm-drums"),
    (("--program", "0", "--notes", "H2..C4"), "'H2' is not a note name"),
    (("--program", "0", "--notes", "C4..C2"), "low note first"),
])
def test_oneshots_refuses_bad_requests_in_one_line(tmp_path, args, words):
    result = f.run_cli("oneshots", *args, "-o", tmp_path / "out")
    assert result.returncode == 1 and words in result.stderr
    assert len(f.lines(result.stderr)) == 1 and not (tmp_path / "out").exists()
