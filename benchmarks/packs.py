"""Sample packs and the MusicGPT fallback: time per loop, every loop's seam, time to music.

    .venv/bin/python benchmarks/packs.py [--count 10] [--runs 3] [--models lstm,pop,gan]

- Time per loop in a pack: the whole `composer loops --count N` process timed from outside
  (cold start included), median of --runs, for N = 1 and N = --count; the time a loop adds is
  their difference over N - 1.
- Seam scores of every exported loop (index.json's `seam`, the worst of click, dip and flux
  against the loop's own music; <= 1 is seamless), per model, over all runs.
- MusicGPT fallback, against a stand-in that crashes (tests/musicgpt_standin.py; the real
  binary cannot run here): written to a file, the time from the second crash of a slot to the
  MIDI path's loop for it; on speakers (a paced null sink), the time from spawning the player
  to its first sound with MusicGPT failing throughout.

Raw numbers in benchmarks/results/packs.json; prints Markdown.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def loops_process(folder: Path, model: str, count: int, seed: int) -> tuple[float, list]:
    started = time.perf_counter()
    subprocess.run([str(ROOT / ".venv/bin/composer"), "loops", "--model", model, "--bars", "4",
                    "--count", str(count), "--seed", str(seed), "-o", str(folder)],
                   check=True, capture_output=True, cwd=ROOT)
    seconds = time.perf_counter() - started
    return seconds, json.loads((folder / "index.json").read_text())


def fallback_offline(folder: Path, runs: int) -> list[float]:
    """Seconds from a slot's second crash to its MIDI loop, written to a file."""
    import musicgpt_standin as standin

    from composer.player.audio_maker import MusicGptLoopMaker
    from composer.player.settings import PlaySettings

    binary = standin.write(folder / "musicgpt", "crash")
    maker = MusicGptLoopMaker(PlaySettings(model="lstm", source="musicgpt", prompt="x",
                                           musicgpt=str(binary), bars=4))
    maker.realtime = False
    maker.midi()  # the model and synth warm, as in a player that has played a loop
    times = []
    for _ in range(runs):
        crashed = {}
        original = maker._fell_back

        def fell_back(exc, original=original, crashed=crashed):
            crashed["at"] = time.perf_counter()
            original(exc)

        maker._fell_back = fell_back
        maker._slot()
        times.append(time.perf_counter() - crashed["at"])
    return times


def first_sound_with_failing_musicgpt(folder: Path, runs: int) -> list[float]:
    import musicgpt_standin as standin

    binary = standin.write(folder / "musicgpt", "crash")
    code = (f"import time; t=time.perf_counter()\n"
            f"from composer.player import Player, PlaySettings, open_sink\n"
            f"p = Player(PlaySettings(model='lstm', source='musicgpt', prompt='x', "
            f"musicgpt={str(binary)!r}), open_sink('null', 44100, paced=True)).start()\n"
            f"while p.first_sound is None: time.sleep(0.01)\n"
            f"print(time.perf_counter() - t); p.stop()\n")
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                              text=True, cwd=ROOT)
        wall = time.perf_counter() - started  # spawn to exit (the stop included)
        inside = float(done.stdout.strip().splitlines()[-1])  # import to first sound
        times.append({"spawn_to_exit_s": round(wall, 3), "in_process_s": round(inside, 3)})
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--models", default="lstm,pop,gan")
    args = parser.parse_args()
    report = {"machine": f"{platform.machine()}, {len(__import__('os').sched_getaffinity(0))} "
                         "cores", "date": time.strftime("%Y-%m-%d"), "count": args.count,
              "models": {}}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for model in args.models.split(","):
            ones, packs, seams = [], [], []
            for run in range(args.runs):
                seconds, _ = loops_process(tmp / f"{model}-1-{run}", model, 1, run)
                ones.append(seconds)
                seconds, rows = loops_process(tmp / f"{model}-n-{run}", model, args.count, run)
                packs.append(seconds)
                seams += [row["seam"] for row in rows]
            one, pack = statistics.median(ones), statistics.median(packs)
            report["models"][model] = {
                "one_loop_process_s": round(one, 2), "pack_process_s": round(pack, 2),
                "per_loop_s": round((pack - one) / (args.count - 1), 3),
                "seams": seams, "seams_over_1": sum(s > 1.0 for s in seams),
                "seam_max": max(seams), "seam_median": statistics.median(seams)}
        offline = fallback_offline(tmp, args.runs)
        live = first_sound_with_failing_musicgpt(tmp, args.runs)
    report["musicgpt_fallback"] = {"offline_crash_to_midi_loop_s": offline,
                                   "live_spawn_to_first_sound_s": live}
    results = ROOT / "benchmarks" / "results"
    results.mkdir(exist_ok=True)
    (results / "packs.json").write_text(json.dumps(report, indent=1) + "\n")
    print(f"{report['machine']}, {report['date']}; `composer loops --bars 4`, medians of "
          f"{args.runs}\n")
    print("| model | 1 loop, whole process | "
          f"{args.count} loops, whole process | each loop adds | seams <= 1 | worst seam |")
    print("|---|---:|---:|---:|---:|---:|")
    for model, row in report["models"].items():
        print(f"| {model} | {row['one_loop_process_s']:.2f} s | {row['pack_process_s']:.2f} s "
              f"| {row['per_loop_s']:.2f} s | {len(row['seams']) - row['seams_over_1']} of "
              f"{len(row['seams'])} | {row['seam_max']:.2f} |")
    inside = statistics.median(t["in_process_s"] for t in live)
    wall = statistics.median(t["spawn_to_exit_s"] for t in live)
    print(f"\nMusicGPT crashing: a slot's MIDI loop {statistics.median(offline):.2f} s after "
          f"its second crash (to a file); on speakers, first sound {inside:.2f} s after the "
          f"player's imports begin ({wall:.2f} s from spawning the process to its exit)")


if __name__ == "__main__":
    main()
