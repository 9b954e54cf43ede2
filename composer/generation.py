"""Symbolic generation: phrases from the trained models, as NoteSequences of an exact length.

This is what `composer generate` and the continuous player call. It runs the shipped models
through NumPy (LSTM, VAE) and LiteRT (GAN generator), never TensorFlow, so the first note comes
about two seconds after start rather than after TensorFlow's eight-second import. Models learn in one key (C major / A minor, see the transposer); a
primer in another key is shifted there and the result shifted back, so a continuation stays in
the primer's key.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from models.checkpoint import VAES, CheckpointError, default_dir, load_checkpoint
from models.sampling import sample_logits

MODELS = ("lstm", "vae-2bar", "vae-16bar", "gan", "hybrid")
PRIMER_EVENTS = 512  # how much of a primer's end conditions the model


class GenerationError(ValueError):
    """A request that cannot be met (unknown model, unusable primer); str() says why."""


@dataclass
class LstmGenerator:
    """The performance LSTM, stateful: each phrase continues the previous one."""

    checkpoint: Path
    seed: int | None = None
    temperature: float = 1.0
    top_k: int = 0
    info: dict = field(init=False)

    def __post_init__(self) -> None:
        from models.lstm.encoding import PerformanceEncoding
        from models.lstm.runtime import LstmRuntime

        self.info, weights = load_checkpoint(self.checkpoint, ("lstm",))
        self.encoding = PerformanceEncoding(**self.info["encoding"])
        self.runtime = LstmRuntime(weights)
        self.rng = np.random.default_rng(self.seed)
        self.state = self.runtime.initial_state()
        self.shift = 0
        self.logits = None
        self.event_seconds = self.encoding.event_seconds()
        # The tempo the model's sense of time was learned at (performance events are in
        # seconds): other tempos are made by scaling time, so bars stay exact.
        self.native_qpm = float(self.info.get("native_qpm", 120.0))
        self.kinds = self.encoding.kinds()
        self.fresh = True  # nothing played yet: the first phrase starts on the first note
        self._feed(np.array([self.encoding.velocity_id(80)]))  # music starts with a velocity

    def _feed(self, ids: np.ndarray) -> None:
        for i in ids.tolist():
            self.logits = self.runtime.step(np.array([i]), self.state)

    def prime(self, sequence, shift: int = 0, qpm: float | None = None) -> None:
        """Condition on a NoteSequence already moved by `shift` into the model's key; a primer
        at `qpm` is first scaled to the model's own tempo."""
        if qpm:
            from note_seq import sequences_lib

            sequence = sequences_lib.stretch_note_sequence(sequence, qpm / self.native_qpm)
        ids = self.encoding.encode(sequence)
        if len(ids) == 0:
            raise GenerationError("the primer has no pitched notes")
        self.shift = shift
        self.fresh = False  # continue the primer's own time grid
        self._feed(ids[-PRIMER_EVENTS:])

    def events(self, seconds: float) -> np.ndarray:
        """Sample events until they cover `seconds`.

        The model was trained on windows from anywhere in a piece, so on a fresh start it may
        first "finish" notes or rests it imagines. Those events still condition it but are not
        played: time starts at its first note, which puts the phrase on the bar grid.
        """
        out: list[int] = []
        covered = 0.0
        velocity = None
        while covered < seconds - 1e-9:
            i = int(sample_logits(self.logits, self.rng, self.temperature, self.top_k)[0])
            self.logits = self.runtime.step(np.array([i]), self.state)
            if self.fresh:
                if self.kinds[i] == "vel":
                    velocity = i
                if self.kinds[i] != "on":
                    continue
                self.fresh = False
                if velocity is not None:
                    out.append(velocity)
            out.append(i)
            covered += self.event_seconds[i]
        return np.array(out, dtype=np.int32)

    def phrase(self, seconds: float):
        """The next `seconds` of music (at the model's own tempo) as a NoteSequence from 0,
        in the primer's key."""
        from note_seq import sequences_lib

        from training.transposer import transpose_notesequence

        sequence = self.encoding.decode(self.events(seconds))
        sequence = sequences_lib.trim_note_sequence(sequence, 0.0, seconds)
        sequence.total_time = seconds
        return transpose_notesequence(sequence, -self.shift) if self.shift else sequence

    def bars(self, bars: int, qpm: float = 120.0, quantize: bool = True):
        """The next `bars` 4/4 bars at `qpm`: made at the model's tempo, then time-scaled.

        `quantize` snaps notes to the sixteenth-note grid, so they sit on the bars a DAW
        shows; without it the model's own (10 ms) timing is kept."""
        from note_seq import sequences_lib

        length = bars_to_seconds(bars, self.native_qpm)
        sequence = self.phrase(length)
        if quantize:
            sequence = _quantize(sequence, 60.0 / self.native_qpm / 4, length)
        return sequences_lib.stretch_note_sequence(sequence, self.native_qpm / qpm)


