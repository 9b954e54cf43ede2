"""The numpy beat tracker against the librosa one it replaced: same tempo, beats and loops?

    git worktree add /tmp/before REV      # REV: the commit before composer/loop/beats.py
    .venv/bin/python benchmarks/beats_equivalence.py --before /tmp/before
    git worktree remove /tmp/before

Run by hand once, not a test. Clips: a drum, bass and chord groove and a piano arpeggio (no
drums) made with tests/factories.py at seven tempi and rendered with `composer render`, the
tests' synthetic drum grooves at 90/120/150 bpm and their plucked known loops. Each checkout
(--before: librosa.beat.beat_track, scipy's FFTs; --after, default this one: numpy alone)
analyses the same clips in its own process: the tempo estimate, the grid of
composer.loop.estimate_grid, and find_loop on the clip with its tempo unknown (the loop and
its seam scores). Also, on this checkout's onset envelopes, librosa.beat.beat_track against
composer.loop.beats.beat_track at the same tempo, frame for frame. Raw numbers go to
benchmarks/results/beats-equivalence.json; a Markdown summary is printed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SR = 44100
TEMPI = (72.0, 90.0, 100.0, 120.0, 137.0, 150.0, 172.0)
SECONDS = 20.0


def arpeggio_notes(qpm: float) -> list:
    beat = 60.0 / qpm
    notes = []
    chords = ((60, 64, 67, 72), (57, 60, 64, 69), (53, 57, 60, 65), (55, 59, 62, 67))
    for bar in range(int(SECONDS / (4 * beat))):
        chord = chords[bar % 4]
        for k in range(8):
            at = (bar * 4 + k / 2) * beat
            notes.append((chord[(0, 1, 2, 3, 2, 1, 2, 3)[k]], at, at + 0.5 * beat))
    return notes


def make_clips(folder: Path, render_root: Path) -> dict[str, tuple[np.ndarray, float | None]]:
    """name -> (float32 audio (frames, 2), true qpm or None)."""
    import soundfile
    from factories import drum_and_bass, write_midi
    from test_loop import groove, known_loop

    clips = {}
    for qpm in TEMPI:
        bars = int(SECONDS / (4 * 60.0 / qpm))
        for kind, mid in (("groove", drum_and_bass(folder / f"g{qpm:g}.mid", qpm, bars)),
                          ("piano", write_midi(folder / f"p{qpm:g}.mid", arpeggio_notes(qpm),
                                               program=0, tempo=qpm))):
            wav = mid.with_suffix(".wav")
            subprocess.run([sys.executable, "-m", "composer", "render", str(mid), "-o", str(wav)],
                           check=True, capture_output=True, cwd=render_root)
            audio, _ = soundfile.read(str(wav), dtype="float32", always_2d=True)
            clips[f"rendered {kind} {qpm:g} qpm"] = (audio[:int(SECONDS * SR)], qpm)
    for bpm in (90.0, 120.0, 150.0):
        for seed in (0, 1):
            clips[f"synthetic groove {bpm:g} bpm seed {seed}"] = (
                groove(seed, bpm=bpm, offset=0.37 * seed), bpm)
    for seed in (0, 1):
        clips[f"plucked known loop 104 bpm seed {seed}"] = (known_loop(seed)[0], 104.0)
    return clips


def worker(clips_path: Path, out_path: Path) -> None:
    """Runs inside one checkout: its analysis of every clip."""
    from composer.audio import Clip
    from composer.loop import estimate_grid, find_loop
    from composer.loop.grid import ANALYSIS_RATE, ONSET_HOP, mono_at, onset_envelope, tempo

    data = np.load(clips_path)
    out = {"composer": sys.modules["composer"].__file__}
    for name in data.files:
        audio = data[name]
        started = time.perf_counter()
        envelope = onset_envelope(mono_at(audio, SR), ANALYSIS_RATE)
        bpm = tempo(envelope, ANALYSIS_RATE / ONSET_HOP)
        grid = estimate_grid(audio, SR)
        loop = find_loop(Clip(audio=audio, sample_rate=SR))
        start = getattr(loop, "source_start", getattr(loop, "start", None))
        out[name] = {"bpm": float(bpm), "beats": grid.beats.tolist(),
                     "downbeat": int(grid.downbeat), "loop_start": int(start),
                     "loop_frames": int(loop.frames), "loop_bars": int(loop.bars),
                     "loop_qpm": float(loop.qpm),
                     "seam": [float(loop.seam.click), float(loop.seam.dip),
                              float(loop.seam.flux)],
                     "seconds": time.perf_counter() - started}
    out["modules"] = {m: m in sys.modules for m in ("librosa", "numba", "scipy.signal",
                                                     "scipy.fft")}
    out_path.write_text(json.dumps(out))


def run_worker(checkout: Path, clips: Path, out: Path) -> dict:
    code = (f"import sys; sys.path[:0] = [{str(checkout)!r}, {str(ROOT / 'benchmarks')!r}]; "
            f"import beats_equivalence as b; from pathlib import Path; "
            f"b.worker(Path({str(clips)!r}), Path({str(out)!r}))")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=checkout)
    return json.loads(out.read_text())


def tracker_check(clips: dict) -> dict:
    """librosa.beat.beat_track and composer.loop.beats.beat_track on the same envelopes."""
    import librosa

    from composer.loop.beats import beat_track, tempo
    from composer.loop.grid import ANALYSIS_RATE, ONSET_HOP, mono_at, onset_envelope

    rate = ANALYSIS_RATE / ONSET_HOP
    same, total, worst = 0, 0, 0
    for audio, _ in clips.values():
        envelope = onset_envelope(mono_at(audio, SR), ANALYSIS_RATE)
        for bpm in (tempo(envelope, rate), 93.0, 141.0):  # its tempo, and two wrong ones
            _, theirs = librosa.beat.beat_track(onset_envelope=envelope, sr=ANALYSIS_RATE,
                                                hop_length=ONSET_HOP, bpm=bpm, trim=False,
                                                units="frames")
            ours = beat_track(envelope, rate, bpm)
            total += 1
            if np.array_equal(theirs, ours):
                same += 1
            else:
                worst = max(worst, len(np.setxor1d(theirs, ours)))
    return {"runs": total, "identical": same, "most_beats_differing": worst}


def compare(before: dict, after: dict, clips: dict) -> list[dict]:
    rows = []
    for name, (_, true_qpm) in clips.items():
        b, a = before[name], after[name]
        old, new = np.array(b["beats"]), np.array(a["beats"])
        near = (np.min(np.abs(old[:, None] - new[None, :]), axis=1) <= 0.010 * SR
                if len(old) and len(new) else np.zeros(len(old), bool))
        rows.append({
            "clip": name, "true_qpm": true_qpm, "bpm_before": b["bpm"], "bpm_after": a["bpm"],
            "bpm_diff": a["bpm"] - b["bpm"], "beats_before": len(old), "beats_after": len(new),
            "beats_within_10ms": int(near.sum()), "beats_identical": bool(np.array_equal(old, new)),
            "downbeat_same": b["downbeat"] == a["downbeat"],
            "loop_same": (b["loop_start"], b["loop_frames"], b["loop_bars"])
            == (a["loop_start"], a["loop_frames"], a["loop_bars"]),
            "seam_before": b["seam"], "seam_after": a["seam"],
            "seam_max_diff": float(np.max(np.abs(np.subtract(a["seam"], b["seam"])))),
            "seconds_before": b["seconds"], "seconds_after": a["seconds"]})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, required=True,
                        help="checkout with the librosa tracker (a git worktree)")
    parser.add_argument("--after", type=Path, default=ROOT)
    parser.add_argument("--out", type=Path,
                        default=ROOT / "benchmarks/results/beats-equivalence.json")
    args = parser.parse_args()
    sys.path[:0] = [str(args.after.resolve()), str(ROOT / "tests")]

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        clips = make_clips(folder, args.before.resolve())
        np.savez(folder / "clips.npz", **{k: v[0] for k, v in clips.items()})
        before = run_worker(args.before.resolve(), folder / "clips.npz", folder / "before.json")
        after = run_worker(args.after.resolve(), folder / "clips.npz", folder / "after.json")
    tracker = tracker_check(clips)
    rows = compare(before, after, clips)
    result = {"before": {"composer": before["composer"], "modules": before["modules"]},
              "after": {"composer": after["composer"], "modules": after["modules"]},
              "tracker": tracker, "clips": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")

    print("| clip | bpm before / after (true) | beats within 10 ms | identical beats | "
          "same loop | seam click / dip / flux after | largest seam difference |")
    print("|---|---:|---:|:-:|:-:|---:|---:|")
    for r in rows:
        print(f"| {r['clip']} | {r['bpm_before']:.3f} / {r['bpm_after']:.3f} "
              f"({r['true_qpm']:g}) | {r['beats_within_10ms']} / {r['beats_before']} "
              f"(after: {r['beats_after']}) | {'yes' if r['beats_identical'] else 'no'} | "
              f"{'yes' if r['loop_same'] else 'no'} | "
              + " / ".join(f"{v:.3f}" for v in r["seam_after"])
              + f" | {r['seam_max_diff']:.1e} |")
    beats = sum(r["beats_before"] for r in rows)
    near = sum(r["beats_within_10ms"] for r in rows)
    print(f"\n{len(rows)} clips: {near} of {beats} beats within 10 ms, "
          f"{sum(r['beats_identical'] for r in rows)} clips with identical beats, "
          f"{sum(r['loop_same'] for r in rows)} with the same loop; largest tempo difference "
          f"{max(abs(r['bpm_diff']) for r in rows):.2e} bpm, largest seam-score difference "
          f"{max(r['seam_max_diff'] for r in rows):.1e}")
    print(f"tracker alone (same envelope, same tempo): {tracker['identical']} of "
          f"{tracker['runs']} beat lists identical to librosa.beat.beat_track")
    print(f"modules loaded before: {before['modules']}; after: {after['modules']}")


if __name__ == "__main__":
    main()
