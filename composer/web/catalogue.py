"""The checkpoints a studio offers, by name: the shipped ones and the folders its operator
names (`composer serve --checkpoint DIR`, or COMPOSER_STUDIO_CHECKPOINTS for workers started
apart). Clients choose by name; a folder never crosses the API."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from composer.web.settings import StudioSettings

SHIPPED = ("pop", "gan", "vae-2bar", "vae-16bar")  # what the job kinds run
KINDS = {"gan": ("gan",), "pop": ("pop",), "vae": ("vae-2bar", "vae-16bar")}  # job -> models


@dataclass(frozen=True)
class Entry:
    name: str  # what a client sends as "checkpoint" (or a fusion's "model")
    model: str  # model.json's "model": gan, pop, vae-2bar, vae-16bar
    folder: Path
    shipped: bool

    def to_dict(self) -> dict:
        return {"name": self.name, "model": self.model, "shipped": self.shipped}


def catalogue(settings: StudioSettings) -> dict[str, Entry]:
    """Shipped checkpoints under their registry names, the operator's under their folder
    names (a clash gets a number). An unreadable folder is an error at start, not a job's."""
    from composer.generators import checkpoint_kind
    from models.checkpoint import default_dir

    entries = {name: Entry(name, name, default_dir(name), True) for name in SHIPPED}
    for folder in settings.checkpoints:
        folder = Path(folder).expanduser().resolve()
        name, n = folder.name, 2
        while name in entries:
            name, n = f"{folder.name}-{n}", n + 1
        entries[name] = Entry(name, checkpoint_kind(folder), folder, False)
    return entries


def choose(entries: dict[str, Entry], kind: str, name: str | None) -> Entry | None:
    """The entry a job of `kind` asked for (None: the kind's default); ValueError says why
    a name does not fit."""
    if name is None:
        return None
    if kind not in KINDS:
        raise ValueError(f"{kind} is made from the shipped gan and vae-2bar; it takes no "
                         "checkpoint")
    entry = entries.get(name)
    if entry is None:
        raise ValueError(f"no checkpoint {name[:60]!r}; GET /models lists them")
    if entry.model not in KINDS[kind]:
        raise ValueError(f"{name} is a {entry.model} model; /generate/{kind} runs "
                         f"{' or '.join(KINDS[kind])}")
    return entry
