"""The window's figures: frames per second and its CPU share while loops are made, first
sound after `composer gui` starts, and audio underruns, with a real window and real-time audio.

    .venv/bin/python benchmarks/gui.py [--seconds 60] [--models default,pop] [--runs 3]
    .venv/bin/python benchmarks/gui.py --soak 600        the window's default model only

Each run is a fresh process that runs `composer gui --bars 8` (the CLI's own code, from
`composer.cli.main`; only `App.run` is wrapped, to count frames) under Xvfb (`Xvfb :N -screen 0
1280x720x24`, started here; SDL's dummy video driver, with a note, if Xvfb is missing), with
audio through the SpeakerSink and SDL's dummy audio driver, which takes audio in real time, so
a late block is a real underrun. Everything but first sound is measured over the --seconds
after the first sound (before it the window shows a still frame), then the window quits itself.

- frames per second: frames drawn in each whole second, median and 5th percentile, also over
  the seconds in which the other threads (producer, playback) used more than half a core (a
  loop being composed, rendered or measured); the 99th percentile of the gap between frames.
- CPU: the GUI thread's `time.thread_time()` over wall time (goal <= 25 % of one core), the
  whole process's, and the X server's (Xvfb's /proc stat) for the same run.
- underruns: SpeakerSink's count (a write that found the channel run dry), and when each was
  seen; late switches and errors from `player.status()`.
- first sound: from just before the process is spawned to the first block handed to the sink,
  timed across processes on the wall clock (the child prints when `player.first_sound` says
  it happened); median of --runs short runs after the long one (which fills the page cache).
  For reference, `composer play` with the same model and speakers, no window, --runs times
  (its own "first sound after", from process start).

The window's default model is whatever `composer gui` plays without --model (lstm); "pop" is
the heaviest model. Results go to benchmarks/results/gui.json (--soak to its "soak" key, the
rest kept); a Markdown table is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OUT = ROOT / "benchmarks/results/gui.json"
BUSY = 0.5  # cores the other threads use in a second counted as "generating"


# -- the child: `composer gui`, its frames counted -------------------------------------------

def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


class Meter:
    """Frames drawn, CPU per second, underruns and first sound of one App, read after each
    step. Everything but first sound is measured from the first sound on: before it the
    window draws a still frame now and then (composer.gui.app.STILL_FRAME)."""

    def __init__(self, app, seconds: float, after_sound: float | None) -> None:
        self.app, self.seconds, self.after_sound = app, seconds, after_sound
        self.opened = time.perf_counter()
        self.sound_at: float | None = None  # perf_counter of the first block written
        self.frames: list[float] = []  # perf_counter after each frame drawn
        self.step_cpu: list[float] = []  # the GUI thread's CPU seconds in each of those steps
        self.ticks: list[tuple[float, float, float]] = []  # (wall, thread CPU, process CPU)
        self.underruns: list[float] = []  # seconds after the first sound each was seen
        self.before_sound = 0  # frames drawn before it
        self._drawn = 0

    def _tick(self) -> None:
        self.ticks.append((time.perf_counter(), time.thread_time(), time.process_time()))

    def step(self, step_cpu: float) -> bool:
        """Take one step's news; True once the run is over."""
        now = time.perf_counter()
        frames = getattr(self.app, "frames", self._drawn + 1)  # older Apps drew every step
        drawn, self._drawn = frames > self._drawn, frames
        player = self.app.player
        if self.sound_at is None:
            self.before_sound += drawn
            if player.first_sound is None:
                return False
            self.sound_at = player.created_at + player.first_sound
            wall = time.time() - (now - self.sound_at)
            print(f"FIRST_SOUND {wall:.6f}", flush=True)  # the parent subtracts its spawn time
            self._tick()
            return False
        if drawn:
            self.frames.append(now)
            self.step_cpu.append(step_cpu)
        if now - self.ticks[-1][0] >= 1.0:
            self._tick()
        missed = self.app.tap.underruns or 0
        if missed > len(self.underruns):
            self.underruns += [round(now - self.sound_at, 2)] * (missed - len(self.underruns))
        limit = self.seconds if self.after_sound is None else self.after_sound
        return now - self.ticks[0][0] >= limit

    def result(self) -> dict:
        self._tick()
        first, wall = self.ticks[0][0], self.ticks[-1][0] - self.ticks[0][0]
        counts: dict[int, int] = {}
        for at in self.frames:
            counts[int(at - first)] = counts.get(int(at - first), 0) + 1
        whole = [counts.get(second, 0) for second in range(int(wall))]
        # seconds in which the other threads were busy: a loop being made
        busy = []
        for (w0, t0, p0), (w1, t1, p1) in zip(self.ticks, self.ticks[1:]):
            others = ((p1 - p0) - (t1 - t0)) / (w1 - w0)
            second = int(w0 - first)
            if others > BUSY and 0 <= second < len(whole):
                busy.append(whole[second])
        gaps = [b - a for a, b in zip(self.frames, self.frames[1:])]
        status = self.app.player.status()
        tap = self.app.tap
        return {
            "wall_s": wall, "frames": len(self.frames),
            "fps_median": statistics.median(whole) if whole else None,
            "fps_p5": percentile(whole, 0.05), "fps_min": min(whole, default=None),
            "fps_per_second": whole,
            "busy_seconds": len(busy), "busy_fps_median": statistics.median(busy) if busy else None,
            "busy_fps_p5": percentile(busy, 0.05) if busy else None,
            "busy_fps_min": min(busy, default=None),
            "gap_p99_ms": 1000 * percentile(gaps, 0.99), "gap_max_ms": 1000 * max(gaps, default=0),
            "gui_thread_cpu": (self.ticks[-1][1] - self.ticks[0][1]) / wall,
            "process_cpu": (self.ticks[-1][2] - self.ticks[0][2]) / wall,
            "step_cpu_median_ms": 1000 * statistics.median(self.step_cpu),
            "step_cpu_p95_ms": 1000 * percentile(self.step_cpu, 0.95),
            "frames_before_sound": self.before_sound,
            "window_to_sound_s": self.sound_at - self.opened,
            "first_sound_in_process_s": self.app.player.first_sound,
            "underruns": tap.underruns, "underrun_times_s": self.underruns,
            "audio_written_per_wall": tap.written / tap.sample_rate / wall,
            "late_switches": status.late_switches, "errors": status.errors,
            "loops_played": status.loops_played, "seconds_played": status.seconds_played,
            "status_line": self.app.board.message.text if self.app.board.message else None,
        }


