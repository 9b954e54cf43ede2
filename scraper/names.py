"""Safe file names for things found on the web, and the archive member paths we refuse.

A URL or a zip entry is text chosen by a stranger. Nothing of it reaches the file system
unchecked: no separators, no `..`, no control characters, no names Windows reserves, no name so
long the file system refuses it. The host becomes a folder so that two sites never collide.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

MAX_NAME_BYTES = 120  # well under the 255-byte limit of common file systems, suffix included
MIDI_SUFFIXES = (".mid", ".midi", ".kar", ".smf")
ARCHIVE_SUFFIXES = (".zip",)

_UNSAFE = re.compile(r'[\x00-\x1f\x7f-\x9f/\\:*?"<>|]+')
_WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$", re.IGNORECASE)
_DRIVE = re.compile(r"^[A-Za-z]:")


def url_suffix(url: str) -> str:
    """The lower-case suffix of a URL's path (`.mid`, `.zip`, ``), query and fragment ignored."""
    return PurePosixPath(unquote(urlsplit(url).path)).suffix.lower()


def safe_component(text: str, fallback: str = "file") -> str:
    """One path component: no separators, control characters, leading dots or reserved names."""
    text = unicodedata.normalize("NFC", text)
    text = _UNSAFE.sub("_", text)
    text = re.sub(r"\.{2,}", ".", re.sub(r"_+", "_", text)).strip(" ._")
    if not text or text in (".", ".."):
        text = fallback
    if _WINDOWS_RESERVED.match(text):
        text = "_" + text
    return text


def _bounded(stem: str, suffix: str, limit: int = MAX_NAME_BYTES) -> str:
    room = limit - len(suffix.encode())
    data = stem.encode()[:room]
    return data.decode("utf-8", errors="ignore").rstrip(" .") + suffix


def safe_file_name(name: str, default_suffix: str = ".mid", tag: str = "") -> str:
    """A bounded file name keeping a MIDI suffix; `tag` (a hash prefix) tells collisions apart."""
    name = safe_component(name)
    path = PurePosixPath(name)
    suffix = path.suffix.lower() if path.suffix.lower() in MIDI_SUFFIXES else default_suffix
    stem = path.stem if path.suffix.lower() in MIDI_SUFFIXES else name
    stem = safe_component(stem)
    if tag:
        return _bounded(stem, f"-{tag}{suffix}")
    return _bounded(stem, suffix)


def host_folder(url: str) -> str:
    """`example.com`, or `127.0.0.1_8080` when a port is given."""
    parts = urlsplit(url)
    host = (parts.hostname or "unknown-host") + (f"_{parts.port}" if parts.port else "")
    return safe_component(host, "unknown-host")


def name_from_url(url: str) -> str:
    """The last path segment of a URL, percent-decoded (not yet made safe)."""
    segment = unquote(urlsplit(url).path).rstrip("/").rsplit("/", 1)[-1]
    return segment or "index"


def unsafe_member_reason(name: str) -> str | None:
    """Why an archive member's path may not be used, or None: absolute, drive, `..`, control."""
    if not name:
        return "empty name"
    if re.search(r"[\x00-\x1f\x7f]", name):
        return "control character in name"
    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        return "absolute path"
    if any(part == ".." for part in re.split(r"[\\/]+", name)):
        return "parent-directory (..) component"
    return None


def member_basename(name: str) -> str:
    """The file part of an archive member path, whichever separator the archiver used."""
    return re.split(r"[\\/]+", name.rstrip("/\\"))[-1]
