"""The continuous player's figures: producer throughput, time to first sound, and a soak.

    .venv/bin/python benchmarks/player.py throughput [--loops 12 --runs 3]
    .venv/bin/python benchmarks/player.py first-sound [--runs 5]
    .venv/bin/python benchmarks/player.py soak [--minutes 60]
    .venv/bin/python benchmarks/player.py seams [--loops 12 --models lstm,vae-2bar,...]

throughput: seconds of finished, loop-ready audio per wall second from the player's producer
(compose | render -> wrap | loudness -> seam analysis, three threads), beside the
render stage alone (render -> wrap -> loudness) on the very same phrases, one thread
(goals: >= 20x, >= 0.8x). Also the seconds that generation and the last stage (loudness + seam
analysis; the same loudness is in the render-only figure) cost when run on their own.
first-sound: `composer play --out` as a user runs it, from process start to the first block
of audio handed to the sink (the CLI reports it; goal <= 3 s).
soak: an hour of music into the null sink at full speed: underruns (silence after the first
sound, switches that found no loop ready) and resident memory over time (goal: 0, <= 5 %).
seams: the seam scores of the player's own loops for each model, and where each loop wraps
(the downbeat, a few ms before it, or another bar line: composer.loop.wrap).
Results go to benchmarks/results/player-<name>.json (player-<name>-<model>.json for a
--model other than the lstm).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}"


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def throughput(args) -> dict:
    from composer.player import MidiLoopMaker, PlaySettings
    from composer.player.producer import Producer

    from composer.fir import use_scipy_fft

    use_scipy_fft()  # as the player does once its first sound is out
    settings = PlaySettings(model=args.model, seed=0, bars=args.bars)
    maker = MidiLoopMaker(settings)
    maker()  # warm: first-call allocations, soundfont pages
    runs = []
    for run in range(args.runs):
        # The player's own producer (the maker's stages), or the other split for comparison.
        stages = {"player": maker.stages(),
                  "2": (lambda: maker.render(maker.compose()), maker.finish),
                  "3": (maker.compose, maker.render, maker.finish)}[args.stages]
        producer = Producer(*stages, ahead=args.loops)
        start = time.perf_counter()
        producer.start()
        loops = [producer.get(wait=True) for _ in range(args.loops)]
        full = time.perf_counter() - start
        producer.stop()
        audio = sum(loop.seconds for loop in loops)
        start = time.perf_counter()
        for loop in loops:
            maker.renderer.render_loop(loop.phrase)  # render + wrap + loudness: the render stage
        render = time.perf_counter() - start
        # where the rest of the time goes
        start = time.perf_counter()
        for _ in range(args.loops):
            maker.generator.phrase(settings.bars, settings.qpm)
        generate = time.perf_counter() - start
        start = time.perf_counter()
        from composer.audio import Clip

        for loop in loops:
            maker.finish(Clip(audio=loop.audio, sample_rate=loop.sample_rate, qpm=loop.qpm,
                              phrase=loop.phrase))
        seam = time.perf_counter() - start
        seams_ok = sum(loop.seam.ok for loop in loops)
        runs.append({"audio_s": audio, "pipeline_s": full, "render_only_s": render,
                     "seams_ok": seams_ok, "worst_seam": max(loop.seam.worst for loop in loops),
                     "generate_s": generate, "seam_s": seam,
                     "pipeline_x": audio / full, "render_only_x": audio / render,
                     "ratio": render / full})
        print(f"run {run + 1}: pipeline {audio / full:.1f}x real time, render only "
              f"{audio / render:.1f}x, ratio {render / full:.2f} (generate {generate:.2f} s, "
              f"loudness + seam {seam:.2f} s, render {render:.2f} s of {full:.2f} s); seams <= 1: "
              f"{seams_ok} of {len(loops)}", flush=True)
    return {"model": args.model, "bars": args.bars, "loops": args.loops, "stages": args.stages,
            "runs": runs,
            "median_pipeline_x": statistics.median(r["pipeline_x"] for r in runs),
            "median_render_only_x": statistics.median(r["render_only_x"] for r in runs),
            "median_ratio": statistics.median(r["ratio"] for r in runs)}


def seams(args) -> dict:
    """Seam scores of the player's own loops, model by model, and where each one wraps."""
    from composer.player import MidiLoopMaker, PlaySettings

    out = {}
    for model in args.models.split(","):
        maker = MidiLoopMaker(PlaySettings(model=model, seed=args.seed, bars=args.bars))
        rows = []
        for _ in range(args.loops):
            loop = maker()
            bar = loop.frames / loop.bars
            # where the period begins, from bar 1: negative just before the downbeat
            start = -loop.downbeat if loop.downbeat <= loop.frames // 2 else (
                loop.frames - loop.downbeat)
            near = round(start / bar)
            rows.append({"click": loop.seam.click, "dip": loop.seam.dip, "flux": loop.seam.flux,
                         "start_ms": 1000.0 * start / loop.sample_rate,
                         "wrap": "downbeat" if start == 0 else
                         "before the downbeat" if near == 0 else "another bar line"})
        wraps = [r["wrap"] for r in rows]
        out[model] = {"loops": rows, "all_ok": sum(max(r["click"], r["dip"], r["flux"]) <= 1.0
                                                   for r in rows),
                      "worst": max(max(r["click"], r["dip"], r["flux"]) for r in rows),
                      "wraps": {w: wraps.count(w) for w in sorted(set(wraps))}}
        print(f"{model}: {out[model]['all_ok']} of {args.loops} loops with every seam score "
              f"<= 1 (worst {out[model]['worst']:.2f}); wraps {out[model]['wraps']}", flush=True)
    return {"bars": args.bars, "seed": args.seed, "models": out}


