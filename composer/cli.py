"""The `composer` command line: one sub-command per pipeline stage.

Commands stay thin: they parse options, call the stage's functions and print. A user error
(bad file, bad option, missing folder) is one line on stderr and exit code 1, never a traceback.
"""

from __future__ import annotations

import contextlib
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

from composer import generators

_LOADED = __import__("time").perf_counter()
app = typer.Typer(help="MIDI-first generative music: corpus, models, render, loops, playback.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
corpus_app = typer.Typer(help="Build and inspect training corpora.", no_args_is_help=True)
app.add_typer(corpus_app, name="corpus")


def _flags_without_type() -> None:
    """Help shows on/off options as flags: typer's rich help would print `<bool>` beside
    `--resume` as if it took a value."""
    from typer.core import TyperOption

    shown = TyperOption.display_type_rich
    TyperOption.display_type_rich = lambda self, ctx: None if self.is_flag else shown(self, ctx)


_flags_without_type()


def _usage_errors_unboxed() -> None:
    """A usage error (bad option value, missing argument) prints as click prints it when
    stderr is not a terminal: typer's box would wrap its message at 80 columns, splitting the
    one `Error: ...` line a script looks for. On a terminal the box stays."""
    from typer import rich_utils

    boxed = rich_utils.rich_format_error

    def format_error(error) -> None:
        if type(error).__name__ == "NoArgsIsHelpError" or sys.stderr.isatty():
            return boxed(error)
        error.show()

    rich_utils.rich_format_error = format_error


_usage_errors_unboxed()


def _version(value: bool) -> None:
    if value:
        from composer import __version__

        out.print(f"composer {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, help="Print the version and exit")] = False
          ) -> None:
    """MIDI-first generative music: corpus, models, render, loops, playback."""


# No markup, emoji or highlighting: file names like "a[1]:x:.mid" must print as they are.
out = Console(soft_wrap=True, markup=False, emoji=False, highlight=False)
err = Console(stderr=True, soft_wrap=True, markup=False, emoji=False, highlight=False)
for _console in (out, err):  # piped, no line wraps at 80 columns, a table's rows included
    if not _console.is_terminal:
        _console.width = 10_000


STUDIO_DATA_HELP = ("Folder of the studio's files, database and queue (default: "
                    "$COMPOSER_STUDIO_DATA, else ~/.local/share/composer/studio)")
MODEL_HELP = generators.help_text()
CHECKPOINT_HELP = "A folder `composer train` wrote (its model.json says which model it is)"
PROGRAM_HELP = ("GM program 0-127 of every pitched note, or one per track: pop's melody, "
                "bridge, accompaniment as 73,48,0 (default: the model's own)")
QPM_HELP = "Tempo in quarter notes per minute"
PROMPT_HELP = ("Words that steer the MIDI models: instruments, tempo, mood (major/minor), "
               "density, style, e.g. \"dark slow strings\" (the table: docs/prompts.md); "
               "flags you give win")
MODE_HELP = "major or minor: each loop moved to that mode of its own key (default: as written)"


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
    """Turn a user error into `error: <what>` on stderr and exit code 1, and an interrupt
    the command left alone into one line and 130 (main makes it 143 for SIGTERM)."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise  # a deliberate exit: no need to import what the error classes live in
        except KeyboardInterrupt:  # Ctrl-C, SIGINT or SIGTERM: cleanup has run on the way
            err.print("interrupted")
            raise typer.Exit(130) from None
        except Exception as exc:
            if not isinstance(exc, _user_errors()):
                raise
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
        help="music21:<bach|nottingham|essen|ryansMammoth|oneills|all>, dir:PATH, lakh:PATH "
             "or pop909:PATH")],
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
) -> None:
    """Estimate a MIDI file's key and shift it to a common key signature (drums untouched)."""
    from composer.generation import lead_track
    from training.fileio import atomic_write_bytes
    from training.score import to_notesequence
    from training.smf import SmfError
    from training.transposer import plan_transposition, transpose_midi_bytes
    from training.validate import COMMAND_LIMITS, BadMidi, parse_midi, read_file

    target = _parse_key(to)
    try:
        data = read_file(input)
        score = parse_midi(data, COMMAND_LIMITS)
        plan = plan_transposition(score, target)
        moved = transpose_midi_bytes(data, plan.shift)  # in place: the same reader, no re-parse
    except SmfError as exc:  # only if the reader and the transposer ever disagree
        raise BadMidi("corrupt", f"{input}: cannot parse MIDI: {exc}") from None
    except BadMidi as exc:
        raise BadMidi(exc.reason, f"{input}: {exc.detail}") from None
    atomic_write_bytes(output, moved)
    lead = lead_track(to_notesequence(score, plan.shift), None, input)
    out.print(f"{input}: key {plan.estimate.key} (confidence {plan.estimate.confidence:.2f}), "
              f"shifted {plan.shift:+d} semitones to {plan.result_key} "
              f"(signature of {target}) -> {output}; melody: {lead or 'none (drums only)'}")


@app.command("train")
@user_errors
def train(
    model: Annotated[str, typer.Option("--model", "-m", help="Model to train: " + ", ".join(
        s.name for s in generators.GENERATORS.values() if s.takes_checkpoint)
        + ", lead (a melody over chords, for `composer melody`; POP909), "
        "dynamics (velocities from a corpus with them, e.g. POP909; seconds) or "
        "melody-track (which track is the melody, from POP909; seconds)")],
    corpus: Annotated[Path, typer.Option("--corpus", help="Corpus folder from `corpus build`")],
    output: Annotated[Path, typer.Option(
        "-o", "--output", help="Checkpoint folder to write, e.g. runs/my-lstm")],
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
    bottom: Annotated[Path | None, typer.Option(
        "--bottom", help="vae-16bar: the 2-bar VAE checkpoint whose latents it sequences "
        "(default: the shipped models/vae-2bar)")] = None,
    max_minutes: Annotated[float | None, typer.Option(
        "--max-minutes", help="Stop at the first checkpoint after this many minutes of "
        "training and export the best one (a budget for CPU runs)")] = None,
) -> None:
    """Train a model on a corpus; writes a checkpoint, metrics.json and loss.png to -o."""
    from composer.progress import RichProgress
    from training.tasks import make_task
    from training.trainer import TrainConfig, check_run, strategy_for_environment
    from training.trainer import train as run_training

    if model == "dynamics":  # not a network: a few dozen statistics, no training loop
        from training.dynamics import train as fit_dynamics

        check_run(corpus, output, resume=False)
        fit_dynamics(corpus, output)
        out.print(f"{output}: dynamics.json and MODEL_CARD.md")
        return
    if model == "melody-track":  # a logistic regression over per-track statistics, seconds
        from training.melody_track import train as fit_melody_track

        check_run(corpus, output, resume=False)
        accuracy = fit_melody_track(corpus, output).training["accuracy"]["test"]
        out.print(f"{output}: classifier.json and MODEL_CARD.md; held-out accuracy "
                  f"{accuracy['classifier']:.3f} (skyline {accuracy['skyline']:.3f}) on "
                  f"{accuracy['songs']} test songs")
        return
    if weights_dtype not in ("float32", "float16"):
        raise ValueError(f"--weights-dtype {weights_dtype!r}: use float32 or float16")
    strategy_for_environment()  # before any data is read: multi-worker runs require it
    check_run(corpus, output, resume)
    task = make_task(model, layout, bottom)
    config = TrainConfig(steps=steps, batch=batch, seq_len=seq_len, learning_rate=learning_rate,
                         seed=seed, checkpoint_every=min(checkpoint_every, steps),
                         patience=patience, workers=workers, weights_dtype=weights_dtype,
                         max_minutes=max_minutes)
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
    checkpoint_arg: Annotated[Path | None, typer.Argument(
        metavar="CHECKPOINT", help="Checkpoint folder (same as --checkpoint)")] = None,
    corpus: Annotated[Path, typer.Option("--corpus", help=(
        "Corpus folder; its test split is used (--music: train too, for the ceiling)"))] = ...,
    model: Annotated[str | None, typer.Option("--model", "-m", help=MODEL_HELP)] = None,
    checkpoint: Annotated[Path | None, typer.Option("--checkpoint", help=CHECKPOINT_HELP)] = None,
    window: Annotated[int, typer.Option(help="lstm, pop: tokens of context per scored window")] = 256,
    max_events: Annotated[int | None, typer.Option(
        "--max-events", help="lstm, pop: score only the first N test tokens (quick look)")] = None,
    output: Annotated[Path | None, typer.Option(
        "-o", "--output", help="Report file (default CHECKPOINT/eval.json)")] = None,
    music: Annotated[bool, typer.Option("--music", help=(
        "Music statistics of generated phrases against the corpus' held-out songs, as "
        "overlapping areas (default file CHECKPOINT/music.json)"))] = False,
    phrases: Annotated[int, typer.Option(help="--music: phrases to generate")] = 100,
    bars: Annotated[int, typer.Option(help="--music: bars of each phrase and song window")] = 8,
    seed: Annotated[int, typer.Option(help="--music: seed of the generators and samples")] = 0,
) -> None:
    """Score a model on the corpus' test split, side by side with a baseline (--music: any
    model, by music statistics of its phrases against held-out songs)."""
    from composer.progress import RichProgress
    from training.evaluate import EVALUATORS, write_report

    if checkpoint_arg is not None and checkpoint is not None:
        raise ValueError("give the checkpoint once: as an argument or with --checkpoint")
    spec, folder = generators.resolve(model, checkpoint_arg or checkpoint)
    if music:
        return _music_eval(spec, folder, corpus, output, phrases=phrases, bars=bars, seed=seed)
    if spec.evaluator is None or folder is None:
        able = ", ".join(s.name for s in generators.GENERATORS.values() if s.evaluator)
        raise ValueError(f"{spec.name} has no evaluation of its own; evaluate {able}")
    options = {"window": window, "max_events": max_events} if spec.evaluator == "lstm" else {}
    with RichProgress(err) as progress:
        report = EVALUATORS[spec.evaluator](folder, corpus, progress=progress, **options)
    write_report(report, output or folder / "eval.json")
    if output is None:
        from training.model_card import write_model_card

        write_model_card(folder)
    _EVAL_TABLES[spec.evaluator](report, folder, corpus)


