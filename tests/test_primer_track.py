"""The lead of a primer and of a transposed file: the track the melody-track classifier names.

The band is built so that the skyline is wrong: a piano right hand of dyads sits above the sung
lead, over a bass line and drums. The lstm plays one instrument, so it is primed with the
lead alone; pop reads the whole arrangement.
"""

from __future__ import annotations

from pathlib import Path

import factories as f
import numpy as np
import pretty_midi
import pytest

from composer import generation
from composer.generators import ModelSpec
from composer.phrase import Phrase

QPM = 100.0
BEAT = 60.0 / QPM
VOCALS = 'track 2 "Vocals" (melody-track classifier)'


def band(path: Path, bars: int = 8, seed: int = 0) -> Path:
    """Piano RH (dyads up high), Vocals (a stepwise eighth-note tune), Bass, Drums."""
    rng = np.random.default_rng(seed)
    lead, right, bass, kit = [], [], [], []
    pitch = 65
    for step in range(bars * 8):
        pitch = int(np.clip(pitch + rng.choice([-2, -1, 1, 2]), 60, 74))
        if rng.random() < 0.85:
            lead.append((92, pitch, step / 2, step / 2 + 0.45))
    for bar in range(bars):
        top = 84 + int(rng.integers(0, 4))
        for k in range(4):
            right.append((70, top + (k % 2) * 2, bar * 4 + k, bar * 4 + k + 0.9))
            right.append((70, top - 5, bar * 4 + k, bar * 4 + k + 0.9))
            bass.append((80, 36 + bar % 5, bar * 4 + k, bar * 4 + k + 0.9))
            kit.append((100, 38 if k % 2 else 36, bar * 4 + k, bar * 4 + k + 0.25))
    pm = pretty_midi.PrettyMIDI(initial_tempo=QPM)
    for name, program, notes, drum in (("Piano RH", 0, right, False), ("Vocals", 0, lead, False),
                                       ("Bass", 33, bass, False), ("Drums", 0, kit, True)):
        inst = pretty_midi.Instrument(program=program, name=name, is_drum=drum)
        inst.notes = [pretty_midi.Note(v, p, s * BEAT, e * BEAT) for v, p, s, e in notes]
        pm.instruments.append(inst)
    pm.write(str(path))
    return path


@pytest.fixture
def song(tmp_path) -> Path:
    return band(tmp_path / "band.mid")


def test_generate_primes_the_lstm_with_the_classifiers_track(song, tmp_path):
    out = tmp_path / "next.mid"
    result = f.run_cli("generate", "--primer", song, "--bars", "1", "--seed", "1", "-o", out,
                       check=True)
    lines = f.lines(result.stdout)
    assert lines[0] == f"primer: {VOCALS}"  # not track 1, the highest
    assert len(lines) == 2 and lines[1].startswith(f"{out}: 1 bars")
    assert out.exists()


@pytest.mark.parametrize("track, said", [("1", 'track 1 "Piano RH" (--track)'),
                                         ("bass", 'track 3 "Bass" (--track)')])
def test_generate_track_option_overrides(song, tmp_path, track, said):
    result = f.run_cli("generate", "--primer", song, "--track", track, "--bars", "1",
                       "-o", tmp_path / "next.mid", check=True)
    assert f.lines(result.stdout)[0] == f"primer: {said}"


def test_generate_bad_track_is_one_line_naming_the_tracks(song, tmp_path):
    out = tmp_path / "next.mid"
    bad = f.run_cli("generate", "--primer", song, "--track", "vocalz", "-o", out)
    assert bad.returncode != 0 and not out.exists()
    assert f.lines(bad.stderr) == [f"error: {song}: no single track 'vocalz'; its pitched "
                                   "tracks: 1 Piano RH, 2 Vocals, 3 Bass"]
    for args, words in ((["--model", "pop", "--primer", song], "pop continues the whole"),
                        ([], "give --primer too")):
        result = f.run_cli("generate", *args, "--track", "2", "-o", out)
        assert result.returncode != 0 and len(f.lines(result.stderr)) == 1
        assert words in result.stderr


def test_a_primer_with_one_pitched_track_says_nothing_of_tracks(tmp_path):
    solo = f.write_midi(tmp_path / "solo.mid", f.scale_notes([60, 62, 64, 65, 67, 69, 71, 72]),
                        drums=[(36, 0.0, 0.1), (38, 1.0, 1.1)])
    result = f.run_cli("generate", "--primer", solo, "--bars", "1", "-o", tmp_path / "o.mid",
                       check=True)
    assert not any(line.startswith("primer:") for line in f.lines(result.stdout))


class Recorder:
    """A generator that keeps what it was primed with."""

    temperature = None
    primed = None

    def __init__(self, *_, **__) -> None:
        pass

    def prime(self, sequence, shift: int = 0, qpm: float | None = None) -> None:
        Recorder.primed = sequence

    def phrase(self, bars: int, qpm: float = 120.0) -> Phrase:
        return Phrase.make(type(Recorder.primed)(), qpm, bars)


def primed_tracks(song: Path, model: str, monkeypatch, **options) -> tuple[set[str], list]:
    """The names of the tracks `model` was primed with, and the leads generate reported."""
    monkeypatch.setattr(ModelSpec, "build", lambda self, folder, **kw: Recorder())
    leads: list = []
    generation.generate(model, primer=song, bars=1, on_lead=leads.append, **options)
    names = {i.instrument: i.name for i in Recorder.primed.instrument_infos}
    return {names[n.instrument] for n in Recorder.primed.notes}, leads


def test_lstm_gets_the_lead_alone_and_pop_the_whole_arrangement(song, monkeypatch):
    tracks, leads = primed_tracks(song, "lstm", monkeypatch)
    assert tracks == {"Vocals"} and [str(lead) for lead in leads] == [VOCALS]
    tracks, leads = primed_tracks(song, "pop", monkeypatch)
    assert tracks == {"Piano RH", "Vocals", "Bass", "Drums"} and leads == []


def test_when_the_classifier_abstains_the_highest_track_leads(song, monkeypatch):
    monkeypatch.setattr("models.melody_track.melody_instrument", lambda sequence: None)
    tracks, leads = primed_tracks(song, "lstm", monkeypatch)
    assert tracks == {"Piano RH"}
    assert [str(lead) for lead in leads] == ['track 1 "Piano RH" (highest track)']


def test_transpose_report_names_the_melody_track(song, tmp_path):
    out = tmp_path / "c.mid"
    result = f.run_cli("transpose", song, out, check=True)
    lines = f.lines(result.stdout)
    assert len(lines) == 1 and lines[0].endswith(f"-> {out}; melody: {VOCALS}")
    before, after = pretty_midi.PrettyMIDI(str(song)), pretty_midi.PrettyMIDI(str(out))
    assert [len(i.notes) for i in after.instruments] == [len(i.notes) for i in before.instruments]