def child(args) -> None:
    """`composer gui` as the CLI runs it, with App.run counting its frames."""
    from composer.lazy_imports import defer_note_seq_imports

    defer_note_seq_imports()  # as composer.cli.main does first, before anything imports note_seq
    import pygame

    from composer import cli
    from composer.gui.app import App

    measured: dict = {}

    def run(self: App) -> None:  # App.run, plus the meter
        clock = pygame.time.Clock()
        meter = Meter(self, args.seconds, args.after_sound)
        try:
            cpu = time.thread_time()
            while self.step():
                if meter.step(time.thread_time() - cpu):
                    measured.update(meter.result())
                    pygame.event.post(pygame.event.Event(pygame.QUIT))  # as closing the window
                    started = time.perf_counter()
                    self.step()
                    measured["quit_s"] = time.perf_counter() - started  # music and window gone
                    break
                clock.tick(self.fps)
                cpu = time.thread_time()
        finally:
            self.close()

    App.run = run
    sys.argv = ["composer", "gui", "--bars", "8",
                *(["--model", args.model] if args.model != "default" else [])]
    try:
        cli.main()
    except SystemExit as exc:
        if exc.code:
            raise
    Path(args.result).write_text(json.dumps(measured))


# -- the parent: Xvfb, the runs, the table ---------------------------------------------------

class Display:
    """Xvfb on a free display number, or SDL's dummy video driver if there is no Xvfb."""

    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None
        self.env = {"SDL_AUDIODRIVER": "dummy"}
        self.note = ""
        if shutil.which("Xvfb") is None:
            self.env["SDL_VIDEODRIVER"] = "dummy"
            self.note = "no Xvfb here: SDL's dummy video driver (no X server, no real window)"
            return
        number = next(n for n in range(90, 200) if not Path(f"/tmp/.X{n}-lock").exists()
                      and not Path(f"/tmp/.X11-unix/X{n}").exists())
        self.process = subprocess.Popen(["Xvfb", f":{number}", "-screen", "0", "1280x720x24",
                                         "-nolisten", "tcp"], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        socket = Path(f"/tmp/.X11-unix/X{number}")
        end = time.monotonic() + 10
        while not socket.exists():
            if self.process.poll() is not None or time.monotonic() > end:
                raise RuntimeError(f"Xvfb :{number} did not start")
            time.sleep(0.05)
        self.env.update(DISPLAY=f":{number}", SDL_VIDEODRIVER="x11")
        self.note = f"Xvfb :{number}, 1280x720x24"

    def cpu_seconds(self) -> float:
        """The X server's CPU time so far (user + system)."""
        if self.process is None:
            return 0.0
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)


