"""Hostile MIDI through every command that reads MIDI: no traceback, no hang, bounded memory,
and one acceptance (issue 14).

A few hundred files from tests/hostile_midi.py (every case the issue found, then seeded
mutations) go through each command's reading path in-process (tests/command_readers.py). What
the corpus-build reader accepts, every command accepts or refuses only for a stated reason of
its own (the 30-minute render cap, no melody); what it refuses, every command refuses with
the same words, one line naming the file. A few subprocesses check the same as a user sees it:
exit code 1 and one `error: <path>: <reason>` line, unwrapped however long the path.
"""

from __future__ import annotations

import resource
import time
import warnings
from dataclasses import dataclass

import factories as f
import pytest
from command_readers import COMMANDS, Readers, disagreement, reader_verdict
from hostile_midi import corpus, named_cases

FILES = 500
SEED = 14
CPU_SECONDS = 10.0  # the most one command may spend reading one file: more is a hang
MEMORY_GROWTH = 1 << 30  # bytes the whole run may add to the process' peak


@dataclass(frozen=True)
class Outcome:
    name: str  # the case
    path: str  # the file as the command was given it
    command: str
    verdict: object  # the reader's BadMidi, None: it accepts the file
    message: str | None  # the command's user error, None: it went on
    crash: str | None  # any other exception
    cpu: float  # seconds


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory) -> tuple[list[Outcome], int]:
    """Every file through every command once; (outcomes, peak RSS growth in bytes)."""
    from composer.cli import _user_errors

    work = tmp_path_factory.mktemp("fuzz")
    readers, user_errors = Readers(work), _user_errors()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a warning is not a traceback; pytest keeps its own
        for i, (name, data) in enumerate(corpus(FILES, seed=SEED)):
            path = work / f"{i:03d}-{name}.mid"
            path.write_bytes(data)
            _, bad = reader_verdict(data)
            for command in COMMANDS:
                message = crash = None
                start = time.process_time()
                try:
                    readers.run(command, path)
                except user_errors as exc:
                    message = str(exc)
                except Exception as exc:  # noqa: BLE001 - what the test is looking for
                    crash = f"{type(exc).__name__}: {exc}"[:300]
                out.append(Outcome(name, str(path), command, bad, message, crash,
                                   time.process_time() - start))
            path.unlink()
    growth = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024
    return out, growth


def test_the_corpus_holds_every_case_and_both_verdicts(outcomes):
    names = {o.name for o in outcomes[0]}
    assert {name for name, _ in named_cases()} <= names
    corpus_verdicts = [o.verdict is None for o in outcomes[0] if o.command == "corpus"]
    assert 0.15 < sum(corpus_verdicts) / len(corpus_verdicts) < 0.7  # both kinds, many each


def test_no_command_crashes(outcomes):
    crashes = [(o.command, o.name, o.crash) for o in outcomes[0] if o.crash]
    assert not crashes, crashes[:10]


def test_no_file_hangs_a_command(outcomes):
    slowest = max(outcomes[0], key=lambda o: o.cpu)
    assert slowest.cpu < CPU_SECONDS, (slowest.command, slowest.name, slowest.cpu)


def test_memory_stays_bounded(outcomes):
    assert outcomes[1] < MEMORY_GROWTH, f"peak grew {outcomes[1] / 2**20:.0f} MB"


def test_one_acceptance(outcomes):
    """One line naming the file; the reader's refusals in its words; its acceptances
    refused only for a command's own reason (command_readers.disagreement)."""
    wrong = [(o.command, o.name, why, o.message, o.verdict and o.verdict.detail)
             for o in outcomes[0] if not o.crash
             and (why := disagreement(o.command, o.path, o.verdict, o.message))]
    assert not wrong, wrong[:10]
    accepted = {o.name for o in outcomes[0] if o.verdict is None}
    for case in ("song-3-MB-text", "time-signature-denominator-255", "rmid",
                 "band-with-65535-tracks-promised", "one-bit-flip-makes-an-unknown-chunk",
                 "one-59-minute-note", "chord-2048-notes-59-min"):
        assert case in accepted


