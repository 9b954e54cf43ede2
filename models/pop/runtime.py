"""The trained pop Transformer in NumPy: one token at a time, with a key/value cache.

The arithmetic of models/pop/network.py (pre-norm blocks, rotary positions, tanh GELU), fed
one token per step, so each step costs one row of matrix products instead of the whole window.
At this size a step is a few dozen small NumPy calls, so the weights are rearranged once at
load to need fewer: each layer norm's scale and shift are folded into the matrix after it, the
attention scale into the queries, and the query and key columns are interleaved so that a
head's rotary pairs are complex numbers, rotated by one complex multiplication.

The cache keeps the last `context` positions (a ring buffer). With rotary positions attention
depends only on distances, so a phrase can run past the training window. Tests check the
logits against Keras.
"""

from __future__ import annotations

import numpy as np

EPS = 1e-5


def _normalized(x: np.ndarray) -> np.ndarray:
    centered = x - x.mean(-1, keepdims=True)
    return centered / np.sqrt((centered * centered).mean(-1, keepdims=True) + EPS)


class PopCache:
    """Keys (complex, conjugated, [half, time]) and values ([time, head_dim]) of the tokens fed
    so far, per block, for a batch of streams."""

    def __init__(self, layers: int, batch: int, heads: int, head_dim: int, context: int):
        self.k = np.zeros((layers, batch, heads, head_dim // 2, context), np.complex64)
        self.v = np.zeros((layers, batch, heads, context, head_dim), np.float32)
        self.context = context
        self.position = 0  # tokens fed so far

    def slots(self) -> int:
        return min(self.position, self.context)


class PopRuntime:
    def __init__(self, weights: dict[str, np.ndarray], heads: int, context: int):
        w = {k: v.astype(np.float64) for k, v in weights.items()}  # fold in double precision
        self.embedding = w["embedding"].astype(np.float32)
        self.dim = self.embedding.shape[1]
        self.heads, self.head_dim, self.context = heads, self.dim // heads, context
        half = self.head_dim // 2
        self.inv_freq = 1.0 / 10000.0 ** (np.arange(0, self.head_dim, 2) / self.head_dim)
        # columns of q (and of k): head by head, x1[i] and x2[i] side by side -> complex
        order = np.stack([np.arange(half), np.arange(half) + half], axis=1).ravel()
        heads_order = (np.arange(heads)[:, None] * self.head_dim + order[None, :]).ravel()
        columns = np.concatenate([heads_order, self.dim + heads_order,
                                  2 * self.dim + np.arange(self.dim)])
        scale = np.concatenate([np.full(self.dim, self.head_dim ** -0.5),
                                np.ones(2 * self.dim)])
        self.blocks = []
        i = 0
        while f"block_{i}/qkv/kernel" in w:
            b = {k.split("/", 1)[1]: v for k, v in w.items() if k.startswith(f"block_{i}/")}
            qkv, qkv_bias = _fold(b["ln1/gamma"], b["ln1/beta"], b["qkv/kernel"],
                                  b["qkv/bias"])
            ff1, ff1_bias = _fold(b["ln2/gamma"], b["ln2/beta"], b["ff1/kernel"], b["ff1/bias"])
            self.blocks.append(tuple(a.astype(np.float32) for a in (
                qkv[:, columns] * scale, qkv_bias[columns] * scale,
                b["proj/kernel"], b["proj/bias"], ff1, ff1_bias,
                0.5 * b["ff2/kernel"], b["ff2/bias"])))  # GELU's 0.5 folded into ff2
            i += 1
        out, out_bias = _fold(w["ln_f/gamma"], w["ln_f/beta"], w["logits/kernel"],
                              w["logits/bias"])
        self.out_kernel, self.out_bias = out.astype(np.float32), out_bias.astype(np.float32)

    @property
    def vocab_size(self) -> int:
        return self.out_bias.shape[0]

    def start(self, batch: int = 1) -> PopCache:
        return PopCache(len(self.blocks), batch, self.heads, self.head_dim, self.context)

    def step(self, ids: np.ndarray, cache: PopCache) -> np.ndarray:
        """Feed one token per stream ([batch] ids); returns next-token logits [batch, vocab]."""
        batch, dim, heads = len(ids), self.dim, self.heads
        slot = cache.position % cache.context  # a ring buffer once the window is full
        n = cache.slots() + (cache.position < cache.context)
        angles = cache.position * self.inv_freq  # float64: exact for endless streams
        rotation = (np.cos(angles) + 1j * np.sin(angles)).astype(np.complex64)
        x = self.embedding[ids]
        for layer, (qkv_w, qkv_b, proj_w, proj_b, ff1_w, ff1_b, ff2_w, ff2_b) in enumerate(
                self.blocks):
            qkv = _normalized(x) @ qkv_w + qkv_b
            qk = np.ascontiguousarray(qkv[:, :2 * dim]).view(np.complex64)
            qk = qk.reshape(batch, 2, heads, -1) * rotation
            keys, values = cache.k[layer], cache.v[layer]
            keys[:, :, :, slot] = qk[:, 1].conj()
            values[:, :, slot] = qkv[:, 2 * dim:].reshape(batch, heads, -1)
            scores = (qk[:, 0, :, None, :] @ keys[:, :, :, :n]).real  # [batch, heads, 1, n]
            p = np.exp(scores - scores.max(-1, keepdims=True))
            y = (p / p.sum(-1, keepdims=True)) @ values[:, :, :n]
            x = x + (y.reshape(batch, dim) @ proj_w + proj_b)
            u = _normalized(x) @ ff1_w + ff1_b
            x = x + (u * (1.0 + np.tanh(u * (0.7978845608 + 0.0356774081 * u * u)))) @ ff2_w
            x += ff2_b
        cache.position += 1
        return _normalized(x) @ self.out_kernel + self.out_bias

    def run(self, ids: np.ndarray, cache: PopCache | None = None):
        """Feed [batch, time] ids; returns logits [batch, time, vocab] and the cache."""
        ids = np.atleast_2d(ids)
        cache = cache or self.start(ids.shape[0])
        logits = [self.step(ids[:, t], cache) for t in range(ids.shape[1])]
        return np.stack(logits, axis=1), cache


def _fold(gamma, beta, kernel, bias):
    """A layer norm's scale and shift moved into the dense layer that follows it."""
    return gamma[:, None] * kernel, beta @ kernel + bias
