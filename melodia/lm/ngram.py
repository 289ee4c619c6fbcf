"""An interpolated Kneser-Ney n-gram model over token ids: the baseline every NLL is read against.

    P(w | h) = max(c(h w) - D, 0) / c(h)  +  D * N1+(h .) / c(h) * P(w | h')

with raw counts at the highest order, continuation counts N1+(. h w) below it, one
discount D = n1 / (n1 + 2 n2) per order, and the uniform distribution under unigrams.
Contexts never seen fall through to the next shorter one. Sequences are scored like the
neural model: every token after BOS, EOS included.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from melodia.tokenizers import PAD


class KneserNey:
    """Interpolated Kneser-Ney n-grams up to `order`, fitted on whole sequences."""

    def __init__(self, order: int, vocab_size: int) -> None:
        self.order = order
        self.vocab_size = vocab_size
        # counts[n][context] = {token: count}: n = context length (0..order-1)
        self.counts: list[dict[tuple[int, ...], dict[int, int]]] = [defaultdict(dict) for _ in range(order)]
        self.totals: list[dict[tuple[int, ...], int]] = []
        self.discounts: list[float] = []

    def fit(self, sequences: Sequence[np.ndarray]) -> KneserNey:
        top = self.order - 1
        highest = self.counts[top]
        for sequence in sequences:
            tokens = self._padded(sequence)
            for end in range(top + 1, len(tokens)):
                followers = highest[tuple(tokens[end - top:end])]
                followers[tokens[end]] = followers.get(tokens[end], 0) + 1
        # continuation counts for every shorter context: how many distinct tokens precede (h' w)
        for length in range(top, 0, -1):
            for context, followers in list(self.counts[length].items()):
                shorter = self.counts[length - 1][context[1:]]
                for token in followers:
                    shorter[token] = shorter.get(token, 0) + 1
        self.totals = [{context: sum(f.values()) for context, f in level.items()} for level in self.counts]
        self.discounts = [_discount(level) for level in self.counts]
        return self

    def _padded(self, sequence: np.ndarray) -> list[int]:
        """PAD in front, so that even the first tokens have a full-length context."""
        return [PAD] * (self.order - 1) + [int(t) for t in sequence]

    def probability(self, context: Sequence[int], token: int) -> float:
        """P(token | the last order - 1 tokens of context)."""
        context = tuple(context[len(context) - (self.order - 1):]) if self.order > 1 else ()
        probability = 1.0 / self.vocab_size
        for length in range(0, len(context) + 1):
            key = context[len(context) - length:] if length else ()
            followers = self.counts[length].get(key)
            if not followers:
                break
            total, discount = self.totals[length][key], self.discounts[length]
            probability = (max(followers.get(token, 0) - discount, 0.0) / total
                           + discount * len(followers) / total * probability)
        return probability

    def nll(self, sequence: np.ndarray) -> float:
        """-ln P of every token after the first (BOS)."""
        return -sum(self.log_probs(sequence).tolist())

    def log_probs(self, sequence: np.ndarray) -> np.ndarray:
        """ln P(token | the tokens before it) of every token after the first (BOS)."""
        tokens, top = self._padded(sequence), self.order - 1
        return np.array([math.log(self.probability(tokens[end - top:end], tokens[end]))
                         for end in range(top + 1, len(tokens))], dtype=np.float64)


def _discount(level: dict[tuple[int, ...], dict[int, int]]) -> float:
    ones = sum(1 for followers in level.values() for c in followers.values() if c == 1)
    twos = sum(1 for followers in level.values() for c in followers.values() if c == 2)
    return ones / (ones + 2 * twos) if ones + twos else 0.5


def choose_order(train: Sequence[np.ndarray], valid: Sequence[np.ndarray], vocab_size: int,
                 orders: Sequence[int] = tuple(range(2, 25))) -> tuple[KneserNey, dict[int, float]]:
    """Fit each order on `train`; keep the one with the lowest NLL per token on `valid`."""
    results: dict[int, float] = {}
    best: KneserNey | None = None
    tokens = sum(len(s) - 1 for s in valid)
    for order in orders:
        model = KneserNey(order, vocab_size).fit(train)
        results[order] = sum(model.nll(s) for s in valid) / max(tokens, 1)
        if best is None or results[order] < results[best.order]:
            best = model
        elif results[order] > results[best.order] + 0.01:
            break  # past the best: higher orders only get worse
    assert best is not None
    return best, results
