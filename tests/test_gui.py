"""`composer gui` headless: SDL's dummy video and audio drivers, a paced null or file sink (so
time passes as it does when playing), the shipped lstm; key presses and clicks posted as
pygame events, frames stepped, and the player, its files and the pixels checked."""

from __future__ import annotations

import os

os.environ["SDL_VIDEODRIVER"] = "dummy"
os.environ["SDL_AUDIODRIVER"] = "dummy"

import contextlib  # noqa: E402
import signal  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pretty_midi  # noqa: E402
import pygame  # noqa: E402
import pytest  # noqa: E402
import soundfile  # noqa: E402
from factories import ROOT, run_cli  # noqa: E402

from composer.generators import GENERATORS  # noqa: E402
from composer.gui import theme, views  # noqa: E402
from composer.gui.app import open_app, open_output  # noqa: E402
from composer.gui.controls import model_choices  # noqa: E402
from composer.gui.roll import TRACK_COLOURS  # noqa: E402
from composer.gui.scope import band_edges, bands, envelope  # noqa: E402
from composer.gui.tap import Tap  # noqa: E402
from composer.loop import read_loop_points  # noqa: E402
from composer.player import NullSink, PlaySettings, SpeakerSink  # noqa: E402
from composer.player.midi_out import CLOCK, START, STOP  # noqa: E402

RATE = 44100
# 2-bar loops of 4 s at 120 qpm, each played for a minute unless `n` asks for the next
SETTINGS = PlaySettings(model="lstm", seed=2, bars=2, loop_seconds=60.0, crossfade_beats=1.0)


@contextlib.contextmanager
def within(seconds: float):
    """Fail, rather than hang, if the block takes longer than `seconds`."""
    def expire(signum, frame):
        raise TimeoutError(f"took longer than {seconds} s")

    old = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def step_until(app, condition, timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        app.step()
        time.sleep(0.02)


def press(app, key: int, unicode: str = "", mod: int = 0) -> None:
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=key, mod=mod, unicode=unicode))
    pygame.event.post(pygame.event.Event(pygame.KEYUP, key=key, mod=mod))
    app.step()


def type_text(app, text: str) -> None:
    for char in text:
        press(app, pygame.key.key_code(char) if char != " " else pygame.K_SPACE, char)


def click(app, pos: tuple[int, int]) -> None:
    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, button=1, pos=pos))
    app.step()


def playing(app) -> bool:
    return bool(app.board.loops) and app.heard is not None and app.heard > RATE // 2


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    saves = tmp_path_factory.mktemp("saves")
    with within(30):
        app = open_app(SETTINGS, driver="null", size=(1280, 720), save_dir=saves)
        step_until(app, lambda: playing(app))
    yield app
    with within(15):
        app.close()


def pixels(path: Path, rect: pygame.Rect) -> np.ndarray:
    """(n, 3) colours of `rect` in a saved PNG."""
    image = pygame.image.load(str(path))
    return pygame.surfarray.array3d(image.subsurface(rect)).reshape(-1, 3)


def count(colours: np.ndarray, colour) -> int:
    return int((np.abs(colours.astype(int) - np.array(colour)).sum(axis=1) <= 6).sum())


def check_screenshot(app, path: Path, size: tuple[int, int]) -> None:
    app.screenshot(path)
    grid = app.layout
    assert pygame.image.load(str(path)).get_size() == size
    everything = pixels(path, pygame.Rect(0, 0, *size))
    assert len(np.unique(everything, axis=0)) > 50  # not blank
    roll = pixels(path, views.inside(grid.roll, grid.font))
    assert count(roll, TRACK_COLOURS[0]) > 100  # the notes
    assert count(roll, theme.PLAYHEAD) > 20  # the playhead
    wave = pixels(path, views.inside(grid.wave, grid.font))
    assert count(wave, theme.WAVE) > 500  # a trace, not a flat line
    spectrum = pixels(path, views.inside(grid.spectrum, grid.font))
    assert count(spectrum, theme.ACCENT) + count(spectrum, theme.WARN) > 200


