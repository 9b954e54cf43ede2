"""Start-up: note-seq's Jupyter helpers load on first use instead of on `import note_seq`.

`import note_seq` imports `note_seq.notebook_utils`, which pulls in bokeh, IPython and pandas:
about 0.8 s of a 1.3 s import, on the path to the first note of `composer play` and
`composer generate`. Nothing in composer uses those helpers, so the CLI registers a
placeholder module whose two functions (`play_sequence`, `plot_sequence`) import the real one
when called. Anything else asked of the placeholder loads the real module too.
"""

from __future__ import annotations

import importlib
import sys
import types

NOTEBOOK_UTILS = "note_seq.notebook_utils"


def _real_notebook_utils() -> types.ModuleType:
    placeholder = sys.modules.pop(NOTEBOOK_UTILS)
    try:
        module = importlib.import_module(NOTEBOOK_UTILS)
    except BaseException:
        sys.modules[NOTEBOOK_UTILS] = placeholder
        raise
    return module


def _forward(name: str):
    def call(*args, **kwargs):
        return getattr(_real_notebook_utils(), name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    return call


def defer_note_seq_notebook_utils() -> None:
    """Register the placeholder; a no-op once note_seq has been imported."""
    if "note_seq" in sys.modules or NOTEBOOK_UTILS in sys.modules:
        return
    placeholder = types.ModuleType(NOTEBOOK_UTILS, "loads note_seq.notebook_utils on first use")
    placeholder.play_sequence = _forward("play_sequence")
    placeholder.plot_sequence = _forward("plot_sequence")
    placeholder.__getattr__ = _getattr
    sys.modules[NOTEBOOK_UTILS] = placeholder


def _getattr(name: str):
    if name.startswith("__"):  # the import system probing (__path__, __spec__...): not ours
        raise AttributeError(name)
    return getattr(_real_notebook_utils(), name)
