"""`composer scrape` against a small, hostile web site served on loopback.

The site serves real chorale MIDI files (converted from music21's corpus) and every way a
crawl goes wrong: a robots.txt rule, a redirect loop, an endpoint slower than the timeout, a 500
before success, a file larger than the limit streamed without a length, an HTML page named
.mid, a zip bomb, a zip with ../ and absolute entries, the same file under two URLs. The tests
read what the crawler wrote and the server's own request log.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import signal
import sqlite3
import struct
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import factories as f
import mido
import pytest

ESCAPE = f"composer-scraper-escape-{uuid.uuid4().hex[:8]}"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _zip(members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name), data, compress_type=compression)
    return buffer.getvalue()


def _page(*links: str) -> bytes:
    body = "".join(f'<li><a href="{href}">{href}</a></li>' for href in links)
    return f"<!DOCTYPE html><html><body><ul>{body}</ul></body></html>".encode()


class Site:
    """Routes, the request log, and the tricky endpoints' behaviour."""

    def __init__(self, tunes: list[bytes]):
        self.tunes = tunes
        self.log: list[tuple[str, str]] = []  # (method, path) in arrival order
        self.sent: Counter = Counter()  # path -> body bytes written
        self.lock = threading.Lock()
        self.flaky_calls = 0
        self.delay: dict[str, float] = {}
        self.agents: set[str] = set()
        self.times: dict[str, list[float]] = {}
        evil = {"../../" + ESCAPE + "-1.mid": tunes[0], f"/tmp/{ESCAPE}-2.mid": tunes[0],
                "..\\..\\" + ESCAPE + "-3.mid": tunes[0], "good/inner.mid": tunes[5]}
        self.static: dict[str, tuple[str, bytes]] = {
            "/robots.txt": ("text/plain", b"User-agent: *\nDisallow: /private/\n"),
            "/": ("text/html", _page(
                "/tunes/index.html", "/a/bwv.mid", "/b/copy.mid", "/private/secret.mid",
                "/private/index.html", "/loop/a.mid", "/slow.mid", "/flaky.mid", "/huge.mid",
                "/fake.mid", "/notmidi.mid", "/truncated.mid", "/bomb.zip", "/evil.zip",
                "/pack.zip", "http://offsite.invalid/x.mid", "/weird/%0A..%5C..%5Cname%01.mid",
                "mailto:someone@example.com", "#top")),
            "/tunes/index.html": ("text/html", _page("t1.mid", "t2.midi", "more.html")),
            "/tunes/more.html": ("text/html", _page("deep.mid")),
            "/tunes/t1.mid": ("audio/midi", tunes[1]),
            "/tunes/t2.midi": ("audio/midi", tunes[2]),
            "/tunes/deep.mid": ("audio/midi", tunes[3]),
            "/a/bwv.mid": ("audio/midi", tunes[0]),
            "/b/copy.mid": ("application/octet-stream", tunes[0]),
            "/private/secret.mid": ("audio/midi", tunes[3]),
            "/private/index.html": ("text/html", _page("secret.mid")),
            "/fake.mid": ("text/html", b"<!DOCTYPE html><html><body>Not found</body></html>"),
            "/notmidi.mid": ("audio/midi", b"RIFF\x00\x10\x00\x00WAVEfmt " + bytes(200)),
            "/truncated.mid": ("audio/midi", tunes[4][: len(tunes[4]) // 2]),
            "/bomb.zip": ("application/zip", _zip({"bomb/boom.mid": b"MThd" + bytes(40_000_000)})),
            "/evil.zip": ("application/zip", _zip(evil)),
            "/pack.zip": ("application/zip", _zip({"pack/t1.mid": tunes[1], "pack/new.mid": tunes[6],
                                                   "pack/readme.txt": b"hello"})),
            "/weird/\n..\\..\\name\x01.mid": ("audio/midi", tunes[7]),
        }

    def requests_for(self, path: str) -> int:
        return sum(1 for _, p in self.log if p == path)


def _handler(site: Site):
    from urllib.parse import unquote

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def _send(self, status: int, body: bytes, ctype: str = "text/html", headers=()):
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
                with site.lock:
                    site.sent[self.path] += len(body)

        def do_GET(self):
            path = unquote(self.path.split("?", 1)[0])
            with site.lock:
                site.log.append((self.command, path))
                site.agents.add(self.headers.get("User-Agent", ""))
                site.times.setdefault(path, []).append(time.monotonic())
            time.sleep(site.delay.get(path, 0.0))
            if path == "/loop/a.mid":
                return self._send(302, b"", headers=[("Location", "/loop/b.mid")])
            if path == "/loop/b.mid":
                return self._send(302, b"", headers=[("Location", "/loop/a.mid")])
            if path == "/slow.mid":
                end = time.monotonic() + 20
                while time.monotonic() < end and not site.stopping:
                    time.sleep(0.05)
                return self._send(200, site.tunes[3], "audio/midi")
            if path == "/flaky.mid":
                with site.lock:
                    site.flaky_calls += 1
                    first = site.flaky_calls == 1
                if first:
                    return self._send(500, b"<html>oops</html>", headers=[("Retry-After", "1")])
                return self._send(200, site.tunes[4], "audio/midi")
            if path == "/huge.mid":  # 64 MB with no Content-Length: only a byte count can stop it
                self.send_response(200)
                self.send_header("Content-Type", "audio/midi")
                self.send_header("Connection", "close")
                self.end_headers()
                chunk = b"MThd" + bytes(65_532)
                try:
                    for _ in range(1024):
                        self.wfile.write(chunk)
                        with site.lock:
                            site.sent[path] += len(chunk)
                except OSError:
                    pass
                self.close_connection = True
                return None
            if path in site.static:
                ctype, body = site.static[path]
                return self._send(200, body, ctype)
            if path.startswith("/many/"):
                return self._serve_many(path)
            return self._send(404, b"<html>404</html>")

        def _serve_many(self, path: str):
            if path == "/many/":
                return self._send(200, _page(*[f"f{i:02d}.mid" for i in range(len(site.tunes))]))
            index = int(path[len("/many/f"):-len(".mid")])
            return self._send(200, site.tunes[index], "audio/midi")

    return Handler


@pytest.fixture(scope="module")
def tunes(chorales) -> list[bytes]:
    return [p.read_bytes() for p in chorales[:8]]


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # clients that hang up (timeouts, aborted transfers) are the point of these tests


@contextlib.contextmanager
def _serving(site: Site, path: str = "/"):
    """The site on a loopback port (site.url set) until the block ends."""
    server = _QuietServer(("127.0.0.1", 0), _handler(site))
    site.stopping = False
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    site.url = f"http://127.0.0.1:{server.server_address[1]}{path}"
    try:
        yield site
    finally:
        site.stopping = True
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def site(tunes):
    with _serving(Site(tunes)) as site:
        yield site


FAST = ("--no-throttle", "--timeout", "1", "--retries", "1", "--retry-delay", "0.1")


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*")
            if p.is_file() and ".scrape" not in p.relative_to(root).parts}


def _manifest(out: Path) -> list[dict]:
    db = sqlite3.connect(out / ".scrape" / "manifest.sqlite")
    db.row_factory = sqlite3.Row
    rows = [dict(r) for r in db.execute("SELECT * FROM files")]
    db.close()
    return rows


@pytest.fixture(scope="module")
def crawl(site, tmp_path_factory):
    root = tmp_path_factory.mktemp("crawl")
    (root / "neighbour.txt").write_text("must stay alone")
    before = {p for p in root.parent.rglob("*")}
    out = root / "out"
    result = f.run_cli("scrape", site.url, "-o", out, "--max-depth", "1", "--max-bytes",
                       1_000_000, *FAST, timeout=120)
    log = list(site.log)
    return {"out": out, "root": root, "result": result, "log": log, "before": before}


def test_saves_each_real_midi_once(crawl, tunes):
    assert crawl["result"].returncode == 0, crawl["result"].stderr
    files = _tree(crawl["out"])
    # bwv (also served as /b/copy.mid), t1 (also inside pack.zip), t2, flaky after its 500,
    # the zip members good/inner.mid and pack/new.mid, and the file with the hostile name.
    expected = [tunes[i] for i in (0, 1, 2, 4, 5, 6, 7)]
    assert sorted(_sha(d) for d in files.values()) == sorted(_sha(d) for d in expected)
    for name, data in files.items():
        assert mido.MidiFile(file=io.BytesIO(data)).tracks  # every kept file parses
        assert name.endswith((".mid", ".midi"))
        assert all(ord(c) >= 32 for c in name) and "\\" not in name and ".." not in name.split("/")
        assert all(len(part.encode()) <= 120 for part in name.split("/"))
    assert not list(crawl["out"].rglob("*.tmp"))


def test_rejections_are_recorded_with_reasons(crawl):
    stdout = crawl["result"].stdout
    line = next(line for line in stdout.splitlines() if line.startswith("rejected by reason"))
    for reason, n in [("html", 1), ("zip-bomb", 1), ("unsafe-path", 3), ("too-large", 1),
                      ("timeout", 1), ("robots", 1), ("redirect-loop", 1), ("not-midi", 1),
                      ("unparseable", 1)]:
        assert f"{reason} {n}" in line, line
    assert "saved 7, duplicates 2" in stdout
    rows = _manifest(crawl["out"])
    by_url = {(r["url"].rsplit("/", 1)[-1], r["member"]): r for r in rows}
    assert by_url[("fake.mid", "")]["reason"] == "html"
    assert by_url[("huge.mid", "")]["status"] == "rejected"
    assert by_url[("slow.mid", "")]["status"] == "failed"  # retried by the next run
    assert by_url[("bomb.zip", "bomb/boom.mid")]["reason"] == "zip-bomb"
    assert by_url[("evil.zip", "good/inner.mid")]["status"] == "saved"
    assert by_url[("pack.zip", "")]["status"] == "archive"
    duplicates = [r for r in rows if r["status"] == "duplicate"]
    assert len(duplicates) == 2 and all((crawl["out"] / r["path"]).is_file() for r in duplicates)
    for row in rows:
        if row["status"] == "saved":
            data = (crawl["out"] / row["path"]).read_bytes()
            assert _sha(data) == row["sha256"] and len(data) == row["size"] and row["time"]


def test_politeness_and_limits_seen_from_the_server(crawl, site):
    paths = [p for _, p in crawl["log"]]
    assert paths[0] == "/robots.txt"
    assert len(site.agents) == 1 and next(iter(site.agents)).startswith("composer-scraper/")
    assert "/private/secret.mid" not in paths and "/private/index.html" not in paths
    assert "/tunes/deep.mid" not in paths and "/tunes/more.html" not in paths  # --max-depth 1
    assert paths.count("/slow.mid") == 2  # first try + --retries 1, each cut at --timeout 1
    assert paths.count("/flaky.mid") == 2  # 500, then the file
    first, second = site.times["/flaky.mid"][:2]
    assert second - first >= 0.95  # the 500 said Retry-After: 1 (--retry-delay is only 0.1)
    assert paths.count("/loop/a.mid") <= 11  # REDIRECT_MAX_TIMES ends the loop
    assert paths.count("/b/copy.mid") == 1 and paths.count("/a/bwv.mid") == 1
    # The 64 MB stream was cut soon after --max-bytes 1,000,000 (socket buffers hold a few MB).
    assert 1_000_000 < site.sent["/huge.mid"] < 12_000_000


def test_nothing_written_outside_the_output_folder(crawl):
    root, out = crawl["root"], crawl["out"]
    after = {p for p in root.parent.rglob("*")}
    assert out in after
    assert {p for p in after - crawl["before"] if not p.is_relative_to(out)} == set()
    assert (root / "neighbour.txt").read_text() == "must stay alone"
    assert not Path(f"/tmp/{ESCAPE}-2.mid").exists()
    assert not list(Path("/tmp").glob(f"{ESCAPE}*")) and not list(root.parent.rglob(f"{ESCAPE}*"))


def test_rerun_downloads_nothing_finished(crawl, site, tunes):
    start = len(site.log)
    index = site.static["/"]
    # New since the first run: a known file under a new URL, found by its content hash.
    site.static["/"] = (index[0], index[1].replace(b"</ul>", b'<li><a href="/late/again.mid">'
                                                          b"again</a></li></ul>"))
    site.static["/late/again.mid"] = ("audio/midi", tunes[2])
    try:
        result = f.run_cli("scrape", site.url, "-o", crawl["out"], "--max-depth", "1",
                           "--max-bytes", 1_000_000, *FAST, timeout=120)
    finally:
        site.static["/"] = index
    assert result.returncode == 0, result.stderr
    assert "downloaded 1, saved 0, duplicates 1" in result.stdout
    late = next(r for r in _manifest(crawl["out"]) if r["url"].endswith("/late/again.mid"))
    assert late["status"] == "duplicate" and late["sha256"] == _sha(tunes[2])
    again = Counter(p for _, p in site.log[start:])
    finished = ["/a/bwv.mid", "/b/copy.mid", "/tunes/t1.mid", "/tunes/t2.midi", "/flaky.mid",
                "/fake.mid", "/huge.mid", "/bomb.zip", "/evil.zip", "/pack.zip",
                "/notmidi.mid", "/truncated.mid", "/weird/\n..\\..\\name\x01.mid"]
    assert not [p for p in finished if again[p]], again
    assert again["/slow.mid"] == 2  # a timeout is not final: tried again
    assert "saved 0" in result.stdout and "already had 13" in result.stdout
    assert len(_tree(crawl["out"])) == 7


def test_output_folder_is_a_corpus_source(crawl, tmp_path):
    corpus = tmp_path / "corpus"
    result = f.run_cli("corpus", "build", f"dir:{crawl['out']}", "-o", corpus, "--split",
                       "50/25/25", "--workers", "1", timeout=300)
    assert result.returncode == 0, result.stderr
    assert "7 pieces" in result.stdout


def test_dry_run_lists_and_writes_nothing(site, tmp_path):
    out = tmp_path / "dry"
    result = f.run_cli("scrape", site.url, "-o", out, "--dry-run", "--max-depth", "2", *FAST)
    assert result.returncode == 0, result.stderr
    assert not out.exists()
    listed = {line for line in result.stdout.splitlines() if line.startswith("http")}
    assert site.url + "tunes/deep.mid" in listed and site.url + "pack.zip" in listed
    assert not any("offsite.invalid" in u for u in listed)
    assert "dry run: 17 files found" in result.stdout


def test_unreachable_start_page_fails_in_one_line(tmp_path):
    result = f.run_cli("scrape", "http://127.0.0.1:9/", "-o", tmp_path / "o", "--no-throttle",
                       "--retries", "0")
    assert result.returncode == 1
    assert "pages failed: connection-refused 1" in result.stdout
    assert result.stderr.strip().splitlines() == [
        "error: could not reach http://127.0.0.1:9/ (connection-refused 1); nothing was crawled"]


@pytest.fixture
def slow_site(tunes):
    """Twelve files, each answered after 0.15 s, to stop a crawl in the middle."""
    site = Site(tunes + [t + b"" for t in tunes[:4]])
    # Distinct bytes for the last four: append a track so no two files hash the same.
    extra = []
    for i, data in enumerate(tunes[:4]):
        midi = mido.MidiFile(file=io.BytesIO(data))
        midi.tracks[0].insert(0, mido.MetaMessage("track_name", name=f"copy {i}"))
        buffer = io.BytesIO()
        midi.save(file=buffer)
        extra.append(buffer.getvalue())
    site.tunes = tunes + extra
    site.delay = {f"/many/f{i:02d}.mid": 0.15 for i in range(12)}
    with _serving(site, "/many/") as site:
        yield site


def _start_crawl(url: str, out: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "composer", "scrape", url, "-o", str(out),
                             "--concurrency", "1", *FAST], cwd=f.ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _kept_files(out: Path) -> list[str]:
    """MIDI files under out, listed while a crawl runs (its job folder changes meanwhile)."""
    return [name for folder, dirs, files in os.walk(out) if ".scrape" not in folder
            for name in files if name.endswith(".mid")]


def _wait_for_files(out: Path, n: int, proc: subprocess.Popen, limit: float = 60) -> None:
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if len(_kept_files(out)) >= n:
            return
        if proc.poll() is not None:
            raise AssertionError(f"crawl ended early: {proc.communicate()}")
        time.sleep(0.05)
    raise AssertionError("crawl made no progress")


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_stopped_crawl_resumes_without_downloading_again(slow_site, tmp_path, sig):
    out = tmp_path / "out"
    proc = _start_crawl(slow_site.url, out)
    _wait_for_files(out, 3, proc)
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=60)
    if sig == signal.SIGINT:
        assert proc.returncode == 130 and "interrupted" in stderr
    else:
        assert proc.returncode == -signal.SIGKILL
    kept = {r["url"] for r in _manifest(out) if r["status"] == "saved"}
    assert 3 <= len(kept) < 12
    first_run = len(slow_site.log)

    result = f.run_cli("scrape", slow_site.url, "-o", out, "--concurrency", "1", *FAST,
                       timeout=120)
    assert result.returncode == 0, result.stderr
    if sig == signal.SIGINT:
        assert "(resumed)" in result.stdout  # Scrapy's job directory was picked up
    files = _tree(out)
    assert sorted(_sha(d) for d in files.values()) == sorted(_sha(t) for t in slow_site.tunes)
    rerun = Counter(p for _, p in slow_site.log[first_run:])
    for url in kept:
        path = url[url.index("/many/"):]
        assert rerun[path] == 0, f"{path} was downloaded again"
    overall = Counter(p for _, p in slow_site.log)
    assert all(overall[f"/many/f{i:02d}.mid"] <= 2 for i in range(12))  # at most one in flight


