"""Music statistics and overlapping areas (issue 12): each statistic on hand-made windows whose
answer is known, the OA's properties, song windows cut at annotated bar lines, and
`composer eval --music` on a tiny POP909-shaped corpus made here (no real dataset needed).
"""

from __future__ import annotations

import json
import math

import factories as f
import numpy as np
import pytest
from note_seq.protobuf import music_pb2

from training.model_card import render
from training.music_stats import (
    STATISTICS,
    Window,
    generated_statistics,
    music_report,
    oa_table,
    overlapping_area,
    song_windows,
    statistics,
    window_from_sequence,
)

BEAT = music_pb2.NoteSequence.TextAnnotation.BEAT


def window(notes: list[tuple], bars: int = 2) -> Window:
    """(pitch, start beat, end beat[, velocity[, track]]) rows as a Window."""
    rows = [(n + (80, 0))[:5] for n in notes]
    return Window(track=np.array([r[4] for r in rows], int),
                  pitch=np.array([r[0] for r in rows], int),
                  velocity=np.array([r[3] for r in rows], int),
                  start=np.array([r[1] for r in rows], float),
                  end=np.array([r[2] for r in rows], float), bars=bars)


def test_c_major_scale_one_note_a_beat():
    stats = statistics(window([(p, i, i + 1) for i, p in enumerate([60, 62, 64, 65, 67, 69,
                                                                      71])]))
    assert list(stats) == list(STATISTICS)
    assert stats["pitch_class_entropy"] == pytest.approx(math.log2(7))
    assert stats["scale_consistency"] == pytest.approx(1.0)
    assert stats["polyphony"] == 1.0
    assert stats["notes_per_bar"] == 3.5
    assert (stats["pitch_range"], stats["distinct_pitches"], stats["pitched_tracks"]) == (11, 7, 1)
    assert stats["velocity_spread"] == 0.0
    assert stats["empty_beat_rate"] == 1 / 8  # the 8th beat is silent
    assert stats["groove_consistency"] == 1 - 1 / 16  # bar 2 lacks the onset on beat 4


def test_chords_chromatic_notes_velocities_and_tracks():
    triad = [(p, 0, 2, 60, 0) for p in (60, 64, 67)]  # two beats, then a beat of silence
    chromatic = [(48 + i, 3 + i / 4, 3 + (i + 1) / 4, 100, 1) for i in range(12)]
    stats = statistics(window(triad + chromatic, bars=2))
    assert stats["pitch_class_entropy"] == pytest.approx(
        -(3 * (2 / 15) * math.log2(2 / 15) + 9 * (1 / 15) * math.log2(1 / 15)))
    # 8 sixteenths of the triad, 12 of one chromatic note each: (8 * 3 + 12) / 20
    assert stats["polyphony"] == pytest.approx(36 / 20)
    assert stats["empty_beat_rate"] == 3 / 8  # beat 3 and the last two beats
    assert stats["scale_consistency"] == pytest.approx(10 / 15)  # C major: triad + 7 of 12
    assert stats["velocity_spread"] == pytest.approx(np.std([60] * 3 + [100] * 12))
    assert (stats["pitch_range"], stats["distinct_pitches"], stats["pitched_tracks"]) == (19, 15, 2)


def test_groove_counts_onsets_changed_between_neighbouring_bars():
    same = window([(60, beat, beat + 0.5) for beat in (0, 1.5, 4, 5.5, 8, 9.5)], bars=3)
    assert statistics(same)["groove_consistency"] == 1.0
    moved = window([(60, 0, 1), (60, 4.25, 5)], bars=2)  # one onset gone, one new: 2 of 16
    assert statistics(moved)["groove_consistency"] == 1 - 2 / 16


def test_an_empty_window_counts_zero_and_leaves_ratios_undefined():
    stats = statistics(window([], bars=8))
    assert (stats["notes_per_bar"], stats["pitched_tracks"], stats["empty_beat_rate"]) == (0, 0, 1)
    assert all(math.isnan(stats[k]) for k in ("polyphony", "pitch_class_entropy",
                                              "scale_consistency", "groove_consistency"))


