"""Crawl throughput of `composer scrape` against a local site, throttling off.

    .venv/bin/python benchmarks/scrape_throughput.py [--runs 3] [--pages 40] [--files-per-page 10]

The site, served from memory by a threaded http.server on 127.0.0.1, has --pages pages linked
from an index, each linking --files-per-page distinct MIDI files (real Bach chorales from
music21's corpus, each copy made unique by a track-name event), so every file is downloaded,
header-checked, parsed by mido, hashed and written. Timed, median of --runs, each into a fresh
folder:
  1. `composer scrape URL -o DIR --no-throttle --concurrency 8` (the figure);
  2. references: the same URLs fetched one after another with urllib, bodies discarded (the
     HTTP transfers alone), and the crawler's per-file check (MThd header and a full mido
     parse) run over the same files in one process (the CPU floor of checking);
  3. `composer scrape` with its polite defaults (AutoThrottle, 4 per domain) on one page of
     the site, to show what politeness costs on a fast server.
Rates use the crawl time the command reports (process start-up excluded; it is shown apart).
Raw numbers in benchmarks/results/scrape.json.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def make_site(pages: int, per_page: int) -> dict[str, tuple[str, bytes]]:
    import mido

    from training import music21_corpus

    pieces = music21_corpus.list_pieces("bach", 8)
    for piece in pieces:
        if not music21_corpus.is_converted(piece):
            music21_corpus.convert_piece(piece)
    tunes = [Path(p.midi_path).read_bytes() for p in music21_corpus.iter_converted(pieces)]
    site: dict[str, tuple[str, bytes]] = {
        "/robots.txt": ("text/plain", b"User-agent: *\nAllow: /\n")}
    links = []
    for page in range(pages):
        items = []
        for i in range(per_page):
            midi = mido.MidiFile(file=io.BytesIO(tunes[(page * per_page + i) % len(tunes)]))
            midi.tracks[0].insert(0, mido.MetaMessage("track_name", name=f"copy {page}-{i}"))
            buffer = io.BytesIO()
            midi.save(file=buffer)
            path = f"/p{page}/tune{i}.mid"
            site[path] = ("audio/midi", buffer.getvalue())
            items.append(f'<li><a href="{path}">{i}</a></li>')
        site[f"/p{page}/"] = ("text/html", f"<html><body><ul>{''.join(items)}</ul></body></html>"
                              .encode())
        links.append(f'<li><a href="/p{page}/">page {page}</a></li>')
    site["/"] = ("text/html", f"<html><body><ul>{''.join(links)}</ul></body></html>".encode())
    return site


def serve(site: dict[str, tuple[str, bytes]]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):
            ctype, body = site.get(self.path, ("text/html", b"<html>404</html>"))
            self.send_response(200 if self.path in site else 404)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def scrape(url: str, out: Path, *extra: str) -> dict:
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "composer", "scrape", url, "-o", str(out),
                             *extra], capture_output=True, text=True, cwd=ROOT, check=True)
    wall = time.perf_counter() - started
    line = result.stdout.splitlines()[0]
    numbers = dict(re.findall(r"(pages|files found|downloaded|saved|duplicates) (\d+)", line))
    crawl = float(re.search(r" in ([\d.]+) s", line).group(1))
    return {"pages": int(numbers["pages"]), "saved": int(numbers["saved"]),
            "downloaded": int(numbers["downloaded"]), "crawl_s": crawl, "command_s": wall}


def sequential(base: str, paths: list[str]) -> float:
    started = time.perf_counter()
    for path in paths:
        with urllib.request.urlopen(base + path) as response:
            response.read()
    return time.perf_counter() - started


def check_only(site: dict[str, tuple[str, bytes]]) -> float:
    """The per-file check the crawler runs (MThd header, full mido parse), one core, no I/O."""
    from scraper.checks import check_midi

    bodies = [body for path, (_, body) in site.items() if path.endswith(".mid")]
    started = time.perf_counter()
    assert all(check_midi(body, 1 << 25).ok for body in bodies)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pages", type=int, default=40)
    parser.add_argument("--files-per-page", type=int, default=10)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/scrape.json")
    args = parser.parse_args()

    site = make_site(args.pages, args.files_per_page)
    server = serve(site)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    pages, files = args.pages + 1, args.pages * args.files_per_page
    fast, polite, reference, checks = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(args.runs):
            fast.append(scrape(base + "/", Path(tmp) / f"fast{run}", "--no-throttle",
                               "--concurrency", "8"))
            assert fast[-1]["saved"] == files and fast[-1]["pages"] == pages, fast[-1]
            reference.append(sequential(base, ["/", *[p for p in site if p != "/robots.txt"
                                                      and p != "/"]]))
            checks.append(check_only(site))
            print(f"run {run + 1}: scrape {fast[-1]['crawl_s']:.2f} s, "
                  f"sequential urllib {reference[-1]:.2f} s", flush=True)
        for run in range(args.runs):  # politeness, on one page of the site
            polite.append(scrape(base + "/p0/", Path(tmp) / f"polite{run}"))
    server.shutdown()

    def rate(runs: list[dict], key: str) -> float:
        return statistics.median(r[key] / r["crawl_s"] for r in runs)

    summary = {
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "cpus": os.cpu_count(), "load_average": os.getloadavg()},
        "site": {"pages": pages, "files": files,
                 "bytes": sum(len(b) for p, (_, b) in site.items() if p.endswith(".mid"))},
        "scrape_no_throttle": {"runs": fast, "pages_per_s": rate(fast, "pages"),
                               "files_per_s": rate(fast, "saved"),
                               "median_crawl_s": statistics.median(r["crawl_s"] for r in fast),
                               "median_command_s": statistics.median(r["command_s"]
                                                                     for r in fast)},
        "reference_sequential_urllib": {
            "runs_s": reference, "median_s": statistics.median(reference),
            "requests_per_s": (pages + files) / statistics.median(reference)},
        "reference_check_only": {
            "runs_s": checks, "median_s": statistics.median(checks),
            "files_per_s": files / statistics.median(checks)},
        "scrape_polite_defaults": {"runs": polite, "files_per_s": rate(polite, "saved"),
                                   "pages_per_s": rate(polite, "pages")},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=1) + "\n")
    f, r, p, c = (summary["scrape_no_throttle"], summary["reference_sequential_urllib"],
                  summary["scrape_polite_defaults"], summary["reference_check_only"])
    requests_per_s = (pages + files) / f["median_crawl_s"]
    print(f"site: {pages} pages, {files} MIDI files, {summary['site']['bytes']:,} bytes")
    print("| run | pages/s | files/s | requests/s | vs transfers alone | vs checks alone |")
    print("|---|---:|---:|---:|---:|---:|")
    print(f"| `composer scrape --no-throttle --concurrency 8` | {f['pages_per_s']:.1f} | "
          f"{f['files_per_s']:.1f} | {requests_per_s:.1f} | "
          f"{requests_per_s / r['requests_per_s']:.2f} | "
          f"{f['files_per_s'] / c['files_per_s']:.2f} |")
    print(f"| reference: sequential urllib GETs, no checks or writes | | | "
          f"{r['requests_per_s']:.1f} | 1.00 | |")
    print(f"| reference: the MIDI check alone (mido parse), one core | | "
          f"{c['files_per_s']:.1f} | | | 1.00 |")
    print(f"| `composer scrape` polite defaults (1 page, {args.files_per_page} files) | "
          f"{p['pages_per_s']:.2f} | {p['files_per_s']:.2f} | | |")
    print(f"command wall time incl. start-up (median): {f['median_command_s']:.2f} s for "
          f"{f['median_crawl_s']:.2f} s of crawling")


if __name__ == "__main__":
    main()
