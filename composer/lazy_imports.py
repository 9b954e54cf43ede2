"""Start-up: parts of note-seq that composer never uses load on first use, not on
`import note_seq`.

`import note_seq` imports every module of the package. Three of them cost most of its import
and serve nothing here: `notebook_utils` (bokeh, IPython, pandas: about 0.8 s), `audio_io`
(scipy.io: 0.25 s) and `melody_inference` (scipy.linalg: 0.15 s), all on the path to the
first note of `composer play` and `composer generate`. The CLI registers a placeholder module
for each, with the names note-seq's own `__init__` takes from it; calling one of them, or
asking the placeholder for anything else, imports the real module.
"""

from __future__ import annotations

import importlib
import sys
import types

# module -> (functions note_seq/__init__ imports from it, exception classes it imports)
DEFERRED = {
    "note_seq.notebook_utils": (("play_sequence", "plot_sequence"), ()),
    "note_seq.audio_io": ((), ()),
    "note_seq.melody_inference": (("infer_melody_for_sequence",), ("MelodyInferenceError",)),
}


def _real(name: str) -> types.ModuleType:
    placeholder = sys.modules.pop(name)
    try:
        module = importlib.import_module(name)
    except BaseException:
        sys.modules[name] = placeholder
        raise
    # The exception classes note_seq exported are the placeholder's: the real module raises
    # those same classes, so `except note_seq.MelodyInferenceError` still catches.
    for error in DEFERRED[name][1]:
        setattr(module, error, getattr(placeholder, error))
    return module


def _forward(module: str, name: str):
    def call(*args, **kwargs):
        return getattr(_loaded(module), name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    return call


def _loaded(name: str) -> types.ModuleType:
    module = sys.modules.get(name)
    if module is None or getattr(module, "_composer_placeholder", False):
        module = _real(name)
    return module


def defer_note_seq_imports() -> None:
    """Register the placeholders; a no-op once note_seq has been imported."""
    if "note_seq" in sys.modules or any(name in sys.modules for name in DEFERRED):
        return
    for name, (functions, errors) in DEFERRED.items():
        placeholder = types.ModuleType(name, f"loads {name} on first use")
        placeholder._composer_placeholder = True
        for function in functions:
            setattr(placeholder, function, _forward(name, function))
        for error in errors:
            setattr(placeholder, error, type(error, (Exception,), {"__module__": name}))
        placeholder.__getattr__ = _getattr_for(name)
        sys.modules[name] = placeholder


def _getattr_for(name: str):
    def __getattr__(attribute: str):
        if attribute.startswith("__"):  # the import system probing (__path__, __spec__...)
            raise AttributeError(attribute)
        return getattr(_loaded(name), attribute)

    return __getattr__
