"""From a finished download to files on disk: check, unpack, de-duplicate, name, write, record.

Two halves: `examine` is pure and CPU-bound (mido parses every event in Python, ~20 ms for a
chorale, seconds for a big song), so the crawler runs it in worker processes and its event
loop never stalls; `FileStore.keep` names, writes and records, in the crawler's own thread,
which is the only one touching the manifest.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from scraper.archives import ArchiveRejected, ZipLimits, ZipMember, read_zip_midis
from scraper.checks import check_midi, check_size, is_zip, looks_like_html
from scraper.fileio import atomic_write_bytes
from scraper.manifest import Manifest
from scraper.names import (
    ARCHIVE_SUFFIXES,
    host_folder,
    member_basename,
    name_from_url,
    safe_component,
    safe_file_name,
    url_suffix,
)


@dataclass(frozen=True)
class Outcome:
    """What became of one file: saved, duplicate, already (kept by an earlier run), rejected."""

    status: str
    reason: str = ""
    path: str = ""


class LimitReached(Exception):
    """--max-files files are kept; nothing more may be written."""


@dataclass(frozen=True)
class Examined:
    """The verdict on one download: a pure function of its bytes, so it can run in a worker."""

    kind: str  # "midi", "zip" or "rejected"
    reason: str = ""
    detail: str = ""
    members: tuple[ZipMember, ...] = ()  # zip: MIDI members with data, or with a reason


def examine(url: str, body: bytes, content_type: str, max_bytes: int,
            zip_limits: ZipLimits) -> Examined:
    """Check a download: a MIDI file (header and full parse) or a zip of them (each member)."""
    if not (is_zip(body) or (url_suffix(url) in ARCHIVE_SUFFIXES
                             and not body.startswith(b"MThd"))):
        verdict = check_midi(body, max_bytes)
        return Examined("midi") if verdict.ok else Examined("rejected", verdict.reason,
                                                            verdict.detail)
    if not is_zip(body):
        reason = "html" if looks_like_html(body) or "html" in content_type else "not-zip"
        return Examined("rejected", reason, f"starts with {body[:8]!r}")
    size = check_size(len(body), max_bytes)
    if not size.ok:
        return Examined("rejected", size.reason, size.detail)
    try:
        members = read_zip_midis(body, zip_limits)
    except ArchiveRejected as exc:
        return Examined("rejected", exc.reason, exc.detail)
    checked = []
    for member in members:
        verdict = check_midi(member.data, max_bytes) if member.data is not None else None
        if verdict is not None and not verdict.ok:
            member = ZipMember(member.name, reason=verdict.reason, detail=verdict.detail)
        checked.append(member)
    return Examined("zip", members=tuple(checked))


class FileStore:
    """Writes accepted MIDI under `root/<host>/...` and records every outcome in the manifest."""

    def __init__(self, root: Path, manifest: Manifest, max_bytes: int,
                 max_files: int | None = None, zip_limits: ZipLimits | None = None):
        self.root, self.manifest, self.max_bytes = root, manifest, max_bytes
        self.max_files = max_files
        self.zip_limits = zip_limits or ZipLimits(max_member_bytes=max_bytes,
                                                  max_total_bytes=max(16 * max_bytes, 1 << 28))
        self.saved_total = manifest.saved_count()

    @property
    def full(self) -> bool:
        return self.max_files is not None and self.saved_total >= self.max_files

    def examine(self, url: str, body: bytes, content_type: str = "") -> Examined:
        return examine(url, body, content_type, self.max_bytes, self.zip_limits)

    def accept(self, url: str, body: bytes, content_type: str = "") -> list[Outcome]:
        """Check one download and keep what passes; raises LimitReached when --max-files is hit."""
        return self.keep(url, body, self.examine(url, body, content_type))

    def reject(self, url: str, reason: str, detail: str = "", *, member: str = "",
               size: int | None = None, failed: bool = False) -> Outcome:
        """Record a refusal: `failed` ones (timeouts, 5xx) are retried by the next run."""
        self.manifest.record(url, "failed" if failed else "rejected", member=member,
                             size=size, reason=reason, detail=detail,
                             limit_bytes=self.max_bytes)
        return Outcome("rejected", reason)

    def keep(self, url: str, body: bytes, examined: Examined) -> list[Outcome]:
        """Write what `examined` passed, record everything; LimitReached at --max-files."""
        if examined.kind == "rejected":
            return [self.reject(url, examined.reason, examined.detail, size=len(body))]
        if examined.kind == "midi":
            path = Path(host_folder(url)) / safe_file_name(name_from_url(url))
            return [self._keep(url, "", body, path)]
        folder = Path(host_folder(url)) / safe_component(
            PurePosixPath(name_from_url(url)).stem, "archive")
        outcomes = []
        try:
            for member in examined.members:
                if member.data is None:
                    outcomes.append(self.reject(url, member.reason or "rejected", member.detail,
                                                member=member.name))
                    continue
                name = safe_file_name(member_basename(member.name))
                outcomes.append(self._keep(url, member.name, member.data, folder / name))
        except LimitReached:
            # Not final: the next run (with a larger --max-files) opens this archive again.
            self.manifest.record(url, "failed", sha256=_sha256(body), size=len(body),
                                 reason="max-files", detail="stopped inside the archive")
            raise
        self.manifest.record(url, "archive", sha256=_sha256(body), size=len(body),
                             detail=f"{len(outcomes)} MIDI members")
        return outcomes

    def _keep(self, url: str, member: str, data: bytes, wanted: Path) -> Outcome:
        digest = _sha256(data)
        kept = self.manifest.kept(digest)
        if kept is not None and not (self.root / kept[2]).is_file():
            self.manifest.forget_saved(digest)  # the user deleted it: keep this copy instead
            kept = None
        if kept is not None:
            if (kept[0], kept[1]) == (url, member):
                return Outcome("already", path=kept[2])
            self.manifest.record(url, "duplicate", member=member, sha256=digest, size=len(data),
                                 reason="duplicate", detail=f"same bytes as {kept[0]} {kept[1]}",
                                 path=kept[2])
            return Outcome("duplicate", "duplicate", kept[2])
        if self.full:
            raise LimitReached
        relative = self._free_name(wanted, digest)
        atomic_write_bytes(self.root, self.root / relative, data)
        self.manifest.record(url, "saved", member=member, sha256=digest, size=len(data),
                             path=relative.as_posix())
        self.saved_total += 1
        return Outcome("saved", path=relative.as_posix())

    def _free_name(self, wanted: Path, digest: str) -> Path:
        """`wanted`, or `wanted` tagged with the hash when another file holds that name."""
        if not (self.root / wanted).exists() and not self.manifest.path_taken(wanted.as_posix()):
            return wanted
        return wanted.with_name(safe_file_name(wanted.name, tag=digest[:12]))


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
