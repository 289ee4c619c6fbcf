"""Set-to-set comparison of metrics, after Yang & Lerch (2018), "On the evaluation of
generative models in music".

For each metric: the distances between every two reference pieces (intra-set) and between
every generated and every reference piece (inter-set) are smoothed into densities by a
Gaussian kernel; the overlap area of the two densities (1 = the generated pieces sit among
the reference ones as the reference ones sit among themselves) and the KL divergence
KL(intra || inter) in nats (0 = the same) are reported.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from melodia.metrics import HISTOGRAM_METRICS, SCALAR_METRICS
from melodia.score import Score

GRID = 512
MAX_SAMPLES = 20_000


def features(scores: Sequence[Score]) -> dict[str, np.ndarray]:
    """Each metric of each score: (pieces,) for numbers, (pieces, bins) for histograms."""
    table = {name: np.asarray([f(s) for s in scores], dtype=float) for name, f in SCALAR_METRICS.items()}
    table.update({name: np.asarray([f(s) for s in scores], dtype=float) for name, f in HISTOGRAM_METRICS.items()})
    return table


def _distances(first: np.ndarray, second: np.ndarray, same: bool) -> np.ndarray:
    if not len(first) or not len(second):
        return np.zeros(0)
    a = first.reshape(len(first), -1)
    b = second.reshape(len(second), -1)
    distances = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=-1))
    if same:
        return distances[np.triu_indices(len(a), k=1)]
    return distances.ravel()


def _density(samples: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """A Gaussian kernel density (Scott's bandwidth) on `grid`, normalised to integrate to 1.

    Past `MAX_SAMPLES` distances, an even sample of them is used (the density barely changes).
    """
    if len(samples) > MAX_SAMPLES:
        samples = np.sort(samples)[np.linspace(0, len(samples) - 1, MAX_SAMPLES).astype(int)]
    spread = samples.std() or 1e-3
    bandwidth = max(1.06 * spread * len(samples) ** -0.2, 1e-3)
    density = np.exp(-0.5 * ((grid[:, None] - samples[None, :]) / bandwidth) ** 2).sum(axis=1)
    step = grid[1] - grid[0]
    return density / (density.sum() * step)


def overlap_and_kl(intra: np.ndarray, inter: np.ndarray) -> tuple[float, float]:
    """Overlap area of the two distance densities, and KL(intra || inter) in nats."""
    if len(intra) == 0 or len(inter) == 0:
        return float("nan"), float("nan")
    low, high = min(intra.min(), inter.min()), max(intra.max(), inter.max())
    margin = (high - low) * 0.1 + 1e-3
    grid = np.linspace(low - margin, high + margin, GRID)
    step = grid[1] - grid[0]
    p, q = _density(intra, grid), _density(inter, grid)
    overlap = float(np.minimum(p, q).sum() * step)
    kl = float((p * np.log((p + 1e-12) / (q + 1e-12))).sum() * step)
    return overlap, kl


def compare(generated: Sequence[Score], reference: Sequence[Score]) -> dict[str, dict[str, float]]:
    """Per metric: overlap area, KL divergence, and the mean value in each set (pieces a metric cannot
    measure, such as key agreement without a key signature, are left out of that metric)."""
    ours, theirs = features(generated), features(reference)
    result = {}
    for name in ours:
        mine, real = _measured(ours[name]), _measured(theirs[name])
        overlap, kl = overlap_and_kl(_distances(real, real, True), _distances(mine, real, False))
        result[name] = {"overlap": overlap, "kl": kl,
                        "generated_mean": float(np.mean(mine)) if len(mine) else float("nan"),
                        "reference_mean": float(np.mean(real)) if len(real) else float("nan")}
    return result


def _measured(values: np.ndarray) -> np.ndarray:
    """The rows without NaN."""
    return values[~np.isnan(values.reshape(len(values), -1)).any(axis=1)]


def format_comparison(result: dict[str, dict[str, float]], generated: int, reference: int) -> str:
    lines = [f"{generated} generated pieces against {reference} reference pieces (Yang & Lerch 2018)",
             f"{'metric':26}{'overlap':>9}{'KL':>9}{'generated':>12}{'reference':>12}"]
    for name, row in result.items():
        means = (f"{row['generated_mean']:>12.3f}{row['reference_mean']:>12.3f}" if name in SCALAR_METRICS
                 else f"{'(histogram)':>12}{'':>12}")
        lines.append(f"{name:26}{row['overlap']:>9.3f}{row['kl']:>9.3f}{means}")
    return "\n".join(lines)


def summary(result: dict[str, dict[str, float]]) -> dict[str, Any]:
    return {name: {k: round(v, 6) for k, v in row.items()} for name, row in result.items()}
