"""The hybrid: the GAN writes two new chorale phrases; the VAE walks from the first's lead
line to the second's, one 2-bar window per step, so the melody morphs between two new tunes.
As in `composer interpolate`, the tunes' other voices stay under it: the first's for the first
half of the phrase, the second's from the midpoint (composer.interpolation.arrange)."""

from __future__ import annotations

from pathlib import Path

from composer.generators import GenerationError
from composer.generators.gan import GanGenerator
from composer.generators.vae import VaeGenerator
from composer.phrase import Phrase
from models.checkpoint import default_dir
from models.dynamics import Performer

TRIES = 20  # a GAN phrase occasionally has no usable top line


class HybridGenerator:
    def __init__(self, checkpoint: Path | None = None, *, seed: int | None = None,
                 temperature: float = 0.5, top_k: int = 0) -> None:
        self.gan = GanGenerator(default_dir("gan"), seed=seed)
        self.vae = VaeGenerator(default_dir("vae-2bar"), seed=seed, temperature=temperature)
        self.performer = Performer(seed)

    @property
    def temperature(self) -> float:
        return self.vae.temperature

    @temperature.setter
    def temperature(self, value: float) -> None:
        self.vae.temperature = value

    def phrase(self, bars: int, qpm: float = 120.0) -> Phrase:
        from note_seq import sequences_lib

        from composer.interpolation import arrange, sequence_song
        from composer.phrase import bar_seconds
        from models.vae.encoding import NoMelody
        from models.vae.runtime import interpolate as walk

        gan, vae = self.gan, self.vae
        songs = []
        for _ in range(TRIES):
            sequence = gan.encoding.decode(gan.rolls(1)[0], qpm=qpm)
            try:
                songs.append(sequence_song(sequence, qpm, f"tune {len(songs) + 1}",
                                           vae.encoding))
            except NoMelody:
                continue
            if len(songs) == 2:
                break
        if len(songs) < 2:
            raise GenerationError(f"the GAN gave no phrase with a usable lead melody in "
                                  f"{TRIES} tries")
        steps = max(2, -(-bars // vae.encoding.bars))
        melodies = walk(vae.runtime, songs[0].melody, songs[1].melody, steps)
        parts = arrange(melodies, vae.encoding, (songs[0], songs[1]), (qpm,) * steps,
                        perform=False)  # performed whole below
        whole = sequences_lib.concatenate_sequences([p.sequence for p in parts],
                                                    [p.seconds for p in parts])
        whole = sequences_lib.trim_note_sequence(whole, 0.0, bars * bar_seconds(qpm))
        phrase = Phrase.make(whole, qpm, bars)
        # one performance: the walking melody leads, the tunes' voices follow
        self.performer.apply(phrase.sequence, qpm, lead_instruments=[0])
        return phrase