def first_sound(args) -> dict:
    runs, walls = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.runs):
            start = time.perf_counter()
            result = subprocess.run([sys.executable, "-m", "composer", "play", "--model",
                                     args.model, "--minutes", "0.01", "-o", f"{tmp}/x.wav"],
                                    capture_output=True, text=True, check=True, cwd=ROOT)
            walls.append(time.perf_counter() - start)
            runs.append(float(re.search(r"first sound after ([\d.]+) s", result.stdout)[1]))
            print(f"first sound after {runs[-1]:.2f} s (command {walls[-1]:.2f} s)", flush=True)
    return {"model": args.model, "first_sound_s": runs, "command_s": walls,
            "median_first_sound_s": statistics.median(runs),
            "median_command_s": statistics.median(walls)}


def soak(args) -> dict:
    from composer.player import NullSink, Player, PlaySettings

    settings = PlaySettings(model=args.model, seed=0)
    samples: list[tuple[int, float, float]] = []
    start = time.perf_counter()

    def progress(stage: str, done: int, total: int) -> None:
        if done % 60 == 0 and (not samples or samples[-1][0] != done):
            samples.append((done, time.perf_counter() - start, rss_mb()))
            if done % 600 == 0:
                print(f"{done / 60:.0f} min of music, {samples[-1][1]:.0f} s wall, "
                      f"RSS {samples[-1][2]:.0f} MB", flush=True)

    sink = NullSink()
    with Player(settings, sink) as player:
        player.run(args.minutes * 60.0, progress)
        stream, producer = player.stream, player.producer
    wall = time.perf_counter() - start
    # Loops come and go in 5 MB pieces, so RSS steps up and down by tens of MB as the
    # allocator keeps or returns them: compare medians of whole windows, not two samples.
    def window(first: int, last: int) -> float:
        return statistics.median(rss for done, _, rss in samples if first <= done < last)

    total = int(args.minutes * 60)
    warm = window(300, min(total, 900) + 1)  # minutes 5-15: caches filled
    end = window(max(0, total - 600), total + 1)  # the last 10 minutes
    growth = (end - warm) / warm
    result = {"model": args.model, "minutes": args.minutes, "wall_s": wall,
              "music_per_wall": args.minutes * 60.0 / wall, "loops_made": producer.made,
              "switches": stream.switches, "late_switches": stream.late,
              "silent_frames": stream.silent_frames, "errors": producer.errors,
              "rss_median_min_5_15_mb": warm, "rss_median_last_10min_mb": end,
              "rss_min_mb": min(r for _, _, r in samples), "rss_max_mb": max(r for _, _, r in samples),
              "rss_growth": growth, "samples": samples}
    print(f"{args.minutes} min in {wall:.0f} s; underruns: {stream.silent_frames} silent "
          f"frames, {stream.late} late switches; median RSS {warm:.0f} MB (minutes 5-15) -> "
          f"{end:.0f} MB (last 10) ({growth:+.1%})")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=("throughput", "first-sound", "soak", "seams"))
    parser.add_argument("--model", default="lstm")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--loops", type=int, default=12)
    parser.add_argument("--bars", type=int, default=8)
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--models", default="lstm,vae-2bar,vae-16bar,gan,hybrid",
                        help="seams: the models whose loops are measured")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--stages", choices=("player", "2", "3"), default="player",
                        help="throughput: the player's pipeline (compose | render | analyse), "
                             "or compose+render | analyse (2), or the same as the player (3)")
    args = parser.parse_args()
    result = {"throughput": throughput, "first-sound": first_sound, "soak": soak,
              "seams": seams}[args.what](args)
    result["machine"] = machine()
    result["load_average_at_end"] = os.getloadavg()
    suffix = "" if args.model == "lstm" or args.what == "seams" else f"-{args.model}"
    out = ROOT / f"benchmarks/results/player-{args.what}{suffix}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
