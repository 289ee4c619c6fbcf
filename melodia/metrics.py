"""Objective metrics of a `Score`: small pure functions, each defined in one line.

Times are taken on a sixteenth-note grid (120 ticks) where a metric needs a grid; drum
tracks are left out of every pitch metric.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from melodia.analysis import MAJOR_SCALE, MINOR_SCALE
from melodia.score import TICKS_PER_QUARTER, Note, Score

SIXTEENTH = TICKS_PER_QUARTER // 4
INTERVAL_BINS = 25  # -12..+12 semitones; larger leaps fold into the end bins
DURATION_BINS = (1, 2, 3, 4, 6, 8, 12, 16)  # in sixteenths: 16th, 8th, dotted 8th, quarter, ..., whole


def pitched_notes(score: Score) -> list[Note]:
    """Every note of every non-drum track, by onset then pitch."""
    return sorted((n for t in score.tracks if not t.is_drum for n in t.notes), key=lambda n: (n.onset_tick, n.pitch))


def melody(score: Score) -> list[Note]:
    """The top line: at each onset the highest pitched note."""
    top: dict[int, Note] = {}
    for note in pitched_notes(score):
        top[note.onset_tick] = note
    return [top[onset] for onset in sorted(top)]


def pitch_range(score: Score) -> int:
    """Highest minus lowest pitch, in semitones."""
    pitches = [n.pitch for n in pitched_notes(score)]
    return max(pitches) - min(pitches) if pitches else 0


def pitches_used(score: Score) -> int:
    """How many distinct MIDI pitches the piece uses."""
    return len({n.pitch for n in pitched_notes(score)})


def pitch_classes_used(score: Score) -> int:
    """How many of the 12 pitch classes the piece uses."""
    return len({n.pitch % 12 for n in pitched_notes(score)})


def pitch_class_histogram(score: Score) -> np.ndarray:
    """Share of notes on each pitch class, C first."""
    counts = np.bincount([n.pitch % 12 for n in pitched_notes(score)], minlength=12).astype(float)
    return counts / counts.sum() if counts.sum() else counts


def pitch_class_entropy(score: Score) -> float:
    """Shannon entropy (bits) of the pitch-class histogram."""
    shares = pitch_class_histogram(score)
    shares = shares[shares > 0]
    return float(-(shares * np.log2(shares)).sum())


def scale_consistency(score: Score) -> float:
    """Largest share of notes inside one major or natural-minor scale, over all 24."""
    histogram = pitch_class_histogram(score)
    return max(float(histogram[[(tonic + step) % 12 for step in scale]].sum())
               for tonic in range(12) for scale in (MAJOR_SCALE, MINOR_SCALE)) if histogram.any() else 0.0


def in_key_rate(score: Score, tonic: int, mode: str = "major") -> float:
    """Share of notes whose pitch class lies in the scale of `tonic` in `mode` (major or minor)."""
    scale = MAJOR_SCALE if mode == "major" else MINOR_SCALE
    histogram = pitch_class_histogram(score)
    return float(histogram[[(tonic + step) % 12 for step in scale]].sum())


def _sounding(score: Score) -> np.ndarray:
    """How many pitched notes sound in each sixteenth."""
    notes = pitched_notes(score)
    if not notes:
        return np.zeros(0, dtype=int)
    length = -(-max(n.end_tick for n in notes) // SIXTEENTH)
    changes = np.zeros(length + 1, dtype=int)
    for note in notes:
        changes[note.onset_tick // SIXTEENTH] += 1
        changes[max(note.onset_tick // SIXTEENTH + 1, -(-note.end_tick // SIXTEENTH))] -= 1
    return np.cumsum(changes)[:length]


def polyphony(score: Score) -> float:
    """Mean number of notes sounding together, over the sixteenths where any sounds."""
    sounding = _sounding(score)
    busy = sounding[sounding > 0]
    return float(busy.mean()) if len(busy) else 0.0


def polyphony_rate(score: Score) -> float:
    """Share of sounding sixteenths where more than one note sounds."""
    sounding = _sounding(score)
    busy = sounding[sounding > 0]
    return float((busy > 1).mean()) if len(busy) else 0.0


def intervals(score: Score) -> np.ndarray:
    """Semitone steps between consecutive notes of the top line."""
    pitches = np.asarray([n.pitch for n in melody(score)])
    return np.diff(pitches) if len(pitches) > 1 else np.zeros(0, dtype=int)


def interval_histogram(score: Score) -> np.ndarray:
    """Share of top-line intervals of each size from -12 to +12 semitones (wider ones at the ends)."""
    steps = np.clip(intervals(score), -12, 12) + 12
    counts = np.bincount(steps, minlength=INTERVAL_BINS).astype(float)
    return counts / counts.sum() if counts.sum() else counts


def mean_absolute_interval(score: Score) -> float:
    """Mean size of top-line intervals, in semitones."""
    steps = intervals(score)
    return float(np.abs(steps).mean()) if len(steps) else 0.0


def note_density(score: Score) -> float:
    """Mean number of note onsets per bar."""
    notes = pitched_notes(score)
    return len(notes) / max(1, len(score.bar_starts(max(0, score.end_tick - 1)))) if notes else 0.0


def duration_histogram(score: Score) -> np.ndarray:
    """Share of notes nearest to each length of DURATION_BINS (sixteenths)."""
    bins = np.asarray(DURATION_BINS)
    lengths = [n.duration_tick / SIXTEENTH for n in pitched_notes(score)]
    nearest = [int(np.abs(np.log(bins / max(length, 0.25))).argmin()) for length in lengths]
    counts = np.bincount(nearest, minlength=len(bins)).astype(float)
    return counts / counts.sum() if counts.sum() else counts


def empty_beat_rate(score: Score) -> float:
    """Share of quarter-note beats, up to the last note's end, where no note sounds."""
    sounding = _sounding(score)
    if not len(sounding):
        return 0.0
    beats = np.add.reduceat(sounding, np.arange(0, len(sounding), 4))
    return float((beats == 0).mean())


