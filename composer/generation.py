"""`composer generate`: a phrase from any registered model, written as MIDI (and audio).

Generation runs the shipped models through NumPy (LSTM, VAE) and LiteRT (GAN generator), never
TensorFlow, so the first note comes about a second after start rather than after
TensorFlow's eight-second import. Models learn in one key (C major / A minor, see the
transposer); a primer in another key is shifted there and the result shifted back, so a
continuation stays in the primer's key. A model that writes one instrument (the lstm:
`ModelSpec.primer_lead`) is primed with the primer's lead track alone (`lead_track`, shared
with interpolate and the transposer's report), not with every part on that one instrument.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from composer.generators import GENERATORS, GenerationError, resolve
from composer.phrase import Phrase

if TYPE_CHECKING:
    from note_seq.protobuf import music_pb2

__all__ = ["GenerationError", "Lead", "generate", "lead_track", "melody_track",
           "only_instrument", "pick_track", "prime", "primer_end", "read_primer", "write_midi",
           "write_audio_file"]


def read_primer(path: str | os.PathLike):
    """A MIDI file as a NoteSequence moved to the models' key, the shift used and its tempo."""
    from training.score import to_notesequence
    from training.transposer import plan_transposition
    from training.validate import COMMAND_LIMITS, BadMidi, main_tempo, parse_midi, read_file

    path = Path(path)
    try:
        score = parse_midi(read_file(path), COMMAND_LIMITS)
    except BadMidi as exc:
        raise GenerationError(f"{path}: {exc.detail}") from None
    if score.is_drum.all():
        raise GenerationError(f"{path}: only drums, no pitched notes")
    shift = plan_transposition(score).shift
    return to_notesequence(score, shift), shift, main_tempo(score)


@dataclass(frozen=True)
class Lead:
    """The track a piece's lead line is taken from, and what chose it (the user is told)."""

    instrument: int  # note.instrument in the NoteSequence
    number: int  # its place among the pitched tracks, from 1: what `--track N` takes
    name: str  # the track's name, "" when it has none
    chosen_by: str  # "--track", "melody-track classifier", "highest track" or "only track"
    tracks: int  # pitched tracks in the piece

    def __str__(self) -> str:
        name = f' "{self.name}"' if self.name else ""
        return f"track {self.number}{name} ({self.chosen_by})"


def pitched_tracks(sequence: music_pb2.NoteSequence) -> list[int]:
    """The instruments with pitched notes, in order: the tracks `--track N` counts."""
    return sorted({n.instrument for n in sequence.notes if not n.is_drum})


def pick_track(sequence: music_pb2.NoteSequence, track: str, path) -> int:
    """The instrument a user means by `--track`: N counts the file's pitched tracks from 1,
    a name matches a track's name (case-insensitive; a unique part of it is enough)."""
    names = {info.instrument: info.name for info in sequence.instrument_infos}
    pitched = pitched_tracks(sequence)
    if track.isdigit() and 1 <= int(track) <= len(pitched):
        return pitched[int(track) - 1]
    wanted = track.lower()
    exact = [i for i in pitched if (names.get(i) or "").lower() == wanted]
    partial = [i for i in pitched if wanted in (names.get(i) or "").lower()]
    if exact or len(partial) == 1:
        return (exact or partial)[0]
    listing = ", ".join(f"{k} {names.get(i) or '(no name)'}" for k, i in enumerate(pitched, 1))
    raise GenerationError(f"{path}: no single track {track!r}; its pitched tracks: {listing}")


def melody_track(sequence: music_pb2.NoteSequence, track: str | None, path) -> int | None:
    """The `track` asked for, else the one models/melody_track names (None: no track is likely
    enough, and the caller falls back on its own skyline)."""
    import numpy as np

    from models.melody_track import melody_instrument

    if track is not None:
        return pick_track(sequence, track, path)
    with np.errstate(over="ignore"):  # a hostile file's logit of -1000 is a probability of 0
        return melody_instrument(sequence)


def lead_track(sequence: music_pb2.NoteSequence, track: str | None, path) -> Lead | None:
    """The track that carries a piece's lead: `track`, else the melody-track classifier's,
    else (it abstains) the track with the highest mean pitch. None: no pitched notes."""
    from models.melody_track import skyline, tracks_of

    pitched = pitched_tracks(sequence)
    instrument = melody_track(sequence, track, path)
    chosen_by = "--track" if track is not None else (
        "only track" if len(pitched) == 1 else "melody-track classifier")
    if instrument is None:
        instrument, chosen_by = skyline(tracks_of(sequence)), "highest track"
    if instrument is None:  # every pitched note lasts no time: nothing to lead with
        return None
    names = {info.instrument: info.name for info in sequence.instrument_infos}
    return Lead(instrument, pitched.index(instrument) + 1, names.get(instrument, ""),
                chosen_by, len(pitched))