# --- as a user runs them ---------------------------------------------------------------

def _hostile(folder, name: str):
    """A named case written under a folder name long enough that a wrapped line would show."""
    path = folder / ("a-folder-name-long-enough-to-push-any-error-line-past-eighty-columns-"
                     * 2) / f"{name}.mid"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(dict(named_cases())[name])
    return path


@pytest.mark.parametrize("command", ["transpose", "render", "loop", "generate", "interpolate",
                                     "melody"])
def test_a_refused_file_is_one_unwrapped_error_line_and_exit_code_1(tmp_path, command):
    src = _hostile(tmp_path, "header-only-40000-tracks")
    good = f.write_midi(tmp_path / "good.mid", f.scale_notes([60, 62, 64, 65] * 8))
    args = {"transpose": ("transpose", src, tmp_path / "out.mid"),
            "render": ("render", src, "-o", tmp_path / "out.wav"),
            "loop": ("loop", src, "-o", tmp_path / "out.wav"),
            "generate": ("generate", "-o", tmp_path / "out.mid", "--primer", src),
            "interpolate": ("interpolate", src, good, "-o", tmp_path / "out.mid"),
            "melody": ("melody", src, "-o", tmp_path / "out.mid")}[command]
    result = f.run_cli(*args)
    assert result.returncode == 1, result.stderr
    reason = "cannot parse MIDI: truncated: header promises 40000 tracks, found none"
    assert f.lines(result.stderr) == [f"error: {src}: {reason}"]
    assert not list(tmp_path.glob("out*"))


@pytest.mark.parametrize("command", ["melody", "loop"])
def test_a_broken_mp3_frame_is_our_one_line_not_the_decoders(tmp_path, command):
    """libmpg123 prints its own warning to fd 2 about a lone MP3 frame header; the commands
    that read audio keep it out of the one error line."""
    src = _hostile(tmp_path, "mp3-frame-header")
    result = f.run_cli(command, src, "-o", tmp_path / ("out.mid" if command == "melody"
                                                       else "out.wav"))
    assert result.returncode == 1
    assert len(f.lines(result.stderr)) == 1, result.stderr
    assert f.lines(result.stderr)[0].startswith(f"error: {src}: ")


@pytest.mark.parametrize("name", ["time-signature-denominator-255", "song-smpte-frame-rate-7",
                                  "rmid", "chord-2048-notes-4-s"])
def test_accepted_hostile_files_render(tmp_path, name):
    src, out = _hostile(tmp_path, name), tmp_path / "out.wav"
    result = f.run_cli("render", src, "-o", out, "--no-reverb", "--no-chorus")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and out.stat().st_size > 1000


def test_accepted_hostile_files_go_through_generate_interpolate_and_melody(tmp_path):
    odd = _hostile(tmp_path, "song-key-signature-14-05")
    band = _hostile(tmp_path, "band-with-65535-tracks-promised")
    for args in (("generate", "-o", tmp_path / "g.mid", "--primer", odd, "--bars", "2"),
                 ("interpolate", band, odd, "-o", tmp_path / "i.mid", "--steps", "2"),
                 ("melody", band, "-o", tmp_path / "m.mid", "--bars", "2")):
        result = f.run_cli(*args)
        assert result.returncode == 0, (args[0], result.stderr)
        assert "Traceback" not in result.stderr


def test_a_usage_error_is_one_unwrapped_line_when_piped():
    result = f.run_cli("a-command-name-nobody-could-mean-" * 3)
    assert result.returncode == 2
    error = [line for line in f.lines(result.stderr) if line.startswith("Error:")]
    assert len(error) == 1 and "a-command-name-nobody-could-mean-" * 3 in error[0], result.stderr
    assert "╭" not in result.stderr


def test_a_table_is_not_wrapped_when_piped():
    from rich.table import Table

    from composer.cli import out

    table = Table()
    table.add_column("file")
    table.add_column("reason")
    table.add_row("x" * 120, "y" * 60)
    with out.capture() as captured:
        out.print(table)
    assert any("x" * 120 + " " in line and "y" * 60 in line
               for line in captured.get().splitlines())