def test_bad_output_folder_is_a_one_line_error(tmp_path):
    (tmp_path / "file.txt").write_text("x")
    result = f.run_cli("scrape", "http://127.0.0.1:9/", "-o", tmp_path / "file.txt")
    assert result.returncode == 1
    assert result.stderr == f"error: {tmp_path / 'file.txt'}: exists and is not a folder\n"


@pytest.mark.parametrize("change, needle", [
    ({"start_urls": ["ftp://example.com/"]}, "ftp://example.com/: not an http(s) URL"),
    ({"start_urls": []}, "give at least one start URL"),
    ({"max_depth": -1}, "--max-depth -1"),
    ({"max_bytes": 0}, "--max-bytes 0: give 1 or more"),
    ({"timeout": 0.0}, "--timeout 0: give a positive"),
])
def test_bad_options_are_refused_before_crawling(tmp_path, change, needle):
    from scraper.crawler import CrawlError, CrawlOptions, run_crawl

    options = CrawlOptions(start_urls=["http://127.0.0.1:9/"], out_dir=tmp_path / "o")
    for key, value in change.items():
        setattr(options, key, value)
    with pytest.raises(CrawlError, match=needle.replace("(", "\\(").replace(")", "\\)")):
        run_crawl(options)
    assert not (tmp_path / "o").exists()


