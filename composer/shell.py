"""`composer shell`: the player driven from a terminal prompt.

The prompt is the live status line: every time it comes back it says what is playing, the
tempo and key, and how much music is ready ahead. Commands act on one Player; a failing
command prints one line and the shell goes on.
"""

from __future__ import annotations

import cmd
import logging
import shlex
from pathlib import Path

from composer.generators import names as model_names
from composer.player import NoAudioDevice, Player, PlaySettings, open_sink, parse_setting
from composer.player.settings import ALIASES, SETTINGS, changed
from composer.player.sinks import DRIVERS

NAMES = (*SETTINGS, "driver")

HELP = f"""commands:
  start [prompt]      start playing; a prompt's words set the model, instrument, tempo, mode
                      and temperature first ("start dark slow strings"; docs/prompts.md),
                      and MusicGPT, when installed, writes audio for it
  prompt <text>       the same while playing, heard from the next loop
  stop                stop playing (a file driver's file is written)
  pause / resume      pause and resume the music
  next                move to the next loop at the next bar line
  status              what is playing, tempo, key, seconds ready ahead
  save <file>         save the loop now playing as WAV (loop points, tempo) + MIDI
  set <name> <value>  change a setting, heard from the next loop:
                        qpm           tempo, quarter notes a minute
                        model         {model_names()}, or a checkpoint folder
                        checkpoint    a folder `composer train` wrote
                        temperature   sampling temperature (default: the model's)
                        program       GM program 0-127, or one per track: 73,48,0 (default: the model's)
                        bars          bars in each loop
                        loop-seconds  how long each loop plays
                        crossfade     crossfade length in beats
                        mode          major or minor (each loop moved there), or default
                        engine        midi, or musicgpt (audio for the last prompt)
                        driver        {DRIVERS} (from the next start)
  validate <file>     check a MIDI file the way corpus ingest does
  debug on|off        show the player's log
  help                this text
  quit                stop and leave"""


