"""`composer render` as a whole process against the `fluidsynth` command line, and render and loop
peak memory against the length of the piece (issue 14).

    apt-get install -y fluidsynth      # the reference; without it only our side is measured
    .venv/bin/python benchmarks/render_process.py [--runs 5] [--song SONG.mid]
                                                  [--minutes 1,10,40]

What a user waits for: each side is timed from outside, cold start, soundfont load, parsing,
synthesis and writing a 16-bit WAV included. Ours also normalises loudness to -16 LUFS with
its peak limiter, with reverb and chorus on (its defaults); theirs is `fluidsynth -ni -F OUT
-r 44100 SOUNDFONT SONG` (its defaults: reverb and chorus on, gain 0.2). Wall time, CPU time
(user + system of the child) and peak resident memory come from wait4() on each child. Runs of
the two sides alternate, so load on the shared machine hits both; medians of --runs.

Memory against length: the song repeated back to back to 1, 10 and 40 minutes (--minutes),
rendered by `composer render` (--max-minutes raised to fit) and looped by `composer loop` from
the MIDI file and from the rendered WAV. Prints Markdown tables; raw numbers in
benchmarks/results/render-process.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

POP_SONG = ROOT.parent / "shared/datasets/POP909-Dataset/POP909/006/006.mid"
COMPOSER = [sys.executable, "-m", "composer"]


def timed(command: list[str]) -> dict:
    """Run a command to the end; wall and CPU seconds and peak memory (MB), from outside."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    error = process.stderr.read().decode(errors="replace")
    process.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{error[-2000:]}")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "mb": usage.ru_maxrss / 1024}


def default_song() -> Path:
    if POP_SONG.exists():
        return POP_SONG
    raise SystemExit(f"{POP_SONG} not found: give a song with --song")


def repeated(song: Path, minutes: float, out: Path) -> Path:
    """The song back to back until `minutes` long (cut there)."""
    import pretty_midi

    source = pretty_midi.PrettyMIDI(str(song))
    length, target = source.get_end_time(), minutes * 60.0
    result = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    for instrument in source.instruments:
        copy = pretty_midi.Instrument(instrument.program, instrument.is_drum, instrument.name)
        offset = 0.0
        while offset < target:
            copy.notes += [pretty_midi.Note(n.velocity, n.pitch, n.start + offset,
                                            min(n.end + offset, target))
                           for n in instrument.notes if n.start + offset < target]
            offset += length
        result.instruments.append(copy)
    result.write(str(out))
    return out


def median(runs: list[dict], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--song", type=Path, default=None)
    parser.add_argument("--minutes", default="1,10,40")
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args()
    from composer.soundfont import find_soundfont

    song = args.song or default_song()
    soundfont = str(find_soundfont(None).path)
    fluidsynth = shutil.which("fluidsynth")
    work = Path(tempfile.mkdtemp(prefix="render-process-"))
    results: dict = {"machine": f"{platform.node()}, {os.cpu_count()} cores, "
                                f"{platform.python_version()}",
                     "date": time.strftime("%Y-%m-%d"), "song": str(song),
                     "load_before": os.getloadavg()[0]}
    try:
        ours, theirs = [], []
        for run in range(args.runs):
            ours.append(timed([*COMPOSER, "render", str(song), "-o", str(work / "ours.wav")]))
            if fluidsynth:
                theirs.append(timed([fluidsynth, "-ni", "-F", str(work / "theirs.wav"),
                                     "-r", "44100", soundfont, str(song)]))
            print(f"run {run + 1}: ours {ours[-1]}" + (f", fluidsynth {theirs[-1]}"
                                                       if theirs else ""), file=sys.stderr)
        results["process"] = {"ours": ours, "fluidsynth": theirs}
        print(f"\n`composer render` against `fluidsynth -ni -F` on {song.name}, median of "
              f"{args.runs}:\n")
        print("| | wall | CPU | peak memory |\n|---|---:|---:|---:|")
        print(f"| composer render | {median(ours, 'wall'):.2f} s | {median(ours, 'cpu'):.2f} s "
              f"| {median(ours, 'mb'):.0f} MB |")
        if theirs:
            print(f"| fluidsynth | {median(theirs, 'wall'):.2f} s | "
                  f"{median(theirs, 'cpu'):.2f} s | {median(theirs, 'mb'):.0f} MB |")
            print(f"| **ratio** | **{median(ours, 'wall') / median(theirs, 'wall'):.2f}x** | "
                  f"{median(ours, 'cpu') / median(theirs, 'cpu'):.2f}x | "
                  f"**{median(ours, 'mb') / median(theirs, 'mb'):.2f}x** |")
        if not args.skip_memory:
            results["memory"] = memory_by_length(song, work, [float(m) for m in
                                                              args.minutes.split(",")])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results["load_after"] = os.getloadavg()[0]
    out = ROOT / "benchmarks/results/render-process.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nraw numbers: {out.relative_to(ROOT)}")


def memory_by_length(song: Path, work: Path, lengths: list[float]) -> list[dict]:
    rows = []
    print("\nPeak memory against length (one run each):\n")
    print("| piece | render | render time | loop from the MIDI | loop from the WAV |")
    print("|---|---:|---:|---:|---:|")
    for minutes in lengths:
        midi = repeated(song, minutes, work / f"{minutes:g}min.mid")
        wav = work / f"{minutes:g}min.wav"
        render = timed([*COMPOSER, "render", str(midi), "-o", str(wav), "--max-minutes",
                        str(minutes + 1)])
        loop_midi = timed([*COMPOSER, "loop", str(midi), "-o", str(work / "loop-a.wav")])
        loop_wav = timed([*COMPOSER, "loop", str(wav), "-o", str(work / "loop-b.wav")])
        rows.append({"minutes": minutes, "render": render, "loop_midi": loop_midi,
                     "loop_wav": loop_wav})
        print(f"| {minutes:g} min | {render['mb']:.0f} MB | {render['wall']:.1f} s | "
              f"{loop_midi['mb']:.0f} MB | {loop_wav['mb']:.0f} MB |")
        wav.unlink()
    return rows


if __name__ == "__main__":
    main()
