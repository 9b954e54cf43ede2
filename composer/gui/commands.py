"""What a key or a control does to the player: the window's verbs, in one place.

Quick calls (pause, next) run here, on the drawing thread; a save or a change of settings
goes to the worker, and its outcome comes back as a status-bar line.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

from composer.gui.board import Board
from composer.gui.midi import MidiLink
from composer.gui.worker import Changes, Worker
from composer.player.player import Player

WORDS = {"qpm": "tempo", "program": "instrument", "crossfade_beats": "crossfade",
         "source": "engine"}


class Commands:
    """The verbs behind the keys, buttons and controls; messages go to the board."""

    def __init__(self, player: Player, board: Board, worker: Worker, midi: MidiLink, *,
                 save_dir: Path, quit: Callable[[], None], delay: float = 0.4) -> None:
        self.player = player
        self.board = board
        self.worker = worker
        self.midi = midi
        self.save_dir = save_dir
        self.quit = quit
        self.changes = Changes(delay)
        self.reflect: Callable[[dict], None] = lambda values: None  # the panel shows them

    def play_pause(self) -> None:
        if self.player.state == "paused":
            self.player.resume()
            self.board.say("playing")
        elif self.player.state in ("playing", "starting"):
            self.player.pause()
            self.board.say("paused (space resumes)")

    def next(self) -> None:
        self.player.next()
        self.board.say("next loop at the next bar line, once one is ready")

    def save(self, name: str = "") -> None:
        """The loop playing as WAV with loop points plus MIDI, named `name` (in save_dir
        unless it is a path of its own) or a default name."""
        path = Path(name.strip()).expanduser() if name.strip() else Path(self.default_name())
        if not path.is_absolute():
            path = self.save_dir / path
        player = self.player

        def save() -> None:
            player.save(path)  # its LoopSaved event says where, on the status bar

        self.worker.submit(save)

    def default_name(self) -> str:
        model = re.sub(r"[^\w.-]+", "-", self.player.settings.model_label).strip("-")
        return f"composer-{model}-{time.strftime('%Y%m%d-%H%M%S')}.wav"

    def change(self, **values) -> None:
        """Settings, typed as Player.set takes them, sent once the user stops stepping."""
        self.changes.add(time.monotonic(), **values)

    def send_changes(self, force: bool = False) -> None:
        values = self.changes.due(time.monotonic(), force)
        if values:
            player = self.player
            shown = ", ".join(f"{WORDS.get(k, k)} {_show(v)}" for k, v in values.items()
                              if not (k == "checkpoint" and v is None))

            def apply() -> str:
                player.set(**values)
                return f"{shown}: heard from the next loop (n: now)"

            self.board.say(f"{shown}: applying...")
            self.worker.submit(apply)

    def prompt(self, text: str) -> None:
        """A prompt's words (composer.prompt) as settings, heard from the next loop."""
        from composer.prompt import changes, read_prompt

        from composer.prompt import audio_source

        if not text.strip():
            return
        plan = read_prompt(text)
        update = changes(plan, self.player.settings)
        audio, why_not = audio_source(text.strip(), self.player.settings)
        if not update and not audio:
            self.board.say(f"prompt: {plan.describe()}: nothing to change")
            return
        self.reflect(update)
        self.change(**update, **audio)
        self.send_changes(force=True)
        self.board.say(f"prompt: {plan.describe()}: heard from the next loop"
                       + (" (MusicGPT writing audio for it)" if audio else
                          " (MusicGPT not installed: the MIDI path plays)"))

    def toggle_midi(self) -> None:
        try:
            self.board.say(self.midi.switch(self.board.loops))
        except ValueError as exc:
            self.board.say(f"MIDI out: {exc}", error=True)


def _show(value) -> str:
    if value is None:
        return "the model's own"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