def test_a_phrase_becomes_beats_without_drums_cut_at_its_last_bar():
    seq = music_pb2.NoteSequence()
    seq.notes.add(pitch=60, velocity=90, start_time=0.0, end_time=1.0, instrument=0, program=0)
    seq.notes.add(pitch=64, velocity=70, start_time=2.0, end_time=9.0, instrument=1, program=33)
    seq.notes.add(pitch=36, velocity=100, start_time=0.0, end_time=0.1, is_drum=True,
                  instrument=9)
    seq.notes.add(pitch=67, velocity=90, start_time=8.0, end_time=8.5, instrument=0, program=0)
    w = window_from_sequence(seq, qpm=90.0, bars=3)  # 1.5 beats a second, 12 beats
    assert w.pitch.tolist() == [60, 64] and w.track.tolist() == [0, 1]
    assert w.start.tolist() == [0.0, 3.0] and w.end.tolist() == [1.5, 12.0]


def test_a_note_a_hair_before_a_bar_line_counts_in_that_bar_only():
    seq = music_pb2.NoteSequence()
    seq.tempos.add(qpm=60)  # a beat a second
    for start in (0.0, 3.0, 7.96, 15.0):  # 7.96: played early, it opens the second window
        seq.notes.add(pitch=60, velocity=80, start_time=start, end_time=start + 0.5)
    first, second = song_windows(seq, bars=2)
    assert first.start.tolist() == [0.0, 3.0] and second.start.tolist() == [0.0, 7.0]


def pop_song(bars: int, pickup: int = 1, beats_per_bar: int = 4, seconds: float = 0.6):
    """A POP909-shaped NoteSequence: MELODY, BRIDGE and PIANO, a note a beat from a pickup
    `pickup` beats before the first annotated downbeat, a chord a bar; beat annotations."""
    seq = music_pb2.NoteSequence(ticks_per_quarter=480)
    seq.tempos.add(qpm=100)
    for i, name in enumerate(("MELODY", "BRIDGE", "PIANO")):
        seq.instrument_infos.add(instrument=i, name=name)
    beats = pickup + bars * beats_per_bar
    for b in range(beats):
        down = b >= pickup and (b - pickup) % beats_per_bar == 0
        seq.text_annotations.add(time=b * seconds, text="downbeat" if down else "beat",
                                 annotation_type=BEAT)
        seq.notes.add(pitch=72 + [0, 2, 4, 7][b % 4], velocity=80 + b % 20, instrument=0,
                      start_time=b * seconds, end_time=(b + 0.9) * seconds)
        if b % 2:
            seq.notes.add(pitch=67, velocity=60, instrument=1, start_time=b * seconds,
                          end_time=(b + 1) * seconds)
        if down:
            for p in (48, 52, 55):
                seq.notes.add(pitch=p, velocity=70, instrument=2, start_time=b * seconds,
                              end_time=(b + beats_per_bar) * seconds)
    seq.total_time = beats * seconds
    return seq


def test_song_windows_start_at_bar_lines_of_the_annotated_beats():
    windows = song_windows(pop_song(bars=17, pickup=1), bars=8)
    # the pickup opens a bar of its own: 18 bars from that bar line, two whole windows
    assert len(windows) == 2 and all(w.bars == 8 for w in windows)
    first = windows[0]
    assert first.start.min() == pytest.approx(3.0)  # the pickup: last beat of bar 0
    chords = np.unique(np.round(first.start[first.track == 2], 6))
    assert chords.tolist() == [4, 8, 12, 16, 20, 24, 28]  # a chord on every downbeat
    assert statistics(windows[1])["pitched_tracks"] == 3
    assert song_windows(pop_song(bars=12, beats_per_bar=3), bars=2) == []  # 3/4: no 4/4 grid


def test_a_song_without_beats_follows_its_tempo_map():
    seq = music_pb2.NoteSequence()
    seq.tempos.add(qpm=120)
    for b in range(16):
        seq.notes.add(pitch=60, velocity=80, start_time=b * 0.5, end_time=b * 0.5 + 0.25)
    (only,) = song_windows(seq, bars=4)
    assert only.start.tolist() == list(range(16)) and only.end[0] == 0.5


def test_overlapping_area_properties():
    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 1, 400), rng.normal(0, 1, 100)
    assert overlapping_area(a, a) == pytest.approx(1.0, abs=1e-6)
    assert overlapping_area(a, b) > 0.8
    assert overlapping_area(a, b + 50) < 1e-6
    assert overlapping_area(a, b + 1) == pytest.approx(overlapping_area(b + 1, a))
    # two unit normals a standard deviation apart share 2 * Phi(-1/2) = 0.617
    assert overlapping_area(a, a + 1) == pytest.approx(0.617, abs=0.05)
    assert overlapping_area([2.0] * 10, [2.0] * 30) == 1.0
    assert overlapping_area([2.0] * 10, [5.0] * 30) < 1e-6
    assert overlapping_area([1.0, float("nan")], [1.0]) == 1.0
    assert math.isnan(overlapping_area([], [1.0]))