def test_the_views_show_the_loop_playing_at_both_sizes(app, tmp_path):
    check_screenshot(app, tmp_path / "1280x720.png", (1280, 720))
    pygame.event.post(pygame.event.Event(pygame.VIDEORESIZE, size=(800, 600), w=800, h=600))
    for _ in range(3):
        app.step()
    check_screenshot(app, tmp_path / "800x600.png", (800, 600))
    assert all(app.layout.controls.contains(w.rect) for w in app.controls.widgets)
    pygame.event.post(pygame.event.Event(pygame.VIDEORESIZE, size=(1280, 720), w=1280, h=720))
    app.step()
    assert app.board.message is None or not app.board.message.error, app.board.message


def test_space_pauses_and_resumes(app):
    for _ in range(3):  # held down: pygame repeats the key, the player pauses once
        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_SPACE, mod=0,
                                             unicode=" "))
    pygame.event.post(pygame.event.Event(pygame.KEYUP, key=pygame.K_SPACE, mod=0))
    app.step()
    assert app.player.state == "paused"
    step_until(app, lambda: app.board.state == "paused", 5)
    frozen = app.heard
    time.sleep(0.3)
    app.step()
    assert app.heard == frozen  # the playhead waits with the music
    press(app, pygame.K_SPACE, " ")
    assert app.player.state == "playing"
    step_until(app, lambda: app.heard > frozen, 5)


def test_s_saves_the_loop_as_wav_with_loop_points_and_midi(app):
    saves = app.commands.save_dir
    press(app, pygame.K_s, "s")
    step_until(app, lambda: "saved" in app.board.message.text, 15)  # its LoopSaved event
    wav = next(saves.glob("composer-lstm-*.wav"))
    audio, rate = soundfile.read(str(wav))
    assert rate == RATE and len(audio) == 4 * RATE  # two bars at 120 qpm
    points = read_loop_points(wav)
    assert (points.start, points.end) == (0, len(audio))
    assert pretty_midi.PrettyMIDI(str(wav.with_suffix(".mid"))).instruments[0].notes
    # A name typed in the field: its s is a letter there, not the shortcut.
    click(app, app.controls.named("save-name").rect.center)
    type_text(app, "sis")
    assert app.controls.named("save-name").text == "sis" and not list(saves.glob("sis*"))
    press(app, pygame.K_RETURN)
    step_until(app, lambda: (saves / "sis.mid").exists(), 15)
    assert (saves / "sis.wav").exists()
    press(app, pygame.K_ESCAPE)  # leaves the field; does not quit
    assert app.running and app.controls.focus.widget is None


def test_n_brings_the_next_loop_at_a_bar_line(app):
    step_until(app, lambda: app.player.status().next_ready, 20)
    first = app.board.now(app.heard).number
    press(app, pygame.K_n, "n")
    assert "next loop" in app.board.message.text
    # at the next bar line (2 s at most), heard half a second after it is written
    step_until(app, lambda: app.board.now(app.heard).number == first + 1, 6)


