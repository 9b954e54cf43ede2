"""The melody VAE in NumPy: encode, decode, sample and interpolate without TensorFlow.

The same arithmetic as the Keras model (tests compare them). One-hot inputs make the first
matrix product a row lookup, which is most of why this is fast.
"""

from __future__ import annotations

import numpy as np

from models.sampling import sample_logits


def _sigmoid(x):
    return 0.5 * (np.tanh(0.5 * x) + 1.0)


def _lstm_step(x_proj, h, c, recurrent, bias):
    i, f, g, o = np.split(x_proj + h @ recurrent + bias, 4, axis=-1)
    c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
    return _sigmoid(o) * np.tanh(c), c


class VaeRuntime:
    def __init__(self, weights: dict[str, np.ndarray], vocab_size: int, steps: int,
                 segments: int = 1):
        self.w = {k: v.astype(np.float32) for k, v in weights.items()}
        self.vocab_size, self.steps, self.segments = vocab_size, steps, segments
        self.dec_units = []
        while f"decoder_{len(self.dec_units)}/recurrent" in self.w:
            self.dec_units.append(self.w[f"decoder_{len(self.dec_units)}/recurrent"].shape[0])

    @classmethod
    def from_checkpoint(cls, info: dict, weights: dict[str, np.ndarray]) -> VaeRuntime:
        net = info["network"]
        return cls(weights, net["vocab_size"], net["steps"], net.get("segments", 1))

    @property
    def z_size(self) -> int:
        return self.w["mu/bias"].shape[0]

    def _encode_direction(self, ids: np.ndarray, name: str) -> np.ndarray:
        kernel, recurrent, bias = (self.w[f"{name}/{k}"] for k in ("kernel", "recurrent", "bias"))
        units = recurrent.shape[0]
        h = np.zeros((ids.shape[0], units), np.float32)
        c = np.zeros_like(h)
        for t in range(ids.shape[1]):
            h, c = _lstm_step(kernel[ids[:, t]], h, c, recurrent, bias)
        return h

    def encode(self, ids) -> tuple[np.ndarray, np.ndarray]:
        """Mean and scale of q(z | melody) for [batch, steps] class ids."""
        ids = np.atleast_2d(np.asarray(ids, dtype=np.int64))
        h = np.concatenate([self._encode_direction(ids, "encoder_fw"),
                            self._encode_direction(ids[:, ::-1], "encoder_bw")], axis=-1)
        mu = h @ self.w["mu/kernel"] + self.w["mu/bias"]
        pre = h @ self.w["sigma/kernel"] + self.w["sigma/bias"]
        sigma = np.logaddexp(0.0, pre) + 1e-6  # softplus
        return mu, sigma

    def _initial(self, z: np.ndarray) -> tuple[list, list, np.ndarray]:
        init = np.tanh(z @ self.w["initial_state/kernel"] + self.w["initial_state/bias"])
        sizes = [u for u in self.dec_units for _ in (0, 1)]
        parts = np.split(init, np.cumsum(sizes)[:-1], axis=-1)
        z_proj = z @ self.w["decoder_0/kernel"][self.vocab_size:]
        return list(parts[0::2]), list(parts[1::2]), z_proj

    def _step(self, previous: np.ndarray | None, z_proj, hs, cs) -> np.ndarray:
        """One decoder step from the previous ids (None at the start); returns logits."""
        x_proj = z_proj + (self.w["decoder_0/kernel"][previous] if previous is not None else 0.0)
        for i in range(len(self.dec_units)):
            if i > 0:
                x_proj = hs[i - 1] @ self.w[f"decoder_{i}/kernel"]
            hs[i], cs[i] = _lstm_step(x_proj, hs[i], cs[i], self.w[f"decoder_{i}/recurrent"],
                                      self.w[f"decoder_{i}/bias"])
        return hs[-1] @ self.w["logits/kernel"] + self.w["logits/bias"]

    def _contexts(self, z: np.ndarray) -> list[np.ndarray]:
        """What each segment is decoded from: z itself, or the conductor's embeddings."""
        if self.segments == 1:
            return [z]
        h, c = np.split(np.tanh(z @ self.w["conductor_state/kernel"]
                                + self.w["conductor_state/bias"]), 2, axis=-1)
        plans = []
        for _ in range(self.segments):  # the conductor's input is zeros: no input projection
            h, c = _lstm_step(0.0, h, c, self.w["conductor/recurrent"], self.w["conductor/bias"])
            plans.append(h)
        return plans

    def decode(self, z, temperature: float = 0.0, rng: np.random.Generator | None = None
               ) -> np.ndarray:
        """[batch, steps] class ids decoded from [batch, z] latents (greedy at temperature 0)."""
        z = np.atleast_2d(np.asarray(z, dtype=np.float32))
        rng = rng or np.random.default_rng(0)
        length = self.steps // self.segments
        out = np.zeros((z.shape[0], self.steps), dtype=np.int64)
        previous = None
        for s, context in enumerate(self._contexts(z)):
            hs, cs, z_proj = self._initial(context)
            for t in range(s * length, (s + 1) * length):
                previous = sample_logits(self._step(previous, z_proj, hs, cs), rng, temperature)
                out[:, t] = previous
        return out

    def decode_logits(self, ids, z) -> np.ndarray:
        """Teacher-forced logits [batch, steps, vocab] (what the Keras model's call returns)."""
        ids = np.atleast_2d(np.asarray(ids, dtype=np.int64))
        z = np.atleast_2d(np.asarray(z, dtype=np.float32))
        length = self.steps // self.segments
        logits = []
        for s, context in enumerate(self._contexts(z)):
            hs, cs, z_proj = self._initial(context)
            for t in range(s * length, (s + 1) * length):
                logits.append(self._step(ids[:, t - 1] if t else None, z_proj, hs, cs))
        return np.stack(logits, axis=1)

    def sample(self, n: int, rng: np.random.Generator, temperature: float = 0.5) -> np.ndarray:
        """New melodies from the prior."""
        return self.decode(rng.standard_normal((n, self.z_size)).astype(np.float32),
                           temperature, rng)


def slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation: stays at the typical norm of Gaussian latents all the way."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    cos = np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12)
    omega = np.arccos(np.clip(cos, -1.0, 1.0))
    if omega < 1e-6:
        return (1 - t) * a + t * b
    return (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)


def interpolate(runtime: VaeRuntime, a_ids, b_ids, steps: int) -> np.ndarray:
    """[steps, window] melodies walking from a to b (both ends included), decoded greedily."""
    mu, _ = runtime.encode(np.stack([a_ids, b_ids]))
    zs = np.stack([slerp(mu[0], mu[1], t) for t in np.linspace(0.0, 1.0, steps)])
    return runtime.decode(zs)
