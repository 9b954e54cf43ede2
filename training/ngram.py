"""Interpolated Kneser-Ney n-gram model over event ids: the baseline a neural model must beat.

Counts are kept as sorted int64 keys (a context of k events is one base-V number), so fitting
millions of events and scoring a test split are a few NumPy sorts and searches, not dict loops.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _keys(tokens: np.ndarray, starts: np.ndarray, order: int, vocab: int) -> np.ndarray:
    """Base-`vocab` number of tokens[s : s+order] for each start s."""
    key = np.zeros(len(starts), dtype=np.int64)
    for k in range(order):
        key = key * vocab + tokens[starts + k]
    return key


def _ngram_starts(offsets: np.ndarray, order: int) -> np.ndarray:
    """Starts of every n-gram of `order` that lies inside one piece."""
    runs = [np.arange(a, b - order + 1) for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist())
            if b - a >= order]
    return np.concatenate(runs) if runs else np.zeros(0, dtype=np.int64)


@dataclass
class _Table:
    keys: np.ndarray  # sorted unique n-gram keys
    counts: np.ndarray  # count (highest order) or continuation count (lower orders)
    ctx_keys: np.ndarray  # sorted unique contexts
    ctx_totals: np.ndarray  # sum of counts over the context
    ctx_types: np.ndarray  # number of distinct next events after the context

    def lookup(self, keys: np.ndarray, table_keys: np.ndarray, values: np.ndarray) -> np.ndarray:
        pos = np.searchsorted(table_keys, keys).clip(max=max(len(table_keys) - 1, 0))
        found = (table_keys[pos] == keys) if len(table_keys) else np.zeros(len(keys), bool)
        return np.where(found, values[pos] if len(values) else 0, 0)


class KneserNey:
    """P(next | previous order-1 events), interpolated Kneser-Ney with one discount per order."""

    def __init__(self, order: int, vocab: int, discount: float = 0.75):
        if vocab ** order >= 2 ** 63:
            raise ValueError(f"order {order} over {vocab} events does not fit int64 keys")
        self.order, self.vocab, self.discount = order, vocab, discount
        self.tables: list[_Table] = []

    def fit(self, tokens: np.ndarray, offsets: np.ndarray) -> KneserNey:
        tokens = tokens.astype(np.int64)
        V = self.vocab
        self.tables = []
        for n in range(1, self.order + 1):
            starts = _ngram_starts(offsets, n)
            grams = _keys(tokens, starts, n, V)
            if n == self.order:
                keys, counts = np.unique(grams, return_counts=True)
            else:
                # Continuation counts: in how many distinct contexts does this n-gram follow one
                # more event? (A gram at a piece start has no left neighbour: count it as one.)
                longer = _ngram_starts(offsets, n + 1)
                pairs = np.unique(_keys(tokens, longer, n + 1, V))
                suffix = pairs % (V ** n)
                firsts = np.unique(_keys(tokens, offsets[:-1][np.diff(offsets) >= n], n, V))
                keys, counts = np.unique(np.concatenate([suffix, firsts]), return_counts=True)
            ctx = keys // V
            ctx_keys, first = np.unique(ctx, return_index=True)
            ctx_totals = np.add.reduceat(counts, first) if len(counts) else counts
            ctx_types = np.diff(np.append(first, len(keys)))
            self.tables.append(_Table(keys, counts.astype(np.float64), ctx_keys,
                                      ctx_totals.astype(np.float64), ctx_types.astype(np.float64)))
        return self

    def log_probs(self, tokens: np.ndarray, positions: np.ndarray, context_start: np.ndarray
                  ) -> np.ndarray:
        """ln P(tokens[p] | up to order-1 events before p, none before context_start) for each p."""
        tokens = tokens.astype(np.int64)
        V, D = self.vocab, self.discount
        prob = np.full(len(positions), 1.0 / V)
        for n in range(1, self.order + 1):
            table = self.tables[n - 1]
            usable = positions - (n - 1) >= context_start
            p = np.where(usable, positions - (n - 1), positions)
            gram = _keys(tokens, p, n, V)
            ctx = gram // V
            count = table.lookup(gram, table.keys, table.counts)
            total = table.lookup(ctx, table.ctx_keys, table.ctx_totals)
            types = table.lookup(ctx, table.ctx_keys, table.ctx_types)
            with np.errstate(divide="ignore", invalid="ignore"):
                mixed = (np.maximum(count - D, 0) + D * types * prob) / total
            prob = np.where(usable & (total > 0), mixed, prob)
        return np.log(prob)


def fit_best(tokens, offsets, valid_tokens, valid_offsets, vocab: int, orders=range(2, 9),
             window: int = 256) -> tuple[KneserNey, dict[int, float]]:
    """The order with the lowest perplexity on the valid split; perplexity per order.

    Orders whose keys would overflow int64 (vocab ** order) are skipped."""
    positions, starts = eval_positions(valid_offsets, window)
    scores = {}
    best = None
    for order in (o for o in orders if vocab ** o < 2 ** 63):
        model = KneserNey(order, vocab).fit(tokens, offsets)
        ppl = float(np.exp(-model.log_probs(valid_tokens, positions, starts).mean()))
        scores[order] = ppl
        if best is None or ppl < scores[best.order]:
            best = model
    return best, scores


def eval_positions(offsets: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """The positions a model is scored on, and where each one's context may begin.

    Non-overlapping windows of `window` + 1 events inside pieces: the first event of a window is
    context only, the other `window` are predicted from what precedes them in the window. The
    LSTM is scored on exactly these positions with exactly this context.
    """
    from training.datasets import window_starts

    starts = window_starts(offsets, window + 1, window + 1)
    positions = (starts[:, None] + np.arange(1, window + 1)).ravel()
    return positions, np.repeat(starts, window)
