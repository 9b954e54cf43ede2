"""The checkpoints shipped in models/: they work right after install, with no training.

These use the real trained weights, so they also check that the shipped models make music:
notes in every phrase, in the common key's scale more often than not.
"""

from __future__ import annotations

import json

import factories as f
import numpy as np
import pretty_midi
import pytest

MODELS_DIR = f.ROOT / "models"
SHIPPED = ("lstm", "pop", "vae-2bar", "vae-16bar", "gan")


def _c_major_share(pm: pretty_midi.PrettyMIDI) -> float:
    scale = {0, 2, 4, 5, 7, 9, 11}
    pitches = [n.pitch for i in pm.instruments if not i.is_drum for n in i.notes]
    return float(np.mean([p % 12 in scale for p in pitches]))


@pytest.mark.parametrize("model", SHIPPED)
def test_checkpoint_and_model_card_are_there(model):
    folder = MODELS_DIR / model
    info = json.loads((folder / "model.json").read_text())
    assert info["model"] == model
    card = (folder / "MODEL_CARD.md").read_text()
    assert f"composer train --model {model}" in card
    assert "Wall time" in card and ("Test split" in card or "training data" in card)
    assert (folder / "loss.png").read_bytes()[:4] == b"\x89PNG"


def test_models_folder_is_under_30_mb():
    tracked = [p for p in MODELS_DIR.rglob("*") if p.is_file() and "train" not in p.parts
               and "__pycache__" not in p.parts]
    assert sum(p.stat().st_size for p in tracked) < 30_000_000


@pytest.mark.parametrize("model", [*SHIPPED, "hybrid"])
def test_generate_with_the_shipped_model(model, tmp_path):
    out = tmp_path / f"{model}.mid"
    result = f.run_cli("generate", "--model", model, "--bars", "4", "--seed", "11", "-o", out,
                       "--temperature", "0.8", check=True)
    assert str(out) in result.stdout
    pm = pretty_midi.PrettyMIDI(str(out))
    notes = [n for i in pm.instruments for n in i.notes]
    assert len(notes) >= 4, f"{model} made {len(notes)} notes"
    assert max(n.end for n in notes) <= 8.0 + 1e-3
    assert pm.get_tempo_changes()[1][0] == pytest.approx(120.0)
    assert _c_major_share(pm) > 0.6


def test_lstm_continues_a_primer_in_its_key(chorales, tmp_path):
    """The primer is moved to C for the model and the continuation moved back to the primer's
    key. The chorale farthest from C is used, so a continuation left in C would miss by two or
    more fifths; one fifth is allowed, since chorales modulate to the dominant."""
    from training.score import read_score
    from training.transposer import plan_transposition

    def key_of(path):
        return plan_transposition(read_score(path.read_bytes())).estimate.key

    primer = max(chorales, key=lambda p: abs(key_of(p).fifths))
    want = key_of(primer).fifths
    assert abs(want) >= 2
    exact = 0
    for seed in (1, 2, 3):
        out = tmp_path / f"cont{seed}.mid"
        f.run_cli("generate", "--primer", primer, "--bars", "8", "--seed", seed, "-o", out,
                  check=True)
        got = key_of(out).fifths
        assert abs((got - want + 6) % 12 - 6) <= 1, (want, got)
        exact += got == want
    assert exact >= 2


def _grid_share(pm: pretty_midi.PrettyMIDI, qpm: float) -> float:
    sixteenth = 60.0 / qpm / 4
    onsets = np.array([n.start for i in pm.instruments for n in i.notes])
    off = np.abs(onsets / sixteenth - np.round(onsets / sixteenth)) * sixteenth
    return float((off < 0.015).mean())


@pytest.mark.parametrize("qpm", [96.0, 140.0])
def test_lstm_is_tempo_exact_at_any_qpm(qpm, tmp_path):
    """The model's timing was learned at 120 qpm; other tempos scale time, so notes stay on
    the sixteenth-note grid of the asked tempo and the bars are exact."""
    out = tmp_path / "t.mid"
    f.run_cli("generate", "--bars", "8", "--qpm", qpm, "--seed", "3", "-o", out, check=True)
    pm = pretty_midi.PrettyMIDI(str(out))
    assert pm.get_tempo_changes()[1][0] == pytest.approx(qpm, rel=1e-5)  # integer µs/beat
    assert max(n.end for i in pm.instruments for n in i.notes) <= 8 * 4 * 60 / qpm + 1e-3
    assert _grid_share(pm, qpm) > 0.9


def test_continuation_keeps_the_primer_tempo(chorales, tmp_path):
    import mido

    primer = tmp_path / "slow.mid"
    midi = mido.MidiFile(str(chorales[0]))
    for track in midi.tracks:
        for i, msg in enumerate(track):
            if msg.type == "set_tempo":
                track[i] = msg.copy(tempo=mido.bpm2tempo(90))
    midi.save(str(primer))
    out = tmp_path / "cont.mid"
    f.run_cli("generate", "--primer", primer, "--bars", "4", "--seed", "1", "-o", out,
              check=True)
    pm = pretty_midi.PrettyMIDI(str(out))
    assert pm.get_tempo_changes()[1][0] == pytest.approx(90.0, rel=1e-5)
    assert _grid_share(pm, 90.0) > 0.9
