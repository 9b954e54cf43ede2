"""Drawing one event per row from a network's logits, shared by every runtime."""

from __future__ import annotations

import numpy as np


def sample_logits(logits: np.ndarray, rng: np.random.Generator, temperature: float = 1.0,
                  top_k: int = 0) -> np.ndarray:
    """One id per row: softmax(logits / temperature), optionally only among the top k."""
    if temperature <= 0:
        return logits.argmax(axis=-1)
    z = logits.astype(np.float64) / temperature
    if top_k and top_k < z.shape[-1]:
        cut = np.partition(z, -top_k, axis=-1)[..., -top_k][..., None]
        z = np.where(z < cut, -np.inf, z)
    z -= z.max(axis=-1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=-1, keepdims=True)
    u = rng.random((p.shape[0], 1))
    return (p.cumsum(axis=-1) < u).sum(axis=-1).clip(max=p.shape[-1] - 1)
