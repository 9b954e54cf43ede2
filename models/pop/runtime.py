"""The trained pop Transformer in NumPy: one token at a time, with a key/value cache.

The arithmetic of models/pop/network.py (pre-norm blocks, rotary positions, tanh GELU), fed
one token per step so each step costs one row of matrix products instead of the whole window.
The cache keeps the last `context` positions: with rotary positions attention depends only on
distances, so a phrase can run past the training window. Tests check it gives Keras' logits.
"""

from __future__ import annotations

import numpy as np


def _layer_norm(x, gamma, beta, eps=1e-5):
    centered = x - x.mean(-1, keepdims=True)
    return centered * (gamma / np.sqrt((centered * centered).mean(-1, keepdims=True) + eps)) + beta


def _gelu(x):
    return 0.5 * x * (1.0 + np.tanh(0.7978845608028654 * (x + 0.044715 * x ** 3)))


class PopCache:
    """Keys and values of the tokens fed so far, per block, for a batch of streams."""

    def __init__(self, layers: int, batch: int, heads: int, head_dim: int, context: int):
        self.k = np.zeros((layers, batch, heads, context, head_dim), np.float32)
        self.v = np.zeros_like(self.k)
        self.context = context
        self.position = 0  # tokens fed so far

    def slots(self) -> int:
        return min(self.position, self.context)


class PopRuntime:
    def __init__(self, weights: dict[str, np.ndarray], heads: int, context: int):
        f32 = {k: v.astype(np.float32) for k, v in weights.items()}
        self.embedding = f32["embedding"]
        self.blocks = []
        i = 0
        while f"block_{i}/qkv/kernel" in f32:
            self.blocks.append({k.split("/", 1)[1]: v for k, v in f32.items()
                                if k.startswith(f"block_{i}/")})
            i += 1
        self.ln_f = (f32["ln_f/gamma"], f32["ln_f/beta"])
        self.out_kernel, self.out_bias = f32["logits/kernel"], f32["logits/bias"]
        self.dim = self.embedding.shape[1]
        self.heads, self.head_dim, self.context = heads, self.dim // heads, context
        half = self.head_dim // 2
        self.inv_freq = (1.0 / 10000.0 ** (np.arange(0, self.head_dim, 2) / self.head_dim)
                         ).astype(np.float32)[:half]

    @property
    def vocab_size(self) -> int:
        return self.out_bias.shape[0]

    def start(self, batch: int = 1) -> PopCache:
        return PopCache(len(self.blocks), batch, self.heads, self.head_dim, self.context)

    def _rotation(self, position: int):
        angles = position * self.inv_freq
        return np.cos(angles), np.sin(angles)

    def _rotate(self, x, cos, sin):
        half = self.head_dim // 2
        x1, x2 = x[..., :half], x[..., half:]
        return np.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)

    def step(self, ids: np.ndarray, cache: PopCache) -> np.ndarray:
        """Feed one token per stream ([batch] ids); returns next-token logits [batch, vocab]."""
        batch = len(ids)
        slot = cache.position % cache.context  # a ring buffer once the window is full
        n = cache.slots() + (cache.position < cache.context)
        x = self.embedding[ids]
        cos, sin = self._rotation(cache.position)
        scale = np.float32(1.0 / np.sqrt(self.head_dim))
        for layer, w in enumerate(self.blocks):
            h = _layer_norm(x, w["ln1/gamma"], w["ln1/beta"])
            qkv = (h @ w["qkv/kernel"] + w["qkv/bias"]).reshape(batch, 3, self.heads,
                                                                  self.head_dim)
            q = self._rotate(qkv[:, 0], cos, sin)[:, :, None, :] * scale  # [b, h, 1, d]
            cache.k[layer, :, :, slot] = self._rotate(qkv[:, 1], cos, sin)
            cache.v[layer, :, :, slot] = qkv[:, 2]
            keys, values = cache.k[layer, :, :, :n], cache.v[layer, :, :, :n]
            scores = q @ keys.transpose(0, 1, 3, 2)  # [b, h, 1, n]
            p = np.exp(scores - scores.max(-1, keepdims=True))
            y = (p / p.sum(-1, keepdims=True)) @ values  # [b, h, 1, d]
            x = x + y.reshape(batch, self.dim) @ w["proj/kernel"] + w["proj/bias"]
            h = _layer_norm(x, w["ln2/gamma"], w["ln2/beta"])
            x = x + _gelu(h @ w["ff1/kernel"] + w["ff1/bias"]) @ w["ff2/kernel"] + w["ff2/bias"]
        cache.position += 1
        x = _layer_norm(x, *self.ln_f)
        return x @ self.out_kernel + self.out_bias

    def run(self, ids: np.ndarray, cache: PopCache | None = None):
        """Feed [batch, time] ids; returns logits [batch, time, vocab] and the cache."""
        ids = np.atleast_2d(ids)
        cache = cache or self.start(ids.shape[0])
        logits = [self.step(ids[:, t], cache) for t in range(ids.shape[1])]
        return np.stack(logits, axis=1), cache
