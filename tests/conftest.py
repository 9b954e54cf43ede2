"""Shared fixtures: real corpus pieces converted from music21, and generated MIDI files.

Tests get their own music21 conversion cache (COMPOSER_CACHE), so they never depend on what
an earlier `make demo` left in ~/.cache, and CLI subprocesses inherit it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session", autouse=True)
def composer_cache(tmp_path_factory):
    cache = tmp_path_factory.mktemp("composer-cache")
    old = os.environ.get("COMPOSER_CACHE")
    os.environ["COMPOSER_CACHE"] = str(cache)
    yield cache
    if old is None:
        os.environ.pop("COMPOSER_CACHE", None)
    else:
        os.environ["COMPOSER_CACHE"] = old


def _convert(collection: str, limit: int) -> list[Path]:
    from training import music21_corpus

    pieces = music21_corpus.list_pieces(collection, limit)
    for piece in pieces:
        if not music21_corpus.is_converted(piece):
            music21_corpus.convert_piece(piece)
    return [Path(p.midi_path) for p in music21_corpus.iter_converted(pieces)]


@pytest.fixture(scope="session")
def chorales(composer_cache) -> list[Path]:
    """Real Bach chorales from music21's corpus, converted to MIDI (four voices, real keys)."""
    return _convert("bach", 8)


@pytest.fixture(scope="session")
def folk_tunes(composer_cache) -> list[Path]:
    """Real Nottingham and Essen tunes converted to MIDI."""
    return _convert("nottingham", 2) + _convert("essen", 10)




@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory, chorales, folk_tunes):
    """A corpus built by `composer corpus build` from the real pieces above, split 50/25/25 so
    that valid and test are not empty."""
    from factories import copy_tree, run_cli

    root = tmp_path_factory.mktemp("small-corpus")
    copy_tree(chorales + folk_tunes, root / "midi")
    out = root / "corpus"
    run_cli("corpus", "build", f"dir:{root / 'midi'}", "-o", out, "--split", "50/25/25",
            check=True)
    return out
