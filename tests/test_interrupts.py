"""Interrupts leave nothing behind: SIGKILL, SIGINT and SIGTERM, sent as a user or a script would.

Every command runs in its own process, started with no terminal, as a job runner starts it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import factories as f
import pytest

# The real CLI with a build that commits every 0.2 s instead of every 30 s, and that takes
# 50 ms over each finished file, so that a SIGKILL lands midway whatever the machine's speed.
SLOW_BUILD = """
import sys, time
import training.corpus as corpus
corpus.COMMIT_SECONDS = 0.2
add = corpus._Pending.add
corpus._Pending.add = lambda self, *args: (add(self, *args), time.sleep(0.05))[0]
from composer.cli import main
sys.argv[0] = "composer"
main()
"""


def _dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _temps(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        kids = children.get(todo.pop(), [])
        found += kids
        todo += kids
    return found


def _running(pid: int) -> bool:
    """Alive and not a zombie (a container's init may never reap one)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _long_midi(path: Path, minutes: float) -> Path:
    """A melody of eighth notes lasting `minutes`: seconds of rendering, little memory."""
    count = int(minutes * 60 * 4)
    return f.write_midi(path, [(48 + (i * 7) % 36, i * 0.25, i * 0.25 + 0.5) for i in range(count)])


def _wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_stale_temp_of_a_dead_writer_is_removed_by_the_next_write(tmp_path):
    song = f.write_midi(tmp_path / "song.mid", f.scale_notes([60, 62, 64, 65, 67, 69, 71, 72]))
    out = tmp_path / "out"
    out.mkdir()
    dead, alive = _dead_pid(), os.getpid()
    stale = [f".song.wav.{dead}.tmp", f".song.wav.{dead}.f32.tmp", f".c.mid.{dead}.k2_x9ab1.tmp"]
    kept = [f".song.wav.{alive}.tmp", ".foo.tmp", f"song.wav.{dead}.tmp", f".{dead}.tmp",
            f".song.wav.{dead}.not-ours.tmp", f".song.wav.{dead}"]
    for name in stale + kept:
        (out / name).write_bytes(b"x" * 1000)
    f.run_cli("transpose", song, out / "c.mid", check=True)
    assert sorted(p.name for p in out.iterdir()) == sorted(kept + ["c.mid"])


def test_killed_build_leaves_no_process_and_resumes_from_its_last_commit(tmp_path):
    root = tmp_path / "midi"
    for i in range(40):  # distinct music: no file is a duplicate of another
        f.write_midi(root / f"p{i:02d}.mid", f.scale_notes(list(range(40 + i, 52 + i + i % 5))))
    out = tmp_path / "corpus"
    args = ["corpus", "build", f"dir:{root}", "-o", str(out), "--workers", "2"]
    build = subprocess.Popen([sys.executable, "-c", SLOW_BUILD, *args], cwd=f.ROOT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert _wait_for(lambda: (out / "parts" / "part-00001.csv").exists(), 120), \
            build.stderr.read() if build.poll() is not None else "no second part"
        family = _descendants(build.pid)
        assert family  # the forkserver, its workers and the resource tracker
    finally:
        build.kill()
        build.wait()
    assert _wait_for(lambda: not any(_running(pid) for pid in family), 5), \
        [Path(f"/proc/{pid}/cmdline").read_bytes()[:80] for pid in family if _running(pid)]

    committed = sum(len(f.lines(p.read_text())) - 1 for p in (out / "parts").glob("part-*[0-9].csv"))
    assert not (out / "manifest.csv").exists() and 0 < committed < 40  # stopped midway
    result = f.run_cli(*args, check=True)
    assert f"added {40 - committed}, skipped 0, already done {committed}" in result.stdout
    assert len(f.lines((out / "manifest.csv").read_text())) == 1 + 40


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_stops_a_background_render_and_cleans_up(tmp_path, signum):
    """As `bash -c 'composer render ... & wait'` runs it: no terminal, no job control, so the
    shell starts the command with SIGINT ignored."""
    midi = _long_midi(tmp_path / "long.mid", minutes=20)
    out = tmp_path / "out"
    out.mkdir()
    script = (f"{sys.executable} -m composer render {midi} -o {out / 'long.wav'} & echo $!; "
              "wait $!")
    shell = subprocess.Popen(["bash", "-c", script], cwd=f.ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        pid = int(shell.stdout.readline())
        _wait_for(lambda: _temps(out), 20)  # rendering has begun
        os.kill(pid, signum)
        _, stderr = shell.communicate(timeout=30)
    finally:
        if shell.poll() is None:
            os.killpg(shell.pid, signal.SIGKILL)
    assert shell.returncode == 128 + signum, stderr
    assert "Traceback" not in stderr and f.lines(stderr)[-1] == "interrupted", stderr
    assert list(out.iterdir()) == []
