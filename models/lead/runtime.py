"""The lead model in NumPy: a melody sampled over a chord grid without importing TensorFlow.

The LSTM arithmetic is models.lstm.runtime's (tests hold both to Keras); this adds the
condition features and the sampling loop that writes one event per sixteenth.
"""

from __future__ import annotations

import numpy as np

from models.lead.chords import chord_table
from models.lead.encoding import FIRST_NOTE, HOLD, REST, STEPS_PER_BAR
from models.lstm.runtime import LstmRuntime
from models.sampling import sample_logits


class LeadRuntime(LstmRuntime):
    def __init__(self, weights: dict[str, np.ndarray]):
        super().__init__(weights)
        self.features = np.concatenate(
            [chord_table()[:, None, :].repeat(STEPS_PER_BAR, 1),
             np.broadcast_to(np.eye(STEPS_PER_BAR, dtype=np.float32),
                             (len(chord_table()), STEPS_PER_BAR, STEPS_PER_BAR))],
            axis=-1).reshape(-1, 25 + STEPS_PER_BAR)  # condition id -> its features

    def step_conditioned(self, events: np.ndarray, conditions: np.ndarray, state) -> np.ndarray:
        """Feed the last event and the condition now per stream; logits for the event now."""
        x = np.concatenate([self.embedding[events], self.features[conditions]], axis=-1)
        return self.layers_step(x, state)

    def sample(self, conditions: np.ndarray, *, temperature: float = 1.0,
               rhythm_temperature: float = 1.0, rng: np.random.Generator | None = None,
               max_rest_steps: int = 2 * STEPS_PER_BAR,
               max_hold_steps: int = 2 * STEPS_PER_BAR,
               onset_bias: np.ndarray | None = None) -> np.ndarray:
        """One melody event per condition, in two draws: whether a note starts, the line
        holds or it rests (at `rhythm_temperature`), then which pitch (at `temperature`). One
        temperature for both would trade one for the other: cooled, the likeliest event,
        hold, crowds out notes and the line thins; warmed, its pitches wander off the chord.
        A line that has rested `max_rest_steps` in a row must start a note (the model,
        trained on whole songs, would otherwise sit out a long intro the user did not ask
        for); a note held `max_hold_steps` must end (8 of 69,039 notes in POP909's first
        16 bars last longer than 2 bars; sampled, one seed held its first note for 3).
        `onset_bias`, one log-odds per sixteenth of the bar, weighs the odds that a
        note starts there (training.lead_calibration fits it so the line's onsets fall on
        the beat as often as the songs' do)."""
        rng = rng or np.random.default_rng()
        bias = np.zeros(STEPS_PER_BAR) if onset_bias is None else np.asarray(onset_bias, float)
        state = self.initial_state()
        last, sounding, silent, held = REST, False, 0, 0
        out = np.empty(len(conditions), np.int16)
        for t, condition in enumerate(conditions.tolist()):
            logits = self.step_conditioned(np.array([last]), np.array([condition]), state)[0]
            if silent >= max_rest_steps:
                logits[:FIRST_NOTE] = -np.inf
            if sounding and held >= max_hold_steps:
                logits[HOLD] = -np.inf
            event = self._draw(logits, temperature, rhythm_temperature, rng,
                               bias[condition % STEPS_PER_BAR])
            if event != HOLD:
                sounding = event >= FIRST_NOTE
                held = 0
            held += 1
            silent = 0 if sounding else silent + 1
            out[t] = last = event
        return out

    @staticmethod
    def _draw(logits: np.ndarray, temperature: float, rhythm_temperature: float,
              rng: np.random.Generator, onset_bias: float = 0.0) -> int:
        z = logits.astype(np.float64) / rhythm_temperature
        p = np.exp(z - z.max())
        kinds = np.array([p[HOLD], p[REST], p[FIRST_NOTE:].sum() * np.exp(onset_bias)])
        kind = int(rng.choice(3, p=kinds / kinds.sum()))
        if kind < 2:
            return (HOLD, REST)[kind]
        return FIRST_NOTE + int(sample_logits(logits[None, FIRST_NOTE:], rng, temperature)[0])