@app.command("export")
@user_errors
def export(
    checkpoint: Annotated[Path, typer.Argument(help="A pop checkpoint folder")],
    no_quantize: Annotated[bool, typer.Option(
        "--no-quantize", help="float32 weights (exact, about 2x slower) instead of int8")] = False,
) -> None:
    """Write a pop checkpoint's LiteRT step (step.tflite), what generation runs; `composer
    train --model pop` writes it too, so this is for checkpoints made before it existed."""
    from models.checkpoint import load_info
    from training.tasks import write_pop_step

    load_info(checkpoint, ("pop",))  # a clear error before TensorFlow loads
    path = write_pop_step(checkpoint, quantize=not no_quantize)
    kind = "float32" if no_quantize else "int8"
    print(f"{path}: {path.stat().st_size / 1e6:.1f} MB, {kind} weights (LiteRT)")


def _gan_table(report: dict, checkpoint: Path, corpus: Path) -> None:
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


def _vae_table(report: dict, checkpoint: Path, corpus: Path) -> None:
    table = Table(title=f"{checkpoint} on {corpus} test split: {report['windows']:,} windows")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in report["metrics"].items():
        table.add_row(name.replace("_", " "), f"{value:.4f}")
    out.print(table)


def _lstm_table(report: dict, checkpoint: Path, corpus: Path) -> None:
    table = Table(title=f"{checkpoint} on {corpus} test split: {report['scored_events']:,} events")
    for column in ("model", "next-event accuracy", "perplexity"):
        table.add_column(column, justify="left" if column == "model" else "right")
    scores = report[report["model"]]
    table.add_row(report["model"], f"{scores['accuracy']:.3f}", f"{scores['perplexity']:.2f}")
    ngram = report["ngram"]
    table.add_row(f"{ngram['order']}-gram Kneser-Ney", f"{ngram['accuracy']:.3f}",
                  f"{ngram['perplexity']:.2f}")
    out.print(table)


def _music_eval(spec, folder: Path | None, corpus: Path, output: Path | None, *,
                phrases: int, bars: int, seed: int) -> None:
    """`eval --music`: training.music_stats on `phrases` generated phrases, the corpus'
    test split (reference) and train split (ceiling); writes music.json and the card."""
    import json

    from composer.progress import RichProgress
    from training import music_stats
    from training.fileio import atomic_write_text

    if folder is None and output is None:
        raise ValueError(f"{spec.name} has no checkpoint folder for music.json; give -o FILE")
    if phrases < 2 or bars < 2:
        raise ValueError("--music needs --phrases and --bars of 2 or more")
    with RichProgress(err) as progress:  # the corpus first: a wrong one fails at once
        held_out, training = (music_stats.corpus_statistics(
            corpus, split, bars=bars, seed=seed, progress=progress) for split in ("test", "train"))
        generated = music_stats.generated_statistics(
            lambda s: generators.load(spec.name, folder, seed=s), phrases=phrases, bars=bars,
            seed=seed, progress=progress)
    report = {"model": generators.label(spec.name, folder),
              "checkpoint": str(folder) if folder else None,
              "corpus": str(corpus), "bars": bars, "seed": seed,
              **music_stats.music_report(generated, held_out, training)}
    atomic_write_text(output or folder / "music.json", json.dumps(report, indent=1) + "\n")
    if output is None:
        from training.model_card import write_model_card

        write_model_card(folder)
    _music_table(report)


def _music_table(report: dict) -> None:
    table = Table(title=f"{report['model']}: {report['generated_phrases']} phrases of "
                        f"{report['bars']} bars against {report['held_out_windows']} held-out "
                        f"windows of {report['corpus']} (ceiling: against "
                        f"{report['training_windows']} training windows)")
    for column in ("statistic", "OA vs held-out", "generated mean", "held-out mean",
                   "ceiling OA"):
        table.add_column(column, justify="left" if column == "statistic" else "right")
    for name, row in report["statistics"].items():
        table.add_row(name.replace("_", " "), f"{row['oa']:.2f}", f"{row['generated_mean']:.3g}",
                      f"{row['held_out_mean']:.3g}", f"{row['ceiling_oa']:.2f}")
    table.add_row("mean", f"{report['mean_oa']:.2f}", "", "", f"{report['mean_ceiling_oa']:.2f}")
    out.print(table)
    out.print(f"mean OA {report['mean_oa']:.2f}, lowest {report['min_oa']:.2f} "
              f"(ceiling mean {report['mean_ceiling_oa']:.2f})")


_EVAL_TABLES = {"lstm": _lstm_table, "vae": _vae_table, "gan": _gan_table}


def _program(text: str | None) -> int | tuple[int, ...] | None:
    """--program as typed: one GM program, or one per track."""
    from composer.player.settings import parse_program

    try:
        return None if text is None else parse_program(text)
    except ValueError as exc:
        raise ValueError(f"--{exc}") from None


def _phrase_outputs(output: Path) -> tuple[Path, Path | None]:
    """(MIDI file, audio file or None) that `-o` names: a .mid, or a .wav/.flac with its
    MIDI beside it. Anything else is refused before any work is done."""
    suffix = output.suffix.lower()
    if suffix in (".mid", ".midi"):
        return output, None
    if suffix in (".wav", ".flac"):
        return output.with_suffix(".mid"), output
    raise ValueError(f"{output}: write .mid, or .wav/.flac (audio, with the MIDI beside it)")


@app.command("generate")
@user_errors
def generate(
    output: Annotated[Path, typer.Option(
        "-o", "--output", help="File to write: .mid, or .wav/.flac (audio + the .mid beside it)")],
    model: Annotated[str | None, typer.Option("--model", "-m", help=MODEL_HELP)] = None,
    checkpoint: Annotated[Path | None, typer.Option("--checkpoint", help=CHECKPOINT_HELP)] = None,
    bars: Annotated[int, typer.Option(help="Length in 4/4 bars")] = 8,
    qpm: Annotated[float | None, typer.Option(
        "--qpm", help=QPM_HELP + " (default: the primer's, else 120)")] = None,
    program: Annotated[str | None, typer.Option("--program", help=PROGRAM_HELP)] = None,
    temperature: Annotated[float | None, typer.Option(
        help="Sampling temperature (default: the model's; 0: greedy)")] = None,
    top_k: Annotated[int, typer.Option("--top-k", help="Sample among the k likeliest (0: all)")] = 0,
    seed: Annotated[int | None, typer.Option(help="Seed for a reproducible result")] = None,
    primer: Annotated[Path | None, typer.Option(help="MIDI file to continue (" + ", ".join(
        s.name for s in generators.GENERATORS.values() if s.primer) + ")")] = None,
    track: Annotated[str | None, typer.Option(
        "--track", help="The --primer track the " + ", ".join(
            s.name for s in generators.GENERATORS.values() if s.primer_lead)
        + " continues, as N (pitched tracks counted from 1) or NAME (default: found by the "
          "melody-track classifier)")] = None,
    soundfont: Annotated[str | None, typer.Option("--soundfont", help="Soundfont for audio")] = None,
    quantize: Annotated[bool, typer.Option(
        "--quantize/--no-quantize", help="lstm: snap notes to the sixteenth grid")] = True,
) -> None:
    """Generate new music from a trained model; exactly --bars bars at --qpm."""
    import time

    from composer import generation as gen

    midi, audio = _phrase_outputs(output)
    started = time.perf_counter()
    phrase = gen.generate(model, bars=bars, qpm=qpm, temperature=temperature, top_k=top_k,
                          seed=seed, primer=primer, track=track, checkpoint=checkpoint,
                          program=_program(program), quantize=quantize,
                          on_lead=lambda lead: out.print(f"primer: {lead}"))
    gen.write_midi(phrase, midi)
    if audio is not None:
        gen.write_audio_file(phrase, audio, soundfont)
    written = f"{audio} and {midi}" if audio is not None else f"{midi}"
    out.print(f"{written}: {bars} bars at {phrase.qpm:g} qpm, {len(phrase.sequence.notes)} notes "
              f"in {time.perf_counter() - started:.2f} s")


