"""Opening archives from strangers: zips found by the crawler, Lakh's tar.gz.

A zip is read in memory (its transfer was already size-limited) and only its MIDI members come
out, as bytes; the caller names and writes them, so an entry's path never becomes a file path.
Entries with absolute or `..` paths are refused anyway, and limits on entry count, total size
and compression ratio stop zip bombs before they inflate. Tar members are extracted with
tarfile's 'data' filter, links and devices refused, resumably (a member already on disk with
its size and time is skipped).
"""

from __future__ import annotations

import gzip
import io
import os
import tarfile
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from scraper.names import MIDI_SUFFIXES, member_basename, unsafe_member_reason

Progress = Callable[[str, int, int], None]


class ArchiveRejected(ValueError):
    """The whole archive is refused; `reason` is a short stable word for the manifest."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class ZipLimits:
    max_entries: int = 10_000
    max_member_bytes: int = 32 * 1024 * 1024
    max_total_bytes: int = 512 * 1024 * 1024
    max_ratio: float = 100.0  # uncompressed / compressed; MIDI rarely passes 10


@dataclass(frozen=True)
class ZipMember:
    """A MIDI member: `data` when it was read, else `reason` why not."""

    name: str
    data: bytes | None = None
    reason: str | None = None
    detail: str = ""


def _read_bounded(handle: io.BufferedIOBase, limit: int) -> bytes | None:
    """At most `limit` bytes, or None as soon as there are more (never inflates past it)."""
    chunks, size = [], 0
    while chunk := handle.read(min(1 << 16, limit + 1 - size)):
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return None
    return b"".join(chunks)


def read_zip_midis(data: bytes, limits: ZipLimits = ZipLimits()) -> list[ZipMember]:
    """The MIDI members of a zip held in memory; non-MIDI members are ignored."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise ArchiveRejected("bad-zip", f"not a readable zip: {exc}") from None
    with archive:
        infos = archive.infolist()
        if len(infos) > limits.max_entries:
            raise ArchiveRejected("zip-bomb", f"{len(infos):,} entries, limit "
                                              f"{limits.max_entries:,}")
        declared = sum(info.file_size for info in infos)
        if declared > limits.max_total_bytes:
            raise ArchiveRejected("zip-bomb", f"declares {declared:,} bytes uncompressed, limit "
                                              f"{limits.max_total_bytes:,}")
        members, inflated = [], 0
        for info in infos:
            if info.is_dir():
                continue
            name = info.filename
            unsafe = unsafe_member_reason(name)
            if unsafe:
                members.append(ZipMember(name, reason="unsafe-path", detail=unsafe))
                continue
            if os.path.splitext(member_basename(name))[1].lower() not in MIDI_SUFFIXES:
                continue
            ratio = info.file_size / max(info.compress_size, 1)
            if ratio > limits.max_ratio:
                members.append(ZipMember(name, reason="zip-bomb",
                                         detail=f"compression ratio {ratio:,.0f}:1, limit "
                                                f"{limits.max_ratio:g}:1"))
                continue
            if info.flag_bits & 0x1:
                members.append(ZipMember(name, reason="encrypted", detail="password protected"))
                continue
            if info.file_size > limits.max_member_bytes:
                members.append(ZipMember(name, reason="too-large",
                                         detail=f"{info.file_size:,} bytes, limit "
                                                f"{limits.max_member_bytes:,}"))
                continue
            try:
                with archive.open(info) as handle:
                    body = _read_bounded(handle, limits.max_member_bytes)
            except (zipfile.BadZipFile, NotImplementedError, OSError, EOFError,
                    zipfile.LargeZipFile) as exc:
                members.append(ZipMember(name, reason="bad-zip", detail=str(exc)[:200]))
                continue
            if body is None:
                members.append(ZipMember(name, reason="too-large",
                                         detail=f"inflates past {limits.max_member_bytes:,} bytes"))
                continue
            inflated += len(body)
            if inflated > limits.max_total_bytes:
                raise ArchiveRejected("zip-bomb", f"inflates past {limits.max_total_bytes:,} "
                                                  "bytes in total")
            members.append(ZipMember(name, data=body))
        return members


# --- tar (Lakh) ------------------------------------------------------------------------

@dataclass
class TarResult:
    extracted: int = 0
    already_there: int = 0
    skipped: Counter = field(default_factory=Counter)  # reason -> members refused


def _member_refusal(member: tarfile.TarInfo) -> str | None:
    if unsafe_member_reason(member.name):
        return "unsafe-path"
    if member.issym() or member.islnk():
        return "link"
    if not (member.isfile() or member.isdir()):
        return "device-or-fifo"
    return None


def _already_extracted(member: tarfile.TarInfo, target: Path) -> bool:
    try:
        stat = target.stat()
    except OSError:
        return False
    return stat.st_size == member.size and int(stat.st_mtime) == int(member.mtime)


class _CountingReader(io.RawIOBase):
    """Counts compressed bytes consumed, which is what a progress bar over a .tar.gz can know."""

    def __init__(self, handle: io.BufferedReader):
        self.handle, self.position = handle, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = self.handle.readinto(buffer)
        self.position += n
        return n


def extract_tar(archive: Path, dest: Path, progress: Progress | None = None) -> TarResult:
    """Stream a tar(.gz) into `dest`: only regular files and folders, never outside `dest`.

    Members already in `dest` with the right size and modification time are skipped, so an
    interrupted extraction resumes without rewriting what is done.
    """
    dest.mkdir(parents=True, exist_ok=True)
    total = archive.stat().st_size
    result = TarResult()
    with open(archive, "rb") as raw:
        counter = _CountingReader(raw)
        try:
            with tarfile.open(fileobj=io.BufferedReader(counter, 1 << 20), mode="r|*") as tar:
                for member in tar:
                    refusal = _member_refusal(member)
                    if refusal:
                        result.skipped[refusal] += 1
                        continue
                    target = dest / member.name
                    if member.isfile() and _already_extracted(member, target):
                        result.already_there += 1
                    else:
                        try:
                            tar.extract(member, dest, filter="data")
                        except tarfile.FilterError:
                            result.skipped["unsafe-path"] += 1
                            continue
                        result.extracted += member.isfile()
                    if progress is not None:
                        progress("extract", counter.position, total)
        except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise ArchiveRejected("bad-archive", f"{archive}: not a readable tar archive "
                                                 f"({exc})") from None
    if progress is not None:
        progress("extract", total, total)
    return result