def spawn(display: Display, model: str, *, seconds: float = 0.0,
          after_sound: float | None = None) -> dict:
    """One `composer gui` process; its measurements, first sound and wall time added."""
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "result.json"
        argv = [sys.executable, str(Path(__file__).resolve()), "--child", "--model", model,
                "--seconds", str(seconds), "--result", str(result)]
        if after_sound is not None:
            argv += ["--after-sound", str(after_sound)]
        env = {**os.environ, **display.env, "PYGAME_HIDE_SUPPORT_PROMPT": "1"}
        load, x_cpu = os.getloadavg(), display.cpu_seconds()
        spawned = time.time()
        done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=seconds + 120)  # killed if the window hangs
        wall = time.time() - spawned
        if done.returncode or not result.exists():
            raise RuntimeError(f"composer gui ({model}) failed, exit {done.returncode}:\n"
                               f"{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
        row = json.loads(result.read_text())
    sound = [float(line.split()[1]) for line in done.stdout.splitlines()
             if line.startswith("FIRST_SOUND ")]
    row.update(process_wall_s=wall, first_sound_s=sound[0] - spawned if sound else None,
               x_server_cpu=(display.cpu_seconds() - x_cpu) / row["wall_s"],
               load_before=load, load_after=os.getloadavg())
    return row


def play_first_sound(display: Display, model: str) -> float:
    """The same model through `composer play` to the same speakers, no window: its own
    "first sound after X s" (from process start), for reference."""
    argv = [sys.executable, "-m", "composer", "play", "--minutes", "0.02", "--bars", "8",
            *(["--model", model] if model != "default" else [])]
    env = {**os.environ, **display.env}
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return float(re.search(r"first sound after ([\d.]+) s", done.stdout)[1])


def measure(display: Display, model: str, seconds: float, runs: int) -> dict:
    print(f"{model}: {seconds:g} s with the window open ...", flush=True)
    long = spawn(display, model, seconds=seconds)
    print(f"  {long['fps_median']} fps median, p5 {long['fps_p5']}; GUI thread "
          f"{long['gui_thread_cpu']:.1%} of a core; underruns {long['underruns']}; load "
          f"{long['load_before'][0]:.2f} -> {long['load_after'][0]:.2f}", flush=True)
    firsts = []
    for _ in range(runs):
        short = spawn(display, model, after_sound=0.5)
        firsts.append({k: short[k] for k in ("first_sound_s", "first_sound_in_process_s",
                                             "process_wall_s", "load_before")})
        print(f"  first sound {short['first_sound_s']:.2f} s after spawning (in-process "
              f"{short['first_sound_in_process_s']:.2f} s), load {short['load_before'][0]:.2f}",
              flush=True)
    plays = [play_first_sound(display, model) for _ in range(runs)]
    if plays:
        print(f"  composer play, no window: first sound {', '.join(f'{p:.2f}' for p in plays)} s",
              flush=True)
    return {"model": model, "seconds": seconds, "run": long, "first_sound_runs": firsts,
            "first_sound_median_s": statistics.median(r["first_sound_s"] for r in firsts)
            if firsts else None,
            "play_first_sound_s": plays,
            "play_first_sound_median_s": statistics.median(plays) if plays else None}


def table(runs: dict, soak: dict | None) -> str:
    lines = ["| model | fps median / p5 (generating: median / min) | p99 frame gap | GUI thread "
             "CPU | process CPU | X server CPU | first sound, median (`composer play`) | "
             "underruns | late switches / errors | load (1 min) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    rows = [(name, r["run"], r.get("first_sound_median_s"), r.get("play_first_sound_median_s"))
            for name, r in runs.items()]
    if soak:
        rows.append((f"{soak['model']}, soak {soak['seconds']:g} s", soak["run"], None, None))
    for name, r, first, play in rows:
        busy = (f"{r['busy_fps_median']:g} / {r['busy_fps_min']} in {r['busy_seconds']} s"
                if r["busy_seconds"] else "none")
        lines.append(
            f"| {name} | {r['fps_median']:g} / {r['fps_p5']} ({busy}) | {r['gap_p99_ms']:.0f} ms "
            f"| {r['gui_thread_cpu']:.1%} | {r['process_cpu']:.0%} | {r['x_server_cpu']:.1%} | "
            + (f"{first:.2f} s" if first is not None else "")
            + (f" ({play:.2f} s)" if play is not None else "") +
            f" | {r['underruns']} | {r['late_switches']} / {r['errors']} | "
            f"{r['load_before'][0]:.2f} -> {r['load_after'][0]:.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="each model's long run")
    parser.add_argument("--soak", type=float, default=0.0,
                        help="instead: one run this long with the default model (underruns)")
    parser.add_argument("--models", default="default,pop",
                        help="'default' is `composer gui` without --model")
    parser.add_argument("--runs", type=int, default=3, help="first-sound runs per model")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--model", default="default", help=argparse.SUPPRESS)
    parser.add_argument("--after-sound", type=float, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    from composer import generators

    default = generators.resolve()[0].name
    stored = json.loads(OUT.read_text()) if OUT.exists() else {}
    display = Display()
    print(display.note, flush=True)
    try:
        if args.soak:
            result = measure(display, "default", args.soak, runs=0)
            result["model"] = default
            stored["soak"] = result
        else:
            runs = {}
            for model in args.models.split(","):
                name = f"{default} (default)" if model == "default" else model
                runs[name] = measure(display, model, args.seconds, args.runs)
            stored["runs"] = runs
            stored["seconds"] = args.seconds
    finally:
        display.close()
    stored.setdefault("notes", {})["display"] = display.note
    stored["machine"] = (f"{platform.machine()}, {os.cpu_count()} cores, Python "
                         f"{platform.python_version()}")
    stored["when"] = time.strftime("%Y-%m-%d %H:%M:%S")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(stored, indent=1) + "\n")
    print()
    print(table(stored.get("runs", {}), stored.get("soak")))


if __name__ == "__main__":
    main()
