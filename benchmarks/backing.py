"""Backing analysis on real pop accompaniments: chords, beats and bars against POP909's labels.

    .venv/bin/python benchmarks/backing.py POP909_DIR [--songs 20] [--runs 3] [--corpus CORPUS]
        [--basic-pitch]

POP909_DIR is the dataset folder (`composer fetch pop909`). Each song's backing is what
`composer melody` would be given: its BRIDGE and PIANO tracks without the MELODY, (a) as a MIDI
file and (b) rendered to audio with the project's FluidSynth renderer and written as a WAV.
Both go through composer.backing.read_backing and are scored against the annotations beside
the song (chord_midi.txt, beat_midi.txt, key_audio.txt):

- chords per annotated beat, at the beat's middle, over beats that have a chord: the root
  alone, and root + quality with the label mapped into models.lead.chords.TEMPLATE_QUALITIES
  (qualities outside it collapse to maj or min by their third, sus4(b7) to sus4);
- beat and downbeat F-measure, 70 ms tolerance (mir_eval's, one-to-one matching), and the
  beat F-measure that also accepts twice or half the annotated tempo (the better of the
  estimate against the annotation, against every other annotated beat, and every other
  estimated beat against the annotation);
- the key (tonic and mode; and the same signature, relative major/minor as one);
- seconds per song in-process (read_backing, the file read included), median of --runs,
  and one whole process (`python -c` reading one audio backing) timed from outside.

--corpus: draw the songs from that corpus' test split (the songs held out from the models);
else a fixed seed. --basic-pitch: also transcribe the audio backing with Spotify's basic-pitch
(not a dependency: install it apart, e.g. `pip install --target DIR --no-deps basic-pitch
resampy mir_eval` and PYTHONPATH=DIR) and take the chords from its notes on the audio path's
beats. Raw numbers in benchmarks/results/backing.json; prints Markdown.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TOLERANCE = 0.07  # seconds, mir_eval's beat F-measure window


def f_measure(reference: np.ndarray, estimate: np.ndarray, tolerance: float = TOLERANCE
              ) -> float:
    """Beat F-measure: estimates matched one-to-one to references within `tolerance`."""
    if len(reference) == 0 or len(estimate) == 0:
        return 0.0
    used = np.zeros(len(estimate), bool)
    hits = 0
    for t in reference:
        near = np.flatnonzero(~used & (np.abs(estimate - t) <= tolerance))
        if len(near):
            used[near[np.argmin(np.abs(estimate[near] - t))]] = True
            hits += 1
    precision, recall = hits / len(estimate), hits / len(reference)
    return 0.0 if hits == 0 else 2 * precision * recall / (precision + recall)


def template_chord(label: str):
    """An annotation in the estimator's vocabulary."""
    from models.lead.chords import QUALITIES, TEMPLATE_QUALITIES, Chord, parse_chord

    chord = parse_chord(label)
    if chord.root is None or chord.quality in TEMPLATE_QUALITIES:
        return chord
    if chord.quality == "sus4(b7)":
        return Chord(chord.root, "sus4")
    return Chord(chord.root, "min" if 3 in QUALITIES[chord.quality] else "maj")


def chord_scores(backing, annotations) -> dict:
    """Root and root+quality accuracy at the middle of every annotated beat with a chord."""
    times = np.array([t for t, _ in annotations.beats])
    middles = (times[:-1] + times[1:]) / 2
    spans = annotations.chords
    starts = np.array([s for s, _, _ in spans])
    root = full = total = 0
    for t in middles:
        k = int(np.searchsorted(starts, t, side="right")) - 1
        if k < 0 or t >= spans[k][1]:
            continue
        truth = template_chord(spans[k][2])
        if truth.root is None:
            continue
        i = int(np.searchsorted(backing.beats, t, side="right")) - 1
        guess = backing.chords[i] if i >= 0 else None
        total += 1
        root += guess is not None and guess.root == truth.root
        full += guess == truth
    return {"beats": total, "root": root / max(total, 1), "quality": full / max(total, 1)}