def test_controls_change_settings_by_keyboard_and_mouse(app):
    tempo = app.controls.named("qpm")
    while app.controls.focus.widget is not tempo:
        press(app, pygame.K_TAB)
    for _ in range(3):
        press(app, pygame.K_RIGHT)
    assert tempo.value == 126.0 and app.player.settings.qpm == 120.0  # sent when stepping stops
    press(app, pygame.K_RETURN)  # ...or at once
    step_until(app, lambda: app.player.settings.qpm == 126.0, 5)
    press(app, pygame.K_TAB, mod=pygame.KMOD_SHIFT)
    assert app.controls.focus.widget is app.controls.named("program")
    press(app, pygame.K_UP)
    bars = app.controls.named("bars")
    click(app, (bars.rect.right - bars.rect.height // 2, bars.rect.centery))  # its up arrow
    assert bars.value == 4
    step_until(app, lambda: app.board.message.text == "instrument 0, bars 4: heard from the "
               "next loop (n: now)", 5)
    assert app.player.settings.bars == 4 and app.player.settings.program == 0
    click(app, app.controls.named("play").rect.center)
    assert app.player.state == "paused"
    click(app, app.controls.named("play").rect.center)
    assert app.player.state == "playing"


def test_the_prompt_field_steers_the_next_loops(app):
    click(app, app.controls.named("prompt").rect.center)
    type_text(app, "dark slow strings")
    press(app, pygame.K_RETURN)
    assert "prompt: dark -> minor, slow -> 70 qpm, strings -> program 48" in app.board.message.text
    step_until(app, lambda: app.player.settings.mode == "minor", 5)
    assert (app.player.settings.qpm, app.player.settings.program) == (70.0, 48)
    assert app.controls.named("qpm").value == 70.0  # the panel shows what the prompt set
    assert app.controls.named("program").value == 48
    press(app, pygame.K_ESCAPE)
    assert app.running
    back = {"qpm": SETTINGS.qpm, "program": SETTINGS.program, "mode": None}
    app.player.set(**back)  # as the other tests expect
    app.controls.reflect(back)


def test_the_prompt_field_hands_the_words_to_musicgpt_when_it_is_installed(app, tmp_path,
                                                                            monkeypatch):
    import musicgpt_standin  # MusicGPT itself cannot run here: a stand-in writes its WAV

    monkeypatch.setenv("COMPOSER_MUSICGPT", str(musicgpt_standin.write(tmp_path / "mg")))
    app.controls.named("prompt").text = ""  # the last test's words
    click(app, app.controls.named("prompt").rect.center)
    type_text(app, "calm piano")
    press(app, pygame.K_RETURN)
    assert "MusicGPT writing audio for it" in app.board.message.text
    step_until(app, lambda: app.player.settings.source == "musicgpt", 10)
    assert app.player.settings.prompt == "calm piano"
    step_until(app, lambda: (app.player.status().note or "").startswith("musicgpt"), 10)
    step_until(app, lambda: "engine musicgpt" in app.board.message.text, 10)  # applied
    press(app, pygame.K_ESCAPE)
    app.player.set(source="midi", mode=None, program=SETTINGS.program)  # as the others expect


class Recorder:
    def __init__(self) -> None:
        self.messages: list[list[int]] = []
        self.closed = False

    def send_message(self, message: list[int]) -> None:
        self.messages.append(list(message))

    def close_port(self) -> None:
        self.closed = True


def test_midi_out_toggle(app):
    toggle = app.controls.named("midi")
    click(app, toggle.rect.center)
    if os.path.exists("/dev/snd/seq"):  # a real ALSA sequencer: a virtual port opens
        assert app.midi.on
        click(app, toggle.rect.center)
    else:  # no MIDI system here: one line on the status bar, no crash, still off
        assert not app.midi.on
        assert app.board.message.error and "MIDI out" in app.board.message.text
    port = Recorder()
    app.midi.opener = lambda name: port
    click(app, toggle.rect.center)
    assert app.midi.on and "MIDI out on" in app.board.message.text
    # it joins at the next downbeat of the loop playing (4 s at most)
    step_until(app, lambda: any(m[0] & 0xF0 == 0x90 for m in port.messages), 8)
    assert port.messages[0] == [START] and [CLOCK] in port.messages
    click(app, toggle.rect.center)
    assert not app.midi.on and port.closed and port.messages[-1] == [STOP]
    sent = len(port.messages)
    time.sleep(0.2)
    app.step()
    assert len(port.messages) == sent  # detached


def test_q_stops_the_music_and_closes_the_window(app):
    with within(15):
        press(app, pygame.K_q, "q")
        assert not app.running and app.closed
    assert app.player.state == "stopped"
    assert not [t for t in threading.enumerate() if t.name == "composer-playback"]
    assert not app.step()


def test_closing_the_window_stops_cleanly_and_keeps_the_file(tmp_path):
    out = tmp_path / "heard.wav"
    with within(30):
        app = open_app(SETTINGS, driver=out, size=(800, 600), save_dir=tmp_path)
        step_until(app, lambda: playing(app))
        pygame.event.post(pygame.event.Event(pygame.QUIT))
        assert not app.step()
    assert app.player.state == "stopped"
    info = soundfile.info(str(out))  # a paced file: what was written by the time it closed
    assert info.samplerate == RATE and info.frames >= RATE // 2


def test_no_audio_device_plays_to_a_null_sink_that_keeps_time(monkeypatch):
    monkeypatch.setenv("SDL_AUDIODRIVER", "no-such-driver")
    tap, note = open_output("speakers", RATE)
    assert tap.realtime and "no audio device" in note and "null sink" in note
    tap.close()


def test_the_tap_keeps_the_last_audio_by_output_frame():
    tap = Tap(NullSink(100), seconds=1.0)  # a ring of 100 frames
    data = np.arange(1000, dtype=np.float32)
    written = 0
    for size in (7, 150, 1, 99, 100, 243, 400):
        block = data[written:written + size]
        tap.write(np.stack([block, block], axis=1))
        written += size
        for end in (written, written - 30, written + 5):
            expected = [f if max(0, written - 100) <= f < written else 0
                        for f in range(end - 40, end)]
            assert np.array_equal(tap.window(end, 40), np.array(expected, np.float32))
    assert tap.frames == tap.written == 1000 and tap.underruns is None


def test_speaker_underruns_are_counted_through_the_tap():
    tap = Tap(SpeakerSink(RATE))
    block = np.zeros((4096, 2), np.float32)
    for _ in range(3):
        tap.write(block)
    assert tap.underruns == 0
    time.sleep(0.4)  # the channel runs dry: the next write finds it idle
    tap.write(block)
    assert tap.underruns == 1
    tap.close()


def test_scope_analysis():
    low, high = envelope(np.sin(np.linspace(0, 20 * np.pi, 4000)), 100)
    assert low.shape == high.shape == (100,) and low.min() < -0.99 and high.max() > 0.99
    tone = np.sin(2 * np.pi * 1000 * np.arange(2048) / RATE)
    levels = bands(tone, RATE, 48)
    edges = band_edges(RATE, 48)
    loudest = int(np.argmax(levels))
    assert edges[loudest] <= 1000 <= edges[loudest + 1] and levels[loudest] > -3


def test_the_model_control_offers_every_model_and_checkpoint():
    folder = ROOT / "models" / "vae-2bar"
    choices = model_choices(SETTINGS, [folder])
    assert [m for m, c in choices if c is None] == list(GENERATORS)
    assert ("vae-2bar", str(folder)) in choices


def test_bad_gui_options_are_one_line_errors():
    result = run_cli("gui", "--size", "big")
    assert result.returncode == 1
    assert "--size" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    result = run_cli("gui", "-o", "null", "--bars", "1", env={"SDL_VIDEODRIVER": "no-such"},
                     timeout=60)
    assert result.returncode == 1
    assert "no window can open here" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


XVFB_CHILD = """
import os, sys, time
import pygame
from composer.gui.app import open_app
from composer.player import PlaySettings

app = open_app(PlaySettings(model="lstm", seed=3, bars=2, loop_seconds=60.0), "null",
               (1280, 720))
end = time.monotonic() + 60
while not (app.board.loops and app.heard is not None and app.heard > 2 * 44100):
    assert time.monotonic() < end, "not two seconds of music within a minute"
    app.step()
    time.sleep(0.03)
for _ in range(20):  # still frames are drawn at 4 a second: let the playing ones come in
    app.step()
    time.sleep(0.03)
app.screenshot(sys.argv[1])
print(pygame.display.get_driver(), pygame.display.get_surface().get_size())
app.close()
"""


def test_a_real_window_under_xvfb(tmp_path):
    """Once as a real X11 window on Debian's Xvfb (make test installs it), not SDL's dummy
    driver: the window opens, plays, draws, and closes."""
    import shutil
    import subprocess
    import sys

    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        pytest.skip("Xvfb is not installed (make test installs Debian's xvfb)")
    display = f":{90 + os.getpid() % 100}"
    server = subprocess.Popen([xvfb, display, "-screen", "0", "1280x720x24", "-nolisten", "tcp"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.0)
        shot = tmp_path / "xvfb.png"
        env = {**os.environ, "DISPLAY": display, "SDL_VIDEODRIVER": "x11",
               "SDL_AUDIODRIVER": "dummy"}
        result = subprocess.run([sys.executable, "-c", XVFB_CHILD, str(shot)], env=env,
                                capture_output=True, text=True, timeout=120, cwd=ROOT)
        assert result.returncode == 0, result.stderr[-2000:]
        assert "x11 (1280, 720)" in result.stdout
        pixels = pygame.surfarray.array3d(pygame.image.load(str(shot)))
        assert pixels.std() > 10  # drawn, not a blank window
        roll = pixels[360:1260, 90:350]  # the piano roll's panel
        assert len(np.unique(roll.reshape(-1, 3), axis=0)) > 5
    finally:
        server.terminate()
        server.wait(10)
