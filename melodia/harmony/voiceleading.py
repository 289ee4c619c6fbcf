"""Measures of four-part writing on the eighth-note grid: voice-leading faults, chords and their roots,
agreement with a reference harmonization, and cadences at phrase ends.

A *slice* is a grid step at which some voice strikes a note while all four sound. Between two
consecutive slices:

- parallel fifths / octaves: two voices both move and stand a perfect fifth (or octave / unison,
  compound intervals included) apart before and after;
- crossing: at a slice where one of two neighbouring voices strikes, the lower stands above the upper;
- spacing: at such a slice, more than an octave between soprano and alto, or alto and tenor;
- range: a note struck outside its voice's range (`SATB_RANGES`).

Faults are counted per 100 beats (quarter notes).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from melodia.analysis import estimate_key
from melodia.harmony.data import STEPS_PER_QUARTER, Chorale
from melodia.score import MINOR
from melodia.theory.chord import chord_root

# The textbook SATB ranges: soprano C4-A5, alto G3-D5, tenor C3-A4, bass E2-D4.
SATB_RANGES = ((60, 81), (55, 74), (48, 69), (40, 62))
FAULT_KINDS = ("parallel_fifths", "parallel_octaves", "crossing", "spacing", "range")
CADENCES = ("V-I", "IV-I", "V-vi", "half")


def slices(pitches: np.ndarray, struck: np.ndarray) -> np.ndarray:
    """Steps where some voice strikes (or changes pitch) while all four voices sound."""
    previous = np.concatenate([np.zeros((pitches.shape[0], 1), dtype=pitches.dtype), pitches[:, :-1]], axis=1)
    onset = (struck | (pitches != previous)).any(axis=0)
    return np.flatnonzero(onset & (pitches > 0).all(axis=0))


def fault_counts(pitches: np.ndarray, struck: np.ndarray, ranged: tuple[int, ...] = (0, 1, 2, 3)) -> dict[str, int]:
    """Voice-leading faults of four voices (4, steps), soprano first, by kind (see the module's notes);
    notes out of range are counted in the voices `ranged` (leave out 0 to judge only a given soprano's
    harmonization)."""
    counts = dict.fromkeys(FAULT_KINDS, 0)
    steps = slices(pitches, struck)
    previous = np.concatenate([np.zeros((4, 1), dtype=pitches.dtype), pitches[:, :-1]], axis=1)
    strikes = struck | (pitches != previous)
    for before, after in itertools.pairwise(steps):
        one, two = pitches[:, before], pitches[:, after]
        for upper in range(3):
            for lower in range(upper + 1, 4):
                if one[upper] == two[upper] or one[lower] == two[lower]:
                    continue
                first, second = (one[upper] - one[lower]) % 12, (two[upper] - two[lower]) % 12
                if first == second == 7:
                    counts["parallel_fifths"] += 1
                elif first == second == 0:
                    counts["parallel_octaves"] += 1
    for step in steps:
        chord, fresh = pitches[:, step], strikes[:, step]
        for upper in range(3):
            if not (fresh[upper] or fresh[upper + 1]):
                continue
            counts["crossing"] += int(chord[upper + 1] > chord[upper])
            counts["spacing"] += int(upper < 2 and chord[upper] - chord[upper + 1] > 12)
    for voice in ranged:
        low, high = SATB_RANGES[voice]
        notes = pitches[voice][strikes[voice] & (pitches[voice] > 0)]
        counts["range"] += int(((notes < low) | (notes > high)).sum())
    return counts


def lower_voices_out_of_range(chorale: Chorale) -> int:
    """Notes of the alto, tenor and bass outside their `SATB_RANGES`."""
    count = 0
    for voice in (1, 2, 3):
        low, high = SATB_RANGES[voice]
        notes = chorale.pitches[voice][chorale.pitches[voice] > 0]
        count += int(((notes < low) | (notes > high)).sum())
    return count


def beats(chorale: Chorale) -> float:
    return chorale.steps / STEPS_PER_QUARTER


def faults_per_100_beats(chorale: Chorale, ranged: tuple[int, ...] = (0, 1, 2, 3)) -> float:
    """All voice-leading faults of a four-voice chorale per 100 quarter-note beats (see `fault_counts`)."""
    return 100 * sum(fault_counts(chorale.pitches, chorale.struck, ranged).values()) / max(beats(chorale), 1e-9)


def beat_chords(chorale: Chorale) -> list[frozenset[int]]:
    """The pitch-class set sounding at each quarter-note beat."""
    return [frozenset(int(p) % 12 for p in chorale.pitches[:, step] if p > 0)
            for step in range(0, chorale.steps, STEPS_PER_QUARTER)]


def beat_roots(chorale: Chorale) -> list[int | None]:
    """The root of the chord at each quarter-note beat."""
    basses = chorale.pitches[3, ::STEPS_PER_QUARTER]
    return [chord_root(chord, int(bass) if bass else None) for chord, bass in zip(beat_chords(chorale), basses,
                                                                                   strict=True)]


def chord_agreement(model: Chorale, reference: Chorale) -> tuple[float, float]:
    """Shares of the reference's sounding beats whose pitch-class set, and whose root, the model matches."""
    chords, wanted = beat_chords(model), beat_chords(reference)
    roots, wanted_roots = beat_roots(model), beat_roots(reference)
    beats_heard = [i for i in range(min(len(chords), len(wanted))) if wanted[i]]
    if not beats_heard:
        return 0.0, 0.0
    same = sum(chords[i] == wanted[i] for i in beats_heard)
    same_root = sum(roots[i] == wanted_roots[i] for i in beats_heard)
    return same / len(beats_heard), same_root / len(beats_heard)


@dataclass(frozen=True)
class Cadence:
    """The chords at one fermata: its step, the local key and the cadence found ('other' for none)."""

    step: int
    tonic: int
    mode: str
    kind: str


def cadences(chorale: Chorale) -> list[Cadence]:
    """The cadence at each fermata (the first step of each run of fermata steps), in the key of the
    phrase that it ends (Krumhansl-Kessler over the four voices since the fermata before)."""
    starts = [int(s) for s in np.flatnonzero(chorale.fermata & ~np.concatenate([[False], chorale.fermata[:-1]]))]
    found = []
    phrase_start = 0
    for start in starts:
        beat = start - start % STEPS_PER_QUARTER
        end = min(chorale.steps, beat + STEPS_PER_QUARTER)
        pitches = chorale.pitches[:, phrase_start:end].ravel()
        pitches = pitches[pitches > 0]
        tonic, mode = estimate_key(pitches, np.ones(len(pitches)))
        final = _root_at(chorale, beat)
        previous = next((root for step in range(beat - STEPS_PER_QUARTER, max(-1, beat - 3 * STEPS_PER_QUARTER),
                                                 -STEPS_PER_QUARTER)
                         if (root := _root_at(chorale, step)) is not None and root != final), None)
        found.append(Cadence(start, tonic, mode, _cadence_kind(final, previous, tonic, mode)))
        phrase_start = end
    return found


def _root_at(chorale: Chorale, step: int) -> int | None:
    if step < 0:
        return None
    chord = frozenset(int(p) % 12 for p in chorale.pitches[:, step] if p > 0)
    bass = int(chorale.pitches[3, step])
    return chord_root(chord, bass or None)


def _cadence_kind(final: int | None, previous: int | None, tonic: int, mode: str) -> str:
    if final is None:
        return "other"
    degree = (final - tonic) % 12
    before = None if previous is None else (previous - tonic) % 12
    if degree == 0 and before == 7:
        return "V-I"
    if degree == 0 and before == 5:
        return "IV-I"
    if degree == (8 if mode == MINOR else 9) and before == 7:
        return "V-vi"
    if degree == 7:
        return "half"
    return "other"


def cadence_shares(chorales: list[Chorale]) -> dict[str, float]:
    """Share of all fermatas by cadence kind (V-I, IV-I, V-vi, half, other) and 'cadence' for the four."""
    kinds = [c.kind for chorale in chorales for c in cadences(chorale)]
    total = max(1, len(kinds))
    shares = {kind: kinds.count(kind) / total for kind in (*CADENCES, "other")}
    shares["cadence"] = 1 - shares["other"]
    shares["fermatas"] = float(len(kinds))
    return shares
