"""Which soundfont FluidSynth loads: flag > $COMPOSER_SOUNDFONT > soundfonts/ > system GM.

One lookup for every command that renders audio, so `--soundfont` means the same everywhere
and a missing soundfont is reported the same way.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ENV_VAR = "COMPOSER_SOUNDFONT"
PROJECT_DIR = Path(__file__).resolve().parent.parent / "soundfonts"
# Debian/Ubuntu's fluid-soundfont-gm, then other common locations of a GM soundfont.
SYSTEM_SOUNDFONTS = (
    Path("/usr/share/sounds/sf2/default-GM.sf2"),
    Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"),
    Path("/usr/share/sounds/sf3/default-GM.sf3"),
    Path("/usr/share/soundfonts/default.sf2"),
    Path("/usr/share/soundfonts/FluidR3_GM.sf2"),
)
SUFFIXES = (".sf2", ".sf3")


class SoundfontError(Exception):
    """No usable soundfont where one was asked for, or none anywhere."""


@dataclass(frozen=True)
class Soundfont:
    path: Path
    origin: str  # "flag", "environment", "project" or "system": where the lookup found it


def _usable(path: Path, origin: str) -> Path:
    if not path.is_file():
        raise SoundfontError(f"{path}: soundfont not found (from {origin})")
    if path.suffix.lower() not in SUFFIXES:
        raise SoundfontError(f"{path}: not a soundfont (expected .sf2 or .sf3)")
    return path


def find_soundfont(
    flag: str | os.PathLike | None = None,
    *,
    environ: dict | None = None,
    project_dir: Path = PROJECT_DIR,
    system: tuple[Path, ...] = SYSTEM_SOUNDFONTS,
) -> Soundfont:
    """The soundfont to use. An explicit choice that is missing is an error, never skipped."""
    environ = os.environ if environ is None else environ
    if flag:
        return Soundfont(_usable(Path(flag).expanduser(), "--soundfont"), "flag")
    if environ.get(ENV_VAR):
        return Soundfont(_usable(Path(environ[ENV_VAR]).expanduser(), f"${ENV_VAR}"),
                         "environment")
    if project_dir.is_dir():
        found = sorted(p for p in project_dir.iterdir() if p.suffix.lower() in SUFFIXES)
        if found:
            return Soundfont(found[0], "project")
    for path in system:
        if path.is_file():
            return Soundfont(path, "system")
    raise SoundfontError(
        "no soundfont found: pass --soundfont FILE, set $COMPOSER_SOUNDFONT, put an .sf2 in "
        f"{project_dir}, or install Debian's fluid-soundfont-gm (apt-get install fluid-soundfont-gm)"
    )
