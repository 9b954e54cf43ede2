"""Loop makers: where the player's loops come from. One registry, MAKERS, keyed by the
`source` setting: the MIDI path now (generate -> render -> wrap); an audio path (MusicGPT)
plugs in beside it with its own stages.

A maker's `stages()` are what the producer runs, each in its own thread, each handing the
next its result; the last returns a Loop. `update(settings)` takes new settings between
loops.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol, runtime_checkable

import numpy as np

from composer.audio import Clip, Loop
from composer.phrase import Phrase
from composer.player.settings import PlaySettings


@runtime_checkable
class LoopMaker(Protocol):
    settings: PlaySettings

    def stages(self) -> tuple[Callable, ...]:
        """The producer's stages: the first takes nothing, the last returns a Loop."""
        ...

    def update(self, settings: PlaySettings) -> None:
        """Settings for the loops made from now on."""
        ...


class MidiLoopMaker:
    """generate -> render -> loop, with settings that may change between loops.

    Each stage runs in its own producer thread, so the next phrase is composed and the last
    one analysed while one renders (FluidSynth and the FFTs run without the GIL; see
    docs/BENCHMARKS.md for the split measured against compose + render in one thread)."""

    def __init__(self, settings: PlaySettings, generator=None, renderer=None) -> None:
        from concurrent.futures import ThreadPoolExecutor

        from composer.render import Renderer

        self.settings = settings
        # The soundfont loads in C (the GIL is free) while the model loads in Python: doing
        # both at once brings the first note forward.
        with ThreadPoolExecutor(1) as pool:
            loading = None if renderer else pool.submit(
                Renderer, soundfont=settings.soundfont, sample_rate=settings.sample_rate)
            self.generator = generator or self._generator(settings)
            self.renderer = renderer or loading.result()
        self._lock = threading.Lock()

    @staticmethod
    def _generator(settings: PlaySettings):
        from composer.generators import load

        return load(settings.model, settings.checkpoint, seed=settings.seed,
                    temperature=settings.temperature)

    def stages(self) -> tuple[Callable, ...]:
        return self.compose, self.render, self.finish

    def update(self, settings: PlaySettings) -> None:
        with self._lock:
            if (settings.model, settings.checkpoint) != (self.settings.model,
                                                         self.settings.checkpoint):
                self.generator = self._generator(settings)
            elif settings.temperature != self.settings.temperature:
                from composer.generators import resolve

                default = resolve(settings.model, settings.checkpoint)[0].temperature
                if self.generator.temperature is not None:
                    self.generator.temperature = (default if settings.temperature is None
                                                  else settings.temperature)
            self.settings = settings

    def compose(self) -> Phrase:
        """The next phrase, made under the settings of the moment."""
        with self._lock:
            settings, generator = self.settings, self.generator
        phrase = generator.phrase(settings.bars, settings.qpm)
        return phrase.with_mode(settings.mode).with_program(settings.program)

    def render(self, phrase: Phrase) -> Clip:
        """A phrase as a seamless period (the folded tail adds to the start), not yet
        normalised: `finish` does that, off the rendering thread."""
        return self.renderer.render_loop(phrase, normalize=False)

    def finish(self, clip: Clip) -> Loop:
        """Normalise the period's loudness, choose where it wraps (composer.loop.wrap: the
        downbeat unless another bar line joins better), measure the seam, wrap it up as a
        Loop whose `downbeat` says where bar 1 begins in the period."""
        from composer.loop.wrap import choose_wrap

        sample_rate, bars = clip.sample_rate, clip.phrase.bars
        period = self.renderer.normalize(clip.audio)  # as it will be heard, before measuring
        start, seam = choose_wrap(period, sample_rate, bars)
        audio = np.roll(period, -start, axis=0) if start else period
        return Loop(audio=audio, sample_rate=sample_rate, bars=bars, qpm=clip.qpm,
                    beats_per_bar=clip.beats_per_bar, seam=seam, downbeat=-start % len(audio),
                    scores={"seam_at_s": start / sample_rate}, phrase=clip.phrase)

    def __call__(self) -> Loop:
        """compose + render + finish, one after the other."""
        return self.finish(self.render(self.compose()))


# the audio path's maker is named, not imported: it is loaded only when it is used
MAKERS: dict[str, type | str] = {
    "midi": MidiLoopMaker,
    "musicgpt": "composer.player.audio_maker:MusicGptLoopMaker",
}


def make_maker(settings: PlaySettings) -> LoopMaker:
    maker = MAKERS[settings.source]
    if isinstance(maker, str):
        import importlib

        module, name = maker.split(":")
        maker = getattr(importlib.import_module(module), name)
    return maker(settings)
