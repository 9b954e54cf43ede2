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
    from composer.soundfont import SoundfontError
    from training.corpus import CorpusError
    from training.sources import SourceError
    from training.validate import BadMidi

    return (SourceError, CorpusError, BadMidi, SoundfontError, FileNotFoundError,
            IsADirectoryError, PermissionError, ValueError)


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
) -> None:
    """Ingest MIDI collections into a key-normalised, de-duplicated, split corpus."""
    from composer.progress import RichProgress
    from training.corpus import build_corpus
    from training.ingest import IngestOptions
    from training.validate import Limits

    options = IngestOptions(keep_key=keep_key, target=_parse_key(to),
                            limits=Limits(max_bytes=max_bytes, time_limit=time_limit))
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
    app(prog_name="composer")


if __name__ == "__main__":
    sys.exit(main())
