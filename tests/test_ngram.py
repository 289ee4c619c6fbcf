"""The n-gram baseline (melodia/lm/ngram.py)."""

from __future__ import annotations

import numpy as np
import pytest

from melodia.lm.ngram import KneserNey, choose_order


def test_ngram_is_a_distribution_and_prefers_its_data() -> None:
    rng = np.random.default_rng(0)
    sequences = [np.concatenate([[1], rng.integers(3, 9, size=40) // 2 * 2, [2]]) for _ in range(30)]
    model = KneserNey(3, 10).fit(sequences)
    for context in ([1], [1, 4], [6, 6], [9, 9]):
        assert sum(model.probability(context, token) for token in range(10)) == pytest.approx(1.0)
    seen = np.asarray([1, 4, 4, 6, 2])
    odd = np.asarray([1, 5, 7, 3, 2])
    assert model.nll(seen) < model.nll(odd)
    best, by_order = choose_order(sequences[:25], sequences[25:], 10, orders=(1, 2, 3))
    assert set(by_order) <= {1, 2, 3} and best.order in by_order
