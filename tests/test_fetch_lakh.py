"""`composer fetch lakh` against a loopback mirror serving a generated Lakh-shaped archive.

The archive holds real chorale MIDI files named by their MD5, as lmd_full does. The server
honours Range and If-Range, and can cut a response short, to show that a cut download resumes
where it stopped, that a wrong checksum refuses the archive, and that hostile tar members
(.., absolute paths, links, devices) never land anywhere.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import factories as f
import pytest

from scraper.lakh import ChecksumMismatch, FetchError, download, fetch_lakh
from training.sources import SourceSpec, list_lakh

ESCAPE = f"composer-lakh-escape-{uuid.uuid4().hex[:8]}"
FAST = ("--retry-delay", "0.05", "--timeout", "5")


def _lakh_archive(tunes: list[bytes], hostile: bool = False) -> tuple[bytes, dict[str, bytes]]:
    """A tar.gz laid out like lmd_full: lmd_full/<first hex digit>/<md5>.mid."""
    files = {}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        def add(name: str, data: bytes = b"", kind: bytes = tarfile.REGTYPE, link: str = ""):
            info = tarfile.TarInfo(name)
            info.type, info.linkname, info.size, info.mtime = kind, link, len(data), 1_500_000_000
            tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)

        add("lmd_full", kind=tarfile.DIRTYPE)
        for data in tunes:
            digest = hashlib.md5(data).hexdigest()
            name = f"lmd_full/{digest[0]}/{digest}.mid"
            add(name, data)
            files[name] = data
        if hostile:
            add(f"../{ESCAPE}-up.mid", tunes[0])
            add(f"/tmp/{ESCAPE}-abs.mid", tunes[0])
            add("lmd_full/link.mid", kind=tarfile.SYMTYPE, link="/etc/passwd")
            add("lmd_full/hard.mid", kind=tarfile.LNKTYPE, link="/etc/passwd")
            add("lmd_full/dev.mid", kind=tarfile.CHRTYPE)
            add("lmd_full/pipe.mid", kind=tarfile.FIFOTYPE)
    return buffer.getvalue(), files


class Mirror:
    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.log: list[dict] = []
        self.cut: dict[str, list[int]] = {}  # path -> byte counts at which to hang up, in turn
        self.no_range: set[str] = set()  # paths served as if Range did not exist
        self.lock = threading.Lock()


def _handler(mirror: Mirror):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):
            with mirror.lock:
                mirror.log.append({"path": self.path, "range": self.headers.get("Range"),
                                   "if_range": self.headers.get("If-Range")})
                cut = mirror.cut.get(self.path, [])
                cut_at = cut.pop(0) if cut else None
            data = mirror.files.get(self.path)
            if data is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            etag = '"' + hashlib.md5(data).hexdigest() + '"'
            start, status = 0, 200
            wanted = self.headers.get("Range", "")
            if (wanted.startswith("bytes=") and self.headers.get("If-Range", etag) == etag
                    and self.path not in mirror.no_range):
                start = int(wanted[6:].split("-")[0])
                if start >= len(data):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                status = 206
            body = data[start:]
            self.send_response(status)
            self.send_header("Content-Type", "application/gzip")
            self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(body)))
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.end_headers()
            if cut_at is not None:  # hang up mid-body, as a flaky link does
                self.wfile.write(body[: max(0, cut_at - start)])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(body)

    return Handler


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass


@pytest.fixture(scope="module")
def tunes(chorales) -> list[bytes]:
    return [p.read_bytes() for p in chorales[:5]]


@pytest.fixture
def mirror():
    mirror = Mirror()
    server = _QuietServer(("127.0.0.1", 0), _handler(mirror))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    mirror.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield mirror
    server.shutdown()
    server.server_close()


def _gets(mirror: Mirror, path: str) -> list[dict]:
    return [entry for entry in mirror.log if entry["path"] == path]


def test_cut_download_resumes_verifies_and_extracts(mirror, tunes, tmp_path):
    archive, files = _lakh_archive(tunes)
    mirror.files["/m/lmd_full.tar.gz"] = archive
    cut = len(archive) * 2 // 5
    mirror.cut["/m/lmd_full.tar.gz"] = [cut]
    out = tmp_path / "lakh"
    sha = hashlib.sha256(archive).hexdigest()
    result = f.run_cli("fetch", "lakh", "-o", out, "--url", f"{mirror.url}/m/", "--sha256", sha,
                       "--retries", "2", *FAST)
    assert result.returncode == 0, result.stderr
    gets = _gets(mirror, "/m/lmd_full.tar.gz")
    assert [g["range"] for g in gets] == [None, f"bytes={cut}-"]  # resumed, not restarted
    assert gets[1]["if_range"] == '"' + hashlib.md5(archive).hexdigest() + '"'
    assert f"sha256 {sha}" in result.stdout and "matches the sha256 given with --sha256" in result.stdout
    assert f"next: composer corpus build lakh:{out / 'lmd_full'} -o CORPUS" in result.stdout
    for name, data in files.items():
        assert (out / name).read_bytes() == data
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.mid")) == sorted(files)
    assert not (out / ".lakh" / "lmd_full.tar.gz").exists()  # removed after extraction
    assert not (out / ".lakh" / "extract-full").exists()
    ids = {s.id for s in list_lakh(SourceSpec("lakh", str(out / "lmd_full")))}
    assert ids == {"lakh:" + hashlib.md5(t).hexdigest() for t in tunes}  # what corpus build reads

    again = f.run_cli("fetch", "lakh", "-o", out, "--url", f"{mirror.url}/m/", "--sha256", sha)
    assert again.returncode == 0 and "already fetched" in again.stdout
    assert len(_gets(mirror, "/m/lmd_full.tar.gz")) == 2  # idempotent: no new request


def test_failed_download_keeps_the_part_for_the_next_run(mirror, tunes, tmp_path):
    archive, files = _lakh_archive(tunes)
    mirror.files["/m/my-lakh.tar.gz"] = archive
    cut = len(archive) // 3
    mirror.cut["/m/my-lakh.tar.gz"] = [cut]
    out = tmp_path / "lakh"
    url = f"{mirror.url}/m/my-lakh.tar.gz"
    result = f.run_cli("fetch", "lakh", "-o", out, "--url", url, "--retries", "0", *FAST)
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: {url}: download failed after 1 tries")
    assert "run the same command again to resume" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    part = out / ".lakh" / "my-lakh.tar.gz.part"
    assert part.read_bytes() == archive[:cut]

    result = f.run_cli("fetch", "lakh", "-o", out, "--url", url, "--keep-archive", *FAST)
    assert result.returncode == 0, result.stderr
    assert _gets(mirror, "/m/my-lakh.tar.gz")[-1]["range"] == f"bytes={cut}-"
    assert f"resumed at byte {cut:,}" in result.stdout
    assert "no checksum known or given" in result.stdout
    assert hashlib.sha256(archive).hexdigest() in result.stdout  # always printed
    assert (out / ".lakh" / "my-lakh.tar.gz").read_bytes() == archive  # --keep-archive
    assert all((out / name).read_bytes() == data for name, data in files.items())


def test_checksum_mismatch_refuses_the_archive(mirror, tunes, tmp_path):
    archive, _ = _lakh_archive(tunes)
    mirror.files["/lmd/lmd_full.tar.gz"] = archive
    out = tmp_path / "lakh"
    # The canonical name: checked against the known SHA-256 of the real lmd_full.tar.gz.
    result = f.run_cli("fetch", "lakh", "-o", out, "--url", f"{mirror.url}/lmd/", *FAST)
    assert result.returncode == 1
    stored = out / ".lakh" / "lmd_full.tar.gz"
    assert result.stderr.startswith(f"error: {stored}: sha256 {hashlib.sha256(archive).hexdigest()}")
    assert "known checksum of lmd_full.tar.gz" in result.stderr and "moved aside" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (out / "lmd_full").exists() and not list(out.rglob("*.mid"))
    assert (out / ".lakh" / "lmd_full.tar.gz.bad").read_bytes() == archive

    mirror.files["/m/other.tar.gz"] = archive
    with pytest.raises(ChecksumMismatch, match="md5 .* does not match 0{32} \\(given with --md5\\)"):
        fetch_lakh("full", out, url=f"{mirror.url}/m/other.tar.gz", md5="0" * 32, retries=0)
    assert not list(out.rglob("*.mid"))


def test_hostile_members_are_refused(mirror, tunes, tmp_path):
    archive, files = _lakh_archive(tunes, hostile=True)
    mirror.files["/m/hostile.tar.gz"] = archive
    out = tmp_path / "deep" / "lakh"
    before = set(tmp_path.rglob("*"))
    result = f.run_cli("fetch", "lakh", "-o", out, "--url", f"{mirror.url}/m/hostile.tar.gz",
                       *FAST)
    assert result.returncode == 0, result.stderr
    assert "refused: unsafe-path 2, link 2, device-or-fifo 2" in result.stdout
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()
                  and ".lakh" not in p.parts) == sorted(files)
    assert not any(p.is_symlink() for p in out.rglob("*"))
    outside = {p for p in set(tmp_path.rglob("*")) - before if not p.is_relative_to(out)}
    assert outside == {tmp_path / "deep"}
    assert not Path(f"/tmp/{ESCAPE}-abs.mid").exists()
    assert not list(Path("/tmp").glob(f"{ESCAPE}*"))


def test_server_without_range_support_restarts_cleanly(mirror, tunes, tmp_path):
    """A mirror that answers a Range request with 200 and the whole file: start over, no splice."""
    archive, _ = _lakh_archive(tunes)
    mirror.files["/m/a.tar.gz"] = archive
    mirror.cut["/m/a.tar.gz"] = [len(archive) // 2]
    dest = tmp_path / "a.tar.gz"
    with pytest.raises(FetchError, match="run the same command again"):
        download(f"{mirror.url}/m/a.tar.gz", dest, retries=0)
    assert (tmp_path / "a.tar.gz.part").stat().st_size == len(archive) // 2
    mirror.no_range.add("/m/a.tar.gz")
    fetched, resumed = download(f"{mirror.url}/m/a.tar.gz", dest, retries=0)
    assert dest.read_bytes() == archive
    assert (fetched, resumed) == (len(archive), 0)  # the whole file again, nothing spliced
    assert _gets(mirror, "/m/a.tar.gz")[-1]["range"] == f"bytes={len(archive) // 2}-"


def test_part_file_of_unknown_origin_is_not_trusted(mirror, tunes, tmp_path):
    archive, _ = _lakh_archive(tunes)
    mirror.files["/m/b.tar.gz"] = archive
    (tmp_path / "b.tar.gz.part").write_bytes(b"x" * 100)  # no .part.json: not ours
    download(f"{mirror.url}/m/b.tar.gz", tmp_path / "b.tar.gz", retries=0)
    assert (tmp_path / "b.tar.gz").read_bytes() == archive
    assert _gets(mirror, "/m/b.tar.gz")[0]["range"] is None