@app.command("interpolate")
@user_errors
def interpolate(
    a: Annotated[Path, typer.Argument(help="MIDI file to start from")],
    b: Annotated[Path, typer.Argument(help="MIDI file to arrive at")],
    output: Annotated[Path, typer.Option(
        "-o", "--output", help="File to write: .mid, or .wav/.flac (audio + the .mid beside it)")],
    steps: Annotated[int, typer.Option(help="Points on the path, both ends included")] = 8,
    qpm: Annotated[float | None, typer.Option("--qpm", help=(
        "Tempo in quarter notes a minute (default: from a's tempo to b's across the steps)"))
    ] = None,
    model: Annotated[str | None, typer.Option("--model", "-m", help=(
        "A model with a latent space: " + ", ".join(
            s.name for s in generators.GENERATORS.values() if s.interpolates)
        + ", or a checkpoint folder (default vae-2bar)"))] = None,
    checkpoint: Annotated[Path | None, typer.Option("--checkpoint", help=CHECKPOINT_HELP)] = None,
    program: Annotated[str | None, typer.Option("--program", help=(
        "GM program 0-127 of the melody (default: each song's own), or N,N,... one per "
        "track: the melody, then a's parts, then b's"))] = None,
    track: Annotated[list[str] | None, typer.Option(
        "--track", help="The melody track, as N (pitched tracks counted from 1) or NAME; "
                        "once for both songs, or twice: a's then b's (default: found by the "
                        "melody-track classifier)")] = None,
    section: Annotated[list[str] | None, typer.Option(
        "--section", help="Which bars of each song: auto (the most repeated 16 bars, the "
                          "chorus), intro (from the first notes) or a bar number; once for "
                          "both songs, or twice: a's then b's")] = None,
    melody_only: Annotated[bool, typer.Option(
        "--melody-only", help="Only the interpolated melody, without the songs' parts")] = False,
    keep_harmony: Annotated[bool, typer.Option(
        "--keep-harmony", help="Play the songs' parts with their own chords (default: "
                               "re-harmonised bar by bar to the new melody)")] = False,
    each: Annotated[bool, typer.Option(
        "--each", help="Also write every step alone: OUT-01.mid, OUT-02.mid, ...")] = False,
    soundfont: Annotated[str | None, typer.Option("--soundfont", help="Soundfont for audio")] = None,
) -> None:
    """Fuse two songs: their chosen sections' melodies, encoded by the VAE and joined step by
    step, over a's accompaniment and drums, then b's, re-harmonised to the new melody, at a
    tempo moving from a's to b's."""
    from composer import generation as gen
    from composer.interpolation import interpolate as run

    midi, audio = _phrase_outputs(output)
    track, section = list(track or []), list(section or [])
    for name, given in (("--track", track), ("--section", section)):
        if len(given) > 2:
            raise ValueError(f"{name}: give it once (both songs) or twice (a, then b)")
    tracks = (track[0], track[-1]) if track else (None, None)
    sections = (section[0], section[-1]) if section else ("auto", "auto")
    result = run(a, b, steps=steps, qpm=qpm, checkpoint=checkpoint, model=model,
                 program=_program(program), tracks=tracks, sections=sections,
                 backing=not melody_only, keep_harmony=keep_harmony)
    gen.write_midi(result.phrase, midi)
    written = [midi]
    if each:
        for i, part in enumerate(result.steps, 1):
            path = midi.with_name(f"{midi.stem}-{i:02d}{midi.suffix}")
            gen.write_midi(part, path)
            written.append(path)
    if audio is not None:
        gen.write_audio_file(result.phrase, audio, soundfont)
        written.insert(0, audio)
    song_a, song_b = result.songs
    tracks_out = len({n.instrument for n in result.phrase.sequence.notes})
    out.print(f"{written[0]}: {steps} steps from {a.name} ({song_a.section.describe()}, "
              f"{song_a.qpm:g} qpm) to {b.name} ({song_b.section.describe()}, "
              f"{song_b.qpm:g} qpm); {result.phrase.bars} bars, {tracks_out} tracks, "
              f"{len(result.phrase.sequence.notes)} notes"
              + (f" (+{len(written) - 1} files)" if len(written) > 1 else ""))


@app.command("melody")
@user_errors
def melody(
    backing: Annotated[Path, typer.Argument(
        help="Backing track: MIDI, or audio (WAV, FLAC, MP3)")],
    output: Annotated[Path, typer.Option("-o", "--output", help="MIDI file of the melody")],
    mix: Annotated[Path | None, typer.Option(
        "--mix", help="Also write the melody rendered over the backing (.wav or .flac)")] = None,
    bars: Annotated[int | None, typer.Option(
        help="Bars of melody (default: to the backing's end)")] = None,
    start_bar: Annotated[int, typer.Option(
        "--start-bar", help="The backing's bar the melody starts on, counted from 1")] = 1,
    qpm: Annotated[float | None, typer.Option("--qpm", help=(
        "The backing's tempo, when beat tracking an audio file gets it wrong (a slow ballad "
        "read at double time)"))] = None,
    program: Annotated[int, typer.Option(help=(
        "GM program of the melody (default 53, Voice Oohs: a sung colour from the soundfont, "
        "not vocal synthesis)"))] = 53,
    temperature: Annotated[float | None, typer.Option(help=(
        "Sampling temperature of the pitches (lower: more chord tones; the rhythm samples "
        "as trained; default: the lead model's, chosen on POP909's valid split)"))] = None,
    seed: Annotated[int | None, typer.Option(help="Seed, for the same melody again")] = None,
    checkpoint: Annotated[Path | None, typer.Option(
        "--checkpoint", help="A lead checkpoint folder (default: the shipped models/lead)")] = None,
    soundfont: Annotated[str | None, typer.Option("--soundfont", help="Soundfont for --mix")] = None,
) -> None:
    """Write a melody over a backing track: its beats, key and a chord per beat are read from
    it, and the lead model (trained on POP909) writes a line that follows them."""
    import pretty_midi

    from composer import generation as gen
    from composer.backing import read_backing
    from composer.melody import mix as mix_audio
    from composer.melody import write_melody
    from composer.render import write_audio
    from composer.render.files import audio_format

    if output.suffix.lower() not in (".mid", ".midi"):
        raise ValueError(f"{output}: -o writes the melody as MIDI (.mid); --mix writes audio")
    if mix is not None:
        audio_format(mix)  # a bad name fails before any work
    found = read_backing(backing, qpm=qpm)
    result = write_melody(found, bars=bars, start_bar=start_bar - 1, checkpoint=checkpoint,
                          temperature=temperature, seed=seed, program=program)
    gen.write_midi(result.sequence, output)
    written = [str(output)]
    if mix is not None:
        write_audio(mix, mix_audio(found, result, soundfont=soundfont), 44100)
        written.append(str(mix))
    first = result.first_bar
    chords = [found.chords[int(b)].symbol for b in found.downbeats[first:first + result.bars]]
    shown = " ".join(chords[:8]) + (" ..." if len(chords) > 8 else "")
    out.print(f"{' + '.join(written)}: {result.bars} bars over {backing.name} ({found.kind}, "
              f"{found.qpm:.1f} qpm, {found.key}; bar chords {shown}), "
              f"{len(result.sequence.notes)} notes on GM {program} "
              f"{pretty_midi.program_to_instrument_name(program)}")


