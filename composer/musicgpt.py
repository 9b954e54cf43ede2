"""MusicGPT, the audio-domain generator: a local binary (github.com/gabotechs/MusicGPT) that runs
Meta's MusicGen models on a text prompt and writes a WAV.

It is installed by the user (its models download on first use), so this module finds it, runs
it as a child it can always stop, and trusts nothing it writes:

- found as `--musicgpt PATH`, env COMPOSER_MUSICGPT, `musicgpt` on PATH, or
  ./musicgpt-x86_64-unknown-linux-gnu (its release asset's name); a script with a shebang
  works too;
- run non-interactively with its own flags, in its own process group (so a stop kills the
  model runner it may have started as well), with a timeout; its stdout and stderr are read
  as they come, and any "NN%" in them is its progress;
- its WAV must decode, last the seconds asked within one, not be silent, hold no NaN and not
  clip for a run of samples; anything else is a MusicGptError whose one line says why.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from composer.audio import Clip

MODELS = ("small", "small-quant", "medium", "medium-quant", "large")
RELEASE_NAME = "musicgpt-x86_64-unknown-linux-gnu"
ENV = "COMPOSER_MUSICGPT"
INSTALL = ("install it from https://github.com/gabotechs/MusicGPT/releases (the "
           f"{RELEASE_NAME} binary), then pass --musicgpt PATH or set {ENV}")
PERCENT = re.compile(r"(\d{1,3}(?:\.\d+)?)\s*%")
SILENT_DBFS = -60.0
CLIP_LEVEL = 0.999
CLIP_RUN = 64  # samples in a row at full scale: distortion, not a peak


class MusicGptError(ValueError):
    """One line that says what went wrong with MusicGPT (not found, failed, bad output)."""


@dataclass(frozen=True)
class MusicGptRequest:
    prompt: str
    seconds: int = 10  # 1..30, MusicGPT's --secs
    model: str = "small"
    gpu: bool = False
    data_path: str | None = None  # where MusicGPT keeps its downloaded models
    timeout: float = 600.0

    def __post_init__(self) -> None:
        if not self.prompt.strip():
            raise ValueError("MusicGPT needs a prompt: --prompt \"...\"")
        if not 1 <= self.seconds <= 30:
            raise ValueError(f"MusicGPT writes 1-30 seconds, not {self.seconds}")
        if self.model not in MODELS:
            raise ValueError(f"MusicGPT model {self.model!r}: one of {', '.join(MODELS)}")


def find_binary(explicit: str | os.PathLike | None = None) -> Path:
    """The MusicGPT executable, looked for in the documented order."""
    tried = []
    for label, candidate in (("--musicgpt", explicit), (ENV, os.environ.get(ENV)),
                             ("PATH", shutil.which("musicgpt")),
                             ("./", RELEASE_NAME if Path(RELEASE_NAME).exists() else None)):
        if not candidate:
            continue
        path = Path(candidate).expanduser()
        if path.is_file():
            return path.resolve()
        tried.append(f"{label} {path}: no such file")
        if label == "--musicgpt":  # what the user named must exist
            raise MusicGptError(f"{path}: no such file; {INSTALL}")
    raise MusicGptError("MusicGPT is not installed (" + ("; ".join(tried) or
                        "not on PATH, no ./" + RELEASE_NAME) + f"); {INSTALL}")


def command(binary: Path, request: MusicGptRequest, output: Path) -> list[str]:
    """MusicGPT's real command line for one clip (a shebang script run by its interpreter
    when it is not executable itself)."""
    args = [request.prompt, "--secs", str(request.seconds), "--model", request.model,
            "--output", str(output), "--no-playback", "--no-interactive"]
    if request.gpu:
        args.append("--gpu")
    if request.data_path:
        args += ["--data-path", str(request.data_path)]
    if os.access(binary, os.X_OK):
        return [str(binary), *args]
    with open(binary, "rb") as handle:
        first = handle.readline(200)
    if first.startswith(b"#!"):
        return [*first[2:].decode(errors="replace").split(), str(binary), *args]
    raise MusicGptError(f"{binary}: not executable (chmod +x it) and not a script")


def generate(binary: Path, request: MusicGptRequest, *, sample_rate: int | None = None,
             progress: Callable[[float], None] | None = None,
             stop: threading.Event | None = None) -> Clip:
    """One clip from MusicGPT, checked, as stereo float32 (resampled to `sample_rate` when
    given). `progress(fraction)` hears what it reports; setting `stop` kills it."""
    with tempfile.TemporaryDirectory(prefix="composer-musicgpt-") as folder:
        output = Path(folder) / "clip.wav"
        lines = run(command(binary, request, output), request.timeout, progress, stop)
        return read_clip(output, request.seconds, sample_rate, lines)


def run(args: list[str], timeout: float, progress: Callable[[float], None] | None = None,
        stop: threading.Event | None = None) -> list[str]:
    """Run MusicGPT in its own process group until it exits; its output lines. A timeout or
    `stop` ends the whole group (SIGTERM, then SIGKILL after 2 s)."""
    try:
        child = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, start_new_session=True)
    except OSError as exc:
        raise MusicGptError(f"{args[0]}: cannot run it ({exc.strerror or exc})") from None
    lines: list[str] = []
    reader = threading.Thread(target=_read, args=(child, lines, progress), daemon=True)
    reader.start()
    deadline = time.monotonic() + timeout
    while child.poll() is None:
        if stop is not None and stop.is_set():
            _kill(child)
            raise MusicGptError("MusicGPT stopped")
        if time.monotonic() > deadline:
            _kill(child)
            raise MusicGptError(f"MusicGPT took longer than {timeout:g} s; stopped it")
        time.sleep(0.05)
    reader.join(2.0)
    if child.returncode != 0:
        last = next((line for line in reversed(lines) if line.strip()), "no output")
        how = (f"was killed by signal {-child.returncode}" if child.returncode < 0 else
               f"exited with {child.returncode}")
        raise MusicGptError(f"MusicGPT {how}: {last.strip()[:200]}")
    return lines


def _read(child: subprocess.Popen, lines: list[str], progress) -> None:
    """Its output as it comes; progress bars redraw with \\r, so both end a line."""
    buffer = b""
    while chunk := child.stdout.read1(4096):
        buffer += chunk
        *done, buffer = re.split(rb"[\r\n]", buffer)
        for raw in done:
            line = raw.decode(errors="replace")
            lines.append(line)
            match = PERCENT.search(line)
            if match and progress is not None:
                progress(min(1.0, float(match.group(1)) / 100.0))
    if buffer:
        lines.append(buffer.decode(errors="replace"))


def _kill(child: subprocess.Popen) -> None:
    """SIGTERM to the whole group, SIGKILL to what is left of it after 2 s."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(child.pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            if child.poll() is not None and not _group_alive(child.pid):
                return
            time.sleep(0.05)
    try:
        child.wait(5.0)
    except subprocess.TimeoutExpired:
        pass


