"""Benchmarks' interleaving (melodia/lm/bench.py), timed by a clock the test moves: load that comes and goes."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from melodia.lm.bench import interleaved, median_ratio

# how much slower the machine runs in each round; round 3's burst hits only the second side to run
LOAD = [1.0, 3.0, 1.0, 2.5, 1.0]


def test_sides_take_turns_and_load_that_slows_both_leaves_the_ratio_alone() -> None:
    now, calls = [0.0], []

    def side(name: str, units: float) -> Callable[[], float]:
        def chunk() -> float:
            calls.append(name)
            number = (len(calls) - 1) // 2
            burst = 4.0 if number == 3 and len(calls) % 2 == 0 else 1.0
            now[0] += LOAD[number] * burst  # one second of work on a quiet machine
            return units
        return chunk

    rounds = interleaved({"ours": side("ours", 10), "reference": side("reference", 5)}, len(LOAD),
                         clock=lambda: now[0])
    assert calls == ["ours", "reference", "reference", "ours", "ours", "reference", "reference", "ours", "ours",
                     "reference"]
    assert rounds.work["ours"] == [10] * 5 and rounds.seconds["reference"] == [1.0, 3.0, 1.0, 2.5, 1.0]
    assert rounds.seconds["ours"] == [1.0, 3.0, 1.0, 10.0, 1.0]
    assert rounds.ratio("ours", "reference") == 2.0  # the burst's round (0.5) is outvoted
    assert rounds.median_rate("ours") == 10.0
    total_ratio = sum(rounds.work["ours"]) / sum(rounds.seconds["ours"]) / (
        sum(rounds.work["reference"]) / sum(rounds.seconds["reference"]))
    assert total_ratio == pytest.approx(2 * 8.5 / 16)  # what a ratio of the totals would have said


def test_bad_rounds_are_refused() -> None:
    with pytest.raises(ValueError, match="rounds = 0 with 1 sides"):
        interleaved({"a": lambda: 1.0}, 0)
    with pytest.raises(ValueError, match="2 rates against 1 reference rates"):
        median_ratio([1.0, 2.0], [1.0])
