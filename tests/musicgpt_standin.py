"""Stand-in executables for MusicGPT, which cannot run here (its MusicGen models download at run
time): each checks the arguments it gets as the real binary would parse them, logs the call,
and then does one thing, good or bad.

    write(path, behaviour, delay=0.0) -> path of an executable script (a shebang to this
    Python), one of:
        good     prints progress, writes a real WAV: a chord pulse at 100 bpm, 32 kHz mono
        crash    says why on stderr and exits 3
        hang     starts a grandchild, then both sleep (a stop must kill the group)
        garbage  writes bytes that are not audio
        silence  writes a WAV of zeros
        short    writes 2 seconds whatever was asked
        nan      writes a WAV of NaN
"""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

SCRIPT = r'''
import json, os, subprocess, sys, time
args = sys.argv[1:]
log = os.environ.get("STANDIN_LOG")
def fail(message):
    sys.stderr.write(message + "\n")
    sys.exit(2)
flags = {"--secs", "--model", "--output", "--data-path"}
switches = {"--no-playback", "--no-interactive", "--gpu"}
prompt, seen, i = None, {}, 0
while i < len(args):
    if args[i] in flags:
        seen[args[i]] = args[i + 1]
        i += 2
    elif args[i] in switches:
        seen[args[i]] = True
        i += 1
    elif args[i].startswith("--"):
        fail(f"error: unexpected argument '{args[i]}' found")
    else:
        prompt = args[i]
        i += 1
if prompt is None or "--output" not in seen or "--secs" not in seen:
    fail("error: the following required arguments were not provided")
if not (seen.get("--no-playback") and seen.get("--no-interactive")):
    fail("error: would play the audio and wait for input")
if log:
    with open(log, "a") as handle:
        handle.write(json.dumps({"prompt": prompt, "args": seen, "pid": os.getpid()}) + "\n")
secs, out = int(seen["--secs"]), seen["--output"]
time.sleep(DELAY)
if BEHAVIOUR == "crash":
    sys.stderr.write("Error: failed to download model: connection refused\n")
    sys.exit(3)
if BEHAVIOUR == "hang":
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    if log:
        with open(log, "a") as handle:
            handle.write(json.dumps({"grandchild": child.pid}) + "\n")
    time.sleep(600)
for step in range(0, 101, 20):
    print(f"Generating audio: {step}%", end="\r", flush=True)
import numpy as np, soundfile
rate = 32000
if BEHAVIOUR == "garbage":
    open(out, "wb").write(os.urandom(5000))
    sys.exit(0)
t = np.arange((2 if BEHAVIOUR == "short" else secs) * rate) / rate
beat = 0.6
pulse = np.exp(-(t % beat) / 0.12)
tone = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.18, 329.63)) / 3
kick = np.sin(2 * np.pi * 55.0 * t) * np.exp(-(t % beat) / 0.04)
audio = (0.3 * tone * pulse + 0.4 * kick).astype(np.float32)
if BEHAVIOUR == "silence":
    audio[:] = 0.0
if BEHAVIOUR == "nan":
    audio[:] = np.nan
soundfile.write(out, audio, rate, subtype="FLOAT")
print("Audio written", flush=True)
'''


def write(path: Path, behaviour: str = "good", delay: float = 0.0) -> Path:
    path = Path(path)
    path.write_text(f"#!{sys.executable}\nBEHAVIOUR = {behaviour!r}\nDELAY = {delay!r}\n"
                    + SCRIPT)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def calls(log: Path) -> list[dict]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not yet reaped by a parent that is gone) counts as dead
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False