def _settings(model: str | None, checkpoint: Path | None, **values):
    """PlaySettings from flags; a bad value is one line naming the flag. With --checkpoint
    alone, the model is the one its model.json names."""
    from composer.player import PlaySettings

    spec, _ = generators.resolve(model, checkpoint)
    return PlaySettings(model=model or spec.name,
                        checkpoint=str(checkpoint) if checkpoint else None, **values)


def _steered(prompt: str | None, model: str | None, checkpoint: Path | None,
             **values) -> tuple[str | None, dict]:
    """The model and qpm/program/temperature/mode a prompt asks for where no flag was given
    (composer.prompt), said on stderr; 120 qpm when neither gives a tempo."""
    if prompt is not None:
        from composer.prompt import read_prompt, steer

        plan = read_prompt(prompt)
        model, values = steer(plan, model, str(checkpoint) if checkpoint else None, values)
        err.print(f"prompt: {plan.describe()}", soft_wrap=True)
    if values.get("qpm") is None:
        values["qpm"] = 120.0
    return model, values


@app.command("play")
@user_errors
def play(
    model: Annotated[str | None, typer.Option("--model", "-m", help=MODEL_HELP + " (default: lstm)")] = None,
    checkpoint: Annotated[Path | None, typer.Option("--checkpoint", help=CHECKPOINT_HELP)] = None,
    qpm: Annotated[float | None, typer.Option("--qpm", help=QPM_HELP + " [default: 120, or the prompt's]")] = None,
    program: Annotated[str | None, typer.Option("--program", help=PROGRAM_HELP)] = None,
    prompt: Annotated[str | None, typer.Option("--prompt", help=PROMPT_HELP)] = None,
    mode: Annotated[str | None, typer.Option("--mode", help=MODE_HELP)] = None,
    minutes: Annotated[float | None, typer.Option("--minutes", help="How long (fractions allowed, e.g. 0.5); default: until Ctrl-C, or 1 with -o")] = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", "--out", help="Write to this .wav/.flac (exactly --minutes long) instead of the speakers; 'null' plays to nothing")] = None,
    fallback: Annotated[Path | None, typer.Option("--fallback-out", help="Play to the speakers, or to this file when there are none")] = None,
    bars: Annotated[int, typer.Option("--bars", help="Length of each loop in bars")] = 8,
    loop_seconds: Annotated[float, typer.Option("--loop-seconds", help="How long each loop plays before the next comes in")] = 20.0,
    crossfade: Annotated[float, typer.Option("--crossfade", help="Crossfade length in beats")] = 4.0,
    temperature: Annotated[float | None, typer.Option("--temperature", help="Sampling temperature (default: the model's)")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Random seed for repeatable music")] = None,
    soundfont: Annotated[str | None, typer.Option("--soundfont", help="Soundfont .sf2/.sf3")] = None,
    midi_out: Annotated[bool, typer.Option("--midi-out", help="Also send the notes, MIDI clock and start/stop to a MIDI output port: a virtual port named composer, or --midi-port")] = False,
    midi_port: Annotated[str | None, typer.Option("--midi-port", help="With --midi-out: the existing port whose name contains this")] = None,
    audio: Annotated[bool, typer.Option("--audio/--no-audio", help="--no-audio: MIDI out only, in real time")] = True,
    keep: Annotated[Path | None, typer.Option("--keep", help="Also file every loop played in this folder as a sample pack (WAV with loop points + MIDI, index.csv), as `composer loops` does")] = None,
    engine: Annotated[str, typer.Option("--engine", help="midi (the models here) or musicgpt (audio from the MusicGPT binary for --prompt, with the MIDI path, steered by the same words, playing until its clips are ready)")] = "midi",
    musicgpt: Annotated[Path | None, typer.Option("--musicgpt", help="The MusicGPT binary (default: $COMPOSER_MUSICGPT, musicgpt on PATH, ./musicgpt-x86_64-unknown-linux-gnu)")] = None,
    musicgpt_model: Annotated[str, typer.Option("--musicgpt-model", help="small, small-quant, medium, medium-quant or large")] = "small",
    clip_seconds: Annotated[int, typer.Option("--clip-seconds", help="Seconds of each MusicGPT clip, 1-30")] = 10,
    musicgpt_timeout: Annotated[float, typer.Option("--musicgpt-timeout", help="Seconds before a MusicGPT clip is given up (tried once more, then the MIDI path plays its slot)")] = 300.0,
) -> None:
    """Endless music: loops generated, rendered and crossfaded on bar lines."""
    from composer.player import NoAudioDevice, Player, open_sink

    if minutes is not None and minutes <= 0:
        raise ValueError(f"--minutes must be positive, not {minutes:g}")
    if midi_port is not None and not midi_out:
        raise ValueError("--midi-port names the port for --midi-out: give --midi-out too")
    if not audio and not midi_out:
        raise ValueError("--no-audio plays to MIDI out only: give --midi-out too")
    model, steered = _steered(prompt, model, checkpoint, qpm=qpm, program=_program(program),
                              temperature=temperature, mode=mode)
    if engine not in ("midi", "musicgpt"):
        raise ValueError(f"--engine {engine!r}: midi or musicgpt")
    if engine == "musicgpt" and not prompt:
        raise ValueError("--engine musicgpt writes audio for a text: give --prompt \"...\"")
    audio_path = {} if engine == "midi" else {
        "source": "musicgpt", "prompt": prompt, "clip_seconds": clip_seconds,
        "musicgpt": str(musicgpt) if musicgpt else None, "musicgpt_model": musicgpt_model,
        "musicgpt_timeout": musicgpt_timeout}
    settings = _settings(model, checkpoint, **steered, bars=bars, loop_seconds=loop_seconds,
                         crossfade_beats=crossfade, seed=seed, soundfont=soundfont,
                         **audio_path)
    if engine == "musicgpt":
        from composer.musicgpt import MusicGptRequest, find_binary

        MusicGptRequest(prompt, seconds=clip_seconds, model=musicgpt_model,
                        timeout=musicgpt_timeout)  # checks them before any music is made
        err.print(f"MusicGPT: {find_binary(musicgpt)}", soft_wrap=True)
    pack = _pack(keep, settings, prompt if program is None else None)
    port = _open_midi_out(midi_port) if midi_out else None
    if not audio:
        sink = open_sink("null", settings.sample_rate, paced=True)
    else:
        try:
            sink = open_sink(output, settings.sample_rate, paced=port is not None)
        except NoAudioDevice as exc:
            if fallback is None:
                raise ValueError(f"{exc}; use -o FILE.wav to write the music to a file "
                                 "instead") from None
            err.print(f"no audio device: writing {fallback} instead")
            sink = open_sink(fallback, settings.sample_rate, paced=port is not None)
    if not sink.realtime and minutes is None:
        minutes = 1.0
    player = Player(settings, sink)
    if port is not None:
        from composer.player.midi_out import MidiOut

        MidiOut(port).attach(player)
    if engine == "musicgpt":  # its fallbacks, one line each, as they happen
        from composer.player.events import PlayerError

        player.subscribe(lambda event: err.print(event.message, soft_wrap=True)
                         if isinstance(event, PlayerError) and
                         event.message.startswith("MusicGPT") else None)
    keeper = None
    if pack is not None:
        from composer.pack import Keeper

        keeper = Keeper(pack).attach(player)
    try:
        _play(player, sink, minutes)
    finally:
        if keeper is not None:
            kept = keeper.close()
            err.print(f"{keep}: {len(kept)} loops kept, listed in index.csv"
                      + "".join(f"; not kept: {e}" for e in keeper.errors[:3]), soft_wrap=True)


@app.command("oneshots")
@user_errors
def oneshots(
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder to write the one-shots and index into")],
    kit: Annotated[str | None, typer.Option("--kit", help="gm-drums: every General MIDI drum key the soundfont has (35-81)")] = None,
    program: Annotated[int | None, typer.Option("--program", help="GM program 0-127 of pitched one-shots")] = None,
    notes: Annotated[str, typer.Option("--notes", help="With --program: C2..C4 (chromatic), C2..C4/3 (every 3rd semitone) or C4,E4,G4")] = "C2..C4",
    velocity: Annotated[int, typer.Option("--velocity", help="MIDI velocity 1-127")] = 100,
    seconds: Annotated[float, typer.Option("--seconds", help="How long a pitched note is held before its release")] = 1.0,
    effects: Annotated[bool, typer.Option("--effects", help="Keep FluidSynth's reverb and chorus (default: dry)")] = False,
    soundfont: Annotated[str | None, typer.Option("--soundfont", help="Soundfont .sf2/.sf3")] = None,
) -> None:
    """Drum hits or pitched notes from the soundfont as one-shot WAVs: silence trimmed, peaks
    at -1 dBFS, a short fade at the tail only; with index.csv and index.json."""
    from composer.oneshots import GM_DRUMS, note_range, render_oneshots, write_oneshots
    from composer.progress import RichProgress

    if (kit is None) == (program is None):
        raise ValueError("give --kit gm-drums or --program N (with --notes), one of the two")
    if kit is not None and kit != "gm-drums":
        raise ValueError(f"--kit {kit!r}: the kit is gm-drums")
    if program is not None and not 0 <= program <= 127:
        raise ValueError(f"--program must be a GM program 0-127, not {program}")
    pitches = list(GM_DRUMS) if kit else note_range(notes)
    if output.exists() and not output.is_dir():
        raise ValueError(f"{output}: not a folder")
    with RichProgress(err) as progress:
        shots = render_oneshots(program=program, pitches=pitches, velocity=velocity,
                                seconds=seconds, soundfont=soundfont, effects=effects,
                                progress=progress)
    rows = write_oneshots(output, shots)
    missing = len(pitches) - len(rows)
    out.print(f"{output}: {len(rows)} one-shots; index.csv and index.json"
              + (f" ({missing} keys silent in this soundfont, skipped)" if missing else ""),
              soft_wrap=True)


def _seamless(maker, tries: int = 3):
    """A loop whose seam is no more abrupt than its music (worst score <= 1), else the best
    of `tries`: a pack is for looping, so a loop with a click is made again."""
    best = None
    for _ in range(tries):
        loop = maker()
        if best is None or loop.seam.worst < best.seam.worst:
            best = loop
        if best.seam.ok:
            break
    return best


def _pack(folder: Path | None, settings, prompt: str | None):
    """`play --keep`: the pack its loops are filed in (composer.pack), opened before any
    audio is made so a bad folder costs nothing; the file names' role is the prompt's
    instrument unless --program chose one."""
    if folder is None:
        return None
    from composer.pack import Pack

    role = None
    if prompt is not None:
        from composer.prompt import read_prompt

        role = read_prompt(prompt).instrument
    return Pack(folder, model=settings.model_label, prompt=prompt or "", role=role)


@app.command("loops")
@user_errors
def loops(
    output: Annotated[Path, typer.Option("-o", "--output", help="Pack folder to fill (made if missing; a pack there is added to)")],
    prompt: Annotated[str | None, typer.Option("--prompt", help=PROMPT_HELP)] = None,
    bpm: Annotated[float | None, typer.Option("--bpm", "--qpm", help="Tempo in beats (quarter notes) a minute [default: 120, or the prompt's]")] = None,
    bars: Annotated[int, typer.Option("--bars", help="Bars in each loop")] = 4,
    count: Annotated[int, typer.Option("--count", help="How many loops")] = 10,
    model: Annotated[str | None, typer.Option("--model", "-m", help=MODEL_HELP + " (default: lstm, or the prompt's)")] = None,
    checkpoint: Annotated[Path | None, typer.Option("--checkpoint", help=CHECKPOINT_HELP)] = None,
    program: Annotated[str | None, typer.Option("--program", help=PROGRAM_HELP)] = None,
    mode: Annotated[str | None, typer.Option("--mode", help=MODE_HELP)] = None,
    temperature: Annotated[float | None, typer.Option("--temperature", help="Sampling temperature (default: the model's)")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Random seed for a repeatable pack")] = None,
    soundfont: Annotated[str | None, typer.Option("--soundfont", help="Soundfont .sf2/.sf3")] = None,
) -> None:
    """A sample pack: tempo-exact seamless loops (WAV with loop points, plus the MIDI), named
    role_BPMbpm_KEY_NN, with index.csv and index.json."""
    from composer.pack import Pack
    from composer.player.makers import MidiLoopMaker
    from composer.progress import RichProgress

    if count < 1:
        raise ValueError(f"--count must be at least 1, not {count}")
    model, steered = _steered(prompt, model, checkpoint, qpm=bpm, program=_program(program),
                              temperature=temperature, mode=mode)
    settings = _settings(model, checkpoint, **steered, bars=bars, seed=seed,
                         soundfont=soundfont)
    role = None
    if prompt is not None and program is None:
        from composer.prompt import read_prompt

        role = read_prompt(prompt).instrument
    pack = Pack(output, model=settings.model_label, prompt=prompt or "", role=role)
    maker = MidiLoopMaker(settings)
    entries = []
    with RichProgress(err) as progress:
        progress("loops", 0, count)
        for done in range(1, count + 1):
            entries.append(pack.add(_seamless(maker)))
            progress("loops", done, count)
    seams = [e.seam for e in entries if e.seam is not None]
    out.print(f"{output}: {len(entries)} loops of {bars} bars at {settings.qpm:g} bpm "
              f"({', '.join(sorted({e.key for e in entries}))}), worst seam "
              f"{max(seams):.2f}; index.csv and index.json" if seams else
              f"{output}: {len(entries)} loops; index.csv and index.json", soft_wrap=True)


def _open_midi_out(name: str | None):
    from composer.player.midi_out import open_port

    return open_port(name)


def _play(player, sink, minutes: float | None) -> None:
    """Run a player to the end (offline) or until time is up or Ctrl-C (speakers). Ctrl-C
    keeps what was played: a file sink is closed as a valid file of that length."""
    import time as clock

    from composer.progress import RichProgress

    started = clock.time() - _process_age()
    player_created = clock.time() - (clock.perf_counter() - player.created_at)
    interrupted = False
    with player:
        try:
            if not sink.realtime:
                with RichProgress(err) as progress:
                    if hasattr(player.maker, "show_progress"):  # MusicGPT's own bar
                        player.maker.show_progress = progress
                    player.run(minutes * 60.0, progress)
            else:
                player.start()
                from rich.live import Live

                end = None if minutes is None else clock.monotonic() + minutes * 60.0
                with Live(console=err, refresh_per_second=4, transient=True) as live:
                    while end is None or clock.monotonic() < end:
                        live.update(Text(player.status().line()))
                        clock.sleep(0.25)
        except KeyboardInterrupt:
            interrupted = True
        status = player.status()
    path = getattr(sink, "path", None)
    where = f"{path}: " if path is not None else ""
    first = ""
    if player.first_sound is not None:  # counted from the start of the process
        first = f", first sound after {player.first_sound + player_created - started:.2f} s"
    seconds = sink.frames / sink.sample_rate  # what the sink took (a file: what it holds)
    out.print(f"{where}{seconds:.1f} s of music, {status.loops_played + 1} loops "
              f"at {status.qpm:g} qpm{first}"
              + (f", {status.errors} generation errors recovered" if status.errors else ""))
    if interrupted:
        kept = f"; {path} holds the {seconds:.2f} s played" if path else ""
        err.print(f"interrupted{kept}")
        raise typer.Exit(130)


def _process_age() -> float:
    """Seconds since this process started (Linux /proc; elsewhere since this module loaded)."""
    try:
        ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return uptime - ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        import time as clock

        return clock.perf_counter() - _LOADED


@app.command("shell")
@user_errors
def shell(
    model: Annotated[str | None, typer.Option("--model", "-m", help=MODEL_HELP + " (default: lstm)")] = None,
    checkpoint: Annotated[Path | None, typer.Option("--checkpoint", help=CHECKPOINT_HELP)] = None,
    qpm: Annotated[float, typer.Option("--qpm", help=QPM_HELP)] = 120.0,
    program: Annotated[str | None, typer.Option("--program", help=PROGRAM_HELP)] = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Driver: a .wav/.flac file, or 'null', instead of the speakers")] = None,
) -> None:
    """Interactive terminal: start, pause, next, status, save, set ..., help, quit."""
    from composer.shell import Shell

    settings = _settings(model, checkpoint, qpm=qpm, program=_program(program))
    Shell(settings, driver=str(output) if output else "speakers").cmdloop()


@app.command("gui")
@user_errors
def gui(
    model: Annotated[str | None, typer.Option("--model", "-m", help=MODEL_HELP + " (default: lstm)")] = None,
    checkpoint: Annotated[list[Path] | None, typer.Option("--checkpoint", help=CHECKPOINT_HELP + "; repeat to offer several in the model control (the first plays first)")] = None,
    qpm: Annotated[float, typer.Option("--qpm", help=QPM_HELP)] = 120.0,
    program: Annotated[str | None, typer.Option("--program", help=PROGRAM_HELP)] = None,
    temperature: Annotated[float | None, typer.Option("--temperature", help="Sampling temperature (default: the model's)")] = None,
    bars: Annotated[int, typer.Option("--bars", help="Length of each loop in bars")] = 8,
    crossfade: Annotated[float, typer.Option("--crossfade", help="Crossfade length in beats")] = 4.0,
    loop_seconds: Annotated[float, typer.Option("--loop-seconds", help="How long each loop plays before the next comes in")] = 20.0,
    seed: Annotated[int | None, typer.Option("--seed", help="Random seed for repeatable music")] = None,
    soundfont: Annotated[str | None, typer.Option("--soundfont", help="Soundfont .sf2/.sf3")] = None,
    output: Annotated[str, typer.Option("-o", "--output", help="speakers, null, or a .wav/.flac file written as it is heard; with no audio device the window plays to null in time and says so")] = "speakers",
    midi_out: Annotated[bool, typer.Option("--midi-out", help="Start with MIDI out on (a toggle in the window): a virtual port named composer, or --midi-port")] = False,
    midi_port: Annotated[str | None, typer.Option("--midi-port", help="MIDI out goes to the existing port whose name contains this")] = None,
    size: Annotated[str, typer.Option("--size", help="Window size WxH (it can be resized)")] = "1280x720",
) -> None:
    """A window: play/pause, next, save, the controls, and live views of the music."""
    from composer.player.sinks import DRIVERS

    try:
        width, height = (int(part) for part in size.lower().split("x"))
    except ValueError:
        raise ValueError(f"--size {size!r}: give WxH, e.g. 1280x720") from None
    if output not in ("speakers", "null") and Path(output).suffix.lower() not in (".wav", ".flac"):
        raise ValueError(f"--output {output}: use {DRIVERS}")
    folders = list(checkpoint or [])
    for folder in folders:
        generators.resolve(checkpoint=folder)  # a bad folder is one line, before any window
    settings = _settings(model, folders[0] if folders else None, qpm=qpm,
                         program=_program(program), temperature=temperature, bars=bars,
                         crossfade_beats=crossfade, loop_seconds=loop_seconds, seed=seed,
                         soundfont=soundfont)
    from composer.gui.app import run_gui

    run_gui(settings, output, (max(320, width), max(240, height)), midi_out=midi_out,
            midi_port=midi_port, checkpoints=[str(f) for f in folders])


@app.command("serve")
@user_errors
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on (loopback by default: "
                                           "put a proxy in front to share it)")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8000,
    data: Annotated[Path | None, typer.Option("--data", help=STUDIO_DATA_HELP)] = None,
    worker: Annotated[bool, typer.Option("--worker/--no-worker", help=(
        "Start one job worker beside the server (more with `composer worker`)"))] = True,
    checkpoint: Annotated[list[Path] | None, typer.Option("--checkpoint", help=(
        "A checkpoint folder to offer beside the shipped models, by its folder name "
        "(repeat for several)"))] = None,
) -> None:
    """The web studio: upload songs, fuse, generate and listen in a browser (API docs at
    /docs, spec at /openapi.json)."""
    from composer.web.server import serve as run
    from composer.web.settings import StudioSettings

    settings = StudioSettings.from_env(data, tuple(checkpoint or ()))
    run(settings, host=host, port=port, worker=worker,
        on_ready=lambda url: out.print(f"studio at {url} (data in {settings.data})"))


@app.command("worker")
@user_errors
def worker(
    data: Annotated[Path | None, typer.Option("--data", help=STUDIO_DATA_HELP)] = None,
    threads: Annotated[int, typer.Option(help="Jobs this process runs at once")] = 1,
    checkpoint: Annotated[list[Path] | None, typer.Option("--checkpoint", help=(
        "A checkpoint folder the server offers (as its --checkpoint; repeat)"))] = None,
) -> None:
    """Run the studio's queued jobs (beside `composer serve --no-worker`, or on another
    machine sharing DATABASE_URL, REDIS_URL and the data folder)."""
    from composer.web.server import work
    from composer.web.settings import StudioSettings

    work(StudioSettings.from_env(data, tuple(checkpoint or ())), workers=max(1, threads))


@app.command("gallery")
@user_errors
def gallery(
    data: Annotated[Path | None, typer.Option("--data", help=STUDIO_DATA_HELP)] = None,
) -> None:
    """Make the studio's gallery: a GAN, a hybrid and a pop example, rendered."""
    from composer.web.server import make_gallery
    from composer.web.settings import StudioSettings

    for job in make_gallery(StudioSettings.from_env(data),
                            progress=lambda kind: out.print(f"{kind} ...")):
        result = job["result"] or {}
        out.print(f"{job['kind']}: {job['status']} {result.get('summary') or job['error']}")


@app.command("render")
@user_errors
def render(
    input: Annotated[Path, typer.Argument(help="MIDI file to render")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Audio file to write: .wav or .flac")],
    soundfont: Annotated[str | None, typer.Option("--soundfont", help="Soundfont .sf2/.sf3")] = None,
    program: Annotated[int | None, typer.Option(
        "--program", help="GM program 0-127 for every pitched track (default: the file's)")] = None,
    sample_rate: Annotated[int, typer.Option("--sample-rate", help="Samples per second")] = 44100,
    lufs: Annotated[float, typer.Option("--lufs", help="Target loudness, LUFS")] = -16.0,
    ceiling: Annotated[float, typer.Option("--ceiling", help="Highest sample peak, dBFS")] = -1.0,
    normalize: Annotated[bool, typer.Option(
        "--normalize/--no-normalize", help="Bring to --lufs (off: the synth's own level)")] = True,
    reverb: Annotated[bool, typer.Option("--reverb/--no-reverb", help="FluidSynth reverb")] = True,
    chorus: Annotated[bool, typer.Option("--chorus/--no-chorus", help="FluidSynth chorus")] = True,
    tail: Annotated[float, typer.Option(
        "--tail", help="Most seconds the sound may ring on after the last note")] = 5.0,
    depth: Annotated[str, typer.Option("--depth", help="Sample format: 16, 24 or float (.wav)")] = "16",
    max_minutes: Annotated[float, typer.Option(
        "--max-minutes", help="Refuse to make more audio than this (a tiny file can hold an "
                              "hour-long note)")] = 30.0,
) -> None:
    """Render a MIDI file to WAV or FLAC with FluidSynth, loudness-normalised and peak-safe.

    The audio streams to the file as it is made: memory stays the same for a minute or an
    hour."""
    import time

    from composer.render import Renderer, check_length, read_sequence
    from composer.render.bounce import bounce
    from composer.render.files import check_target

    check_target(output, depth)  # a bad output name fails before the render, not after
    if program is not None and not 0 <= program <= 127:
        raise ValueError(f"--program {program}: a GM program is 0..127")
    if tail < 0:
        raise ValueError(f"--tail {tail:g}: must be zero or more seconds")
    if max_minutes <= 0:
        raise ValueError(f"--max-minutes {max_minutes:g}: must be more than zero")
    sequence = read_sequence(input)
    check_length(sequence, input, max_minutes, tail)
    started = time.perf_counter()
    from composer.progress import RichProgress

    with Renderer(soundfont, sample_rate, reverb=reverb, chorus=chorus, lufs=lufs,
                  ceiling_db=ceiling, max_tail=tail) as renderer, RichProgress(err) as progress:
        loaded = time.perf_counter()
        done = bounce(renderer, sequence, output, program=program, normalize=normalize,
                      depth=depth, progress=progress)
    if done.dropped_voices:
        err.print(f"warning: {input}: FluidSynth had no free voice for {done.dropped_voices:,} "
                  f"notes (polyphony 256), so the largest chords lost notes")
    level = f"{lufs:g} LUFS, " if normalize else ""
    out.print(f"{output}: {done.seconds:.2f} s + {done.tail:.2f} s tail at {sample_rate} Hz, "
              f"{level}peak {done.peak_db:.1f} dBFS; rendered in {done.render_seconds:.2f} s "
              f"({done.seconds / max(done.render_seconds, 1e-9):.0f}x real time), written in "
              f"{done.finish_seconds:.2f} s, after {loaded - started:.2f} s loading the "
              "soundfont")


@app.command("loop")
@user_errors
def loop(
    input: Annotated[Path, typer.Argument(
        help="Audio file (WAV, FLAC, OGG, AIFF, ...) or a MIDI file to render first")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Loop to write: .wav or .flac")],
    bars: Annotated[int | None, typer.Option(
        "--bars", help="Exactly this many bars (default: the best length up to --max-bars)")
    ] = None,
    max_bars: Annotated[int, typer.Option("--max-bars", help="Longest loop considered")] = 8,
    qpm: Annotated[float | None, typer.Option(
        "--qpm", help="The tempo, when known: use its exact beat grid instead of beat tracking")
    ] = None,
    beats_per_bar: Annotated[int | None, typer.Option(
        "--beats-per-bar", help="Beats in a bar (default: the MIDI file's meter, else 4)")] = None,
    report: Annotated[bool, typer.Option("--report", help="Print a table of the loop, its seam "
                                                      "scores and the detector's scores")] = False,
    soundfont: Annotated[str | None, typer.Option("--soundfont", help="Soundfont for MIDI input")
                         ] = None,
    window: Annotated[float, typer.Option(
        "--window", help="Seconds from the start to search (memory stays bounded however "
                         "long the file)")] = 240.0,
) -> None:
    """Find the most seamless loop of whole bars; save it with loop points and tempo."""
    import dataclasses
    import time

    from composer.loop import find_loop, read_audio, write_loop

    if output.suffix.lower() not in (".wav", ".flac"):
        raise ValueError(f"{output}: loops are written as .wav or .flac")
    for name, value, low in (("--bars", bars, 1), ("--max-bars", max_bars, 1),
                             ("--beats-per-bar", beats_per_bar, 1)):
        if value is not None and value < low:
            raise ValueError(f"{name} {value}: must be at least {low}")
    if qpm is not None and not 20 <= qpm <= 400:
        raise ValueError(f"--qpm {qpm:g}: give a tempo between 20 and 400")
    if not window > 0:
        raise ValueError(f"--window {window:g}: must be more than zero seconds")
    started = time.perf_counter()
    from training.sources import MIDI_SUFFIXES

    if input.suffix.lower() in MIDI_SUFFIXES:
        from composer.render import Renderer, read_sequence
        from composer.render.midi import excerpt

        sequence = read_sequence(input)
        length = sequence.total_time
        if length > window:
            sequence = excerpt(sequence, window, cut_notes=True)
        with Renderer(soundfont) as renderer:
            clip = renderer.render(sequence)
    else:
        clip = read_audio(input, window + 1.0)  # a second more: the tail after the window
        length = _audio_seconds(input)
    if qpm is not None:
        clip = dataclasses.replace(clip, qpm=qpm)
    if beats_per_bar is not None:
        clip = dataclasses.replace(clip, beats_per_bar=beats_per_bar)
    found = find_loop(clip, bars=bars, max_bars=max(max_bars, bars or 1), name=str(input))
    write_loop(output, found, beats_per_bar=clip.beats_per_bar)
    elapsed = time.perf_counter() - started
    sample_rate, seam = found.sample_rate, found.seam
    if length > window:
        err.print(f"note: {input}: searched the first {_minutes(window)} of "
                  f"{_minutes(length)} (--window)")
    grid = ("exact, from the score" if clip.qpm and qpm is None else
            "exact, from --qpm" if clip.qpm else "estimated by beat tracking")
    verdict = "all <= 1" if seam.ok else "above 1: the seam may be heard"
    if not report:
        out.print(f"{output}: {found.bars} bar{'s' * (found.bars != 1)}, {found.seconds:.3f} s at "
                  f"{found.qpm:.2f} bpm from "
                  f"{found.source_start / sample_rate:.3f} s of {input.name}; seam click {seam.click:.2f}, "
                  f"dip {seam.dip:.2f}, flux {seam.flux:.2f} ({verdict}) in {elapsed:.2f} s")
        return
    table = Table(title=f"{input} -> {output}")
    table.add_column("loop")
    table.add_column("value", justify="right")
    table.add_row("bars", f"{found.bars} ({found.bars * clip.beats_per_bar} beats)")
    table.add_row("start .. end", f"{found.source_start / sample_rate:.3f} .. {found.source_end / sample_rate:.3f} s")
    table.add_row("length", f"{found.seconds:.3f} s ({found.frames:,} frames at {sample_rate} Hz)")
    table.add_row("tempo", f"{found.qpm:.2f} bpm")
    table.add_row("beat grid", grid)
    table.add_row("moved off the grid", f"{found.scores.get('shift_ms', 0.0):+.1f} ms")
    for name in ("spectral", "continuity", "phase", "beat", "score"):
        if name in found.scores:
            table.add_row(f"detector: {name}", f"{found.scores[name]:.3f}")
    table.add_row("time", f"{elapsed:.2f} s (reading, analysis and writing)")
    out.print(table)
    seams = Table(title="seam: measure at the seam / its 99th percentile inside the loop")
    for column in ("measure", "score", "goal", "met"):
        seams.add_column(column, justify="left" if column == "measure" else "right")
    for label, value in (("click (high-passed energy, 2 ms)", seam.click),
                         ("level dip (RMS over 20 ms)", seam.dip),
                         ("spectral flux", seam.flux)):
        seams.add_row(label, f"{value:.3f}", "<= 1", "yes" if value <= 1 else "no")
    out.print(seams)
    out.print(f"{output}: written with loop points 0 .. {found.frames} and "
              f"{found.qpm:.2f} bpm, {found.bars * clip.beats_per_bar} beats")


def _audio_seconds(path: Path) -> float:
    import soundfile

    info = soundfile.info(str(path))
    return info.frames / info.samplerate


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)}:{seconds % 60:04.1f}"


# The download options `fetch lakh` and `fetch pop909` share.
DownloadTimeout = Annotated[float, typer.Option(help="Seconds of silence before a retry")]
DownloadRetries = Annotated[int, typer.Option(help="Reconnections (resuming) before giving up")]
RetryDelay = Annotated[float, typer.Option(
    "--retry-delay", help="Seconds before the first retry; doubles with each retry")]

fetch_app = typer.Typer(help="Download MIDI datasets.", no_args_is_help=True)
app.add_typer(fetch_app, name="fetch")


class _ByteBars:
    """Rich bars counted in bytes for `fetch`: download, verify, extract (gone when done)."""

    def __init__(self, console: Console):
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                                 DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn(),
                                 console=console, transient=True,
                                 disable=not console.is_terminal)
        self.tasks: dict = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage not in self.tasks:
            self.tasks[stage] = self.progress.add_task(stage, total=total or None)
        self.progress.update(self.tasks[stage], completed=done, total=total or None)

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.__exit__(*exc)


