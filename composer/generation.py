"""`composer generate`: a phrase from any registered model, written as MIDI (and audio).

Generation runs the shipped models through NumPy (LSTM, VAE) and LiteRT (GAN generator), never
TensorFlow, so the first note comes about a second after start rather than after
TensorFlow's eight-second import. Models learn in one key (C major / A minor, see the
transposer); a primer in another key is shifted there and the result shifted back, so a
continuation stays in the primer's key.
"""

from __future__ import annotations

import os
from pathlib import Path

from composer.generators import GENERATORS, GenerationError, resolve
from composer.phrase import Phrase

__all__ = ["GenerationError", "generate", "read_primer", "write_midi", "write_audio_file"]


def read_primer(path: str | os.PathLike):
    """A MIDI file as a NoteSequence moved to the models' key, the shift used and its tempo."""
    from training.score import to_notesequence
    from training.transposer import plan_transposition
    from training.validate import BadMidi, Limits, main_tempo, parse_midi

    path = Path(path)
    try:
        score = parse_midi(path.read_bytes(), Limits(min_duration=0.0))
    except BadMidi as exc:
        raise GenerationError(f"{path}: {exc.detail}") from None
    except OSError as exc:
        raise GenerationError(f"{path}: {exc.strerror or exc}") from None
    if score.is_drum.all():
        raise GenerationError(f"{path}: only drums, no pitched notes")
    shift = plan_transposition(score).shift
    return to_notesequence(score, shift), shift, main_tempo(score)


def generate(model: str | None = "lstm", *, bars: int = 8, qpm: float | None = None,
             temperature: float | None = None, top_k: int = 0, seed: int | None = None,
             primer: str | os.PathLike | None = None,
             checkpoint: str | os.PathLike | None = None,
             program: int | tuple[int, ...] | None = None,
             quantize: bool = True) -> Phrase:
    """`bars` bars of 4/4 at `qpm` from `model` (a registry name or a checkpoint folder) or
    from `checkpoint`; `qpm` defaults to the primer's tempo when there is one, else 120;
    `program` None keeps the model's own instruments, a tuple sets one per track."""
    if bars < 1:
        raise GenerationError("--bars must be at least 1")
    for one in program if isinstance(program, tuple) else (program,):
        if one is not None and not 0 <= one <= 127:
            raise GenerationError(f"--program {one}: a GM program is 0..127")
    spec, folder = resolve(model, checkpoint)
    if primer is not None and not spec.primer:
        able = ", ".join(s.name for s in GENERATORS.values() if s.primer)
        raise GenerationError(f"--primer continues a piece with {able}, not {spec.name}; "
                              "to blend two songs use `composer interpolate`")
    generator = spec.build(folder, seed=seed, temperature=temperature, top_k=top_k)
    if not quantize:
        if not hasattr(generator, "quantize"):
            raise GenerationError(f"--no-quantize applies to the lstm, not {spec.name}")
        generator.quantize = False
    if primer is not None:
        sequence, shift, primer_qpm = read_primer(primer)
        generator.prime(sequence, shift, primer_qpm)
        qpm = qpm or primer_qpm
    return generator.phrase(bars, qpm or 120.0).with_program(program)


def write_midi(phrase: Phrase | object, path: str | os.PathLike) -> None:
    """Write a Phrase (or a bare NoteSequence) as a MIDI file, atomically."""
    import io

    from note_seq import midi_io

    from training.fileio import atomic_write_bytes

    sequence = phrase.sequence if isinstance(phrase, Phrase) else phrase
    if len({(n.program, n.is_drum) for n in sequence.notes if n.instrument == 0}) > 1:
        sequence = _instruments_from_one(sequence)
    buffer = io.BytesIO()
    midi_io.note_sequence_to_pretty_midi(sequence).write(buffer)
    atomic_write_bytes(path, buffer.getvalue())  # the folder is made if missing


def _instruments_from_one(sequence):
    """A copy with every instrument number one higher: note-seq writes all the programs of
    instrument 0 into its first track, where the last one's notes replace the others'."""
    out = type(sequence)()
    out.CopyFrom(sequence)
    for events in (out.notes, out.pitch_bends, out.control_changes, out.instrument_infos):
        for event in events:
            event.instrument += 1
    return out


def write_audio_file(phrase: Phrase, path: str | os.PathLike, soundfont: str | None = None,
                     sample_rate: int = 44100) -> None:
    """Render with FluidSynth and the General MIDI soundfont (composer.render: one synth pass,
    reverb tail kept, loudness-normalised), written atomically as WAV or FLAC by suffix."""
    from composer.render import Renderer, write_audio
    from composer.render.files import audio_format

    audio_format(path)  # an unusable name fails before the soundfont loads
    with Renderer(soundfont, sample_rate) as renderer:
        clip = renderer.render(phrase)
    write_audio(path, clip.audio, sample_rate)
