"""`composer gui`: a pygame window driving the same Player as `composer play` and the shell.

    tap.py       a sink wrapper that keeps the last seconds written, for the views
    inbox.py     player events and messages, queued from any thread, read by the window
    board.py     what the window shows, fed from the inbox (pure state, no pygame)
    scope.py     pure analysis for the views: waveform envelope, spectrum bands
    roll.py      a loop's piano roll as a Surface, drawn once per loop and size
    layout.py    panel rectangles from the window size
    views.py     one drawing function per panel
    widgets.py   buttons, steppers, text fields, toggles, and the focus ring
    controls.py  the control panel: widgets bound to the player
    worker.py    player calls that may take long (a model load), off the drawing thread
    midi.py      live MIDI out switched on and off while playing
    app.py       the window: events in, one frame out (`App.step`), `run_gui`

Threads: the player's own (producer stages, playback) publish events into the inbox; the
worker applies settings; the main thread alone touches pygame's display.
"""

import os

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
