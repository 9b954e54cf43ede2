"""The CLI's start-up shortcut: note-seq works as before, its notebook helpers load on use."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import sys
from composer.lazy_imports import defer_note_seq_notebook_utils
defer_note_seq_notebook_utils()
import note_seq
from note_seq import midi_io, sequences_lib
assert "bokeh" not in sys.modules, "notebook helpers loaded eagerly"
sequence = note_seq.NoteSequence()
sequence.notes.add(pitch=60, start_time=0.0, end_time=1.0, velocity=80)
sequence.total_time = 1.0
assert len(midi_io.note_sequence_to_pretty_midi(sequence).instruments[0].notes) == 1
assert sequences_lib.stretch_note_sequence(sequence, 2.0).total_time == 2.0
import note_seq.notebook_utils as helpers
assert callable(helpers.play_sequence) and "bokeh" not in sys.modules
helpers.__getattr__("plot_sequence")  # anything asked of it loads the real module
assert "bokeh" in sys.modules and sys.modules["note_seq.notebook_utils"] is not helpers
print("ok")
"""


def test_note_seq_works_and_its_notebook_helpers_load_on_first_use():
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "ok"  # libraries may print before it
