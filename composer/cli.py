"""The `composer` command line: one sub-command per pipeline stage.

Commands stay thin: they parse options, call the stage's functions and print. A user error
(bad file, bad option, missing folder) is one line on stderr and exit code 1, never a traceback.
"""

from __future__ import annotations

import functools
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

app = typer.Typer(help="MIDI-first generative music: corpus, models, render, loops, playback.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
corpus_app = typer.Typer(help="Build and inspect training corpora.", no_args_is_help=True)
app.add_typer(corpus_app, name="corpus")

# No markup, emoji or highlighting: file names like "a[1]:x:.mid" must print as they are.
out = Console(soft_wrap=True, markup=False, emoji=False, highlight=False)
err = Console(stderr=True, soft_wrap=True, markup=False, emoji=False, highlight=False)


def _user_errors():
    """Exceptions that mean the user asked for something impossible, not that we crashed."""
    from composer.generation import GenerationError
    from composer.soundfont import SoundfontError
    from models.checkpoint import CheckpointError
    from training.corpus import CorpusError
    from training.sources import SourceError
    from training.trainer import TrainingError
    from training.validate import BadMidi

    return (SourceError, CorpusError, BadMidi, SoundfontError, TrainingError, CheckpointError,
            GenerationError, FileNotFoundError, IsADirectoryError, PermissionError, ValueError)


def user_errors(command):
    """Turn a user error into `error: <what>` on stderr and exit code 1."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except _user_errors() as exc:
            err.print(Text("error: ", style="bold red") + Text(str(exc)))
            raise typer.Exit(1) from None

    return wrapper


def _parse_split(text: str) -> tuple[float, float, float]:
    try:
        parts = [float(x) for x in text.split("/")]
    except ValueError:
        parts = []
    if len(parts) != 3 or min(parts) < 0 or abs(sum(parts) - 100) > 1e-6:
        raise ValueError(f"--split {text!r}: give three percentages that add up to 100, "
                         "e.g. 80/10/10")
    return parts[0] / 100, parts[1] / 100, parts[2] / 100


def _parse_key(text: str | None):
    from training.keys import parse_key
    from training.transposer import DEFAULT_TARGET

    return DEFAULT_TARGET if text is None else parse_key(text)


@corpus_app.command("build")
@user_errors
def corpus_build(
    sources: Annotated[list[str], typer.Argument(
        help="music21:<bach|nottingham|essen|ryansMammoth|oneills|all>, dir:PATH or lakh:PATH")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Corpus folder to create or resume")],
    keep_key: Annotated[bool, typer.Option("--keep-key", help="Store pieces in their own key")] = False,
    to: Annotated[str | None, typer.Option("--to", help="Common key (default C major / A minor)")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes (default: all cores)")] = None,
    limit: Annotated[int | None, typer.Option(help="At most N pieces per source")] = None,
    max_bytes: Annotated[int, typer.Option(help="Skip files larger than this")] = 4 * 1024 * 1024,
    time_limit: Annotated[float, typer.Option(help="CPU seconds allowed to read one file")] = 20.0,
    split: Annotated[str, typer.Option(
        help="Train/valid/test percentages; small corpora need larger valid and test")] = "90/5/5",
) -> None:
    """Ingest MIDI collections into a key-normalised, de-duplicated, split corpus."""
    from composer.progress import RichProgress
    from training.corpus import build_corpus
    from training.ingest import IngestOptions
    from training.validate import Limits

    options = IngestOptions(keep_key=keep_key, target=_parse_key(to),
                            limits=Limits(max_bytes=max_bytes, time_limit=time_limit),
                            split=_parse_split(split))
    try:
        with RichProgress(err) as progress:
            summary = build_corpus(sources, output, options, workers=workers, limit=limit,
                                   progress=progress)
    except KeyboardInterrupt:
        err.print(f"interrupted: finished pieces are committed in {output}; "
                  "run the same command again to resume")
        raise typer.Exit(130) from None
    rejected = sum(summary.rejected.values())
    out.print(f"{output}: {summary.total_pieces} pieces "
              f"({', '.join(f'{k} {v}' for k, v in sorted(summary.splits.items()))}); "
              f"added {summary.added}, skipped {rejected}, already done {summary.already_done} "
              f"in {summary.seconds:.1f} s")
    if rejected:
        reasons = ", ".join(f"{reason} {n}" for reason, n in summary.rejected.most_common())
        out.print(f"skipped by reason: {reasons} (see {output / 'rejected.csv'})")


@corpus_app.command("info")
@user_errors
def corpus_info(corpus: Annotated[Path, typer.Argument(help="A corpus folder")]) -> None:
    """Print a summary table of a corpus."""
    from training.corpus import read_manifest, read_rejected
    from training.corpus_stats import key_counts, per_source

    rows, rejects = read_manifest(corpus), read_rejected(corpus)
    table = Table(title=f"{corpus}: {len(rows)} pieces")
    for column in ("source", "pieces", "train", "valid", "test", "hours", "notes"):
        table.add_column(column, justify="left" if column == "source" else "right")
    stats = per_source(rows)
    for s in stats:
        table.add_row(s.source, str(s.pieces), str(s.train), str(s.valid), str(s.test),
                      f"{s.hours:.2f}", f"{s.notes:,}")
    table.add_row(Text("total", style="bold"), str(len(rows)), *(str(sum(getattr(s, k) for s in stats))
                  for k in ("train", "valid", "test")),
                  f"{sum(s.hours for s in stats):.2f}", f"{sum(s.notes for s in stats):,}")
    out.print(table)
    keys = key_counts(rows).most_common(6)
    if keys:
        out.print("most common keys before transposition: "
                  + ", ".join(f"{k} {n}" for k, n in keys))
    if rows:
        shifts = sorted({int(r["transpose"]) for r in rows})
        out.print(f"transpositions applied: {shifts[0]:+d} .. {shifts[-1]:+d} semitones")
    if rejects:
        reasons = Counter(r["reason"] for r in rejects).most_common()
        out.print(f"skipped files: {len(rejects)} (" + ", ".join(f"{r} {n}" for r, n in reasons)
                  + ")")


@corpus_app.command("plot")
@user_errors
def corpus_plot(
    corpus: Annotated[Path, typer.Argument(help="A corpus folder")],
    output: Annotated[Path | None, typer.Option("-o", "--output",
                                                   help="Folder for the PNGs (default CORPUS/plots)")] = None,
) -> None:
    """Write PNG histograms of keys, tempi, pitch range and lengths."""
    from training.corpus import read_manifest
    from training.corpus_stats import plot_corpus

    for path in plot_corpus(read_manifest(corpus), output or corpus / "plots"):
        out.print(str(path))


@app.command("transpose")
@user_errors
def transpose(
    input: Annotated[Path, typer.Argument(help="MIDI file to read")],
    output: Annotated[Path, typer.Argument(help="MIDI file to write")],
    to: Annotated[str | None, typer.Option("--to", help="Target key, e.g. G, Em, 'F# minor'")] = None,
    report: Annotated[bool, typer.Option("--report", help="Print the key found and the shift")] = False,
) -> None:
    """Estimate a MIDI file's key and shift it to a common key signature (drums untouched)."""
    from training.fileio import atomic_write_bytes
    from training.transposer import plan_transposition, transpose_midi_bytes
    from training.validate import BadMidi, parse_midi

    target = _parse_key(to)
    data = input.read_bytes()
    try:
        score = parse_midi(data)
    except BadMidi as exc:
        raise BadMidi(exc.reason, f"{input}: {exc.detail}") from None
    plan = plan_transposition(score, target)
    atomic_write_bytes(output, transpose_midi_bytes(data, plan.shift))
    if report:
        out.print(f"{input}: key {plan.estimate.key} (confidence {plan.estimate.confidence:.2f}), "
                  f"shifted {plan.shift:+d} semitones to {plan.result_key} "
                  f"(signature of {target}) -> {output}")


@app.command("train")
@user_errors
def train(
    model: Annotated[str, typer.Option(
        "--model", help="Model to train: lstm, vae-2bar, vae-16bar, gan")],
    corpus: Annotated[Path, typer.Option("--corpus", help="Corpus folder from `corpus build`")],
    output: Annotated[Path, typer.Option("--out", help="Checkpoint folder, e.g. models/lstm")],
    steps: Annotated[int, typer.Option(help="Training steps (batches)")] = 20_000,
    batch: Annotated[int, typer.Option(help="Global batch size")] = 64,
    seq_len: Annotated[int, typer.Option("--seq-len", help="Events per training window")] = 256,
    learning_rate: Annotated[float, typer.Option("--learning-rate")] = 1e-3,
    seed: Annotated[int, typer.Option(help="Seed for weights, data order and dropout")] = 0,
    checkpoint_every: Annotated[int, typer.Option(
        "--checkpoint-every", help="Steps between checkpoints and validation")] = 500,
    patience: Annotated[int, typer.Option(
        help="Checkpoints without a better valid loss before stopping early")] = 6,
    resume: Annotated[bool, typer.Option("--resume", help="Continue an interrupted run")] = False,
    workers: Annotated[int | None, typer.Option(help="Processes for encoding the corpus")] = None,
    layout: Annotated[str | None, typer.Option(
        help="gan tracks: satb (four chorale voices, default) or lakh5 "
             "(drums, piano, guitar, bass, strings)")] = None,
    weights_dtype: Annotated[str, typer.Option(
        "--weights-dtype", help="float32, or float16 to halve the checkpoint file")] = "float32",
    init_from: Annotated[Path | None, typer.Option(
        "--init-from", help="Start from this checkpoint's weights (continue or fine-tune it)")
    ] = None,
) -> None:
    """Train a model on a corpus; writes a checkpoint, metrics.json and loss.png to --out."""
    from composer.progress import RichProgress
    from training.tasks import make_task
    from training.trainer import TrainConfig, check_run, strategy_for_environment
    from training.trainer import train as run_training

    if weights_dtype not in ("float32", "float16"):
        raise ValueError(f"--weights-dtype {weights_dtype!r}: use float32 or float16")
    strategy_for_environment()  # before any data is read: multi-worker runs require it
    check_run(corpus, output, resume)
    task = make_task(model, layout)
    config = TrainConfig(steps=steps, batch=batch, seq_len=seq_len, learning_rate=learning_rate,
                         seed=seed, checkpoint_every=min(checkpoint_every, steps),
                         patience=patience, workers=workers, weights_dtype=weights_dtype)
    try:
        with RichProgress(err) as progress:
            task.prepare(corpus, config, progress)  # encodes (or loads) the data with a bar
        if init_from is not None:
            from training.tasks import initialize_from

            initialize_from(task, init_from)
        summary = run_training(task, corpus, output, config, resume=resume,
                               initialized_from=str(init_from) if init_from else None)
    except KeyboardInterrupt:
        err.print(f"interrupted: rerun with --resume to continue from the last checkpoint in {output}")
        raise typer.Exit(130) from None
    best = summary["best"]
    out.print(f"{output}: {summary['steps']} steps, best at step {summary['best_step']}: "
              + ", ".join(f"{k} {v:.4f}" for k, v in best.items())
              + f"; {summary['examples_per_second']:.1f} examples/s")


@app.command("eval")
@user_errors
def evaluate(
    checkpoint: Annotated[Path, typer.Argument(help="Checkpoint folder, e.g. models/lstm")],
    corpus: Annotated[Path, typer.Option("--corpus", help="Corpus folder; its test split is used")],
    window: Annotated[int, typer.Option(help="Events of context per scored window")] = 256,
    max_events: Annotated[int | None, typer.Option(
        "--max-events", help="Score only the first N test events (quick look)")] = None,
    output: Annotated[Path | None, typer.Option(
        "-o", "--output", help="Report file (default CHECKPOINT/eval.json)")] = None,
) -> None:
    """Score a model on the corpus' test split, side by side with a baseline."""
    from composer.progress import RichProgress
    from models.checkpoint import load_checkpoint
    from training.evaluate import (
        evaluate_gan,
        evaluate_lstm,
        evaluate_vae,
        write_report,
    )

    info, _ = load_checkpoint(checkpoint)
    kind = info.get("model")
    if kind not in ("lstm", "vae-2bar", "vae-16bar", "gan"):
        raise ValueError(f"{checkpoint}: evaluation of {kind!r} models is not built yet")
    with RichProgress(err) as progress:
        if kind == "lstm":
            report = evaluate_lstm(checkpoint, corpus, window=window, max_events=max_events,
                                   progress=progress)
        elif kind == "gan":
            report = evaluate_gan(checkpoint, corpus, progress=progress)
        else:
            report = evaluate_vae(checkpoint, corpus, progress=progress)
    write_report(report, output or checkpoint / "eval.json")
    if output is None:
        from training.model_card import write_model_card

        write_model_card(checkpoint)
    if kind == "gan":
        table = Table(title=f"{checkpoint}: {report['generated_phrases']} generated phrases against "
                            f"{report['training_phrases']:,} training phrases")
        for column in ("statistic / track", "generated", "training data", "difference", "close"):
            table.add_column(column, justify="left" if column.startswith("stat") else "right")
        for name, row in report["statistics"].items():
            table.add_row(name, f"{row['generated']:.3f}", f"{row['training_data']:.3f}",
                          f"{100 * row['relative_difference']:.0f} %",
                          "yes" if row["close"] else "no")
        out.print(table)
        out.print(f"close ({report['closeness']}): {report['within_10_percent']} of "
                  f"{len(report['statistics'])}")
        return
    if kind != "lstm":
        table = Table(title=f"{checkpoint} on {corpus} test split: {report['windows']:,} windows")
        table.add_column("metric")
        table.add_column("value", justify="right")
        for name, value in report["metrics"].items():
            table.add_row(name.replace("_", " "), f"{value:.4f}")
        out.print(table)
        return
    table = Table(title=f"{checkpoint} on {corpus} test split: {report['scored_events']:,} events")
    for column in ("model", "next-event accuracy", "perplexity"):
        table.add_column(column, justify="left" if column == "model" else "right")
    table.add_row("lstm", f"{report['lstm']['accuracy']:.3f}", f"{report['lstm']['perplexity']:.2f}")
    ngram = report["ngram"]
    table.add_row(f"{ngram['order']}-gram Kneser-Ney", f"{ngram['accuracy']:.3f}",
                  f"{ngram['perplexity']:.2f}")
    out.print(table)


@app.command("generate")
@user_errors
def generate(
    output: Annotated[Path, typer.Option("-o", "--output", help="MIDI file to write")],
    model: Annotated[str, typer.Option(
        "--model", help="lstm, vae-2bar, vae-16bar, gan or hybrid")] = "lstm",
    bars: Annotated[int, typer.Option(help="Length in 4/4 bars")] = 8,
    qpm: Annotated[float | None, typer.Option(
        "--qpm", help="Tempo in quarter notes per minute (default: the primer's, else 120)")] = None,
    temperature: Annotated[float, typer.Option(
        help="Sampling temperature for lstm and vae (0: greedy)")] = 1.0,
    top_k: Annotated[int, typer.Option("--top-k", help="Sample among the k likeliest (0: all)")] = 0,
    seed: Annotated[int | None, typer.Option(help="Seed for a reproducible result")] = None,
    primer: Annotated[Path | None, typer.Option(help="MIDI file to continue")] = None,
    checkpoint: Annotated[Path | None, typer.Option(
        help="Checkpoint folder (default: the shipped models/<model>)")] = None,
    wav: Annotated[Path | None, typer.Option("--wav", help="Also render to this WAV file")] = None,
    soundfont: Annotated[str | None, typer.Option("--soundfont", help="Soundfont for --wav")] = None,
    quantize: Annotated[bool, typer.Option(
        "--quantize/--no-quantize", help="lstm: snap notes to the sixteenth grid")] = True,
) -> None:
    """Generate new music from a trained model; exactly --bars bars at --qpm."""
    import time

    from composer import generation as gen

    started = time.perf_counter()
    sequence = gen.generate(model, bars=bars, qpm=qpm, temperature=temperature, top_k=top_k,
                            seed=seed, primer=primer, checkpoint=checkpoint, quantize=quantize)
    gen.write_midi(sequence, output)
    message = (f"{output}: {bars} bars at {sequence.tempos[0].qpm:g} qpm, {len(sequence.notes)} notes "
               f"in {time.perf_counter() - started:.2f} s")
    if wav is not None:
        gen.write_wav(sequence, wav, soundfont)
        message += f"; rendered {wav}"
    out.print(message)


@app.command("interpolate")
@user_errors
def interpolate(
    a: Annotated[Path, typer.Argument(help="MIDI file to start from")],
    b: Annotated[Path, typer.Argument(help="MIDI file to arrive at")],
    output: Annotated[Path, typer.Option("-o", "--output", help="MIDI file to write")],
    steps: Annotated[int, typer.Option(help="Points on the path, both ends included")] = 8,
    qpm: Annotated[float, typer.Option("--qpm", help="Tempo, quarter notes per minute")] = 120.0,
    model: Annotated[str, typer.Option("--model", help="vae-2bar or vae-16bar")] = "vae-2bar",
    checkpoint: Annotated[Path | None, typer.Option(
        help="Checkpoint folder (default: the shipped models/<model>)")] = None,
    each: Annotated[bool, typer.Option(
        "--each", help="Also write every step alone: OUT-01.mid, OUT-02.mid, ...")] = False,
    wav: Annotated[Path | None, typer.Option("--wav", help="Also render to this WAV file")] = None,
    soundfont: Annotated[str | None, typer.Option("--soundfont", help="Soundfont for --wav")] = None,
) -> None:
    """Blend two songs: their lead melodies, encoded by the VAE, joined step by step."""
    from composer import generation as gen
    from composer.interpolation import interpolate as run

    result = run(a, b, steps=steps, qpm=qpm, checkpoint=checkpoint, model=model)
    gen.write_midi(result.sequence, output)
    written = [output]
    if each:
        for i, part in enumerate(result.steps, 1):
            path = output.with_name(f"{output.stem}-{i:02d}{output.suffix}")
            gen.write_midi(part, path)
            written.append(path)
    if wav is not None:
        gen.write_wav(result.sequence, wav, soundfont)
        written.append(wav)
    out.print(f"{output}: {steps} steps from {a.name} to {b.name}, "
              f"{len(result.sequence.notes)} notes" + (f" (+{len(written) - 1} files)"
                                                       if len(written) > 1 else ""))


@app.command("soundfont")
@user_errors
def soundfont(
    path: Annotated[str | None, typer.Option("--soundfont", help="Soundfont to check")] = None,
) -> None:
    """Print the soundfont that rendering would load, and where it was found."""
    from composer.soundfont import find_soundfont

    found = find_soundfont(path)
    out.print(f"{found.path} ({found.origin})")


def main() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import warnings

    # note-seq imports pydub, which warns that ffmpeg is missing; nothing here uses it.
    warnings.filterwarnings("ignore", message="Couldn't find ffmpeg", category=RuntimeWarning)
    app(prog_name="composer")


if __name__ == "__main__":
    sys.exit(main())
