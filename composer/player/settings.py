"""What the player plays: one frozen settings object, checked where it is made.

The CLI and the shell parse what users type (`parse_setting`); the player and everything
below it take typed values only. A model is any name in the generator registry or a
checkpoint folder; a source is any loop maker in composer.player.makers.MAKERS.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from functools import cached_property

LIMITS = {"qpm": (20.0, 400.0), "temperature": (0.05, 5.0), "loop_seconds": (0.5, 3600.0),
          "program": (0, 127), "bars": (1, 64), "crossfade_beats": (0.0, 64.0)}


@dataclass(frozen=True)
class PlaySettings:
    model: str = "pop"  # a registry name (composer.generators) or a checkpoint folder
    checkpoint: str | None = None  # a folder `composer train` wrote; its model.json says which
    source: str = "midi"  # the loop maker (composer.player.makers.MAKERS)
    qpm: float = 120.0  # quarter notes a minute
    program: int | tuple[int, ...] | None = None  # GM program of every pitched note, or one
    # per track (the pop model's melody, bridge, accompaniment); None: the model's own
    temperature: float | None = None  # None: the model's default
    mode: str | None = None  # "major" | "minor": each phrase moved there (composer.modes)
    bars: int = 8  # length of each loop
    loop_seconds: float = 20.0  # how long a loop plays before the next comes in
    crossfade_beats: float = 4.0  # beats of the incoming loop
    seed: int | None = None
    soundfont: str | None = None
    sample_rate: int = 44100
    ahead: int = 2  # loops kept ready ahead of the playhead
    block: int = 4096  # frames handed to the sink at a time
    patience: float = 30.0  # offline: how long to wait for a late loop before repeating
    prompt: str | None = None  # the text the musicgpt source writes audio for
    musicgpt: str | None = None  # its binary (composer.musicgpt.find_binary looks if None)
    musicgpt_model: str = "small"
    clip_seconds: int = 10  # each MusicGPT clip, 1..30
    musicgpt_timeout: float = 300.0  # seconds before a clip is given up (and tried again)

    def __post_init__(self) -> None:
        """Settings come from users (flags, the shell): one clear ValueError for a bad one."""
        from composer.generators import resolve
        from composer.player.makers import MAKERS

        if self.source not in MAKERS:
            raise ValueError(f"unknown source {self.source!r}; one of {', '.join(MAKERS)}")
        resolve(self.model, self.checkpoint)  # GenerationError (a ValueError) names the problem
        if self.mode not in (None, "major", "minor"):
            raise ValueError(f"mode must be major or minor, not {self.mode!r}")
        for field, (low, high) in LIMITS.items():
            value = getattr(self, field)
            for one in value if isinstance(value, tuple) else (value,):
                if one is not None and not low <= one <= high:
                    raise ValueError(f"{_name(field)} must be between {low:g} and {high:g}, "
                                     f"not {one:g}")

    @cached_property
    def model_label(self) -> str:
        """The model as the user knows it: its name, or name (folder) for their own."""
        from composer.generators import label

        return label(self.model, self.checkpoint)


# What users may change while playing, by the name the CLI flag has, and how to read it.
SETTINGS = {"qpm": ("qpm", float), "model": ("model", str), "checkpoint": ("checkpoint", str),
            "temperature": ("temperature", float), "program": ("program", "programs"),
            "bars": ("bars", int), "loop-seconds": ("loop_seconds", float),
            "crossfade": ("crossfade_beats", float), "mode": ("mode", str),
            "engine": ("source", str)}
ALIASES = {"tempo": "qpm", "instrument": "program", "duration": "loop-seconds"}


def _name(field: str) -> str:
    return next((name for name, (f, _) in SETTINGS.items() if f == field), field)


def parse_setting(name: str, text: str) -> dict:
    """One user-typed setting as {field: typed value}, for `PlaySettings` or `Player.set`.
    `model PATH` means a checkpoint folder; `program default` the model's own instruments."""
    name = ALIASES.get(name, name)
    if name not in SETTINGS:
        raise ValueError(f"unknown setting {name!r}; one of {', '.join(SETTINGS)}")
    field, kind = SETTINGS[name]
    if name in ("program", "temperature", "mode") and text in ("default", "model"):
        return {field: None}
    if kind == "programs":
        return {field: parse_program(text)}
    try:
        value = kind(text)
    except ValueError:
        raise ValueError(f"{name}: {text!r} is not a {'number' if kind is float else 'whole number'}"
                         ) from None
    if name == "model":  # a new model drops the old checkpoint, whichever way it is named
        return {"model": value, "checkpoint": None}
    if name == "checkpoint":  # the folder's model.json says which model it is
        from composer.generators import resolve

        return {"model": resolve(checkpoint=value)[0].name, "checkpoint": value}
    return {field: value}


def parse_program(text: str) -> int | tuple[int, ...]:
    """`73` (every track) or `73,48,0` (one GM program per track, in the model's order)."""
    try:
        values = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise ValueError(f"program: {text!r} is not a GM program 0-127 or a list like 73,48,0"
                         ) from None
    for value in values:
        if not 0 <= value <= 127:
            raise ValueError(f"program: {value} is not a GM program 0-127")
    return values[0] if len(values) == 1 and "," not in text else values


def changed(settings: PlaySettings, **values) -> PlaySettings:
    """`settings` with typed values changed (and checked)."""
    known = {f.name for f in fields(PlaySettings)}
    unknown = set(values) - known
    if unknown:
        raise ValueError(f"unknown setting {', '.join(sorted(unknown))}")
    return replace(settings, **values)