def test_max_files_stops_and_a_larger_limit_continues(slow_site, tmp_path):
    slow_site.delay = {}
    out = tmp_path / "out"
    result = f.run_cli("scrape", slow_site.url, "-o", out, "--max-files", "5", *FAST)
    assert result.returncode == 0, result.stderr
    assert "stopped at --max-files 5" in result.stdout and len(_tree(out)) == 5
    first = {r["url"][r["url"].index("/many/"):] for r in _manifest(out) if r["status"] == "saved"}
    start = len(slow_site.log)
    result = f.run_cli("scrape", slow_site.url, "-o", out, "--max-files", "8", *FAST)
    assert result.returncode == 0, result.stderr
    assert len(_tree(out)) == 8 and "saved 3" in result.stdout
    assert not first & {p for _, p in slow_site.log[start:]}  # kept files not fetched again


# --- the pure parts, on inputs too costly to serve -----------------------------------

def test_zip_limits_stop_bombs_before_inflating():
    from scraper.archives import ArchiveRejected, ZipLimits, read_zip_midis

    many = _zip({f"t{i}.mid": b"MThd" for i in range(6)})
    with pytest.raises(ArchiveRejected, match="6 entries"):
        read_zip_midis(many, ZipLimits(max_entries=5))
    big = _zip({"a.mid": bytes(3000), "b.mid": bytes(3000)})
    with pytest.raises(ArchiveRejected, match="declares 6,000 bytes"):
        read_zip_midis(big, ZipLimits(max_total_bytes=5000, max_ratio=1e9))
    one = read_zip_midis(big, ZipLimits(max_member_bytes=2000, max_ratio=1e9))
    assert [(m.name, m.reason) for m in one] == [("a.mid", "too-large"), ("b.mid", "too-large")]
    bomb = read_zip_midis(big, ZipLimits(max_ratio=10))
    assert {m.reason for m in bomb} == {"zip-bomb"}
    with pytest.raises(ArchiveRejected) as caught:
        read_zip_midis(b"PK\x03\x04 truncated")
    assert caught.value.reason == "bad-zip"


