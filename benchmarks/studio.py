"""The web studio under load, on loopback: fusion jobs a minute with one and two workers, and
the latency of GET /jobs/{id} under 50 concurrent clients.

    .venv/bin/python benchmarks/studio.py [--songs A.mid B.mid] [--jobs 16] [--clients 50]
        [--requests 40]

Each run starts `composer serve --no-worker` and N `composer worker` processes in a new data
folder, uploads two songs (default: two music21 chorales), queues --jobs VAE fusions
(`steps` 8, rendered to WAV, as the page asks) and times from the first POST to the last
job done, from outside; --runs times each, the median reported. Then 50 clients poll one
finished job: with wrk (Debian's `wrk`, a C load generator: `-t2 -c50 -d10s --latency`)
where it is installed, and with --clients Python threads polling --requests times each (the
client then shares the 2 cores and the GIL with itself; its figures are an upper bound).
Raw numbers in benchmarks/results/studio.json; prints Markdown.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import studio_client as sc  # noqa: E402


def default_songs() -> list[Path]:
    from training import music21_corpus

    pieces = music21_corpus.list_pieces("bach", 8)
    for piece in pieces:
        if not music21_corpus.is_converted(piece):
            music21_corpus.convert_piece(piece)
    paths = [Path(p.midi_path) for p in music21_corpus.iter_converted(pieces)]
    return [paths[1], paths[6]]


def fusion_rate(songs: list[Path], workers: int, jobs: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        started = time.perf_counter()
        server, client = sc.serve(data, worker=False,
                                  env={"COMPOSER_STUDIO_JOBS_PER_MINUTE": "100000"})
        serve_s = time.perf_counter() - started  # process start to the first answer
        procs = [sc.start(["worker"], data) for _ in range(workers)]
        try:
            for p in procs:
                sc.wait_for_line(p, "ready")
            ids = [client.upload(p.name, p.read_bytes()).json()["file_id"] for p in songs]
            started = time.perf_counter()
            warm = client.post_json("/generate/vae", {"file_ids": ids, "steps": 8}).json()
            client.wait(warm["job_id"], timeout=300)  # models loaded in one worker at least
            first_s = time.perf_counter() - started
            time.sleep(1.0)
            started = time.perf_counter()
            queued = [client.post_json("/generate/vae", {"file_ids": ids, "steps": 8}
                                       ).json()["job_id"] for _ in range(jobs)]
            done = [client.wait(j, timeout=900) for j in queued]
            seconds = time.perf_counter() - started
            failed = [j for j in done if j["status"] != "done"]
            return {"workers": workers, "jobs": jobs, "seconds": seconds, "serve_s": serve_s,
                    "first_job_s": first_s,
                    "jobs_per_minute": 60 * jobs / seconds, "failed": len(failed),
                    "job": queued[0]}
        finally:
            for p in procs:
                sc.stop(p)
            sc.stop(server)


@contextlib.contextmanager
def finished_job(songs: list[Path]):
    """A server with one finished fusion: (client, job id) to poll."""
    with tempfile.TemporaryDirectory() as tmp:
        server, client = sc.serve(Path(tmp), worker=True)
        try:
            ids = [client.upload(p.name, p.read_bytes()).json()["file_id"] for p in songs]
            job = client.post_json("/generate/vae", {"file_ids": ids, "steps": 3}).json()
            client.wait(job["job_id"], timeout=300)
            yield client, job["job_id"]
        finally:
            sc.stop(server)


def poll_latency(songs: list[Path], clients: int, requests: int) -> dict:
    times: list[float] = []
    errors: list[int] = []
    lock = threading.Lock()
    with finished_job(songs) as (client, job_id):

        def poll():
            local, mine = sc.Client(client.base), []
            for _ in range(requests):
                t = time.perf_counter()
                response = local.get(f"/jobs/{job_id}")
                mine.append(time.perf_counter() - t)
                if response.status != 200:
                    errors.append(response.status)
            with lock:
                times.extend(mine)

        threads = [threading.Thread(target=poll) for _ in range(clients)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - started
    times.sort()
    return {"clients": clients, "requests": len(times), "errors": len(errors),
            "median_ms": 1000 * statistics.median(times),
            "p95_ms": 1000 * times[int(0.95 * len(times))],
            "max_ms": 1000 * times[-1], "requests_per_s": len(times) / wall}


def wrk_latency(songs: list[Path], clients: int, seconds: int = 10) -> dict | None:
    import re
    import shutil
    import subprocess

    if shutil.which("wrk") is None:
        return None
    with finished_job(songs) as (client, job_id):
        out = subprocess.run(["wrk", "-t2", f"-c{clients}", f"-d{seconds}s", "--latency",
                              f"{client.base}/jobs/{job_id}"],
                             capture_output=True, text=True, check=True).stdout

    def ms(label: str) -> float:
        value, unit = re.search(rf"{label}\s+([\d.]+)(us|ms|s)\b", out).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"clients": clients, "seconds": seconds, "median_ms": ms("50%"),
            "p90_ms": ms("90%"), "p99_ms": ms("99%"),
            "requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "errors": int(errors.group(1)) if errors else 0, "output": out}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--songs", nargs=2, type=Path)
    parser.add_argument("--jobs", type=int, default=16)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/studio.json")
    args = parser.parse_args()
    songs = args.songs or default_songs()
    rates, runs = [], {}
    for workers in (1, 2):
        runs[workers] = [fusion_rate(songs, workers, args.jobs) for _ in range(args.runs)]
        rates.append(sorted(runs[workers], key=lambda r: r["jobs_per_minute"])[args.runs // 2])
        print(f"{workers} worker(s): " + ", ".join(
            f"{r['jobs_per_minute']:.1f}" for r in runs[workers]) + " fusions a minute",
            flush=True)
    latency = poll_latency(songs, args.clients, args.requests)
    wrk = wrk_latency(songs, args.clients)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"songs": [s.name for s in songs], "fusion": rates,
                                    "runs": runs, "poll": latency, "wrk": wrk},
                                   indent=1) + "\n")
    print(f"\n| workers | fusions (8 steps, rendered) | seconds (median of {args.runs}) | "
          "fusions a minute | ratio |")
    print("|---:|---:|---:|---:|---:|")
    for r in rates:
        print(f"| {r['workers']} | {r['jobs']} | {r['seconds']:.1f} | "
              f"{r['jobs_per_minute']:.1f} | {r['jobs_per_minute'] / rates[0]['jobs_per_minute']:.2f} |")
    print(f"\n`composer serve` start to its first answer: {rates[0]['serve_s']:.2f} s; the first "
          f"fusion on a new worker (models loaded): {rates[0]['first_job_s']:.2f} s, POST to done "
          f"with the client polling every 0.2 s")
    if wrk:
        print(f"\nGET /jobs/{{id}}, wrk, {wrk['clients']} connections for {wrk['seconds']} s: "
              f"median {wrk['median_ms']:.1f} ms, p90 {wrk['p90_ms']:.1f} ms, p99 "
              f"{wrk['p99_ms']:.1f} ms, {wrk['requests_per_s']:.0f} requests/s, "
              f"{wrk['errors']} errors")
    print(f"\nGET /jobs/{{id}}, {latency['clients']} Python threads, {latency['requests']} "
          f"requests: median {latency['median_ms']:.1f} ms, p95 {latency['p95_ms']:.1f} ms, "
          f"max {latency['max_ms']:.1f} ms, {latency['requests_per_s']:.0f} requests/s, "
          f"{latency['errors']} errors")


if __name__ == "__main__":
    main()
