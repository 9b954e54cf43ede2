"""Fetch POP909 (Wang et al., ISMIR 2020; MIT licence): the repository's zip archive over
HTTP(S) with resume (scraper.lakh.download), then only what the corpus uses, extracted safely.

Kept: `POP909/NNN/NNN.mid` and its `chord_midi.txt`, `beat_midi.txt` and `key_audio.txt`,
plus the LICENSE and README. Everything else in the archive (the per-song `versions/`
folders, audio-derived annotations, notebooks, pickles) is left out. A member is written only
when its whole name matches that list, so no name can reach outside the output folder;
sizes are bounded, and every file is written atomically. A marker makes a second run a no-op.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from scraper.fileio import atomic_write_bytes
from scraper.lakh import FetchError, download

Progress = Callable[[str, int, int], None]

DEFAULT_URL = "https://github.com/music-x-lab/POP909-Dataset/archive/refs/heads/master.zip"
WORK_DIR = ".pop909"
ARCHIVE = "POP909-Dataset.zip"
SONG_FILE = re.compile(r"^[^/]+/POP909/(\d{3})/(\d{3}\.mid|chord_midi\.txt|beat_midi\.txt|"
                       r"key_audio\.txt)$")
TOP_FILE = re.compile(r"^[^/]+/(LICENSE|README\.md)$")
MAX_FILE_BYTES = 8 * 1024 * 1024  # the largest POP909 song is well under 1 MB


@dataclass
class Pop909Result:
    url: str
    root: Path
    songs: int = 0
    extracted: int = 0
    already_there: int = 0
    downloaded_bytes: int = 0
    resumed_from: int = 0
    skipped: Counter = field(default_factory=Counter)
    already_fetched: bool = False


def target_of(name: str) -> str | None:
    """Where an archive member goes, relative to the output folder; None: not kept."""
    song = SONG_FILE.match(name)
    if song:
        number, file = song.groups()
        if file.endswith(".mid") and file[:3] != number:
            return None  # a song folder holds its own song only
        return f"POP909/{number}/{file}"
    top = TOP_FILE.match(name)
    return top.group(1) if top else None


def extract(archive: Path, out_dir: Path, progress: Progress | None = None) -> Pop909Result:
    """The kept members of a POP909 archive, written under out_dir."""
    result = Pop909Result(url="", root=out_dir)
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise FetchError(f"{archive}: not a readable zip archive ({exc}); delete it and run "
                         "again") from None
    with zf:
        members = zf.infolist()
        for done, info in enumerate(members, 1):
            target = target_of(info.filename)
            if target is None:
                result.skipped["not used"] += 1
                continue
            if info.file_size > MAX_FILE_BYTES:
                result.skipped["too large"] += 1
                continue
            path = out_dir / target
            if path.exists() and path.stat().st_size == info.file_size:
                result.already_there += 1
            else:
                with zf.open(info) as handle:
                    data = handle.read(MAX_FILE_BYTES + 1)
                if len(data) > MAX_FILE_BYTES:  # the header lied about the size
                    result.skipped["too large"] += 1
                    continue
                atomic_write_bytes(out_dir, path, data)
                result.extracted += 1
            if progress is not None:
                progress("extract", done, len(members))
    result.songs = sum(1 for p in (out_dir / "POP909").glob("*/*.mid"))
    return result


def fetch_pop909(out_dir: str | Path, *, url: str | None = None, keep_archive: bool = False,
                 progress: Progress | None = None, timeout: float = 60.0, retries: int = 5,
                 backoff: float = 1.0) -> Pop909Result:
    """Download (resuming a cut download), extract what the corpus uses, and remember that it
    is done, so the same command again changes nothing."""
    out_dir = Path(out_dir)
    url = url or DEFAULT_URL
    if not re.match(r"^https?://", url):
        raise FetchError(f"--url {url}: give an http(s) URL")
    work = out_dir / WORK_DIR
    marker = work / "done.json"
    if marker.exists():
        done = json.loads(marker.read_text())
        if done.get("url") == url:
            return Pop909Result(url=url, root=out_dir, songs=done.get("songs", 0),
                                already_fetched=True)
    work.mkdir(parents=True, exist_ok=True)
    archive = work / ARCHIVE
    fetched, resumed = (0, 0)
    if not archive.exists():
        fetched, resumed = download(url, archive, progress=progress, timeout=timeout,
                                    retries=retries, backoff=backoff)
    result = extract(archive, out_dir, progress)
    result.url, result.downloaded_bytes, result.resumed_from = url, fetched, resumed
    if result.songs == 0:
        archive.unlink(missing_ok=True)
        raise FetchError(f"{url}: the archive holds no POP909 songs (POP909/NNN/NNN.mid)")
    atomic_write_bytes(out_dir, marker, json.dumps({"url": url, "songs": result.songs}).encode())
    if not keep_archive:
        archive.unlink(missing_ok=True)
    return result
