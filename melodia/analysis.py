"""Small musical analyses over note arrays: scales and key estimation."""

from __future__ import annotations

import numpy as np

from melodia.score import MAJOR, MINOR, Score

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
# Aarden-Essen profiles (from folk songs of the Essen collection; music21's default key analysis)
FOLK_MAJOR_PROFILE = np.array([17.7661, 0.145624, 14.9265, 0.160186, 19.8049, 11.3587, 0.291248, 22.062, 0.145624,
                               8.15494, 0.232998, 4.95122])
FOLK_MINOR_PROFILE = np.array([18.2648, 0.737619, 14.0499, 16.8599, 0.702494, 14.4362, 0.702494, 18.6161, 4.56621,
                               1.93186, 7.37619, 1.75623])
PROFILES = {"krumhansl": (MAJOR_PROFILE, MINOR_PROFILE), "aarden": (FOLK_MAJOR_PROFILE, FOLK_MINOR_PROFILE)}


def estimate_key(pitches: np.ndarray, durations: np.ndarray, profiles: str = "krumhansl") -> tuple[int, str]:
    """The (tonic pitch class, mode) whose key profile (Krumhansl-Kessler, or Aarden-Essen with
    profiles="aarden") best correlates with the duration-weighted pitch-class histogram; (0, 'major') for
    no notes."""
    if not len(pitches):
        return 0, MAJOR
    correlations = key_correlations(pitches, durations, profiles)
    return max(correlations, key=lambda key: correlations[key])


def mode_quality(name: str) -> str:
    """'minor' for modes with a minor third above the tonic (aeolian, dorian, phrygian, ...), else 'major'."""
    steps = SCALES[name]
    return MINOR if 3 in steps and 4 not in steps else MAJOR


def key_correlations(pitches: np.ndarray, durations: np.ndarray, profiles: str = "krumhansl"
                     ) -> dict[tuple[int, str], float]:
    """The correlation of the duration-weighted pitch-class histogram with every key's profile."""
    major_profile, minor_profile = PROFILES[profiles]
    histogram = np.bincount(np.asarray(pitches, dtype=int) % 12, weights=np.asarray(durations, dtype=float),
                            minlength=12)
    if not histogram.any() or histogram.std() == 0:
        return {(tonic, mode): 0.0 for mode in (MAJOR, MINOR) for tonic in range(12)}
    return {(tonic, mode): float(np.corrcoef(histogram, np.roll(profile, tonic))[0, 1])
            for mode, profile in ((MAJOR, major_profile), (MINOR, minor_profile)) for tonic in range(12)}


def key_of(score: Score) -> tuple[int, str]:
    """The key a piece is in: its first key signature's, or else the key estimated from its notes."""
    if score.key_signatures:
        return score.key_signatures[0].tonic, score.key_signatures[0].mode
    notes = [n for t in score.tracks if not t.is_drum for n in t.notes]
    return estimate_key(np.asarray([n.pitch for n in notes], dtype=int),
                        np.asarray([n.duration_tick for n in notes], dtype=float))
