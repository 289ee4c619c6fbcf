"""Small musical analyses over note arrays: scales and key estimation, as (tonic, mode) pairs.

The keys themselves are `melodia.theory.key`'s: one estimator, whose named policies these wrap.
"""

from __future__ import annotations

import numpy as np

from melodia.score import MAJOR, MINOR, Score
from melodia.theory.key import AARDEN_PROFILES, HEARD, KRUMHANSL, KRUMHANSL_PROFILES, SCALES, Key, mode_quality
from melodia.theory.key import estimate_key as estimate
from melodia.theory.key import key_correlations as correlations_by_key

__all__ = ["MAJOR_SCALE", "MINOR_SCALE", "PROFILES", "SCALES", "estimate_key", "key_correlations", "key_of",
           "mode_quality"]

MAJOR_SCALE, MINOR_SCALE = SCALES[MAJOR], SCALES[MINOR]
PROFILES = {"krumhansl": KRUMHANSL_PROFILES, "aarden": AARDEN_PROFILES}
POLICY_OF_PROFILES = {"krumhansl": KRUMHANSL, "aarden": HEARD}


def estimate_key(pitches: np.ndarray, durations: np.ndarray, profiles: str = "krumhansl") -> Key:
    """The (tonic pitch class, mode) whose key profile (Krumhansl-Kessler, or Aarden-Essen with
    profiles="aarden") best correlates with the duration-weighted pitch-class histogram; (0, 'major') for
    no notes."""
    return estimate(pitches, durations, POLICY_OF_PROFILES[profiles])


def key_correlations(pitches: np.ndarray, durations: np.ndarray, profiles: str = "krumhansl"
                     ) -> dict[Key, float]:
    """The correlation of the duration-weighted pitch-class histogram with every key's profile."""
    return correlations_by_key(pitches, durations, profiles)


def key_of(score: Score) -> Key:
    """The key a piece is in: its first key signature's, or else the key estimated from its notes."""
    if score.key_signatures:
        return score.key_signatures[0].key
    notes = [n for t in score.tracks if not t.is_drum for n in t.notes]
    return estimate_key(np.asarray([n.pitch for n in notes], dtype=int),
                        np.asarray([n.duration_tick for n in notes], dtype=float))

