"""The render stage: Phrases (or any NoteSequence) to seamless, loudness-normalised audio with FluidSynth.

    Renderer(soundfont, sample_rate).render(phrase) -> Clip       one synth, loaded once
    Renderer.render_loop(phrase, bars) -> Clip                    one seamless period
    overlap_add(clips), wrap_tail(clip)                           phrase and loop seams
    normalize(audio, sample_rate, target_lufs, ceiling_db)        LUFS with a peak ceiling
    write_audio(path, audio, sample_rate)                         atomic WAV / FLAC
"""

from composer.render.files import write_audio
from composer.render.loudness import integrated_loudness, limit, normalize, peak_db
from composer.render.midi import MAX_MINUTES, RenderError, check_length, read_sequence
from composer.render.seams import overlap_add, starts, wrap_tail
from composer.render.synth import Renderer, render_file

__all__ = ["MAX_MINUTES", "RenderError", "Renderer", "check_length", "integrated_loudness", "limit", "normalize",
           "overlap_add", "peak_db", "read_sequence", "render_file", "starts", "wrap_tail",
           "write_audio"]
