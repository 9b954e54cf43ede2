"""The engine's seams as a user meets them: one model registry behind every command, a
user's own checkpoint wherever a model is chosen, and one command-line behaviour."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pretty_midi
import pytest
import soundfile
from factories import ROOT, run_cli

from composer.generators import GENERATORS, GenerationError, Generator, load, resolve
from composer.phrase import Phrase
from models.checkpoint import default_dir

RATE = 44100


@pytest.mark.parametrize("name", list(GENERATORS))
def test_every_registered_model_writes_exactly_the_bars_asked_for(name):
    generator = load(name, seed=3)
    assert isinstance(generator, Generator)
    phrase = generator.phrase(3, 96.0)
    assert isinstance(phrase, Phrase) and (phrase.bars, phrase.qpm, phrase.meter) == (3, 96.0, (4, 4))
    assert phrase.seconds == pytest.approx(3 * 4 * 60 / 96)
    tempos = phrase.sequence.tempos
    assert len(tempos) == 1 and tempos[0].qpm == 96.0  # the tempo travels in the file too
    assert len(phrase.sequence.notes) > 0
    assert all(n.end_time <= phrase.seconds + 1e-6 for n in phrase.sequence.notes)
    assert phrase.key and phrase.programs
    # the registry's default temperature is the generator's, whichever command loads it
    assert generator.temperature == GENERATORS[name].temperature


@pytest.fixture(scope="module")
def my_vae(tmp_path_factory):
    """A user's checkpoint: a folder `composer train` wrote, somewhere of their own."""
    folder = tmp_path_factory.mktemp("runs") / "my-vae"
    shutil.copytree(default_dir("vae-2bar"), folder)
    return folder


def test_a_checkpoint_folder_says_which_model_it_is(my_vae, tmp_path):
    assert resolve(checkpoint=my_vae) == (GENERATORS["vae-2bar"], my_vae)
    assert resolve(str(my_vae))[1] == my_vae  # --model PATH means the same
    assert resolve("vae-16bar", my_vae)[1] == my_vae  # the VAE runtimes read either
    with pytest.raises(GenerationError, match="holds a 'vae-2bar' model, not gan"):
        resolve("gan", my_vae)
    with pytest.raises(GenerationError, match="unknown model 'nope'.*lstm, pop, vae-2bar"):
        resolve("nope")
    with pytest.raises(GenerationError, match="no trained model here"):
        resolve(checkpoint=tmp_path)
    with pytest.raises(GenerationError, match="does not apply"):
        resolve("hybrid", my_vae)


def test_play_generate_interpolate_and_shell_take_a_users_checkpoint(my_vae, tmp_path,
                                                                      chorales):
    out = tmp_path / "mine.wav"
    result = run_cli("play", "--model", my_vae, "--minutes", "0.05", "-o", out, check=True)
    assert "qpm" in result.stdout and soundfile.info(str(out)).frames == round(3 * RATE)
    run_cli("play", "--checkpoint", my_vae, "--minutes", "0.05", "-o", out, check=True)
    mid = tmp_path / "mine.mid"
    run_cli("generate", "--checkpoint", my_vae, "--bars", "2", "-o", mid, check=True)
    assert pretty_midi.PrettyMIDI(str(mid)).get_end_time() <= 4.0 + 1e-3
    blend = tmp_path / "blend.wav"  # the audio, and the MIDI beside it
    run_cli("interpolate", chorales[0], chorales[1], "--checkpoint", my_vae, "--steps", "2",
            "-o", blend, check=True)
    assert pretty_midi.PrettyMIDI(str(blend.with_suffix(".mid"))).instruments
    audio, rate = soundfile.read(str(blend))
    assert rate == RATE and len(audio) >= 2 * 2 * 2 * RATE  # two 2-bar steps at 120 qpm
    wrong = run_cli("interpolate", chorales[0], chorales[1], "--model", "gan", "-o", blend)
    assert wrong.returncode == 1 and "no latent space" in wrong.stderr


def test_help_texts_list_every_registered_model():
    for command in ("generate", "play", "shell", "eval"):
        text = run_cli(command, "--help", check=True).stdout.replace("\n", " ")
        for name in GENERATORS:
            assert name in text, (command, name)
        assert "<bool>" not in text  # on/off options show as flags


def test_version():
    result = run_cli("--version", check=True)
    from composer import __version__

    assert result.stdout.strip() == f"composer {__version__}"


def test_generate_writes_what_the_extension_says(tmp_path):
    wav = tmp_path / "new" / "folder" / "song.wav"  # a missing folder is made
    result = run_cli("generate", "--model", "gan", "--bars", "2", "--qpm", "90", "--program",
                     "40", "-o", wav, check=True)
    assert "song.wav" in result.stdout and "90 qpm" in result.stdout
    audio, rate = soundfile.read(str(wav))
    assert rate == RATE and len(audio) >= 2 * 4 * 60 / 90 * RATE and np.abs(audio).max() > 0.01
    midi = pretty_midi.PrettyMIDI(str(wav.with_suffix(".mid")))
    assert {i.program for i in midi.instruments} == {40}  # --program: every pitched note
    assert midi.get_tempo_changes()[1][0] == pytest.approx(90.0, abs=1e-3)
    bad = run_cli("generate", "--bars", "2", "-o", tmp_path / "song.txt")
    assert bad.returncode == 1 and len(bad.stderr.strip().splitlines()) == 1
    assert "song.txt" in bad.stderr and not (tmp_path / "song.txt").exists()


def test_a_missing_output_folder_is_made_by_every_command(tmp_path, chorales):
    new = tmp_path / "a" / "b"
    run_cli("generate", "--bars", "1", "-o", new / "g.mid", check=True)
    run_cli("interpolate", chorales[0], chorales[1], "--steps", "2", "-o", new / "i.mid",
            check=True)
    run_cli("render", chorales[0], "-o", new / "r.flac", check=True)
    run_cli("play", "--minutes", "0.02", "-o", new / "p.wav", check=True)
    run_cli("transpose", chorales[0], new / "t.mid", check=True)
    assert sorted(p.name for p in new.iterdir()) == ["g.mid", "i.mid", "p.wav", "r.flac",
                                                      "t.mid"]


def test_ctrl_c_during_play_keeps_what_was_played(tmp_path):
    out = tmp_path / "long.wav"
    process = subprocess.Popen([sys.executable, "-m", "composer", "play", "--minutes", "30",
                                "-o", str(out), "--seed", "1"], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "SDL_AUDIODRIVER": "dummy"})
    time.sleep(8.0)  # loading, then music written at many times real time
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr and str(out) in stderr
    seconds = float(stderr.split("holds the ")[1].split(" s played")[0])
    info = soundfile.info(str(out))  # a valid file, of the length it says
    assert seconds > 1.0 and abs(info.frames / RATE - seconds) <= 0.005
    assert not list(tmp_path.glob(".*.tmp"))


def test_render_reports_progress_by_the_second():
    from note_seq import NoteSequence

    from composer.render import Renderer

    sequence = NoteSequence(total_time=3.2)
    for i in range(12):
        sequence.notes.add(pitch=60 + i, start_time=i * 0.25, end_time=i * 0.25 + 0.2,
                           velocity=90)
    heard = []
    with Renderer() as renderer:
        renderer.render(sequence, normalize=False,
                        progress=lambda stage, done, total: heard.append((stage, done, total)))
    assert heard[-1] == ("render", 3, 3) and [d for _, d, _ in heard] == sorted(
        d for _, d, _ in heard)
    assert len(heard) >= 3