def _group_alive(group: int) -> bool:
    """Whether any process of the group still runs (zombies waiting to be reaped do not)."""
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            return True
    return False


def read_clip(path: Path, seconds: float, sample_rate: int | None = None,
              lines: list[str] = ()) -> Clip:
    """MusicGPT's WAV, checked as the module docstring says, as a Clip with no known tempo
    (the loop detector estimates its beat grid)."""
    import soundfile

    if not path.exists() or path.stat().st_size == 0:
        said = next((line.strip() for line in reversed(lines) if line.strip()), "")
        raise MusicGptError("MusicGPT wrote no WAV" + (f" (it said: {said[:160]})" if said
                                                        else ""))
    try:
        audio, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError) as exc:
        raise MusicGptError(f"MusicGPT wrote a file that is not audio ({exc})") from None
    length = len(audio) / rate
    if abs(length - seconds) > 1.0:
        raise MusicGptError(f"MusicGPT wrote {length:.1f} s of audio, asked for {seconds:g}")
    if not np.all(np.isfinite(audio)):
        raise MusicGptError("MusicGPT's audio holds NaN or infinite samples")
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64))))
    if rms < 10.0 ** (SILENT_DBFS / 20.0):
        raise MusicGptError(f"MusicGPT's audio is silent (below {SILENT_DBFS:g} dBFS)")
    run_length = _longest_run(np.abs(audio).max(axis=1) >= CLIP_LEVEL)
    if run_length >= CLIP_RUN:
        raise MusicGptError(f"MusicGPT's audio clips ({run_length} samples in a row at full "
                            "scale)")
    if audio.shape[1] == 1:
        audio = np.repeat(audio, 2, axis=1)
    audio = audio[:, :2]
    if sample_rate is not None and rate != sample_rate:
        import soxr

        audio = soxr.resample(audio, rate, sample_rate, quality="HQ").astype(np.float32)
        rate = sample_rate
    return Clip(audio=np.ascontiguousarray(audio), sample_rate=rate, frames=len(audio),
                qpm=None)


def _longest_run(mask: np.ndarray) -> int:
    if not mask.any():
        return 0
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return int((np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)).max())
