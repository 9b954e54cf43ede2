"""Fetch the Lakh MIDI Dataset: download with resume, verify, extract safely, idempotently.

The archives (https://colinraffel.com/projects/lmd/) are 0.2 to 1.8 GB tar.gz files on one
HTTP server, so a cut connection must not mean starting again: the download goes to a `.part`
file and continues with an HTTP Range request (with If-Range, so a changed file restarts
instead of being spliced). The archive is checked before anything is extracted; extraction
goes to a temporary folder inside the output folder and is renamed into place when complete,
and a marker file makes a second run a no-op.

Checksums: the Lakh page publishes none. KNOWN_SHA256 holds the SHA-256 values recorded by the
resolv-data dataset library (M. Pettenò, 2024, Apache-2.0), which verifies its downloads against
them; the lmd_full value is also given in a second, independent project's dataset notes.
--sha256/--md5 override them, and the computed values are always reported.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import shutil
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from scraper.archives import extract_tar

Progress = Callable[[str, int, int], None]

DEFAULT_MIRROR = "http://hog.ee.columbia.edu/craffel/lmd/"
SUBSETS = {"full": "lmd_full.tar.gz", "matched": "lmd_matched.tar.gz", "clean": "clean_midi.tar.gz"}
KNOWN_SHA256 = {
    "lmd_full.tar.gz": "6fcfe2ac49ca08f3f214cec86ab138d4fc4dabcd7f27f491a838dae6db45a12b",
    "lmd_matched.tar.gz": "621ff830aed771f469e5bfa13dc12a33c6ed69090adeda63d0b5c47783af0191",
    "clean_midi.tar.gz": "de1bb64cbc0cf35545a05b5c3e786aa6890cfa144edffc4b827ff41bf8c33dc5",
}
USER_AGENT = "composer-lakh-fetch/0.1 (+https://colinraffel.com/projects/lmd/)"
WORK_DIR = ".lakh"


class FetchError(ValueError):
    """The download or the archive failed; the message names the file and what to do."""


class ChecksumMismatch(FetchError):
    pass


@dataclass
class FetchResult:
    subset: str
    url: str
    roots: list[Path]
    md5: str = ""
    sha256: str = ""
    checked_against: str = ""  # "" when no checksum was known or given
    downloaded_bytes: int = 0
    resumed_from: int = 0
    extracted: int = 0
    already_there: int = 0
    skipped: Counter = field(default_factory=Counter)
    already_fetched: bool = False


def archive_url(subset: str, url: str | None = None) -> tuple[str, str]:
    """(URL, file name) for a subset; `url` is a mirror folder (ending in /) or a full URL."""
    if subset not in SUBSETS:
        raise FetchError(f"--subset {subset!r}: choose full, matched or clean")
    if url is None or url.endswith("/"):
        base = url or DEFAULT_MIRROR
        return base + SUBSETS[subset], SUBSETS[subset]
    if not re.match(r"^https?://", url):
        raise FetchError(f"--url {url}: give an http(s) URL")
    name = url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] or SUBSETS[subset]
    return url, name


# --- download ---------------------------------------------------------------------------

def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _content_range(value: str | None) -> tuple[int | None, int | None]:
    """`bytes 100-199/1000` -> (100, 1000); `bytes */1000` -> (None, 1000)."""
    match = re.match(r"bytes\s+(?:(\d+)-\d+|\*)/(\d+|\*)", value or "")
    if not match:
        return None, None
    start = int(match.group(1)) if match.group(1) else None
    total = int(match.group(2)) if match.group(2) != "*" else None
    return start, total


def download(url: str, dest: Path, *, progress: Progress | None = None, timeout: float = 60.0,
             retries: int = 5, backoff: float = 1.0, chunk: int = 1 << 20) -> tuple[int, int]:
    """Download `url` to `dest` through `dest.part`, resuming with Range after any cut.

    Returns (bytes transferred now, bytes an earlier run left that were kept and continued).
    """
    part = dest.with_name(dest.name + ".part")
    meta_path = dest.with_name(dest.name + ".part.json")
    if part.exists() and _read_json(meta_path).get("url") != url:
        part.unlink()  # not from this URL (or its record is lost): splicing it would corrupt
    on_disk = part.stat().st_size if part.exists() else 0
    resumed_from, fetched, failures, first = 0, 0, 0, True
    while True:
        have = part.stat().st_size if part.exists() else 0
        headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
        if have:
            headers["Range"] = f"bytes={have}-"
            meta = _read_json(meta_path)
            validator = meta.get("etag") or meta.get("last_modified")
            if validator:
                headers["If-Range"] = validator
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                        timeout=timeout) as response:
                if response.status == 206:
                    start, total = _content_range(response.headers.get("Content-Range"))
                    if start != have:
                        part.unlink(missing_ok=True)
                        raise ConnectionError(f"server resumed at byte {start}, not {have}")
                    mode = "ab"
                    if first:
                        resumed_from = on_disk  # what an earlier run left, kept
                else:
                    have, mode = 0, "wb"  # the server sent the whole file
                    length = response.headers.get("Content-Length")
                    total = int(length) if length and length.isdigit() else None
                first = False
                meta_path.write_text(json.dumps({
                    "url": url, "etag": response.headers.get("ETag"),
                    "last_modified": response.headers.get("Last-Modified"), "total": total}))
                with open(part, mode) as handle:
                    while block := response.read(chunk):
                        handle.write(block)
                        have += len(block)
                        fetched += len(block)
                        if progress is not None:
                            progress("download", have, total or 0)
                if total is not None and have < total:
                    raise ConnectionError(f"connection closed after {have:,} of {total:,} bytes")
                if total is not None and have > total:
                    part.unlink()
                    raise FetchError(f"{url}: received {have:,} bytes, more than the "
                                     f"{total:,} announced; the partial file was removed, run "
                                     "again")
            break
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and have:
                _, total = _content_range(exc.headers.get("Content-Range"))
                if total == have:
                    break  # the .part file was already complete
                part.unlink()
                reason = f"HTTP 416 with {have:,} bytes on disk"
            elif exc.code >= 500 or exc.code in (408, 429):
                reason = f"HTTP {exc.code} {exc.reason}"
            else:
                raise FetchError(f"{url}: HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, http.client.HTTPException, ConnectionError,
                TimeoutError) as exc:
            reason = str(getattr(exc, "reason", None) or exc) or type(exc).__name__
        failures += 1
        have = part.stat().st_size if part.exists() else 0
        if failures > retries:
            raise FetchError(f"{url}: download failed after {failures} tries ({reason}); "
                             f"{have:,} bytes kept in {part}; run the same command again to "
                             "resume") from None
        time.sleep(min(backoff * 2 ** (failures - 1), 60.0))
    os.replace(part, dest)
    meta_path.unlink(missing_ok=True)
    return fetched, resumed_from


def file_digests(path: Path, progress: Progress | None = None) -> tuple[str, str]:
    """(md5, sha256) of a file in one pass."""
    md5, sha256 = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    total, done = path.stat().st_size, 0
    with open(path, "rb") as handle:
        while block := handle.read(1 << 22):
            md5.update(block)
            sha256.update(block)
            done += len(block)
            if progress is not None:
                progress("verify", done, total)
    if progress is not None:
        progress("verify", total, total)
    return md5.hexdigest(), sha256.hexdigest()


def _expected(name: str, md5: str | None, sha256: str | None) -> list[tuple[str, str, str]]:
    """(algorithm, expected hex, where it comes from) to compare against."""
    checks = []
    if sha256:
        checks.append(("sha256", sha256.lower(), "given with --sha256"))
    if md5:
        checks.append(("md5", md5.lower(), "given with --md5"))
    if not checks and name in KNOWN_SHA256:
        checks.append(("sha256", KNOWN_SHA256[name], f"known checksum of {name}"))
    return checks


# --- the whole fetch --------------------------------------------------------------------

def _roots_of(folder: Path) -> list[Path]:
    return sorted(folder.iterdir()) if folder.is_dir() else []


def fetch_lakh(subset: str, out_dir: Path, *, url: str | None = None, md5: str | None = None,
               sha256: str | None = None, keep_archive: bool = False,
               progress: Progress | None = None, timeout: float = 60.0, retries: int = 5,
               backoff: float = 1.0) -> FetchResult:
    """Download, verify and extract one Lakh archive into out_dir; a rerun is a no-op."""
    for value, algorithm, length in ((md5, "md5", 32), (sha256, "sha256", 64)):
        if value is not None and not re.fullmatch(f"[0-9a-fA-F]{{{length}}}", value):
            raise FetchError(f"--{algorithm} {value!r}: give {length} hexadecimal digits")
    full_url, name = archive_url(subset, url)
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise FetchError(f"{out_dir}: exists and is not a folder")
    work = out_dir / WORK_DIR
    work.mkdir(parents=True, exist_ok=True)
    marker = work / f"{subset}.json"
    done = _read_json(marker)
    if done and all((out_dir / r).exists() for r in done.get("roots", [])):
        return FetchResult(subset, done.get("url", full_url), [out_dir / r for r in done["roots"]],
                           md5=done.get("md5", ""), sha256=done.get("sha256", ""),
                           checked_against=done.get("checked_against", ""),
                           already_fetched=True)

    result = FetchResult(subset, full_url, [])
    archive = work / name
    if not archive.exists():
        result.downloaded_bytes, result.resumed_from = download(
            full_url, archive, progress=progress, timeout=timeout, retries=retries,
            backoff=backoff)
    result.md5, result.sha256 = file_digests(archive, progress)
    for algorithm, expected, source in _expected(name, md5, sha256):
        got = result.md5 if algorithm == "md5" else result.sha256
        if got != expected:
            bad = archive.with_name(archive.name + ".bad")
            os.replace(archive, bad)
            raise ChecksumMismatch(
                f"{archive}: {algorithm} {got} does not match {expected} ({source}); "
                f"nothing was extracted and the file was moved aside to {bad}")
        result.checked_against = f"{algorithm} {source}"

    staging = work / f"extract-{subset}"
    tar = extract_tar(archive, staging, progress)
    result.extracted, result.already_there, result.skipped = (tar.extracted, tar.already_there,
                                                              tar.skipped)
    roots = _roots_of(staging)
    if not roots:
        raise FetchError(f"{archive}: the archive holds no files")
    for root in roots:
        if (out_dir / root.name).exists():
            raise FetchError(f"{out_dir / root.name}: already exists and was not made by this "
                             f"fetch; move it away or choose another -o (extracted files wait "
                             f"in {staging})")
    for root in roots:
        os.replace(root, out_dir / root.name)
    result.roots = [out_dir / root.name for root in roots]
    tmp = marker.with_name(marker.name + ".tmp")
    tmp.write_text(json.dumps({"subset": subset, "url": full_url, "archive": name,
                               "md5": result.md5, "sha256": result.sha256,
                               "checked_against": result.checked_against,
                               "roots": [r.name for r in roots],
                               "files": result.extracted + result.already_there,
                               "skipped": dict(result.skipped),
                               "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}, indent=1) + "\n")
    os.replace(tmp, marker)
    shutil.rmtree(staging, ignore_errors=True)
    if not keep_archive:
        archive.unlink()
    return result