@contextlib.contextmanager
def _downloading(work: Path):
    """Byte bars for a dataset download; Ctrl-C keeps the partial file in `work` and says
    how to resume."""
    try:
        with _ByteBars(err) as bars:
            yield bars
    except KeyboardInterrupt:
        err.print(f"interrupted: the partial download is kept in {work}; "
                  "run the same command again to resume")
        raise typer.Exit(130) from None


def _crawl_line(summary) -> str:
    rejected = sum(summary.rejected.values())
    return (f"pages {summary.pages}, files found {summary.files_found}, downloaded "
            f"{summary.downloaded}, saved {summary.saved}, duplicates {summary.duplicates}, "
            f"already had {summary.already_done}, rejected {rejected}")


@app.command("scrape")
@user_errors
def scrape(
    urls: Annotated[list[str], typer.Argument(help="Start pages, or direct .mid/.zip links")],
    output: Annotated[Path, typer.Option(
        "-o", "--output", help="Folder for the MIDI files; rerun to resume or update")],
    allow_domain: Annotated[list[str] | None, typer.Option(
        "--allow-domain", help="Also follow links into this domain (repeatable)")] = None,
    max_depth: Annotated[int, typer.Option("--max-depth", help="Link hops from a start page")] = 3,
    max_files: Annotated[int | None, typer.Option(
        "--max-files", help="Stop once the folder holds this many crawled files")] = None,
    max_bytes: Annotated[int, typer.Option(
        "--max-bytes", help="Largest download (file or zip); longer transfers are aborted")
    ] = 32 * 1024 * 1024,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Crawl pages and list the files found; download and write nothing")
    ] = False,
    timeout: Annotated[float, typer.Option(help="Seconds before a request gives up")] = 30.0,
    retries: Annotated[int, typer.Option(help="Retries after a timeout or a 5xx answer")] = 3,
    retry_delay: Annotated[float, typer.Option(
        "--retry-delay", help="Seconds before the first retry; doubles with each retry")] = 1.0,
    throttle: Annotated[bool, typer.Option(
        "--throttle/--no-throttle", help="AutoThrottle: follow the server's pace "
                                         "(turn off only for a server you own)")] = True,
    concurrency: Annotated[int, typer.Option(help="Requests in flight per domain")] = 4,
    verbose: Annotated[bool, typer.Option("--verbose", help="Show Scrapy's log")] = False,
) -> None:
    """Crawl web pages for MIDI files and zips of them into a folder `corpus build` ingests."""
    import time

    from scraper.crawler import CrawlOptions, run_crawl

    options = CrawlOptions(start_urls=list(urls), out_dir=output,
                           allow_domains=list(allow_domain or []), max_depth=max_depth,
                           max_files=max_files, max_bytes=max_bytes, dry_run=dry_run,
                           timeout=timeout, retries=retries, backoff=retry_delay,
                           throttle=throttle, concurrency=concurrency,
                           # failures are counted in the summary, not logged as tracebacks
                           log_level="INFO" if verbose else "CRITICAL")
    last = [0.0]
    with (contextlib.nullcontext() if verbose else err.status("crawling")) as status:
        def report(summary) -> None:
            now = time.monotonic()
            if status is not None and now - last[0] > 0.2:
                last[0] = now
                status.update(_crawl_line(summary))

        summary = run_crawl(options, report)
    if dry_run:
        for url in summary.found:
            out.print(url)
        out.print(f"dry run: {summary.files_found} files found on {summary.pages} pages in "
                  f"{summary.seconds:.1f} s; nothing was downloaded or written")
        return
    out.print(f"{output}: {_crawl_line(summary)} ({summary.bytes_downloaded:,} bytes) in "
              f"{summary.seconds:.1f} s" + (" (resumed)" if summary.resumed else ""))
    if summary.rejected:
        out.print("rejected by reason: " + ", ".join(
            f"{reason} {n}" for reason, n in summary.rejected.most_common())
            + f" (see {output / '.scrape' / 'manifest.sqlite'})")
    if summary.pages_failed:
        out.print("pages failed: " + ", ".join(
            f"{reason} {n}" for reason, n in summary.pages_failed.most_common()))
    if summary.close_reason == "max-files":
        out.print(f"stopped at --max-files {max_files}")
    if summary.interrupted:
        err.print(f"interrupted: files saved so far are in {output}; "
                  "run the same command again to resume")
        raise typer.Exit(130)
    if summary.pages == 0 and summary.pages_failed and not summary.files_found:
        reasons = ", ".join(f"{reason} {n}" for reason, n in summary.pages_failed.most_common())
        err.print(Text("error: ", style="bold red")
                  + Text(f"could not reach {', '.join(urls)} ({reasons}); nothing was crawled"))
        raise typer.Exit(1)
    out.print(f"next: composer corpus build dir:{output} -o CORPUS")


