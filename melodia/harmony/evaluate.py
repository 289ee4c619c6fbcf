"""The harmonizer against Bach on held-out chorales: likelihood beside a count baseline, chords,
voice leading and cadences (used by scripts/report_harmonizer.py)."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

import numpy as np

from melodia.harmony.config import TOKENS
from melodia.harmony.data import STEPS_PER_QUARTER, Chorale, lower_tokens
from melodia.harmony.grid import harmonize_grid
from melodia.harmony.inference import Network
from melodia.harmony.model import Harmonizer, HarmonizerMix
from melodia.harmony.sampling import Sampling
from melodia.harmony.train import nll_per_step, shifts_that_fit, transposed
from melodia.harmony.voiceleading import (
    FAULT_KINDS,
    beats,
    cadence_shares,
    chord_agreement,
    fault_counts,
    lower_voices_out_of_range,
)


class CountBaseline:
    """Each lower voice's next token from counts: given the soprano's pitch and the voice's own previous
    pitch, backed off (Witten-Bell) to the soprano's pitch alone and to the voice's token counts; trained
    on every transposition of the training chorales, as the network is."""

    def __init__(self, chorales: list[Chorale]) -> None:
        self.full: list[defaultdict[tuple[int, int], Counter[int]]] = [defaultdict(Counter) for _ in range(3)]
        self.soprano: list[defaultdict[int, Counter[int]]] = [defaultdict(Counter) for _ in range(3)]
        self.unigram: list[Counter[int]] = [Counter() for _ in range(3)]
        for chorale in chorales:
            for shift in shifts_that_fit(chorale):
                self._count(transposed(chorale, shift))

    def _count(self, chorale: Chorale) -> None:
        tokens = lower_tokens(chorale)
        for step, (soprano, previous) in enumerate(self._contexts(chorale)):
            for voice in range(3):
                token = int(tokens[step, voice])
                self.full[voice][(soprano, int(previous[voice]))][token] += 1
                self.soprano[voice][soprano][token] += 1
                self.unigram[voice][token] += 1

    @staticmethod
    def _contexts(chorale: Chorale) -> list[tuple[int, np.ndarray]]:
        lower = chorale.pitches[1:]
        previous = np.concatenate([np.zeros((3, 1), dtype=lower.dtype), lower[:, :-1]], axis=1)
        return [(int(chorale.pitches[0, step]), previous[:, step]) for step in range(chorale.steps)]

    def nll_per_step(self, chorales: list[Chorale]) -> float:
        """Mean negative log-likelihood (nats) of the three lower voices' tokens per grid step."""
        total, steps = 0.0, 0
        for chorale in chorales:
            tokens = lower_tokens(chorale)
            for step, (soprano, previous) in enumerate(self._contexts(chorale)):
                for voice in range(3):
                    total -= np.log(self._probability(voice, soprano, int(previous[voice]), int(tokens[step, voice])))
                steps += 1
        return total / max(1, steps)

    def _probability(self, voice: int, soprano: int, previous: int, token: int) -> float:
        unigram = self.unigram[voice]
        probability = (unigram[token] + 1) / (sum(unigram.values()) + TOKENS)
        for counts in (self.soprano[voice].get(soprano), self.full[voice].get((soprano, previous))):
            if counts:
                seen, kinds = sum(counts.values()), len(counts)
                weight = seen / (seen + kinds)
                probability = weight * counts[token] / seen + (1 - weight) * probability
        return probability


@dataclass
class Comparison:
    """Harmonizations of held-out chorales beside Bach's."""

    chord_agreement: float
    root_agreement: float
    faults: dict[str, float]  # per 100 beats, by kind and 'total'
    bach_faults: dict[str, float]
    cadences: dict[str, float]
    bach_cadences: dict[str, float]
    lower_out_of_range: int


def soprano_only(chorale: Chorale) -> Chorale:
    """The chorale with only its soprano (and its fermatas, bar positions and meter)."""
    pitches = chorale.pitches.copy()
    struck = chorale.struck.copy()
    pitches[1:], struck[1:] = 0, False
    return Chorale(chorale.name, pitches, struck, chorale.fermata, chorale.bar_position, chorale.strength,
                   chorale.meter)


def faults_per_100_beats(chorales: list[Chorale]) -> dict[str, float]:
    """Faults of all the chorales together per 100 quarter-note beats, by kind and in total."""
    totals: Counter[str] = Counter()
    for chorale in chorales:
        totals.update(fault_counts(chorale.pitches, chorale.struck))
    count = sum(beats(c) for c in chorales)
    rates = {kind: 100 * totals[kind] / count for kind in FAULT_KINDS}
    rates["total"] = sum(rates.values())
    return rates


def compare_with_bach(model: Network, chorales: list[Chorale], sampling: Sampling) -> Comparison:
    """Harmonize each chorale from its soprano and measure the result beside Bach's own."""
    written = [harmonize_grid(model, soprano_only(c), sampling) for c in chorales]
    agreements = [chord_agreement(w, c) for w, c in zip(written, chorales, strict=True)]
    weights = np.array([len(range(0, c.steps, STEPS_PER_QUARTER)) for c in chorales], dtype=float)
    chords = float(np.average([a[0] for a in agreements], weights=weights))
    roots = float(np.average([a[1] for a in agreements], weights=weights))
    return Comparison(chords, roots, faults_per_100_beats(written), faults_per_100_beats(chorales),
                      cadence_shares(written), cadence_shares(chorales),
                      sum(lower_voices_out_of_range(w) for w in written))


def nll_per_quarter(model: Harmonizer | HarmonizerMix, baseline: CountBaseline,
                    chorales: list[Chorale]) -> tuple[float, float]:
    """NLL (nats) of Bach's alto, tenor and bass per quarter-note step: the network's and the baseline's."""
    return (STEPS_PER_QUARTER * nll_per_step(model, chorales),
            STEPS_PER_QUARTER * baseline.nll_per_step(chorales))
