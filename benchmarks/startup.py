"""Start-up of whole processes: how long a user waits for each command, timed from outside.

    .venv/bin/python benchmarks/startup.py [--runs 5] [--root CHECKOUT] [--label NAME]

Each command runs --runs times as a fresh `python -m composer ...` process (wall clock from
before the process is started until it has exited: interpreter start-up, imports, the work and
the exit), after one untimed warm-up run that fills the page cache, as on a machine where the
command was run before. Commands:

    composer --help
    composer loop groove.wav -o loop.wav      20 s rendered WAV, tempo unknown (beat tracking)
    composer generate --bars 8 -o x.mid       the default model (lstm)
    composer play --minutes 0.05 -o x.wav     also its own "first sound after X s"

The 20 s WAV is a drum, bass and chord pattern at 120 qpm made with tests/factories.py and
rendered with `composer render`. --root times another checkout's `composer` with this
venv's Python (e.g. the commit before a change: `git worktree add /tmp/before REV`).
Results go to benchmarks/results/startup.json under --label (other labels kept, so a
"before" and an "after" sit side by side); a Markdown table is printed.
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
sys.path.insert(0, str(ROOT / "tests"))

SR = 44100
SECONDS = 20.0
QPM = 120.0


def groove_midi(path: Path) -> Path:
    """Ten bars at 120 qpm: kick, snare and hats, a bass line on eighths, a chord a bar."""
    from factories import drum_and_bass

    return drum_and_bass(path, QPM, int(SECONDS / (4 * 60.0 / QPM)))


def make_wav(root: Path, folder: Path) -> Path:
    """The 20 s WAV: the groove rendered by `composer render` (of `root`), cut to 20 s."""
    import soundfile

    mid = groove_midi(folder / "groove.mid")
    rendered = folder / "rendered.wav"
    subprocess.run([sys.executable, "-m", "composer", "render", str(mid), "-o", str(rendered)],
                   check=True, capture_output=True, cwd=root)
    audio, rate = soundfile.read(str(rendered), dtype="float32", always_2d=True)
    wav = folder / "groove.wav"
    soundfile.write(str(wav), audio[:int(SECONDS * rate)], rate, subtype="PCM_16")
    return wav


def commands(folder: Path, wav: Path) -> dict[str, list[str]]:
    return {
        "composer --help": ["--help"],
        "composer loop groove.wav -o loop.wav (20 s, beat tracking)":
            ["loop", str(wav), "-o", str(folder / "loop.wav")],
        "composer generate --bars 8 -o x.mid": ["generate", "--bars", "8", "-o",
                                                 str(folder / "x.mid")],
        "composer play --minutes 0.05 -o x.wav": ["play", "--minutes", "0.05", "-o",
                                                   str(folder / "x.wav")],
    }


def time_command(root: Path, args: list[str], runs: int) -> dict:
    argv = [sys.executable, "-m", "composer", *args]
    subprocess.run(argv, check=True, capture_output=True, cwd=root)  # warm-up, not counted
    walls, first = [], []
    for _ in range(runs):
        start = time.perf_counter()
        result = subprocess.run(argv, check=True, capture_output=True, text=True, cwd=root)
        walls.append(time.perf_counter() - start)
        found = re.search(r"first sound after ([\d.]+) s", result.stdout)
        if found:
            first.append(float(found[1]))
    row = {"argv": args, "wall_s": walls, "median_s": statistics.median(walls),
           "min_s": min(walls), "max_s": max(walls)}
    if first:
        row.update(first_sound_s=first, first_sound_median_s=statistics.median(first))
    return row


def table(results: dict[str, dict]) -> str:
    labels = list(results)
    names = list(next(iter(results.values()))["commands"])
    head = "| command | " + " | ".join(f"{label}: median (min-max)" for label in labels) + " |"
    lines = [head, "|---|" + "---:|" * len(labels)]
    for name in names:
        cells = []
        for label in labels:
            row = results[label]["commands"].get(name)
            if row is None:
                cells.append("")
                continue
            cell = f"{row['median_s']:.2f} s ({row['min_s']:.2f}-{row['max_s']:.2f})"
            if "first_sound_median_s" in row:
                cell += f", first sound {row['first_sound_median_s']:.2f} s"
            cells.append(cell)
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--root", type=Path, default=ROOT,
                        help="checkout whose composer is timed (default: this one)")
    parser.add_argument("--label", default="current", help="name of this run in the results")
    parser.add_argument("--only", default="", help="time only commands containing this text")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/startup.json")
    args = parser.parse_args()

    root = args.root.resolve()
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        wav = make_wav(root, folder)
        load_before = os.getloadavg()
        for name, argv in commands(folder, wav).items():
            if args.only not in name:
                continue
            rows[name] = time_command(root, argv, args.runs)
            r = rows[name]
            print(f"{name}: median {r['median_s']:.2f} s, min {r['min_s']:.2f} s, "
                  f"max {r['max_s']:.2f} s", flush=True)
    stored = json.loads(args.out.read_text()) if args.out.exists() else {}
    stored = stored if "runs" in stored else {"runs": {}}
    stored["runs"][args.label] = {
        "root": str(root), "runs_each": args.runs, "commands": rows,
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "cpus": os.cpu_count(), "load_before": load_before,
                    "load_after": os.getloadavg()},
        "when": time.strftime("%Y-%m-%d %H:%M:%S")}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(stored, indent=1) + "\n")
    print(f"\n{os.cpu_count()} cores, load average {load_before[0]:.1f} before / "
          f"{os.getloadavg()[0]:.1f} after; {args.runs} runs each after one warm-up\n")
    print(table(stored["runs"]))


if __name__ == "__main__":
    main()