@pytest.mark.parametrize("raw, expected", [
    ("tune.mid", "tune.mid"),
    ("../../etc/passwd", "etc_passwd.mid"),
    ("_.._.._x.mid", "x.mid"),
    ("con.mid", "_con.mid"),
    ("a\x00b\x1fc.MIDI", "a_b_c.midi"),
    ("...", "file.mid"),
    ("é" * 200 + ".mid", "é" * 58 + ".mid"),
])
def test_safe_file_names(raw, expected):
    from scraper.names import safe_file_name

    name = safe_file_name(raw)
    assert name == expected and len(name.encode()) <= 120


def test_midi_checks_name_the_problem(tunes, tmp_path):
    from scraper.checks import check_midi

    assert check_midi(tunes[0], 10**6).ok
    assert check_midi(b"", 10).reason == "empty"
    assert check_midi(tunes[0], 100).reason == "too-large"
    assert check_midi(b"\xef\xbb\xbf  <!DOCTYPE html><html>", 1000).reason == "html"
    assert check_midi(b"RIFF....", 1000).reason == "not-midi"
    assert check_midi(tunes[0][:200], 10**6).reason == "unparseable"
    assert check_midi(b"MThd" + struct.pack(">IHHH", 6, 1, 0, 480), 1000).reason == "unparseable"
    assert check_midi(f.zero_notes(tmp_path / "z.mid").read_bytes(), 1000).reason == "no-notes"
