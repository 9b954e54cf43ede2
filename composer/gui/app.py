"""The window: pygame events in, one frame out, at a fixed rate.

    app = open_app(PlaySettings(model="lstm"), driver="null")
    while app.step():       # handle pending events, draw one frame; False once quit
        ...                 # tests post events here; run() ticks a pygame clock instead

Any error in handling or drawing becomes a status-bar line, never a traceback: the music
plays on whatever one frame did.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pygame

from composer.gui import theme, views
from composer.gui.board import Board, Message
from composer.gui.commands import Commands
from composer.gui.controls import SHORTCUTS, Controls, place
from composer.gui.inbox import Inbox, LogToInbox
from composer.gui.layout import layout
from composer.gui.midi import MidiLink
from composer.gui.roll import Rolls
from composer.gui.tap import Tap
from composer.gui.theme import Texts
from composer.gui.widgets import ENTER
from composer.gui.worker import Worker
from composer.player import NoAudioDevice, Player, PlaySettings, Status, open_sink
from composer.player.midi_out import open_port

log = logging.getLogger("composer.gui")

WAVE_SECONDS = 3.0
SPECTRUM_FRAMES = 2048
STILL_FRAME = 0.25  # seconds between frames while nothing moves (the status refreshes as often)
SHOWN = {False: 12.0, True: 30.0}  # seconds a message stays on the status bar (error: longer)


class App:
    """One window on one player. `step()` handles what is pending and draws a frame;
    `run()` steps at `fps` until quit, then closes (the player stops, the window goes)."""

    def __init__(self, player: Player, tap: Tap, *, size: tuple[int, int] = (1280, 720),
                 fps: int = 30, checkpoints: Sequence[str | Path] = (),
                 save_dir: str | os.PathLike | None = None, midi_port: str | None = None,
                 open_port: Callable[[str | None], object] = open_port) -> None:
        self.player = player
        self.tap = tap
        self.fps = fps
        self.inbox = Inbox()
        player.subscribe(self.inbox)
        self.board = Board()
        self.worker = Worker(self.inbox)
        self.midi = MidiLink(player, midi_port, open_port)
        self.commands = Commands(player, self.board, self.worker, self.midi,
                                 save_dir=Path(save_dir or Path.cwd()), quit=self.quit)
        self.controls = Controls(self.commands, player.settings, checkpoints)
        self._log = LogToInbox(self.inbox)
        logging.getLogger("composer").addHandler(self._log)
        pygame.display.init()
        if pygame.display.get_driver() == "x11":
            # SDL shows the window through an OpenGL texture unless told not to; with Mesa's
            # software OpenGL (Xvfb, a VM, no GPU driver) each flip cost 9 ms and two GIL
            # handovers, against 0.6 ms for X11's shared-memory image. Read at set_mode; a
            # user's own setting wins.
            os.environ.setdefault("SDL_FRAMEBUFFER_ACCELERATION", "0")
        pygame.font.init()
        pygame.display.set_caption("composer")
        pygame.key.set_repeat(350, 40)
        self.texts = Texts()
        self.rolls = Rolls()
        self.resize(size)
        self.running = True
        self.closed = False
        self.heard: int | None = None  # the output frame heard now
        self._held: set[int] = set()  # keys down: pygame repeats them while held
        self.status: Status | None = None
        self._status_at = 0.0
        self._last_frame = time.perf_counter()
        self.frames = 0  # frames drawn
        self.frame_seconds = 0.0  # smoothed: wall time between frames drawn
        self.draw_seconds = 0.0  # smoothed: this thread's CPU time for one step that draws

    # -- the loop -------------------------------------------------------------------------

    def step(self) -> bool:
        """Handle pending events and player news, draw one frame; False once quit (the app
        is then closed). While nothing moves (the first loop not yet heard, or paused) a
        frame is drawn only when something arrived, or every STILL_FRAME seconds: drawing
        30 still frames a second took the GIL and a core from the first loop being made
        (first sound 0.3-0.4 s later)."""
        if self.closed:
            return False
        started, cpu = time.perf_counter(), time.thread_time()
        events = pygame.event.get()
        for event in events:
            self._guard(self.handle, event)
        if self.running:
            self._guard(self.commands.send_changes)
            items = self.inbox.drain()
            for item in items:
                heard = self.board.apply(item)
                if heard is not None:  # its roll drawn now, once, not while it plays
                    self._guard(self.rolls.get, heard.loop, self._roll_size())
            still = started - self._last_frame < STILL_FRAME
            if not (self.frames and still) or events or items or self._moving():
                self._guard(self.draw)
                pygame.display.flip()
                self.frames += 1
                self.draw_seconds += 0.1 * ((time.thread_time() - cpu) - self.draw_seconds)
                self.frame_seconds += 0.1 * ((started - self._last_frame) - self.frame_seconds)
                self._last_frame = started
        if not self.running:
            self.close()
        return self.running

    def run(self) -> None:
        clock = pygame.time.Clock()
        try:
            while self.step():
                clock.tick(self.fps)
        finally:  # Ctrl-C or SIGTERM too: the music stops, then the CLI says so
            self.close()

    def quit(self) -> None:
        self.running = False

    def close(self) -> None:
        """Stop the music (MIDI out first, with notes off), the worker and the window."""
        if self.closed:
            return
        self.closed, self.running = True, False
        pygame.display.quit()
        try:
            if self.midi.on:
                self.midi.stop()
            self.worker.close(2.0)
            self.player.stop()
        finally:
            logging.getLogger("composer").removeHandler(self._log)

    def screenshot(self, path: str | os.PathLike) -> Path:
        pygame.image.save(self.screen, str(path))
        return Path(path)

    def _guard(self, action: Callable, *args) -> None:
        try:
            action(*args)
        except Exception as exc:  # one bad frame or key must not end the music
            log.debug("the window failed", exc_info=True)
            self.board.say(f"{type(exc).__name__}: {exc}", error=True)

    # -- events ---------------------------------------------------------------------------

    def handle(self, event: pygame.event.Event) -> None:
        if event.type == pygame.QUIT:
            self.quit()
        elif event.type == pygame.VIDEORESIZE:
            self.resize(event.size)
        elif event.type == pygame.KEYDOWN:
            self.key(event.key, getattr(event, "mod", 0), getattr(event, "unicode", ""))
        elif event.type == pygame.KEYUP:
            self._held.discard(event.key)
        elif event.type == pygame.WINDOWFOCUSLOST:
            self._held.clear()  # its key-ups go elsewhere
        elif event.type == pygame.MOUSEBUTTONDOWN and event.button == 1:
            self.click(event.pos)
        elif event.type == pygame.MOUSEWHEEL:
            widget = self.controls.focus.at(pygame.mouse.get_pos())
            if widget is not None:
                widget.scroll(event.y)

    def key(self, key: int, mod: int = 0, unicode: str = "") -> None:
        """Tab moves the focus; a focused text field takes every other key (Escape leaves
        it); then the shortcuts (once per press: a held space must not flicker between play
        and pause); then the focused control (held keys repeat); Enter applies changes now."""
        focus = self.controls.focus
        widget = focus.widget
        repeat = key in self._held
        self._held.add(key)
        if key == pygame.K_TAB:
            focus.move(-1 if mod & pygame.KMOD_SHIFT else 1)
        elif widget is not None and widget.takes_text:
            if key == pygame.K_ESCAPE:
                focus.take(None)
            else:
                widget.key(key, unicode)
        elif key in SHORTCUTS:
            if not repeat:
                self.controls.shortcut(key)
        elif widget is not None and widget.key(key, unicode):
            pass
        elif key in ENTER:
            self.commands.send_changes(force=True)

    def click(self, pos: tuple[int, int]) -> None:
        widget = self.controls.focus.at(pos)
        self.controls.focus.take(widget)
        if widget is not None:
            widget.click(pos)

    def resize(self, size: tuple[int, int]) -> None:
        self.screen = pygame.display.set_mode(size, pygame.RESIZABLE)
        self.layout = layout(self.screen.get_size())
        place(self.controls.widgets, self.layout.controls, self.layout.row)

    # -- drawing --------------------------------------------------------------------------

    def _roll_size(self) -> tuple[int, int]:
        return views.inside(self.layout.roll, self.layout.font).size

    def _moving(self) -> bool:
        """Whether the playhead, waveform and spectrum move: a loop heard, and playing."""
        return bool(self.board.loops) and self.player.state == "playing"

    def _heard_frame(self) -> int | None:
        """The output frame heard now (frozen while paused), never past what was written."""
        clock = self.player.clock
        if clock.ready.is_set() and not clock.paused:
            frame = clock.frame_at(time.monotonic())
            self.heard = max(0, min(frame, self.tap.written))
        return self.heard

    def _status(self) -> Status:
        now = time.monotonic()
        if self.status is None or now - self._status_at > 0.25:
            self.status, self._status_at = self.player.status(), now
        return self.status

    def _message(self) -> Message | None:
        message = self.board.message
        if message is None or time.monotonic() - message.at > SHOWN[message.error]:
            return None
        return message

    def draw(self) -> None:
        screen, grid, texts, size = self.screen, self.layout, self.texts, self.layout.font
        screen.fill(theme.WINDOW)
        frame = self._heard_frame()
        now = self.board.now(frame)
        status = self._status()
        speed = (f"{1 / self.frame_seconds:.0f} fps, {self.draw_seconds * 1000:.1f} ms CPU a frame"
                 if self.frame_seconds > 0 else "")
        views.header(screen, grid.header, texts, size, status=status, heard=now,
                     state=self.board.state, fading=self.board.fading(frame), speed=speed)
        started = now is not None and frame is not None and frame >= now.start
        views.roll(screen, grid.roll, texts, size,
                   drawn=self.rolls.get(now.loop, self._roll_size()) if now else None,
                   heard=now, position=now.position(frame) if started else None)
        end, rate = frame or 0, self.tap.sample_rate
        views.wave(screen, grid.wave, texts, size, seconds=WAVE_SECONDS,
                   samples=self.tap.window(end, int(WAVE_SECONDS * rate)))
        views.spectrum(screen, grid.spectrum, texts, size, sample_rate=rate,
                       samples=self.tap.window(end, SPECTRUM_FRAMES))
        views.seams(screen, grid.seams, texts, size, scores=now.loop.seam if now else None)
        views.meter(screen, grid.meter, texts, size, status=status,
                    underruns=self.tap.underruns)
        self.controls.draw(screen, grid.controls, texts, size)
        views.status_bar(screen, grid.status, texts, size, message=self._message())


def open_output(driver: str | os.PathLike | None, sample_rate: int) -> tuple[Tap, str | None]:
    """The sink a user named (a file or null paced to the wall clock, as the shell does),
    tapped for the views; with no audio device, a paced null sink that keeps time, and the
    line that says so."""
    try:
        return Tap(open_sink(driver, sample_rate, paced=True)), None
    except NoAudioDevice as exc:
        note = f"{exc}: playing silently in time (null sink); --output FILE.wav keeps the music"
        return Tap(open_sink("null", sample_rate, paced=True)), note


def open_app(settings: PlaySettings, driver: str | os.PathLike | None = "speakers",
             size: tuple[int, int] = (1280, 720), *, midi_out: bool = False,
             **options) -> App:
    """A playing window: the sink opened before the display (pygame.mixer is set up by the
    speaker sink, at the player's rate), the player started, MIDI out on if asked."""
    tap, note = open_output(driver, settings.sample_rate)
    player = Player(settings, tap)
    try:
        app = App(player, tap, size=size, **options)
    except BaseException as exc:
        player.stop()  # its threads and the sink go too
        if isinstance(exc, pygame.error):
            raise ValueError(f"no window can open here ({exc}); on a machine with no "
                             "screen, run it under Xvfb") from None
        raise
    if note:
        app.board.say(note, error=True)
    player.start()
    if midi_out:
        app.commands.toggle_midi()
    return app


def run_gui(settings: PlaySettings, driver: str | os.PathLike | None = "speakers",
            size: tuple[int, int] = (1280, 720), **options) -> None:
    """`composer gui`: the window until q, Escape or closing it."""
    open_app(settings, driver, size, **options).run()