@fetch_app.command("lakh")
@user_errors
def fetch_lakh(
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder to extract into")],
    subset: Annotated[str, typer.Option(
        help="full (176,581 files), matched (45,129 matched to the Million Song Dataset) "
             "or clean (files named by artist and title)")] = "full",
    url: Annotated[str | None, typer.Option(
        "--url", help="Mirror folder ending in / or the archive's full URL "
                      "(default http://hog.ee.columbia.edu/craffel/lmd/)")] = None,
    md5: Annotated[str | None, typer.Option("--md5", help="Expected MD5 of the archive")] = None,
    sha256: Annotated[str | None, typer.Option(
        "--sha256", help="Expected SHA-256 of the archive")] = None,
    keep_archive: Annotated[bool, typer.Option(
        "--keep-archive", help="Keep the .tar.gz after extracting")] = False,
    timeout: DownloadTimeout = 60.0,
    retries: DownloadRetries = 5,
    retry_delay: RetryDelay = 1.0,
) -> None:
    """Download the Lakh MIDI Dataset (resumable), verify its checksum, extract it safely."""
    from scraper.lakh import fetch_lakh as run_fetch

    with _downloading(output / ".lakh") as bars:
        result = run_fetch(subset, output, url=url, md5=md5, sha256=sha256,
                           keep_archive=keep_archive, progress=bars, timeout=timeout,
                           retries=retries, backoff=retry_delay)
    roots = ", ".join(str(r) for r in result.roots)
    if result.already_fetched:
        out.print(f"{roots}: already fetched from {result.url} (sha256 {result.sha256})")
    else:
        resumed = f", resumed at byte {result.resumed_from:,}" if result.resumed_from else ""
        out.print(f"{result.url}: {result.downloaded_bytes:,} bytes downloaded{resumed}")
        checked = (f"matches the {result.checked_against}" if result.checked_against
                   else "no checksum known or given: compare it with a trusted source")
        out.print(f"sha256 {result.sha256}, md5 {result.md5} ({checked})")
        skipped = (" (refused: " + ", ".join(f"{k} {v}" for k, v in result.skipped.items())
                   + ")") if result.skipped else ""
        out.print(f"{roots}: {result.extracted:,} files extracted"
                  + (f", {result.already_there:,} already there" if result.already_there else "")
                  + skipped)
    for root in result.roots:
        out.print(f"next: composer corpus build lakh:{root} -o CORPUS")