def _bar_patterns(score: Score) -> list[tuple[tuple[int, int, int], ...]]:
    """Each bar's notes as (position in ticks, pitch, duration), bar by bar."""
    notes = pitched_notes(score)
    if not notes:
        return []
    starts = score.bar_starts(max(n.onset_tick for n in notes))
    bars: list[list[tuple[int, int, int]]] = [[] for _ in starts]
    for note in notes:
        index = int(np.searchsorted(starts, note.onset_tick, side="right")) - 1
        bars[index].append((note.onset_tick - starts[index], note.pitch, note.duration_tick))
    return [tuple(bar) for bar in bars]


def groove_consistency(score: Score) -> float:
    """1 minus the mean Hamming distance (share of 16 sixteenth slots) between consecutive bars' onset patterns."""
    patterns = []
    for bar in _bar_patterns(score):
        slots = np.zeros(16, dtype=bool)
        for position, _, _ in bar:
            slots[min(15, position // SIXTEENTH)] = True
        patterns.append(slots)
    if len(patterns) < 2:
        return 1.0
    return 1.0 - float(np.mean([(a != b).mean() for a, b in itertools.pairwise(patterns)]))


def repetition(score: Score) -> float:
    """Share of bars (with notes) that repeat an earlier bar exactly, in positions, pitches and lengths."""
    bars = [bar for bar in _bar_patterns(score) if bar]
    seen: set[tuple[tuple[int, int, int], ...]] = set()
    repeated = 0
    for bar in bars:
        repeated += bar in seen
        seen.add(bar)
    return repeated / len(bars) if bars else 0.0


SCALAR_METRICS = {
    "pitch_range": pitch_range, "pitches_used": pitches_used, "pitch_classes_used": pitch_classes_used,
    "pitch_class_entropy": pitch_class_entropy, "scale_consistency": scale_consistency, "polyphony": polyphony,
    "polyphony_rate": polyphony_rate, "mean_absolute_interval": mean_absolute_interval,
    "note_density": note_density, "empty_beat_rate": empty_beat_rate, "groove_consistency": groove_consistency,
    "repetition": repetition,
}
HISTOGRAM_METRICS = {"interval_histogram": interval_histogram, "duration_histogram": duration_histogram,
                     "pitch_class_histogram": pitch_class_histogram}


def all_metrics(score: Score) -> dict[str, Any]:
    """Every metric of `score`: numbers, and histograms as lists."""
    values: dict[str, Any] = {name: round(float(f(score)), 6) for name, f in SCALAR_METRICS.items()}
    values.update({name: [round(float(v), 6) for v in f(score)] for name, f in HISTOGRAM_METRICS.items()})
    return values

