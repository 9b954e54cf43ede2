"""The trained LSTM in NumPy: sampling without importing TensorFlow (which takes seconds).

Keras' LSTM computes gates i, f, c, o from x @ kernel + h @ recurrent + bias, with sigmoid
gates and tanh cell activation; this is the same arithmetic, one time step at a time.
Tests check that it gives Keras' logits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.sampling import sample_logits  # noqa: F401 - re-exported for callers


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (np.tanh(0.5 * x) + 1.0)  # stable for large |x|


@dataclass
class LstmState:
    h: list[np.ndarray]
    c: list[np.ndarray]


class LstmRuntime:
    """Step-by-step inference over a batch of event streams."""

    def __init__(self, weights: dict[str, np.ndarray]):
        self.embedding = weights["embedding"].astype(np.float32)
        self.layers = []
        i = 0
        while f"lstm_{i}/kernel" in weights:
            self.layers.append(tuple(weights[f"lstm_{i}/{n}"].astype(np.float32)
                                     for n in ("kernel", "recurrent", "bias")))
            i += 1
        self.out_kernel = weights["logits/kernel"].astype(np.float32)
        self.out_bias = weights["logits/bias"].astype(np.float32)
        self.units = [layer[1].shape[0] for layer in self.layers]

    @property
    def vocab_size(self) -> int:
        return self.out_bias.shape[0]

    def initial_state(self, batch: int = 1) -> LstmState:
        return LstmState([np.zeros((batch, u), np.float32) for u in self.units],
                         [np.zeros((batch, u), np.float32) for u in self.units])

    def step(self, ids: np.ndarray, state: LstmState) -> np.ndarray:
        """Feed one event per stream ([batch] ids); returns next-event logits [batch, vocab]."""
        return self.layers_step(self.embedding[ids], state)

    def layers_step(self, x: np.ndarray, state: LstmState) -> np.ndarray:
        """The stacked LSTMs and the logits for one step of inputs x [batch, features]."""
        for n, (kernel, recurrent, bias) in enumerate(self.layers):
            z = x @ kernel + state.h[n] @ recurrent + bias
            i, f, g, o = np.split(z, 4, axis=-1)
            c = _sigmoid(f) * state.c[n] + _sigmoid(i) * np.tanh(g)
            h = _sigmoid(o) * np.tanh(c)
            state.h[n], state.c[n] = h, c
            x = h
        return x @ self.out_kernel + self.out_bias

    def run(self, ids: np.ndarray, state: LstmState | None = None) -> tuple[np.ndarray, LstmState]:
        """Feed [batch, time] ids; returns logits [batch, time, vocab] and the final state."""
        ids = np.atleast_2d(ids)
        state = state or self.initial_state(ids.shape[0])
        logits = [self.step(ids[:, t], state) for t in range(ids.shape[1])]
        return np.stack(logits, axis=1), state
