"""Hostile MIDI through every command's reading path: tracebacks, disagreements, time, memory.

    .venv/bin/python benchmarks/fuzz.py [--count 10000] [--seed 0]

The files are tests/hostile_midi.py's corpus: every case issue 14 found (key signatures mido
cannot spell, short metas, SMPTE offsets, unknown chunks, a 3 MB text, track counts of 32,768
and more, a 59-minute note in 60 bytes, a 2,048-note chord, RMID), then seeded mutations of
small real songs (byte flips, truncations, chunk lengths, absurd tempi, SMPTE division, sysex
garbage, running-status abuse, non-MIDI). Each goes through every command's reading path in
one process, as tests/test_fuzz_commands.py runs a few hundred (tests/command_readers.py:
corpus build's ingest, transpose's whole body, render's and loop's reading, generate --primer
up to priming the lstm, interpolate's song reading, melody's backing analysis).

Reported: files, commands, runs (file x command), tracebacks (any exception that is not a
user error; must be 0), disagreements with the corpus reader (one acceptance; must be 0), the
reader's verdicts, the slowest run (file, command, seconds), peak memory of the process
(ru_maxrss) and time. Raw numbers in benchmarks/results/fuzz.json; prints Markdown.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
import traceback
import warnings
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.command_readers import COMMANDS, Readers, disagreement, reader_verdict  # noqa: E402
from tests.hostile_midi import corpus  # noqa: E402


def run(count: int, seed: int) -> dict:
    from composer.cli import _user_errors

    started = time.perf_counter()
    files = corpus(count, seed)
    made = time.perf_counter() - started
    user_errors = _user_errors()
    per_command = Counter()
    verdicts, refusals = Counter(), Counter()
    tracebacks, disagreements = [], []
    slowest = ("", "", 0.0)
    with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        readers = Readers(Path(folder))
        loaded = time.perf_counter()
        for i, (name, data) in enumerate(files):
            path = Path(folder) / f"{i:05d}-{name}.mid"
            path.write_bytes(data)
            _, verdict = reader_verdict(data)
            verdicts["accepted" if verdict is None else verdict.reason] += 1
            for command in COMMANDS:
                message, crashed, at = None, False, time.perf_counter()
                try:
                    readers.run(command, path)
                except user_errors as exc:
                    message = str(exc)
                except Exception:  # noqa: BLE001 - counted: the number that must be 0
                    crashed = True
                    tracebacks.append({"file": name, "command": command,
                                       "traceback": traceback.format_exc(limit=-4)})
                seconds = time.perf_counter() - at
                per_command[command] += seconds
                if seconds > slowest[2]:
                    slowest = (name, command, seconds)
                if message is not None and verdict is None:
                    refusals[command] += 1
                why = disagreement(command, str(path), verdict, message)
                if why and not crashed:
                    disagreements.append({"file": name, "command": command, "why": why,
                                          "message": message,
                                          "reader": verdict and verdict.detail})
            path.unlink()
            if (i + 1) % 1000 == 0:
                print(f"{i + 1} files, {len(tracebacks)} tracebacks, "
                      f"{time.perf_counter() - loaded:.0f} s", file=sys.stderr)
    seconds = time.perf_counter() - loaded
    return {
        "files": len(files), "seed": seed, "commands": list(COMMANDS),
        "runs": len(files) * len(COMMANDS), "tracebacks": len(tracebacks),
        "disagreements": len(disagreements), "reader_verdicts": dict(verdicts.most_common()),
        "own_refusals_of_accepted_files": dict(refusals),
        "slowest": {"file": slowest[0], "command": slowest[1], "seconds": round(slowest[2], 3)},
        "peak_memory_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "seconds": round(seconds, 1), "seconds_making_files": round(made, 1),
        "seconds_per_command": {k: round(v, 1) for k, v in per_command.items()},
        "traceback_examples": tracebacks[:20], "disagreement_examples": disagreements[:20],
    }


def table(report: dict) -> str:
    slowest = report["slowest"]
    rows = [("files", f"{report['files']:,} (seed {report['seed']})"),
            ("commands", ", ".join(report["commands"])),
            ("runs (file x command)", f"{report['runs']:,}"),
            ("tracebacks", str(report["tracebacks"])),
            ("disagreements with the corpus reader", str(report["disagreements"])),
            ("reader: accepted / refused", f"{report['reader_verdicts'].get('accepted', 0):,} / "
             f"{report['files'] - report['reader_verdicts'].get('accepted', 0):,}"),
            ("slowest run", f"{slowest['command']} on {slowest['file']}: "
                            f"{slowest['seconds']:.2f} s"),
            ("peak memory (ru_maxrss)", f"{report['peak_memory_mb']:,} MB"),
            ("time", f"{report['seconds']:.0f} s ("
             + ", ".join(f"{k} {v:g}" for k, v in report["seconds_per_command"].items())
             + ")")]
    return "\n".join(["| | |", "|---|---|"] + [f"| {k} | {v} |" for k, v in rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000, help="files")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/fuzz.json")
    args = parser.parse_args()

    report = run(args.count, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(table(report))
    print(json.dumps(report["reader_verdicts"]))
    for example in report["traceback_examples"][:3] + report["disagreement_examples"][:3]:
        print(json.dumps(example))


if __name__ == "__main__":
    main()
