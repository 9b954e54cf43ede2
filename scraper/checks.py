"""Is this download a MIDI file? Pure checks on bytes, each failure a short stable reason.

The web is full of things named `.mid` that are not: 404 pages served with status 200, login
walls, truncated transfers. A file is kept only if it starts with an `MThd` header and mido
parses all of it; the reason strings end up in the manifest and the crawl summary.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a zip with entries, an empty zip
_HTML_MARKERS = (b"<!doctype", b"<html", b"<head", b"<body", b"<?xml", b"<script", b"<title")


@dataclass(frozen=True)
class Verdict:
    """The outcome of a check: ok, or a reason (`html`, `not-midi`, ...) with a detail."""

    reason: str | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.reason is None


OK = Verdict()


def looks_like_html(data: bytes) -> bool:
    """An HTML or XML document, whatever its name says (BOM and whitespace allowed)."""
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith(b"<") and any(marker in head for marker in _HTML_MARKERS)


def is_zip(data: bytes) -> bool:
    return data[:4] in ZIP_MAGIC


def check_size(size: int, max_bytes: int) -> Verdict:
    if size > max_bytes:
        return Verdict("too-large", f"{size:,} bytes, limit {max_bytes:,}")
    return OK


def check_midi(data: bytes, max_bytes: int) -> Verdict:
    """Header, then a full parse with mido: a file that passes opens in any MIDI reader."""
    if not data:
        return Verdict("empty", "0 bytes")
    size = check_size(len(data), max_bytes)
    if not size.ok:
        return size
    if looks_like_html(data):
        return Verdict("html", "an HTML page, not MIDI")
    if not data.startswith(b"MThd"):
        return Verdict("not-midi", f"starts with {data[:8]!r}, not an MThd header")
    import mido

    try:
        midi = mido.MidiFile(file=io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001 (mido raises EOFError, OSError, ValueError, ...)
        return Verdict("unparseable", f"{type(exc).__name__}: {exc}"[:200])
    if not midi.tracks:
        return Verdict("unparseable", "no tracks")
    if not any(msg.type == "note_on" and msg.velocity > 0 for track in midi.tracks
               for msg in track):
        return Verdict("no-notes", "no note-on events")
    return OK