def test_integer_statistics_overlap_like_their_histograms():
    half = [1] * 50 + [3] * 50  # histograms overlap by 0.5; Silverman smooths a little off
    assert 0.4 < overlapping_area([1] * 40, half, discrete=True) <= 0.5
    assert overlapping_area([2] * 40 + [3] * 60, [2] * 70 + [3] * 30,
                            discrete=True) == pytest.approx(0.7, abs=0.02)
    assert overlapping_area([1] * 40, [2] * 40, discrete=True) < 0.01
    assert overlapping_area(half, half, discrete=True) == pytest.approx(1.0, abs=1e-6)


def test_fresh_generators_and_a_report_of_every_statistic():
    seeds = []

    class Fake:
        def __init__(self, seed):
            seeds.append(seed)

        def phrase(self, bars, qpm):
            seq = music_pb2.NoteSequence()
            for i in range(bars * 4):
                seq.notes.add(pitch=60 + i % 5, velocity=80, start_time=i * 60 / qpm,
                              end_time=(i + 1) * 60 / qpm)
            return type("P", (), {"sequence": seq, "qpm": qpm})

    generated = generated_statistics(Fake, phrases=25, bars=2, seed=3)
    assert len(generated) == 25 and seeds == [3000, 3001, 3002]
    table = oa_table(generated, generated)
    assert set(table) == set(STATISTICS) and all(v == 1.0 for v in table.values())
    report = music_report(generated, generated, generated)
    assert report["mean_oa"] == 1.0 and report["statistics"]["notes_per_bar"]["oa"] == 1.0


@pytest.fixture(scope="module")
def tiny_corpus(tmp_path_factory):
    """A corpus folder of shards and a manifest: three POP909-shaped songs to train, two to
    test (the manifest's rows are what `eval --music` does not read, so only its header)."""
    from training.corpus import MANIFEST_COLUMNS
    from training.shards import shard_path, write_shard

    root = tmp_path_factory.mktemp("tiny-pop")
    for split, lengths in (("train", (17, 20, 24)), ("test", (17, 18))):
        write_shard(shard_path(root, split, 0),
                    [pop_song(bars).SerializeToString() for bars in lengths])
    (root / "manifest.csv").write_text(",".join(MANIFEST_COLUMNS) + "\n")
    return root


def test_eval_music_writes_a_report_and_a_model_card_section(tiny_corpus, tmp_path):
    report_path = tmp_path / "music.json"
    result = f.run_cli("eval", "--model", "vae-2bar", "--music", "--corpus", tiny_corpus,
                       "--phrases", "6", "-o", report_path, check=True)
    assert "mean OA" in result.stdout
    report = json.loads(report_path.read_text())
    assert report["model"] == "vae-2bar" and report["generated_phrases"] == 6
    assert (report["held_out_windows"], report["training_windows"]) == (4, 7)
    for row in report["statistics"].values():
        assert 0 <= row["oa"] <= 1 and 0 <= row["ceiling_oa"] <= 1
    assert report["statistics"]["pitched_tracks"]["held_out_mean"] == 3
    card = render(tmp_path)  # music.json alone in the folder: the card shows its table
    assert "## Music statistics against held-out songs" in card and "| mean |" in card


def test_eval_music_of_a_model_without_folder_needs_an_output(tiny_corpus):
    result = f.run_cli("eval", "--model", "hybrid", "--music", "--corpus", tiny_corpus)
    assert result.returncode == 1 and "give -o FILE" in result.stderr
    assert "Traceback" not in result.stderr


def test_eval_music_on_a_folder_that_is_not_a_corpus_says_so(tmp_path):
    result = f.run_cli("eval", "--model", "vae-2bar", "--music", "--corpus", tmp_path,
                       "-o", tmp_path / "music.json")
    assert result.returncode == 1
    assert f.lines(result.stderr) == [f"error: {tmp_path}: not a corpus folder (no manifest.csv); "
                                      "build one with `composer corpus build`"]
    assert not (tmp_path / "music.json").exists()
