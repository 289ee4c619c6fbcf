"""Small musical analyses over note arrays: scales and key estimation."""

from __future__ import annotations

import numpy as np

from melodia.score import MAJOR, MINOR

# Scale steps above the tonic, by mode name (the modes a seed phrase's key= accepts).
SCALES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11), "ionian": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10),
    "aeolian": (0, 2, 3, 5, 7, 8, 10), "dorian": (0, 2, 3, 5, 7, 9, 10), "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "lydian": (0, 2, 4, 6, 7, 9, 11), "mixolydian": (0, 2, 4, 5, 7, 9, 10), "locrian": (0, 1, 3, 5, 6, 8, 10),
    "harmonic-minor": (0, 2, 3, 5, 7, 8, 11), "major-pentatonic": (0, 2, 4, 7, 9),
    "minor-pentatonic": (0, 3, 5, 7, 10),
}
MAJOR_SCALE, MINOR_SCALE = SCALES[MAJOR], SCALES[MINOR]

# Krumhansl & Kessler (1982) key profiles, tonic first
MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


def estimate_key(pitches: np.ndarray, durations: np.ndarray) -> tuple[int, str]:
    """The (tonic pitch class, mode) whose Krumhansl-Kessler profile best correlates with the
    duration-weighted pitch-class histogram; (0, 'major') for no notes."""
    histogram = np.bincount(np.asarray(pitches) % 12, weights=np.asarray(durations, dtype=float), minlength=12)
    if not histogram.any():
        return 0, MAJOR
    best = (-2.0, 0, MAJOR)
    for mode, profile in ((MAJOR, MAJOR_PROFILE), (MINOR, MINOR_PROFILE)):
        for tonic in range(12):
            correlation = float(np.corrcoef(histogram, np.roll(profile, tonic))[0, 1])
            if correlation > best[0]:
                best = (correlation, tonic, mode)
    return best[1], best[2]