def key_scores(backing, annotations) -> dict:
    from training.keys import parse_key

    if not annotations.keys:
        return {}
    label = max(annotations.keys, key=lambda k: k[1] - k[0])[2]
    tonic, _, mode = label.partition(":")
    truth = parse_key(f"{tonic} {'minor' if mode.startswith('min') else 'major'}")
    guess = parse_key(backing.key)
    return {"truth": truth.name, "key": guess == truth,
            "signature": guess.relative_major == truth.relative_major}


def score(backing, annotations) -> dict:
    beats = np.array([t for t, _ in annotations.beats])
    down = np.array([t for t, d in annotations.beats if d])
    octave = max(f_measure(beats, backing.beats), f_measure(beats[::2], backing.beats),
                 f_measure(beats[1::2], backing.beats), f_measure(beats, backing.beats[::2]),
                 f_measure(beats, backing.beats[1::2]))
    return {"chords": chord_scores(backing, annotations), "key": key_scores(backing, annotations),
            "beat_f": f_measure(beats, backing.beats), "beat_f_octave": octave,
            "downbeat_f": f_measure(down, backing.beats[backing.downbeats]),
            "qpm": backing.qpm, "estimated_key": backing.key}


def backing_files(song: Path, folder: Path, renderer) -> tuple[Path, Path]:
    """The song without its MELODY track, as MIDI and as a rendered WAV."""
    import soundfile
    from note_seq import midi_io
    from note_seq.protobuf import music_pb2

    from composer.render import read_sequence

    sequence = read_sequence(song)
    melody = {i.instrument for i in sequence.instrument_infos if i.name == "MELODY"}
    backing = music_pb2.NoteSequence()
    backing.CopyFrom(sequence)
    del backing.notes[:]
    backing.notes.extend(n for n in sequence.notes if n.instrument not in melody)
    backing.total_time = max(n.end_time for n in backing.notes)
    midi, wav = folder / f"{song.stem}.mid", folder / f"{song.stem}.wav"
    midi_io.note_sequence_to_midi_file(backing, str(midi))
    clip = renderer.render(backing)
    soundfile.write(str(wav), clip.audio, clip.sample_rate, subtype="PCM_16")
    return midi, wav


class Transcriber:
    """basic-pitch's note transcription (its TFLite model, run by TensorFlow's interpreter)."""

    def __init__(self):
        from basic_pitch import ICASSP_2022_MODEL_PATH
        from basic_pitch.inference import Model

        self.model = Model(Path(ICASSP_2022_MODEL_PATH).with_suffix(".tflite"))

    def chords(self, wav: Path, audio, annotations) -> dict:
        """Chord scores of the transcription's notes on the audio analysis' beats and bars."""
        from dataclasses import replace

        from basic_pitch.inference import predict

        from composer.backing import estimate_chords, note_chroma

        start = time.perf_counter()
        _, midi, _ = predict(str(wav), self.model)
        seconds = time.perf_counter() - start
        notes = [n for instrument in midi.instruments for n in instrument.notes]
        chroma, bass = note_chroma(np.array([n.pitch for n in notes]),
                                   np.array([n.start for n in notes]),
                                   np.array([n.end for n in notes]), audio.beats)
        chords = estimate_chords(chroma, bass=bass, downbeats=audio.downbeats)
        return {"chords": chord_scores(replace(audio, chords=tuple(chords)), annotations),
                "seconds": seconds}


