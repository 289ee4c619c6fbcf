"""A listener's taste guessed from a few marks: musical features of a melody and a small logistic model on them.

`melodia.lm.learn` fits a `TasteModel` on the melodies a user kept and discarded, then lets it judge many
more melodies the model draws, so that a dozen marks teach as a few hundred would. The features are
what a listener hears without a score: which degrees of the key sound, the sizes and directions of the
steps and leaps, note lengths, dotted and syncopated notes, where the tune is highest, its range, its
density, repeated notes, and whether it ends on the tonic. Each is a number in about 0..1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from melodia.score import TICKS_PER_QUARTER, Note, Score

INTERVAL_BINS = ((0, 0), (1, 2), (-2, -1), (3, 4), (-4, -3), (5, 7), (-7, -5), (8, 127), (-127, -8))
LENGTH_BINS = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)  # quarters: the nearest of these
DOTTED = (0.375, 0.75, 1.5, 3.0)


def _line(score: Score) -> list[Note]:
    """The top line: the highest note at each onset."""
    chosen: dict[int, Note] = {}
    for note in score.notes:
        if note.onset_tick not in chosen or note.pitch > chosen[note.onset_tick].pitch:
            chosen[note.onset_tick] = note
    return [chosen[tick] for tick in sorted(chosen)]


def features(score: Score, after_tick: int = 0) -> np.ndarray:
    """The features of the notes of `score` that start at `after_tick` or later (the seed left out)."""
    line = [note for note in _line(score) if note.onset_tick >= after_tick] or _line(score)
    if not line:
        return np.zeros(FEATURES)
    from melodia.metrics import tonic_of

    tonic = tonic_of(score)
    pitches = np.array([note.pitch for note in line])
    degrees = np.bincount((pitches - tonic) % 12, minlength=12) / len(line)
    moves = np.diff(pitches)
    intervals = np.array([np.mean((moves >= low) & (moves <= high)) if len(moves) else 0.0
                          for low, high in INTERVAL_BINS])
    quarters = np.array([note.duration_tick / TICKS_PER_QUARTER for note in line])
    nearest = np.abs(quarters[:, None] - np.array(LENGTH_BINS)[None, :]).argmin(1)
    lengths = np.bincount(nearest, minlength=len(LENGTH_BINS)) / len(line)
    meter = score.time_signatures[0] if score.time_signatures else None
    beat = meter.beat_ticks if meter else TICKS_PER_QUARTER
    onsets = np.array([note.onset_tick for note in line])
    ends = onsets + np.array([note.duration_tick for note in line])
    off_beat = onsets % beat != 0
    syncopated = off_beat & ((onsets // beat) != ((ends - 1) // beat))
    dotted = np.isin(np.round(quarters, 3), DOTTED)
    middle = (onsets[0] + ends[-1]) / 2
    first, second = pitches[onsets < middle], pitches[onsets >= middle]
    climb = (second.max() - first.max()) / 12 if len(first) and len(second) else 0.0
    span = (pitches.max() - pitches.min()) / 12
    bars = max(1.0, (ends[-1] - onsets[0]) / (meter.bar_ticks if meter else 4 * TICKS_PER_QUARTER))
    gaps = np.maximum(onsets[1:] - ends[:-1], 0)
    shape = [off_beat.mean(), syncopated.mean(), dotted.mean(), climb, span, max(0.0, span - 1),
             float(np.argmax(pitches)) / max(len(pitches) - 1, 1), len(line) / bars / 8,
             float((gaps > 0).mean()) if len(gaps) else 0.0, float(pitches[-1] % 12 == tonic),
             float(np.mean(np.abs(moves))) / 12 if len(moves) else 0.0]
    return np.concatenate([degrees, intervals, lengths, shape])


FEATURES = 12 + len(INTERVAL_BINS) + len(LENGTH_BINS) + 11


@dataclass
class TasteModel:
    """A logistic model of how much a melody is liked, on standardized `features`."""

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float

    @classmethod
    def fit(cls, rows: np.ndarray, likings: Sequence[float], strength: float = 1.0, steps: int = 500) -> TasteModel:
        """Fit on `rows` (melodies x features) and their likings in 0..1, with an L2 penalty of `strength`."""
        rows = np.asarray(rows, dtype=np.float64)
        target = np.asarray(likings, dtype=np.float64)
        mean, scale = rows.mean(0), rows.std(0) + 1e-3
        standard = (rows - mean) / scale
        weights, bias = np.zeros(rows.shape[1]), float(np.log((target.mean() + 1e-3) / (1 - target.mean() + 1e-3)))
        rate = 0.5
        for _ in range(steps):
            predicted = 1 / (1 + np.exp(-(standard @ weights + bias)))
            error = predicted - target
            weights -= rate * (standard.T @ error / len(target) + strength * weights / len(target))
            bias -= rate * float(error.mean())
        return cls(mean, scale, weights, bias)

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        """The liking predicted for each row, 0..1."""
        standard = (np.asarray(rows, dtype=np.float64) - self.mean) / self.scale
        return 1 / (1 + np.exp(-(standard @ self.weights + self.bias)))
