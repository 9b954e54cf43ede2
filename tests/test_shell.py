"""`composer shell` driven through a pseudo-terminal, the way a person types at it."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time

import pretty_midi
import soundfile
from factories import ROOT, garbage

from composer.loop import read_loop_points


class Terminal:
    """A process on a pty: type lines, wait for text to appear."""

    def __init__(self, *args: str) -> None:
        self.master, slave = pty.openpty()
        env = {**os.environ, "SDL_AUDIODRIVER": "dummy", "COLUMNS": "200"}
        self.process = subprocess.Popen([sys.executable, "-m", "composer", *args], stdin=slave,
                                        stdout=slave, stderr=slave, cwd=ROOT, env=env,
                                        close_fds=True)
        os.close(slave)
        self.seen = ""
        self.last = ""  # the text the last expect() consumed

    def expect(self, pattern: str, timeout: float = 60.0) -> re.Match:
        end = time.monotonic() + timeout
        while True:
            match = re.search(pattern, self.seen, re.DOTALL)
            if match:
                self.last = self.seen[:match.end()]
                self.seen = self.seen[match.end():]
                return match
            left = end - time.monotonic()
            assert left > 0, f"timed out waiting for {pattern!r}; saw:\n{self.seen}"
            ready, _, _ = select.select([self.master], [], [], min(left, 0.5))
            if ready:
                try:
                    self.seen += os.read(self.master, 65536).decode(errors="replace")
                except OSError:  # the process closed the terminal
                    assert re.search(pattern, self.seen), self.seen
                    continue

    def type(self, line: str) -> None:
        os.write(self.master, (line + "\n").encode())

    def close(self) -> int:
        try:
            return self.process.wait(30)
        finally:
            os.close(self.master)


def test_shell_start_status_set_save_validate_quit(tmp_path):
    term = Terminal("shell", "-o", "null")
    try:
        term.expect(r"composer> ")
        term.type("help")
        term.expect(r"save <file>.*?composer> ", timeout=10)
        term.type("set tempo 96")
        term.expect(r"tempo = 96")
        term.type("start dark strings")  # a prompt: mode and instrument; the tempo stays
        term.expect(r"prompt: dark -> minor, strings -> program 48")
        term.expect(r"starting lstm at 96 qpm")
        for _ in range(60):  # the first loop takes a moment to make
            term.type("status")
            term.expect(r"\] composer> ")
            if re.search(r"\[playing: lstm loop \d+, 8 bars at 96 qpm, [A-G][#b]? minor",
                         term.last):
                break
            time.sleep(0.5)
        else:
            raise AssertionError("never started playing")
        term.type(f"save {tmp_path / 'keep.wav'}")
        term.expect(r"saved .*keep\.wav, .*keep\.mid")
        term.type("set temperature hot")
        term.expect(r"error: temperature: 'hot' is not a number")
        term.type(f"validate {garbage(tmp_path / 'bad.mid')}")
        term.expect(r"bad\.mid: invalid")
        term.type("pause")
        term.expect(r"\[paused: ")
        term.type("quit")
        term.expect(r"bye")
        assert term.close() == 0
    finally:
        if term.process.poll() is None:
            term.process.kill()
    audio, rate = soundfile.read(str(tmp_path / "keep.wav"))
    points = read_loop_points(tmp_path / "keep.wav")
    bar = 4 * 60 / 96 * rate
    assert points.end == len(audio) and abs(len(audio) / bar - round(len(audio) / bar)) < 1e-3
    saved = pretty_midi.PrettyMIDI(str(tmp_path / "keep.mid"))
    assert {i.program for i in saved.instruments} == {48}


def test_shell_takes_a_checkpoint_folder_and_names_every_setting(tmp_path):
    import shutil

    from models.checkpoint import default_dir

    mine = tmp_path / "my-vae"
    shutil.copytree(default_dir("vae-2bar"), mine)
    term = Terminal("shell", "-o", "null")
    try:
        term.expect(r"composer> ")
        term.type(f"set model {mine}")
        term.expect(r"model = ")
        term.type("status")
        term.expect(r"stopped; model vae-2bar \(.*my-vae\), 120 qpm, driver null")
        term.type("set nope 1")
        term.expect(r"error: unknown setting 'nope'; one of qpm, model, checkpoint, "
                    r"temperature, program, bars, loop-seconds, crossfade, mode, engine, driver")
        term.type("set driver x.mp3")
        term.expect(r"error: driver 'x.mp3': use speakers, null, or a .wav/.flac file")
        term.type(f"set model {tmp_path}")
        term.expect(r"error: .*no trained model here")
        term.type("quit")
        term.expect(r"bye")
        assert term.close() == 0
    finally:
        if term.process.poll() is None:
            term.process.kill()