def only_instrument(sequence: music_pb2.NoteSequence, instrument: int
                    ) -> music_pb2.NoteSequence:
    """A copy of a NoteSequence with only one instrument's notes."""
    out = type(sequence)()
    out.CopyFrom(sequence)
    del out.notes[:]
    out.notes.extend(n for n in sequence.notes if n.instrument == instrument)
    return out


def generate(model: str | None = "lstm", *, bars: int = 8, qpm: float | None = None,
             temperature: float | None = None, top_k: int = 0, seed: int | None = None,
             primer: str | os.PathLike | None = None, track: str | None = None,
             checkpoint: str | os.PathLike | None = None,
             program: int | tuple[int, ...] | None = None,
             quantize: bool = True, on_lead: Callable[[Lead], None] | None = None) -> Phrase:
    """`bars` bars of 4/4 at `qpm` from `model` (a registry name or a checkpoint folder) or
    from `checkpoint`; `qpm` defaults to the primer's tempo when there is one, else 120;
    `program` None keeps the model's own instruments, a tuple sets one per track. A model
    that writes one instrument is primed with the primer's `track` alone (N or NAME, as
    `pick_track`; default: its lead, see `lead_track`); `on_lead` is told which track that is
    when the primer has more than one."""
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
    if track is not None and primer is None:
        raise GenerationError("--track picks a track of the --primer file; give --primer too")
    if track is not None and not spec.primer_lead:
        able = ", ".join(s.name for s in GENERATORS.values() if s.primer_lead)
        raise GenerationError(f"--track picks the primer track the {able} continues; "
                              f"{spec.name} continues the whole arrangement")
    generator = spec.build(folder, seed=seed, temperature=temperature, top_k=top_k)
    if not quantize:
        if not hasattr(generator, "quantize"):
            raise GenerationError(f"--no-quantize applies to the lstm, not {spec.name}")
        generator.quantize = False
    if primer is not None:
        primer_qpm = prime(generator, spec, primer, track, on_lead)
        qpm = qpm or primer_qpm
    return generator.phrase(bars, qpm or 120.0).with_program(program)


def prime(generator, spec, primer: str | os.PathLike, track: str | None = None,
          on_lead: Callable[[Lead], None] | None = None) -> float:
    """Condition a loaded generator on a primer file (its lead alone for a one-instrument
    model); returns the primer's tempo. Every refusal names the file, the model's too."""
    sequence, shift, primer_qpm = read_primer(primer)
    if spec.primer_lead:
        sequence = _lead_line(sequence, track, primer, on_lead)
    sequence = primer_end(generator, sequence, primer_qpm)
    try:
        generator.prime(sequence, shift, primer_qpm)
    except GenerationError as exc:
        raise GenerationError(f"{Path(primer)}: {exc}") from None
    return primer_qpm


def primer_end(generator, sequence: music_pb2.NoteSequence, qpm: float
               ) -> music_pb2.NoteSequence:
    """As much of a primer's end as `generator` reads: the lstm its encoding's last
    PRIMER_EVENTS events, the pop Transformer its last `context` tokens. Each encoding's
    primer_tail cuts a long primer so that those come out the same, without encoding all of
    it (a 600,000-note primer took 20 s)."""
    from composer.generators.lstm import PRIMER_EVENTS, LstmGenerator
    from composer.generators.pop import PopGenerator

    if isinstance(generator, LstmGenerator):
        stretch = qpm / generator.native_qpm if qpm else 1.0  # as LstmGenerator.prime
        return generator.encoding.primer_tail(sequence, PRIMER_EVENTS, stretch)
    if isinstance(generator, PopGenerator):
        from models.pop.encoding import RemiEncoding

        encoding = RemiEncoding(**generator.info["encoding"])
        return encoding.primer_tail(sequence, generator.runtime.context)
    return sequence


def _lead_line(sequence: music_pb2.NoteSequence, track: str | None, path,
               on_lead: Callable[[Lead], None] | None) -> music_pb2.NoteSequence:
    """The primer's lead track alone, for a model that writes one instrument."""
    lead = lead_track(sequence, track, path)
    if lead is None:
        raise GenerationError(f"{path}: no pitched notes that last")
    if on_lead is not None and lead.tracks > 1:
        on_lead(lead)
    return only_instrument(sequence, lead.instrument)


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
