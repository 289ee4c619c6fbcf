"""Small musical analyses over note arrays: scales and key estimation, as (tonic, mode) pairs; phrase ends.

The keys themselves are `melodia.theory.key`'s: one estimator, whose named policies these wrap.
"""

from __future__ import annotations

from statistics import median

import numpy as np

from melodia.score import MAJOR, MINOR, Note, Score
from melodia.theory.key import AARDEN_PROFILES, HEARD, KRUMHANSL, KRUMHANSL_PROFILES, SCALES, Key, mode_quality
from melodia.theory.key import estimate_key as estimate
from melodia.theory.key import key_correlations as correlations_by_key

__all__ = ["MAJOR_SCALE", "MINOR_SCALE", "PROFILES", "SCALES", "estimate_key", "key_correlations", "key_of",
           "mode_quality", "phrase_ends"]

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


def phrase_ends(notes: list[Note], score: Score) -> list[Note]:
    """Notes that end phrases, where a melody carries no fermatas: the last note, and notes held at least
    a beat and twice the usual length that start on a beat after the first bar."""
    usual = median(n.duration_tick for n in notes)
    ends = [notes[-1]]
    bar_ticks = score.initial_time_signature().bar_ticks
    for note in notes[:-1]:
        beat = score.time_signature_at(note.onset_tick).beat_ticks
        if note.duration_tick >= max(beat, 2 * usual) and note.onset_tick % beat == 0 \
                and note.onset_tick >= bar_ticks:
            ends.append(note)
    return ends
