"""MODEL_CARD.md beside every checkpoint: how it was made and how well it does, from the files.

Rendered from model.json (what and how), metrics.json (training), eval.json (test split) and
music.json (`composer eval --music`), so the card never disagrees with the run it describes.
`composer train` writes it and `composer eval` rewrites it with the test figures.
"""

from __future__ import annotations

import json
from pathlib import Path

from training.fileio import atomic_write_text


def _load(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def render(folder: Path) -> str:
    info, metrics, report = (_load(folder / n) for n in ("model.json", "metrics.json", "eval.json"))
    training = info.get("training", {})
    config = training.get("config", {})
    lines = [f"# Model card: {info.get('model', '?')} ({folder.name})", ""]
    lines += ["## How it was made", "",
              f"    {training.get('command', '(command not recorded)')}", "",
              f"- Data: corpus `{training.get('corpus')}`, train split: "
              + ", ".join(f"{v:,} {k[6:]}" for k, v in training.items() if k.startswith("train_"))
              + "; validation on its valid split, test figures on its test split.",
              f"- Network: {json.dumps(info.get('network', {}))}",
              f"- Encoding: {json.dumps(info.get('encoding', {}))}",
              f"- Weights stored as {info.get('weights_dtype', 'float32')} in weights.npz"
              + (" (the runtimes compute in float32; test figures below are from the stored "
                 "weights)" if info.get("weights_dtype") == "float16" else "") + ".",
              f"- Steps: {training.get('steps')} of batch {config.get('batch')}"
              + (f" x {config.get('seq_len')} events" if info.get("model") == "lstm" else "")
              + f"; best {metrics.get('monitor', 'val_loss')} at step "
              f"{training.get('best_step')} (those weights are the ones shipped).",
              f"- Wall time: {metrics.get('wall_seconds_this_run', 0) / 60:.1f} min on "
              f"{training.get('machine', '?')} ({metrics.get('examples_per_second', 0):.1f} "
              "examples/s).",
              *([f"- Note: {training['note']}"] if training.get("note") else []),
              *([f"- Onset bias: fitted on the first {fit['bars']} bars of {fit['songs']} "
                 f"{fit['split']} songs of `{fit['corpus']}` (training/lead_calibration.py), "
                 "so the sampler's notes start on each sixteenth as often as theirs; "
                 "`composer melody` samples with it."] if (fit := info.get("onset_bias_fit"))
                else []),
              *([f"- Bottom: the 2-bar VAE `{bottom['checkpoint']}` (made by "
                 f"`{bottom.get('command')}`), frozen; its weights are carried in weights.npz "
                 "under bottom/."] if (bottom := info.get("bottom")) else []),
              *([f"- Sampling prior: "
                 + (f"a mixture of {prior['components']} diagonal Gaussians"
                    if prior.get("components") else "a Gaussian")
                 + f" fitted to the posteriors of {prior['windows']:,} "
                 f"{prior['split']} windows of `{prior['corpus']}` (training/vae_prior.py); "
                 "new melodies draw their latents from it, not from N(0, I)"
                 + (f", at {prior['spread']:g} of {'their' if prior.get('components') else 'its'}"
                    " scale (prior.spread, chosen with "
                    "benchmarks/vae_sampling.py)." if prior.get("spread", 1) != 1 else ".")
                 + (f" Fitted by `{prior['command']}`." if prior.get("command") else "")]
                if (prior := info.get("prior")) else []),
              *_step_line(folder), ""]
    best = training.get("best", {})
    if best:
        lines += ["## Training metrics (best checkpoint)", "", "| metric | value |", "|---|---:|"]
        lines += [f"| {k} | {v:.4f} |" for k, v in best.items()]
        lines += ["", "Loss curves: `loss.png`. Per-checkpoint history: `metrics.json`.", ""]
    if report:
        lines += REPORT_SECTIONS[report_family(report)](report)
    music = _load(folder / "music.json")  # `composer eval --music`, beside any eval.json
    if music:
        lines += REPORT_SECTIONS["music"](music)
    return "\n".join(lines)


def report_family(report: dict) -> str:
    """Which evaluation wrote an eval.json (training.evaluate.EVALUATORS); reports from before
    the field was written are told apart by their shape."""
    if "evaluator" in report:
        return report["evaluator"]
    return "gan" if "statistics" in report else "lstm" if "ngram" in report else "vae"


def _gan_section(report: dict) -> list[str]:
    lines = ["## Generated phrases against the training data (MuseGAN statistics)", "",
             f"{report['generated_phrases']} generated phrases, "
             f"{report['training_phrases']:,} training phrases (`composer eval`); "
             f"{report['within_10_percent']} of {len(report['statistics'])} statistics close "
             f"({report.get('closeness', 'within 10 %')}).", "",
             "| statistic / track | generated | training data | difference | close |",
             "|---|---:|---:|---:|:-:|"]
    lines += [f"| {k} | {v['generated']:.3f} | {v['training_data']:.3f} | "
              f"{100 * v['relative_difference']:.0f} % | {'yes' if v.get('close') else 'no'} |"
              for k, v in report["statistics"].items()]
    return lines + [""]


def _vae_section(report: dict) -> list[str]:
    lines = ["## Test split", "", f"`composer eval` on {report.get('test_pieces')} test pieces:",
             "", "| metric | value |", "|---|---:|"]
    lines += [f"| {k} | {v:.4f} |" for k, v in report.get("metrics", {}).items()]
    return lines + [""]


def _step_line(folder: Path) -> list[str]:
    step = folder / "step.tflite"
    if not step.exists():
        return []
    return [f"- Generation runs `step.tflite` ({step.stat().st_size / 1e6:.1f} MB): the decoding "
            "step as LiteRT with int8 weights, written by `composer train` (or `composer "
            f"export {folder}` for an older checkpoint)."]


def _lstm_section(report: dict) -> list[str]:
    runtime = {"litert": " through step.tflite, as generation runs it",
               "numpy": " through the NumPy runtime"}.get(report.get("runtime"), "")
    return ["## Test split", "",
            f"{report['scored_events']:,} events of {report['test_pieces']} pieces, "
            f"windows of {report['window']} events (`composer eval`{runtime}).", "",
            "| model | next-event accuracy | perplexity |", "|---|---:|---:|",
            f"| this {report['model']} | {report[report['model']]['accuracy']:.3f} | "
            f"{report[report['model']]['perplexity']:.2f} |",
            f"| {report['ngram']['order']}-gram Kneser-Ney baseline (order chosen on valid) "
            f"| {report['ngram']['accuracy']:.3f} | {report['ngram']['perplexity']:.2f} |", ""]


def _music_section(report: dict) -> list[str]:
    lines = ["## Music statistics against held-out songs (overlapping areas)", "",
             f"{report['generated_phrases']} generated phrases of {report['bars']} bars against "
             f"{report['held_out_windows']} windows of held-out songs of `{report['corpus']}` "
             "(`composer eval --music`): the overlapping area of the two distributions, 1 when "
             "they match, 0 when they share nothing. Ceiling: held-out against "
             f"{report['training_windows']} training windows.", "",
             "| statistic | OA | generated mean | held-out mean | ceiling OA |",
             "|---|---:|---:|---:|---:|"]
    lines += [f"| {k.replace('_', ' ')} | {v['oa']:.2f} | {v['generated_mean']:.3g} | "
              f"{v['held_out_mean']:.3g} | {v['ceiling_oa']:.2f} |"
              for k, v in report["statistics"].items()]
    return lines + [f"| mean | {report['mean_oa']:.2f} | | | {report['mean_ceiling_oa']:.2f} |",
                    ""]


def _lead_section(report: dict) -> list[str]:
    music, forced = report["music"], report["teacher_forced"]
    lines = ["## Melodies over held-out songs' chords", "",
             f"{music['songs']} {music['split']} songs of `{report['corpus']}`: {music['bars']} "
             f"bars written over each song's own chord annotations at temperature "
             f"{report['temperature']:g} (chosen on the valid split), beside the songs' real "
             "melodies (`benchmarks/melody.py`; statistics in training/lead_metrics.py).", "",
             "| statistic | generated | real melodies | difference |", "|---|---:|---:|---:|"]
    for key, real in music["real"].items():
        made = music["generated"][key]
        lines.append(f"| {key.replace('_', ' ')} | {made:.3f} | {real:.3f} | "
                     f"{100 * (made - real) / max(abs(real), 1e-9):+.0f} % |")
    return lines + ["", f"Teacher-forced on {forced['songs']} test songs "
                    f"({forced['sixteenths']:,} sixteenths): next-event accuracy "
                    f"{forced['accuracy']:.3f}, perplexity {forced['perplexity']:.2f}.", ""]


REPORT_SECTIONS = {"lead": _lead_section, "lstm": _lstm_section, "vae": _vae_section, "gan": _gan_section,
                   "music": _music_section}


def write_model_card(folder: str | Path) -> Path:
    folder = Path(folder)
    path = folder / "MODEL_CARD.md"
    atomic_write_text(path, render(folder))
    return path
