"""Render throughput: composer's renderer against the fluidsynth command line, same MIDI files.

    apt-get install -y fluidsynth      # the reference; without it only our side is measured
    .venv/bin/python benchmarks/render_throughput.py [--runs 3] [--songs 3]

Material: dense three-minute arrangements built from real Bach chorales (the "band" songs of
benchmarks/ingest_throughput.py: six GM instruments -- piano, bass, guitar, strings, flute,
lead synth -- each playing four-voice chorales back to back, plus a drum track), so about 24
voices sound at once.

Fair comparison: both use FluidSynth 2.3 with the same soundfont, 44.1 kHz, gain 0.2,
polyphony 256, one CPU core, reverb and chorus on, and both do the same work per file: parse the
MIDI, synthesise, write a 16-bit WAV. The soundfont load is excluded from both: ours loads it
once (timed separately); for the command line, the median cost of rendering a one-note MIDI
file (process start, library init, soundfont load) is subtracted. Runs of the two sides
alternate, so changes in machine load hit both. Each run is timed twice: wall clock, and CPU
time (ours: this process; the command line: its user + system time), which a busy shared
machine disturbs far less. Two ratios: x real time (seconds of audio written per second, each
side credited with the audio it wrote: the command line renders on until its player stops,
~17 s of near-silence past the last note here, ours stops once the tail is 80 dB down) and per
file (the same MIDI file to a WAV). Loudness normalisation (pyloudnorm, plus the limiter when
it acts) is timed on its own. Medians of --runs per song. Prints a Markdown table; raw numbers
in benchmarks/results/render.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SAMPLE_RATE = 44100


def band_songs(folder: Path, count: int) -> list[Path]:
    """The ingest benchmark's band songs, made from the Bach chorales."""
    from training import music21_corpus

    pieces = music21_corpus.list_pieces("bach")
    for piece in pieces:
        if not music21_corpus.is_converted(piece):
            music21_corpus.convert_piece(piece)
    paths = [Path(p.midi_path) for p in music21_corpus.iter_converted(pieces)]
    spec = importlib.util.spec_from_file_location("ingest_throughput",
                                                  ROOT / "benchmarks/ingest_throughput.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.make_band_files(paths, folder, count)


def one_note(path: Path) -> Path:
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(initial_tempo=120)
    inst = pretty_midi.Instrument(program=0)
    inst.notes.append(pretty_midi.Note(1, 60, 0.0, 0.01))
    pm.instruments.append(inst)
    pm.write(str(path))
    return path


def cli_command(soundfont: Path, midi: Path, wav: Path) -> list[str]:
    return ["fluidsynth", "-ni", "-q", "-F", str(wav), "-T", "wav", "-O", "s16",
            "-r", str(SAMPLE_RATE), "-g", "0.2", "-R", "1", "-C", "1",
            "-o", "synth.polyphony=256", "-o", "synth.cpu-cores=1", str(soundfont), str(midi)]


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_cli(soundfont: Path, midi: Path, wav: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of one command-line render."""
    wall, cpu = time.perf_counter(), children_cpu()
    subprocess.run(cli_command(soundfont, midi, wav), check=True, capture_output=True)
    return time.perf_counter() - wall, children_cpu() - cpu


def time_ours(renderer, song: Path, wav: Path):
    """(wall, CPU, render-only wall, clip) of parse + render + 16-bit WAV write."""
    from composer.render import read_sequence, write_audio

    wall, cpu = time.perf_counter(), time.process_time()
    clip = renderer.render(read_sequence(song), normalize=False)
    rendered = time.perf_counter()
    write_audio(wav, clip.audio, SAMPLE_RATE)
    return time.perf_counter() - wall, time.process_time() - cpu, rendered - wall, clip


def rms_db(audio: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(np.square(audio, dtype=np.float64)) + 1e-30))


def measure_song(renderer, soundfont: Path, song: Path, empty: Path, tmp: Path, runs: int,
                 cli: bool) -> dict:
    import soundfile

    from composer.render import normalize, read_sequence

    ours, cpu, render_only, norm, theirs, their_cpu, base, base_cpu = ([] for _ in range(8))
    for _ in range(runs):  # the two sides alternate, so load changes hit both
        wall, seconds, only, clip = time_ours(renderer, song, tmp / "ours.wav")
        ours.append(wall), cpu.append(seconds), render_only.append(only)
        start = time.perf_counter()
        normalize(clip.audio, SAMPLE_RATE)
        norm.append(time.perf_counter() - start)
        if cli:
            for walls, cpus, midi in ((base, base_cpu, empty), (theirs, their_cpu, song)):
                wall, seconds = time_cli(soundfont, midi, tmp / "cli.wav")
                walls.append(wall), cpus.append(seconds)
    med = statistics.median
    row = {"song": song.name, "notes": len(read_sequence(song).notes),
           "ours_audio_s": len(clip.audio) / SAMPLE_RATE, "ours_runs_s": ours,
           "ours_cpu_runs_s": cpu, "ours_s": med(ours), "ours_cpu_s": med(cpu),
           "ours_render_only_s": med(render_only), "normalize_runs_s": norm,
           "normalize_s": med(norm)}
    row["ours_x_realtime"] = row["ours_audio_s"] / row["ours_s"]
    row["ours_cpu_x_realtime"] = row["ours_audio_s"] / row["ours_cpu_s"]
    if cli:
        reference, rate = soundfile.read(str(tmp / "cli.wav"), dtype="float32")
        row.update({"cli_runs_s": theirs, "cli_cpu_runs_s": their_cpu,
                    "cli_overhead_runs_s": base, "cli_overhead_cpu_runs_s": base_cpu,
                    "cli_s": med(theirs) - med(base), "cli_cpu_s": med(their_cpu) - med(base_cpu),
                    "cli_audio_s": len(reference) / rate,
                    "level_difference_db": rms_db(clip.body) - rms_db(reference)})
        row["cli_x_realtime"] = row["cli_audio_s"] / row["cli_s"]
        row["cli_cpu_x_realtime"] = row["cli_audio_s"] / row["cli_cpu_s"]
        row["ratio"] = row["ours_x_realtime"] / row["cli_x_realtime"]
        row["ratio_cpu"] = row["ours_cpu_x_realtime"] / row["cli_cpu_x_realtime"]
        row["ratio_per_file"] = row["cli_s"] / row["ours_s"]
        row["ratio_cpu_per_file"] = row["cli_cpu_s"] / row["ours_cpu_s"]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--songs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/render.json")
    args = parser.parse_args()

    from composer.render import Renderer, read_sequence
    from composer.soundfont import find_soundfont

    soundfont = find_soundfont().path
    cli = shutil.which("fluidsynth") is not None
    if not cli:
        print("fluidsynth command line not found (apt-get install -y fluidsynth): "
              "measuring composer's renderer only, no comparison", flush=True)
    results: dict = {"machine": {"cpus": os.cpu_count(), "processor": platform.processor(),
                                 "python": platform.python_version(),
                                 "load_average_before": os.getloadavg()},
                     "soundfont": str(soundfont), "songs": []}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        songs = band_songs(tmp, args.songs)
        empty = one_note(tmp / "empty.mid")
        start = time.perf_counter()
        renderer = Renderer(soundfont, SAMPLE_RATE, gain=0.2, reverb=True, chorus=True,
                            polyphony=256)
        results["soundfont_load_s"] = time.perf_counter() - start
        renderer.render(read_sequence(songs[0]), normalize=False)  # warm: first-touch pages
        for song in songs:
            row = measure_song(renderer, soundfont, song, empty, tmp, args.runs, cli)
            results["songs"].append(row)
            print(f"{song.name}: ours {row['ours_s']:.2f} s wall / {row['ours_cpu_s']:.2f} s CPU "
                  f"for {row['ours_audio_s']:.1f} s, normalize {row['normalize_s']:.3f} s"
                  + (f"; fluidsynth CLI {row['cli_s']:.2f} s wall / {row['cli_cpu_s']:.2f} s CPU "
                     f"for {row['cli_audio_s']:.1f} s; ratio x real time {row['ratio']:.2f} wall, "
                     f"{row['ratio_cpu']:.2f} CPU; level difference "
                     f"{row['level_difference_db']:+.2f} dB" if cli else ""), flush=True)
        renderer.close()
    rows = results["songs"]
    results["machine"]["load_average_after"] = os.getloadavg()
    if cli:
        for key in ("ratio", "ratio_cpu", "ratio_per_file", "ratio_cpu_per_file"):
            results[f"median_{key}"] = statistics.median(r[key] for r in rows)
        results["cli_overhead_s"] = statistics.median(
            x for r in rows for x in r["cli_overhead_runs_s"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")

    print(f"\nsoundfont load (ours, once): {results['soundfont_load_s']:.2f} s"
          + (f"; fluidsynth CLI start-up + load (one-note file, subtracted): "
             f"{results['cli_overhead_s']:.2f} s" if cli else "")
          + f"; load average {results['machine']['load_average_before'][0]:.1f} before, "
          f"{results['machine']['load_average_after'][0]:.1f} after")
    print("| song | notes | audio ours / CLI | ours wall (CPU) | ours x real time wall (CPU) | "
          "CLI wall (CPU) | CLI x real time wall (CPU) | ratio wall | ratio CPU | "
          "ratio per file wall (CPU) | normalize | normalize / render |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        if cli:
            cells = [f"{r['ours_audio_s']:.1f} / {r['cli_audio_s']:.1f} s",
                     f"{r['ours_s']:.2f} s ({r['ours_cpu_s']:.2f} s)",
                     f"{r['ours_x_realtime']:.1f}x ({r['ours_cpu_x_realtime']:.1f}x)",
                     f"{r['cli_s']:.2f} s ({r['cli_cpu_s']:.2f} s)",
                     f"{r['cli_x_realtime']:.1f}x ({r['cli_cpu_x_realtime']:.1f}x)",
                     f"{r['ratio']:.2f}x", f"**{r['ratio_cpu']:.2f}x**",
                     f"{r['ratio_per_file']:.2f}x ({r['ratio_cpu_per_file']:.2f}x)"]
        else:
            cells = [f"{r['ours_audio_s']:.1f} s", f"{r['ours_s']:.2f} s ({r['ours_cpu_s']:.2f} s)",
                     f"{r['ours_x_realtime']:.1f}x ({r['ours_cpu_x_realtime']:.1f}x)",
                     "-", "-", "-", "-", "-"]
        print(f"| {r['song']} | {r['notes']:,} | " + " | ".join(cells)
              + f" | {r['normalize_s']:.3f} s | "
              f"{100 * r['normalize_s'] / r['ours_render_only_s']:.1f} % |")
    if cli:
        print(f"| **median** | | | | | | | {results['median_ratio']:.2f}x | "
              f"**{results['median_ratio_cpu']:.2f}x** | {results['median_ratio_per_file']:.2f}x "
              f"({results['median_ratio_cpu_per_file']:.2f}x) | | |")


if __name__ == "__main__":
    main()
