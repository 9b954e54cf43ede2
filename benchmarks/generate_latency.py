"""How long until music: `composer generate` start-up, and 8 bars once a model is loaded.

    .venv/bin/python benchmarks/generate_latency.py [--runs 5]

For each shipped model, median of --runs each: (1) the whole `composer generate --bars 8`
command as a user runs it (process start, imports, checkpoint load, generation, MIDI write);
(2) inside one process, 8 bars at 120 qpm from an already loaded model (what the continuous
player pays per phrase; goal: under 1 s). Also `import tensorflow` alone, the start-up cost
the NumPy and LiteRT runtimes avoid. Prints a Markdown table; raw numbers in
benchmarks/results/generate.json.
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


def phrase_function(model: str):
    """A callable making 8 bars from an already loaded model."""
    from composer.generators import load

    generator = load(model, seed=0)
    return lambda: generator.phrase(8, 120.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/generate.json")
    args = parser.parse_args()

    from composer.generators import GENERATORS

    models = list(GENERATORS)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for model in models:
            command = [sys.executable, "-m", "composer", "generate", "--model", model,
                       "--bars", "8", "--seed", "0", "-o", f"{tmp}/x.mid"]
            cli = timed(lambda command=command: subprocess.run(
                command, check=True, capture_output=True, cwd=ROOT), args.runs)
            fn = phrase_function(model)
            fn()  # warm: first-call allocations
            warm = timed(fn, args.runs * 2)
            results[model] = {"cli_runs_s": cli, "cli_median_s": statistics.median(cli),
                              "phrase_runs_s": warm, "phrase_median_s": statistics.median(warm)}
            print(f"{model}: command {statistics.median(cli):.2f} s, "
                  f"8 bars loaded {statistics.median(warm):.3f} s", flush=True)
    tf = timed(lambda: subprocess.run([sys.executable, "-c", "import tensorflow"], check=True,
                                      capture_output=True), args.runs)
    results["import_tensorflow"] = {"runs_s": tf, "median_s": statistics.median(tf)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print("| model | `composer generate --bars 8` (median) | 8 bars from a loaded model (median) |")
    print("|---|---:|---:|")
    for model in models:
        r = results[model]
        print(f"| {model} | {r['cli_median_s']:.2f} s | {r['phrase_median_s']:.3f} s |")
    print(f"| (`import tensorflow` alone) | {statistics.median(tf):.2f} s | |")


if __name__ == "__main__":
    main()