@dataclass
class VaeGenerator:
    """The melody VAE as an endless source: a random walk in latent space, one window a step.

    Each window's latent is the last one moved a little (`walk`) and kept at the typical norm
    of the prior, so consecutive phrases are related but never repeat.
    """

    checkpoint: Path
    seed: int | None = None
    temperature: float = 0.5
    walk: float = 0.35
    info: dict = field(init=False)

    def __post_init__(self) -> None:
        from models.vae.encoding import MelodyEncoding
        from models.vae.runtime import VaeRuntime

        self.info, weights = load_checkpoint(self.checkpoint, VAES)
        self.encoding = MelodyEncoding(**self.info["encoding"])
        self.runtime = VaeRuntime.from_checkpoint(self.info, weights)
        self.rng = np.random.default_rng(self.seed)
        self.z = self.rng.standard_normal(self.runtime.z_size)

    def next_window(self) -> np.ndarray:
        size = self.runtime.z_size
        step = self.rng.standard_normal(size)
        z = np.sqrt(1 - self.walk ** 2) * self.z + self.walk * step  # stays ~N(0, I)
        self.z = z
        return self.runtime.decode(z[None], self.temperature, self.rng)[0]

    def phrase(self, bars: int, qpm: float = 120.0):
        windows = -(-bars // self.encoding.bars)
        ids = np.concatenate([self.next_window() for _ in range(windows)])
        ids = ids[:bars * 4 * self.encoding.steps_per_quarter]
        sequence = self.encoding.decode(ids, qpm=qpm)
        sequence.total_time = bars_to_seconds(bars, qpm)
        return sequence


@dataclass
class GanGenerator:
    """The phrase GAN through LiteRT: each phrase a fresh latent, all tracks together."""

    checkpoint: Path
    seed: int | None = None
    threshold: float = 0.5
    info: dict = field(init=False)

    def __post_init__(self) -> None:
        from models.gan.encoding import PianorollEncoding
        from models.gan.runtime import GanRuntime

        self.info = load_checkpoint(self.checkpoint, ("gan",))[0]
        flatbuffer = self.checkpoint / "generator.tflite"
        if not flatbuffer.exists():
            raise CheckpointError(f"{self.checkpoint}: generator.tflite is missing")
        self.encoding = PianorollEncoding(**self.info["encoding"])
        self.runtime = GanRuntime(flatbuffer.read_bytes())
        self.rng = np.random.default_rng(self.seed)

    def rolls(self, n: int) -> np.ndarray:
        return self.runtime.sample(n, self.rng, self.encoding, self.threshold)

    def phrase(self, bars: int, qpm: float = 120.0):
        per = self.encoding.bars
        rolls = self.rolls(-(-bars // per))
        roll = np.concatenate(list(rolls))[:bars * self.encoding.steps_per_bar]
        return self.encoding.decode(roll, qpm=qpm)


def hybrid(bars: int, qpm: float = 120.0, seed: int | None = None,
           gan_checkpoint: Path | None = None, vae_checkpoint: Path | None = None, *,
           gan: GanGenerator | None = None, vae: VaeGenerator | None = None):
    """The GAN writes two new chorale phrases; the VAE walks from the first's lead line to the
    second's, one 2-bar window per step, so `bars` bars of melody morph between two new tunes.

    Pass loaded `gan` and `vae` generators to make phrase after phrase without reloading."""
    from models.vae.encoding import NoMelody
    from models.vae.runtime import interpolate as walk

    gan = gan or GanGenerator(gan_checkpoint or default_dir("gan"), seed=seed)
    vae = vae or VaeGenerator(vae_checkpoint or default_dir("vae-2bar"), seed=seed)
    steps = max(2, -(-bars // vae.encoding.bars))
    leads = []
    for _ in range(20):  # a GAN phrase occasionally has no usable top line
        sequence = gan.encoding.decode(gan.rolls(1)[0], qpm=qpm)
        try:
            leads.append(vae.encoding.lead(sequence))
        except NoMelody:
            continue
        if len(leads) == 2:
            break
    if len(leads) < 2:
        raise GenerationError("the GAN gave no phrase with a usable lead melody in 20 tries")
    ids = np.concatenate(list(walk(vae.runtime, leads[0], leads[1], steps)))
    ids = ids[:bars * 4 * vae.encoding.steps_per_quarter]
    out = vae.encoding.decode(ids, qpm=qpm)
    out.total_time = bars_to_seconds(bars, qpm)
    return out


def bars_to_seconds(bars: int, qpm: float = 120.0, beats_per_bar: int = 4) -> float:
    return bars * beats_per_bar * 60.0 / qpm


def _quantize(sequence, step: float, length: float):
    """Notes snapped to a grid of `step` seconds (at least one step long, inside `length`)."""
    out = type(sequence)()
    out.CopyFrom(sequence)
    del out.notes[:]
    seen = set()
    for note in sequence.notes:
        start = round(note.start_time / step) * step
        end = max(round(note.end_time / step) * step, start + step)
        if start >= length - 1e-9 or (note.pitch, start) in seen:
            continue  # snapped past the end, or onto a twin
        seen.add((note.pitch, start))
        new = out.notes.add()
        new.CopyFrom(note)
        new.start_time, new.end_time = start, min(end, length)
    return out


def read_primer(path: str | os.PathLike):
    """A MIDI file as a NoteSequence moved to the models' key, the shift used and its tempo."""
    from training.score import to_notesequence
    from training.transposer import plan_transposition
    from training.validate import BadMidi, Limits, parse_midi

    path = Path(path)
    try:
        score = parse_midi(path.read_bytes(), Limits(min_duration=0.0))
    except BadMidi as exc:
        raise GenerationError(f"{path}: {exc.detail}") from None
    except OSError as exc:
        raise GenerationError(f"{path}: {exc.strerror or exc}") from None
    if score.is_drum.all():
        raise GenerationError(f"{path}: only drums, no pitched notes")
    from training.validate import main_tempo

    shift = plan_transposition(score).shift
    return to_notesequence(score, shift), shift, main_tempo(score)


def generate(model: str = "lstm", *, bars: int = 8, qpm: float | None = None,
             temperature: float = 1.0, top_k: int = 0, seed: int | None = None,
             primer: str | os.PathLike | None = None, checkpoint: str | os.PathLike | None = None,
             program: int = 0, quantize: bool = True):
    """`bars` bars of 4/4 at `qpm` from `model`, as a NoteSequence with tempo and meter set.

    `qpm` defaults to the primer's tempo when there is a primer, else 120."""
    if model not in MODELS:
        raise GenerationError(f"unknown model {model!r}; available: {', '.join(MODELS)}")
    if bars < 1:
        raise GenerationError("--bars must be at least 1")
    folder = Path(checkpoint) if checkpoint else default_dir(model)
    if primer is None or model != "lstm":
        qpm = qpm or 120.0
    if primer is not None and model != "lstm":
        raise GenerationError("--primer continues a piece with the lstm; "
                              "for a VAE use `composer interpolate`")
    if model == "hybrid":
        if checkpoint is not None:
            raise GenerationError("hybrid uses the gan and vae-2bar checkpoints in models/; "
                                  "--checkpoint does not apply")
        return finish(hybrid(bars, qpm, seed), qpm, program)
    if model == "gan":
        sequence = GanGenerator(folder, seed=seed).phrase(bars, qpm)
        sequence.total_time = bars_to_seconds(bars, qpm)
        return finish(sequence, qpm, program=None)
    if model.startswith("vae"):
        generator = VaeGenerator(folder, seed=seed, temperature=temperature)
        return finish(generator.phrase(bars, qpm), qpm, program)
    generator = LstmGenerator(folder, seed=seed, temperature=temperature, top_k=top_k)
    if primer is not None:
        sequence, shift, primer_qpm = read_primer(primer)
        generator.prime(sequence, shift, primer_qpm)
        qpm = qpm or primer_qpm
    qpm = qpm or 120.0
    return finish(generator.bars(bars, qpm, quantize), qpm, program)


def finish(sequence, qpm: float, program: int | None = 0):
    """Set tempo, 4/4 meter and (unless None) program so the file is tempo-exact in a DAW."""
    sequence.ticks_per_quarter = 220
    del sequence.tempos[:]
    sequence.tempos.add(time=0.0, qpm=qpm)
    del sequence.time_signatures[:]
    sequence.time_signatures.add(time=0.0, numerator=4, denominator=4)
    if program is not None:
        for note in sequence.notes:
            note.program = program
    return sequence


def write_midi(sequence, path: str | os.PathLike) -> None:
    """Write a NoteSequence as a MIDI file, atomically."""
    from note_seq import midi_io

    from training.fileio import temp_path_for

    path = Path(path)
    tmp = temp_path_for(path).with_suffix(".mid")
    midi_io.note_sequence_to_pretty_midi(sequence).write(str(tmp))
    os.replace(tmp, path)


def write_wav(sequence, path: str | os.PathLike, soundfont: str | None = None,
              sample_rate: int = 44100) -> None:
    """Render with FluidSynth and the General MIDI soundfont (composer.render: one synth pass,
    reverb tail kept, loudness-normalised), written atomically as WAV or FLAC by suffix."""
    from composer.render import Renderer, write_audio
    from composer.render.files import audio_format

    audio_format(path)  # an unusable name fails before the soundfont loads
    with Renderer(soundfont, sample_rate) as renderer:
        clip = renderer.render(sequence)
    write_audio(path, clip.audio, sample_rate)