@fetch_app.command("pop909")
@user_errors
def fetch_pop909(
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder to extract into")],
    url: Annotated[str | None, typer.Option(
        "--url", help="The archive's URL (default: the POP909-Dataset repository's zip)")] = None,
    keep_archive: Annotated[bool, typer.Option(
        "--keep-archive", help="Keep the .zip after extracting")] = False,
    timeout: DownloadTimeout = 60.0,
    retries: DownloadRetries = 5,
    retry_delay: RetryDelay = 1.0,
) -> None:
    """Download POP909 (909 pop songs: melody, bridge and piano tracks with chord, beat and key
    annotations; MIT), resumably, and extract only the songs and their annotations."""
    from scraper.pop909 import fetch_pop909 as run_fetch

    with _downloading(output / ".pop909") as bars:
        result = run_fetch(output, url=url, keep_archive=keep_archive, progress=bars,
                           timeout=timeout, retries=retries, backoff=retry_delay)
    if result.already_fetched:
        out.print(f"{output}: already fetched from {result.url} ({result.songs} songs)")
    else:
        resumed = f", resumed at byte {result.resumed_from:,}" if result.resumed_from else ""
        out.print(f"{result.url}: {result.downloaded_bytes:,} bytes downloaded{resumed}")
        left = ", ".join(f"{k} {v}" for k, v in result.skipped.items())
        out.print(f"{output}: {result.songs} songs; {result.extracted} files extracted"
                  + (f", {result.already_there} already there" if result.already_there else "")
                  + (f" (left out: {left})" if left else ""))
    out.print(f"next: composer corpus build pop909:{output} -o CORPUS")


