"""How long until music: `composer generate` start-up, and 8 bars once the model is loaded.

    .venv/bin/python benchmarks/generate_latency.py [--runs 5] [--checkpoint models/lstm]

Measures, median of --runs each: (1) the whole `composer generate --bars 8` command as a user
runs it (process start, imports, checkpoint load, sampling, MIDI write); (2) inside one process,
8 bars at 120 qpm from an already loaded model (what the continuous player pays per phrase);
(3) `import tensorflow` alone, the cost the NumPy runtime avoids. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def timed(fn, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--checkpoint", type=Path, default=ROOT / "models/lstm")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/generate.json")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "composer", "generate", "--bars", "8", "--seed", "0",
                   "--checkpoint", str(args.checkpoint), "-o", f"{tmp}/x.mid"]
        cli = timed(lambda: subprocess.run(command, check=True, capture_output=True, cwd=ROOT),
                    args.runs)

    from composer.generate import LstmGenerator, bars_to_seconds

    generator = LstmGenerator(args.checkpoint, seed=0)
    events = []

    def phrase():
        seq = generator.phrase(bars_to_seconds(8))
        events.append(len(seq.notes))

    in_process = timed(phrase, args.runs * 2)
    tf_import = timed(lambda: subprocess.run([sys.executable, "-c", "import tensorflow"],
                                             check=True, capture_output=True), args.runs)
    rows = [("`composer generate --bars 8` end to end", cli),
            ("8 bars from a loaded model (per phrase)", in_process),
            ("`import tensorflow` alone (avoided)", tf_import)]
    results = {name: {"runs": t, "median_s": statistics.median(t)} for name, t in rows}
    results["notes_per_8_bars_median"] = statistics.median(events)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print("| what | median | runs (s) |")
    print("|---|---:|---|")
    for name, t in rows:
        print(f"| {name} | {statistics.median(t):.2f} s | {', '.join(f'{x:.2f}' for x in t)} |")


if __name__ == "__main__":
    main()
