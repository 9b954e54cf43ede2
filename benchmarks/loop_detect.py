"""The loop detector: how fast it analyses a 30 s clip, and how seamless its loops are.

    .venv/bin/python benchmarks/loop_detect.py [--runs 7] [--loops 100]

(1) Time for `find_loop` on 30 s of audio, median of --runs after one warm-up call: a
rendered corpus phrase with its tempo known (the MIDI path, exact grid), the same audio with
the tempo unknown (librosa beat tracking), and a synthetic drum groove (beat tracking). Wall
time and CPU time (this process alone, so other work on the machine does not count) are both
reported; the goal is under 0.5 s. Also the first call in a fresh process, which pays
librosa's import, and the whole `composer loop` command.

(2) Seam scores of --loops loops found in real renders: 8-bar phrases cut at random from
Bach chorales and folk tunes (alternately; one x/4 meter, one tempo), rendered by FluidSynth with the GM
soundfont (composer.render.Renderer) on a rotating choice of instruments, then
find_loop(max_bars=4). Beside them, on the same renders: a naive loop cut exactly on bar
lines (bars 2-4, no detector), find_loop on the same audio with the tempo unknown (as a
user's file), and the player's loop (the whole phrase with its tail folded
onto its start, composer.render.wrap_tail), wrapped on its downbeat and where
composer.loop.wrap.choose_wrap puts the seam. Goal: every score <= 1.

Raw numbers go to benchmarks/results/loop.json; a Markdown summary is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

PROGRAMS = (0, 19, 48, 24, 73)  # piano, church organ, strings, nylon guitar, flute
SR = 44100


def timed(fn, runs: int) -> tuple[list[float], list[float]]:
    wall, cpu = [], []
    for _ in range(runs):
        w, c = time.perf_counter(), time.process_time()
        fn()
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - w)
    return wall, cpu


def corpus_files() -> dict[str, list[Path]]:
    """Converted MIDI of the Bach chorales and of the folk collections, by kind."""
    from training import music21_corpus

    files: dict[str, list[Path]] = {"bach": [], "folk": []}
    for collection in ("bach", "nottingham", "essen", "oneills", "ryansMammoth"):
        pieces = music21_corpus.list_pieces(collection)
        for piece in pieces:
            if not music21_corpus.is_converted(piece):
                music21_corpus.convert_piece(piece)
        kind = "bach" if collection == "bach" else "folk"
        files[kind] += [Path(p.midi_path) for p in music21_corpus.iter_converted(pieces)]
    return files


def phrase(path: Path, bars: int, rng: random.Random):
    """A random `bars`-bar phrase of a piece in one x/4 meter at one tempo, with its bar
    length in seconds; None for other pieces (the renderer counts a bar as `numerator`
    quarter notes, which is only right for x/4)."""
    from note_seq import sequences_lib

    from composer.render import read_sequence

    try:
        sequence = read_sequence(path)
    except ValueError:
        return None
    tempi = {round(t.qpm, 3) for t in sequence.tempos}
    meters = {(t.numerator, t.denominator) for t in sequence.time_signatures} or {(4, 4)}
    if len(tempi) > 1 or len(meters) > 1 or next(iter(meters))[1] != 4:
        return None
    qpm = tempi.pop() if tempi else 120.0
    numerator = next(iter(meters))[0]
    bar = numerator * 60.0 / qpm
    whole = int(sequence.total_time // bar)
    if whole < bars + 1:
        return None
    first = rng.randrange(0, whole - bars)
    part = sequences_lib.extract_subsequence(sequence, first * bar, (first + bars) * bar)
    part.total_time = bars * bar
    del part.time_signatures[:]
    meter = part.time_signatures.add()
    meter.numerator, meter.denominator = numerator, 4
    return (part, bar) if len(part.notes) >= 8 else None


def speed(runs: int, renderer, files: dict[str, list[Path]]) -> dict:
    from test_loop import groove  # the tests' synthetic drum groove

    from composer.audio import Clip
    from composer.loop import find_loop

    rng = random.Random(1)
    while True:
        found = phrase(rng.choice(files["bach"]), 15, rng)
        if found and found[1] == 2.0:  # 4/4 at 120 qpm: 15 bars are 30 s
            break
    clip = renderer.render(found[0], program=0)
    n = 30 * SR
    midi = Clip(audio=np.ascontiguousarray(clip.audio[:n]), sample_rate=SR, qpm=clip.qpm,
                frames=min(n, clip.length))
    audio = Clip(audio=midi.audio, sample_rate=SR)
    drums = Clip(audio=groove(0, seconds=30.0), sample_rate=SR)
    cases = {"rendered phrase, tempo known (exact grid)": midi,
             "rendered phrase, tempo unknown (beat tracking)": audio,
             "drum groove, tempo unknown (beat tracking)": drums}
    out = {}
    for name, case in cases.items():
        find_loop(case)
        wall, cpu = timed(lambda case=case: find_loop(case), runs)
        out[name] = {"seconds": len(case.audio) / SR, "wall_s": wall, "cpu_s": cpu,
                     "wall_median_s": statistics.median(wall),
                     "cpu_median_s": statistics.median(cpu)}
        print(f"{name}: wall {statistics.median(wall):.3f} s, "
              f"cpu {statistics.median(cpu):.3f} s", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        import soundfile

        wav = Path(tmp) / "groove.wav"
        soundfile.write(str(wav), drums.audio, SR)
        script = ("import time, soundfile; "
                  "from composer.audio import Clip; from composer.loop import find_loop; "
                  f"a, sr = soundfile.read({str(wav)!r}, dtype='float32', always_2d=True); "
                  "t = time.perf_counter(); find_loop(Clip(audio=a, sample_rate=sr)); "
                  "print(time.perf_counter() - t)")
        cold = [sys.executable, "-c", script]
        first = [float(subprocess.run(cold, check=True, capture_output=True, text=True,
                                      cwd=ROOT).stdout.split()[-1]) for _ in range(3)]
        command = [sys.executable, "-m", "composer", "loop", str(wav), "-o", f"{tmp}/o.wav"]
        cli, _ = timed(lambda: subprocess.run(command, check=True, capture_output=True,
                                              cwd=ROOT), 3)
        command_qpm = command + ["--qpm", "120"]
        cli_qpm, _ = timed(lambda: subprocess.run(command_qpm, check=True, capture_output=True,
                                                  cwd=ROOT), 3)
    out["first call in a fresh process (librosa import), drum groove"] = {
        "wall_s": first, "wall_median_s": statistics.median(first)}
    out["`composer loop` end to end, drum groove"] = {
        "wall_s": cli, "wall_median_s": statistics.median(cli)}
    out["`composer loop --qpm 120` end to end, drum groove"] = {
        "wall_s": cli_qpm, "wall_median_s": statistics.median(cli_qpm)}
    print(f"first call {statistics.median(first):.2f} s, command {statistics.median(cli):.2f} s, "
          f"with --qpm {statistics.median(cli_qpm):.2f} s", flush=True)
    return out


def seams(count: int, renderer, files: dict[str, list[Path]]) -> dict:
    from composer.audio import Clip
    from composer.loop import find_loop, seam_scores
    from composer.loop.wrap import choose_wrap
    from composer.render import wrap_tail

    rng = random.Random(0)
    rows = []
    while len(rows) < count:
        path = rng.choice(files["bach" if len(rows) % 2 == 0 else "folk"])
        found = phrase(path, 8, rng)
        if found is None:
            continue
        sequence, bar = found
        program = PROGRAMS[len(rows) % len(PROGRAMS)]
        clip = renderer.render(sequence, program=program)
        started = time.perf_counter()
        loop = find_loop(clip, max_bars=4)
        took = time.perf_counter() - started
        naive = clip.audio[round(2 * bar * SR):round(4 * bar * SR)]
        # The same audio as a user's file: no tempo, no musical length (the tail included).
        heard = find_loop(Clip(audio=clip.audio, sample_rate=SR), max_bars=4)
        beat = 60.0 / clip.qpm * SR
        off_beats = abs(heard.frames / beat - round(heard.frames / beat)) * beat / SR * 1000
        period = wrap_tail(clip)
        scores = {"detector": loop.seam, "estimated": heard.seam, "naive": seam_scores(naive, SR),
                  "downbeat": seam_scores(period, SR),
                  "player": choose_wrap(period, SR, bars=8)[1]}
        rows.append({"piece": "/".join(path.parts[-3:]), "program": program,
                     "qpm": clip.qpm, "bars": loop.bars, "start_s": loop.source_start / SR,
                     "shift_ms": loop.scores["shift_ms"], "seconds": took,
                     "predicted": loop.scores["predicted_seam"],
                     "estimated_bars": heard.bars, "estimated_qpm": heard.qpm,
                     "estimated_off_whole_beats_ms": off_beats,
                     **{f"{k}_{m}": getattr(v, m) for k, v in scores.items()
                        for m in ("click", "dip", "flux")}})
        if len(rows) % 10 == 0:
            print(f"{len(rows)} loops", flush=True)
    summary = {}
    for kind in ("detector", "estimated", "naive", "downbeat", "player"):
        table = {m: np.array([r[f"{kind}_{m}"] for r in rows]) for m in ("click", "dip", "flux")}
        worst = np.maximum.reduce(list(table.values()))
        summary[kind] = {"all_ok": int(np.sum(worst <= 1.0)), "loops": len(rows),
                         **{m: {"median": float(np.median(v)), "p95": float(np.percentile(v, 95)),
                                "max": float(v.max()), "over_1": int(np.sum(v > 1.0))}
                            for m, v in table.items()},
                         "worst_median": float(np.median(worst)),
                         "worst_max": float(worst.max())}
    bars = [r["bars"] for r in rows]
    summary["bars"] = {str(b): bars.count(b) for b in sorted(set(bars))}
    summary["shift_ms"] = {"median_abs": float(np.median(np.abs([r["shift_ms"] for r in rows]))),
                           "max_abs": float(np.max(np.abs([r["shift_ms"] for r in rows])))}
    summary["seconds_median"] = float(np.median([r["seconds"] for r in rows]))
    off = np.array([r["estimated_off_whole_beats_ms"] for r in rows])
    summary["estimated_whole_beats_within_10ms"] = int(np.sum(off <= 10.0))
    return {"summary": summary, "loops": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--loops", type=int, default=100)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/loop.json")
    args = parser.parse_args()

    from composer.render import Renderer

    files = corpus_files()
    machine = {"platform": platform.platform(), "python": platform.python_version(),
               "cpus": os.cpu_count(), "load_before": os.getloadavg()}
    with Renderer() as renderer:
        timing = speed(args.runs, renderer, files)
        quality = seams(args.loops, renderer, files)
    machine["load_after"] = os.getloadavg()
    result = {"machine": machine, "speed": timing, **quality}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")

    print(f"\nload average before / after: {machine['load_before'][0]:.1f} / "
          f"{machine['load_after'][0]:.1f} on {machine['cpus']} cores\n")
    print("| 30 s of audio | wall (median) | CPU (median) | goal |")
    print("|---|---:|---:|---:|")
    for name, row in timing.items():
        cpu = f"{row['cpu_median_s']:.3f} s" if "cpu_median_s" in row else ""
        print(f"| {name} | {row['wall_median_s']:.3f} s | {cpu} | "
              f"{'< 0.5 s' if 'cpu_median_s' in row else ''} |")
    s = quality["summary"]
    print(f"\n| {s['detector']['loops']} rendered loops | all three <= 1 | click: median / max "
          "| dip: median / max | flux: median / max |")
    print("|---|---:|---:|---:|---:|")
    for kind, label in (("detector", "find_loop, tempo known (exact grid)"),
                        ("estimated", "find_loop, tempo unknown (beat tracking)"),
                        ("naive", "reference: cut on bar lines"),
                        ("downbeat", "reference: phrase with its tail folded, wrapped on the downbeat"),
                        ("player", "the player's loop: the same, wrapped where it joins best")):
        r = s[kind]
        print(f"| {label} | {r['all_ok']} / {r['loops']} | "
              + " | ".join(f"{r[m]['median']:.2f} / {r[m]['max']:.2f}"
                           for m in ("click", "dip", "flux")) + " |")
    print(f"\nlengths: {s['bars']}; shift off the grid: median {s['shift_ms']['median_abs']:.1f} "
          f"ms, max {s['shift_ms']['max_abs']:.1f} ms; find_loop median "
          f"{s['seconds_median']:.2f} s per 8-bar render; tempo unknown: "
          f"{s['estimated_whole_beats_within_10ms']} / {s['detector']['loops']} loops a whole "
          "number of the true beats (within 10 ms)")


if __name__ == "__main__":
    main()