class Shell(cmd.Cmd):
    intro = "composer shell: type help for commands, start to play."

    def __init__(self, settings: PlaySettings | None = None, driver: str = "speakers",
                 stdin=None, stdout=None):
        super().__init__(stdin=stdin, stdout=stdout)
        self.settings = settings or PlaySettings()
        self.driver = driver
        self.player: Player | None = None
        self._handler = logging.StreamHandler()
        self._handler.setFormatter(logging.Formatter("[%(levelname)s %(name)s] %(message)s"))
        logging.getLogger("composer").addHandler(self._handler)
        logging.getLogger("composer").setLevel(logging.WARNING)

    # -- the status line ----------------------------------------------------------------

    @property
    def prompt(self) -> str:
        if self.player is None:
            return (f"[stopped: {self.settings.model_label} at {self.settings.qpm:g} qpm] "
                    "composer> ")
        return f"[{self.player.status().line()}] composer> "

    def say(self, text: str) -> None:
        self.stdout.write(text + "\n")
        self.stdout.flush()

    def onecmd(self, line: str) -> bool:
        try:
            return super().onecmd(line)
        except (ValueError, OSError, NoAudioDevice) as exc:
            self.say(f"error: {exc}")
            return False
        except Exception as exc:  # the shell outlives any one command
            self.say(f"error: {type(exc).__name__}: {exc}")
            return False

    def emptyline(self) -> bool:
        return False

    def default(self, line: str) -> bool:
        self.say(f"error: unknown command {line.split()[0]!r}; type help")
        return False

    # -- commands -----------------------------------------------------------------------

    def _sink(self):
        try:
            return open_sink(self.driver, self.settings.sample_rate, paced=True)
        except NoAudioDevice as exc:
            raise NoAudioDevice(f"{exc}; set driver FILE.wav (or null) to play without "
                                "speakers") from None

    def do_start(self, arg: str) -> bool:
        if self.player is not None:
            self.say("already playing")
            return False
        if arg.strip():
            self.settings = changed(self.settings, **self._prompted(arg.strip()))
        sink = self._sink()
        self.player = Player(self.settings, sink).start()
        self.say(f"starting {self.settings.model_label} at {self.settings.qpm:g} qpm on "
                 f"{self.driver}")
        return False

    def _prompted(self, text: str) -> dict:
        """What a prompt changes: its words over the settings (composer.prompt.changes), and
        MusicGPT writing audio for it when it is installed."""
        from composer.prompt import audio_source, changes, read_prompt

        plan = read_prompt(text)
        self.say(f"prompt: {plan.describe()}")
        audio, why_not = audio_source(text, self.settings)
        if why_not:
            self.say(why_not)
        return {**changes(plan, self.settings), **audio}

    def do_prompt(self, arg: str) -> bool:
        if not arg.strip():
            raise ValueError("prompt what? e.g. prompt dark slow strings")
        update = self._prompted(arg.strip())
        if self.player is None:
            self.settings = changed(self.settings, **update)
            self.say("type start to play it")
        else:
            self.player.set(**update)
            self.say("heard from the next loop")
        return False

    def _playing(self) -> Player:
        if self.player is None:
            raise ValueError("nothing is playing; type start")
        return self.player

    def do_stop(self, arg: str) -> bool:
        player = self._playing()
        player.stop()
        self.player = None
        self.settings = player.settings
        written = f" ({self.driver} written)" if self.driver not in ("speakers", "null") else ""
        self.say(f"stopped after {player.status().seconds_played:.1f} s{written}")
        return False

    def do_pause(self, arg: str) -> bool:
        self._playing().pause()
        self.say("paused")
        return False

    def do_resume(self, arg: str) -> bool:
        self._playing().resume()
        self.say("playing")
        return False

    def do_next(self, arg: str) -> bool:
        self._playing().next()
        self.say("next loop at the next bar line")
        return False

    def do_status(self, arg: str) -> bool:
        if self.player is None:
            self.say(f"stopped; model {self.settings.model_label}, {self.settings.qpm:g} qpm, "
                     f"driver {self.driver}")
        else:
            self.say(self.player.status().line())
        return False

    def do_save(self, arg: str) -> bool:
        if not arg.strip():
            raise ValueError("save needs a file name, e.g. save loop.wav")
        written = self._playing().save(Path(shlex.split(arg)[0]).expanduser())
        self.say("saved " + ", ".join(map(str, written)))
        return False

    def do_set(self, arg: str) -> bool:
        parts = shlex.split(arg)
        if len(parts) != 2:
            raise ValueError("usage: set <name> <value>; names: " + ", ".join(NAMES))
        name, value = parts
        if name == "driver":
            if value not in ("speakers", "null") and Path(value).suffix.lower() not in (
                    ".wav", ".flac"):
                raise ValueError(f"driver {value!r}: use {DRIVERS}")
            self.driver = value
            self.say(f"driver {value}" + (" (from the next start)" if self.player else ""))
            return False
        if name not in SETTINGS and name not in ALIASES:
            raise ValueError(f"unknown setting {name!r}; one of {', '.join(NAMES)}")
        values = parse_setting(name, value)
        if self.player is not None:
            self.player.set(**values)
            self.settings = self.player.settings
        else:
            self.settings = changed(self.settings, **values)
        self.say(f"{name} = {value}")
        return False

    def do_validate(self, arg: str) -> bool:
        from training.validate import BadMidi, Limits, parse_midi, read_file

        if not arg.strip():
            raise ValueError("validate needs a MIDI file")
        path = Path(shlex.split(arg)[0]).expanduser()
        try:
            score = parse_midi(read_file(path, Limits()), Limits())  # bounded, as every reader
        except BadMidi as exc:
            self.say(f"{path}: invalid ({exc.reason}): {exc.detail}")
            return False
        self.say(f"{path}: valid MIDI, {len(score.notes)} notes, {score.end_time:.1f} s")
        return False

    def do_debug(self, arg: str) -> bool:
        on = arg.strip().lower() in ("on", "1", "true", "yes")
        logging.getLogger("composer").setLevel(logging.DEBUG if on else logging.WARNING)
        self.say(f"debug {'on' if on else 'off'}")
        return False

    def do_help(self, arg: str) -> bool:
        self.say(HELP)
        return False

    def do_quit(self, arg: str) -> bool:
        if self.player is not None:
            self.do_stop("")
        logging.getLogger("composer").removeHandler(self._handler)
        self.say("bye")
        return True

    do_exit = do_quit
    do_EOF = do_quit

