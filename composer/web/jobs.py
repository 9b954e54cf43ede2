"""What each kind of job does, on the engine the CLI uses: the same functions, the same
errors, the same files. A job reads its inputs by path (the worker resolves the ids), reports
progress, and returns the files it wrote in its work folder."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

Progress = Callable[[float, str], None]  # (0..1, what is happening); raises to cancel


@dataclass(frozen=True)
class Made:
    """A job's result files, still in its work folder: the worker moves them to the store."""

    midi: Path
    audio: Path | None
    name: str  # shown in the jobs list and offered on download
    summary: str  # one line, as the CLI prints


def fuse(params: dict, inputs: dict[str, Path], folder: Path, progress: Progress) -> Made:
    """`composer interpolate a b`: two songs' sections joined through the VAE (`model`, a
    name the server offers; the worker found its folder)."""
    from composer import generation as gen
    from composer.interpolation import interpolate

    a, b = (inputs[i] for i in params["file_ids"])
    progress(0.1, "reading both songs and walking the latent space")
    section = str(params.get("section") or "auto")
    result = interpolate(a, b, steps=params.get("steps", 8), qpm=params.get("qpm"),
                         checkpoint=params["checkpoint_folder"],
                         program=params.get("program"), sections=(section, section),
                         backing=not params.get("melody_only", False))
    midi = folder / "fusion.mid"
    gen.write_midi(result.phrase, midi)
    names = [params.get("names", {}).get(i, "song") for i in params["file_ids"]]
    name = f"{Path(names[0]).stem} to {Path(names[1]).stem}"
    return _render(result.phrase, midi, params, progress, name,
                   f"{len(result.steps)} steps, {result.phrase.bars} bars, "
                   f"{len(result.phrase.sequence.notes)} notes")


def generate(model: str) -> Callable[..., Made]:
    """`composer generate --model MODEL`: gan, hybrid and pop take the same parameters."""

    def run(params: dict, inputs: dict[str, Path], folder: Path, progress: Progress) -> Made:
        from composer import generation as gen

        progress(0.1, f"{model} is writing {params.get('bars', 8)} bars")
        phrase = gen.generate(model, bars=params.get("bars", 8), qpm=params.get("qpm", 120.0),
                              temperature=params.get("temperature"), seed=params.get("seed"),
                              program=params.get("program"),
                              checkpoint=params.get("checkpoint_folder"))
        midi = folder / f"{model}.mid"
        gen.write_midi(phrase, midi)
        return _render(phrase, midi, params, progress, f"{model} {phrase.bars} bars",
                       f"{phrase.bars} bars at {phrase.qpm:g} qpm, "
                       f"{len(phrase.sequence.notes)} notes")

    return run


def melody(params: dict, inputs: dict[str, Path], folder: Path, progress: Progress) -> Made:
    """`composer melody BACKING --mix`: a lead line over an uploaded backing track."""
    from composer import generation as gen
    from composer.backing import read_backing
    from composer.melody import mix, write_melody
    from composer.render import write_audio

    backing_path = inputs[params["file_id"]]
    progress(0.1, "reading the backing: beats, key and chords")
    backing = read_backing(backing_path, qpm=params.get("qpm"))
    progress(0.4, "writing the melody")
    result = write_melody(backing, bars=params.get("bars"),
                          start_bar=params.get("start_bar", 1) - 1,
                          temperature=params.get("temperature"), seed=params.get("seed"),
                          program=params.get("program", 53))
    midi = folder / "melody.mid"
    gen.write_midi(result.sequence, midi)
    audio = None
    if params.get("render", True):
        progress(0.6, "rendering the melody over the backing")
        audio = folder / "melody-mix.wav"
        write_audio(audio, mix(backing, result), 44100)
    name = f"melody over {Path(params.get('names', {}).get(params['file_id'], 'backing')).stem}"
    return Made(midi, audio, name, f"{result.bars} bars over {backing.kind} backing at "
                                   f"{backing.qpm:.1f} qpm in {backing.key}")


def _render(phrase, midi: Path, params: dict, progress: Progress, name: str,
            summary: str) -> Made:
    from composer import generation as gen

    audio = None
    if params.get("render", True):
        progress(0.6, "rendering with FluidSynth")
        audio = midi.with_suffix(".wav")
        gen.write_audio_file(phrase, audio)
    return Made(midi, audio, name, summary)


JOBS: dict[str, Callable[..., Made]] = {
    "vae": fuse,
    "gan": generate("gan"),
    "hybrid": generate("hybrid"),
    "pop": generate("pop"),
    "melody": melody,
}