def timed(path: Path, runs: int):
    from composer.backing import read_backing

    times, backing = [], None
    for _ in range(runs):
        start = time.perf_counter()
        backing = read_backing(path)
        times.append(time.perf_counter() - start)
    return backing, statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pop909", type=Path)
    parser.add_argument("--songs", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--corpus", type=Path, help="only songs in this corpus' test split")
    parser.add_argument("--basic-pitch", action="store_true",
                        help="also score chords from a basic-pitch transcription of the audio")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/backing.json")
    args = parser.parse_args()

    from composer.render import Renderer
    from training.pop909 import read_annotations

    from training.pop909 import song_files

    songs = song_files(args.pop909, args.corpus)
    if not songs:
        raise SystemExit(f"{args.pop909}: no POP909/NNN/NNN.mid songs")
    rng = np.random.default_rng(args.seed)
    songs = sorted(songs[i] for i in rng.choice(len(songs), min(args.songs, len(songs)),
                                                replace=False))
    rows = []
    transcriber = Transcriber() if args.basic_pitch else None
    with tempfile.TemporaryDirectory() as tmp, Renderer() as renderer:
        for song in songs:
            midi, wav = backing_files(song, Path(tmp), renderer)
            annotations = read_annotations(song.parent)
            row = {"song": song.stem}
            for kind, path in (("midi", midi), ("audio", wav)):
                backing, seconds = timed(path, args.runs)
                row[kind] = score(backing, annotations) | {"seconds": seconds,
                                                           "duration": backing.duration}
            if transcriber:
                row["basic-pitch"] = transcriber.chords(wav, backing, annotations)
            rows.append(row)
            print(f"{song.stem}: midi root {row['midi']['chords']['root']:.2f} "
                  f"audio root {row['audio']['chords']['root']:.2f} "
                  f"beat F {row['audio']['beat_f']:.2f} down F {row['audio']['downbeat_f']:.2f} "
                  f"({row['midi']['seconds']:.2f} s / {row['audio']['seconds']:.2f} s)",
                  flush=True)
        code = f"from composer.backing import read_backing; read_backing({str(wav)!r})"
        process = []
        for _ in range(args.runs):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
            process.append(time.perf_counter() - start)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result = {"songs": rows, "process_s": statistics.median(process),
              "process_song": songs[-1].stem, "process_duration": rows[-1]["audio"]["duration"]}
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    report(result)


def report(result: dict) -> None:
    rows = result["songs"]

    def values(kind: str, *keys: str) -> list[float]:
        out = []
        for row in rows:
            value = row[kind]
            for key in keys:
                value = value[key]
            out.append(float(value))
        return out

    def both(kind: str, *keys: str) -> str:
        got = values(kind, *keys)
        return f"{statistics.median(got):.2f} ({statistics.mean(got):.2f})"

    def share(kind: str, key: str) -> str:
        hits = [row[kind]["key"][key] for row in rows if row[kind]["key"]]
        return f"{sum(hits)}/{len(hits)}"

    print(f"\n{len(rows)} songs; median over songs (mean)\n")
    print("| backing | root | root + quality | beat F (70 ms) | beat F, 2x or 1/2x tempo too "
          "| downbeat F | key (signature) | s per song |\n|---|---:|---:|---:|---:|---:|---:|---:|")
    for kind in ("midi", "audio"):
        print(f"| {kind} | {both(kind, 'chords', 'root')} | {both(kind, 'chords', 'quality')} | "
              f"{both(kind, 'beat_f')} | {both(kind, 'beat_f_octave')} | "
              f"{both(kind, 'downbeat_f')} | {share(kind, 'key')} ({share(kind, 'signature')}) | "
              f"{statistics.median(values(kind, 'seconds')):.2f} |")
    if "basic-pitch" in rows[0]:
        print(f"| audio, chords from basic-pitch's notes | {both('basic-pitch', 'chords', 'root')} "
              f"| {both('basic-pitch', 'chords', 'quality')} | | | | | "
              f"+ {statistics.median(values('basic-pitch', 'seconds')):.2f} |")
    print(f"\nsong length median {statistics.median(values('audio', 'duration')):.0f} s; whole "
          f"process, one audio backing ({result['process_song']}, "
          f"{result['process_duration']:.0f} s): {result['process_s']:.2f} s")


if __name__ == "__main__":
    main()
