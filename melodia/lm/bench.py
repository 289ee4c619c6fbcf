"""Timing two (or more) ways of doing the same work against each other, on a machine other work shares.

The benchmarks in `scripts/` (`bench_train`, `bench_generate`, `bench_tokenize`, `bench_studio`) run
each side in chunks, the sides taking turns within a round (A B, then B A, so that neither always goes
first), and report the median over rounds of the ratio of the two sides' rates in the same round. A
process that starts or stops beside the benchmark then slows both sides alike, and a round that a burst
of load hits unevenly is outvoted by the others.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

Chunk = Callable[[], float]  # does one chunk of a side's work and returns how much it did (tokens, notes, 1)


@dataclass(frozen=True)
class Rounds:
    """What each side did in each round: `work[side][round]` units in `seconds[side][round]`."""

    work: dict[str, list[float]]
    seconds: dict[str, list[float]]

    def rates(self, side: str) -> list[float]:
        """The side's work per second, round by round."""
        return [work / max(seconds, 1e-12) for work, seconds in zip(self.work[side], self.seconds[side], strict=True)]

    def median_rate(self, side: str) -> float:
        return statistics.median(self.rates(side))

    def ratio(self, side: str, reference: str) -> float:
        """The median over rounds of `side`'s rate over `reference`'s rate in the same round."""
        return median_ratio(self.rates(side), self.rates(reference))


def median_ratio(rates: list[float], reference_rates: list[float]) -> float:
    """The median of `rates[i] / reference_rates[i]`: rates measured in the same rounds."""
    if not rates or len(rates) != len(reference_rates):
        raise ValueError(f"{len(rates)} rates against {len(reference_rates)} reference rates: expected as many, "
                         "at least one")
    return statistics.median(rate / reference for rate, reference in zip(rates, reference_rates, strict=True))


def interleaved(sides: Mapping[str, Chunk], rounds: int, clock: Callable[[], float] = time.perf_counter) -> Rounds:
    """Run each side's chunk once a round for `rounds` rounds, the order reversed every other round.

    Args:
        sides: each side's name and a function that does one chunk of its work and returns how much.
        rounds: how many rounds (an odd number gives a median that is one round's ratio).
        clock: what times a chunk (wall-clock seconds; a test may give its own).
    """
    if rounds < 1 or not sides:
        raise ValueError(f"rounds = {rounds} with {len(sides)} sides: expected at least one of each")
    names = list(sides)
    work: dict[str, list[float]] = {name: [] for name in names}
    seconds: dict[str, list[float]] = {name: [] for name in names}
    for number in range(rounds):
        for name in names if number % 2 == 0 else names[::-1]:
            started = clock()
            done = sides[name]()
            seconds[name].append(clock() - started)
            work[name].append(done)
    return Rounds(work, seconds)
