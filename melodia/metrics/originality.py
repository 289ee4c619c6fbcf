"""Does a piece copy a reference corpus? The longest run of notes it shares with any reference piece.

Each piece's top line becomes a string of symbols, one per note after the first:
(semitones from the previous note, the note's length in sixteenths). A run of n notes is
shared when n - 1 consecutive symbols agree, so the check ignores transposition. The
reference symbols are indexed by every run of `SEED` symbols; a piece is checked by
looking up its own seeds and extending each hit both ways, so no pair of pieces is ever
compared in full.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from melodia.metrics import SIXTEENTH, melody
from melodia.score import Score

SEED = 5
MAX_HITS = 5000  # a seed this common is a scale or a repeated note; its hits are sampled

Symbol = tuple[int, int]


def symbols(score: Score) -> list[Symbol]:
    """(interval from the previous note, length in sixteenths) for each top-line note after the first."""
    notes = melody(score)
    return [(b.pitch - a.pitch, max(1, round(b.duration_tick / SIXTEENTH))) for a, b in itertools.pairwise(notes)]


@dataclass(frozen=True)
class Match:
    """The longest run of notes a piece shares with the reference, and where."""

    notes: int
    reference: str
    position: int  # note index in the piece where the run starts


class ReferenceIndex:
    """Every run of `SEED` symbols of every reference piece, with where it occurs."""

    def __init__(self, pieces: Sequence[tuple[str, Score]]) -> None:
        self.names = [name for name, _ in pieces]
        self.sequences = [symbols(score) for _, score in pieces]
        self.seeds: dict[tuple[Symbol, ...], list[tuple[int, int]]] = {}
        for piece, sequence in enumerate(self.sequences):
            for start in range(len(sequence) - SEED + 1):
                self.seeds.setdefault(tuple(sequence[start:start + SEED]), []).append((piece, start))

    def longest_match(self, score: Score) -> Match:
        """The longest shared run of notes (0 when not even `SEED` + 1 notes are shared)."""
        query = symbols(score)
        best = Match(0, "", 0)
        for start in range(len(query) - SEED + 1):
            hits = self.seeds.get(tuple(query[start:start + SEED]), ())
            for piece, position in hits[::max(1, len(hits) // MAX_HITS)]:
                reference = self.sequences[piece]
                before = 0
                while (start - before > 0 and position - before > 0
                       and query[start - before - 1] == reference[position - before - 1]):
                    before += 1
                after = SEED
                while (start + after < len(query) and position + after < len(reference)
                       and query[start + after] == reference[position + after]):
                    after += 1
                length = before + after + 1  # symbols + 1 = notes
                if length > best.notes:
                    best = Match(length, self.names[piece], start - before)
        return best


def originality(pieces: Sequence[tuple[str, Score]], reference: Sequence[tuple[str, Score]]) -> list[Match]:
    """For each of `pieces` (name, score), the longest run of notes it shares with any `reference` piece."""
    index = ReferenceIndex(reference)
    return [index.longest_match(score) for _, score in pieces]


def share_with_runs(matches: Sequence[Match], lengths: Sequence[int] = (8, 12, 16, 24)) -> dict[int, float]:
    """For each run length, the share of pieces sharing at least that many consecutive notes."""
    return {length: sum(m.notes >= length for m in matches) / max(len(matches), 1) for length in lengths}