@app.command("soundfont")
@user_errors
def soundfont(
    path: Annotated[str | None, typer.Option("--soundfont", help="Soundfont to check")] = None,
) -> None:
    """Print the soundfont that rendering would load, and where it was found."""
    from composer.soundfont import find_soundfont

    found = find_soundfont(path)
    out.print(f"{found.path} ({found.origin})")


_signals: list[int] = []  # the stopping signals received, first first


def _stop_on_signals() -> None:
    """SIGINT and SIGTERM stop a command as Ctrl-C does, so its cleanup runs: temp files go,
    finished work is committed, the exit code says why (128 + the signal).

    A shell without job control starts background commands with SIGINT ignored, and Python
    keeps an ignored SIGINT; SIGTERM would end Python at once, leaving temp files behind.
    """
    import signal

    def stop(signum, frame):
        _signals.append(signum)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)


def main() -> None:
    _stop_on_signals()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from composer.lazy_imports import defer_note_seq_imports

    defer_note_seq_imports()  # 1.2 s less before the first note
    import warnings

    # note-seq imports pydub, which warns that ffmpeg is missing; nothing here uses it.
    warnings.filterwarnings("ignore", message="Couldn't find ffmpeg", category=RuntimeWarning)
    try:
        app(prog_name="composer")
    except KeyboardInterrupt:  # landed outside any command: nothing of ours to clean up
        raise SystemExit(128 + (_signals[0] if _signals else 2)) from None
    except SystemExit as exc:
        if _signals and exc.code == 130:  # typer and the commands say 130 for any interrupt
            raise SystemExit(128 + _signals[0]) from None
        raise


if __name__ == "__main__":
    sys.exit(main())
