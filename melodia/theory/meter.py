"""Meters: the time signature that bar lines imply.

    meter_of_bars([(3, [(0, 1/2), (1/2, 1/2), ...]), ...])  -> (6, 8)

A fragment written with bar lines but no time signature ('GAB cBA|BGE D3|') says how long its bars
are: 3 quarters here. That length is 3/4 or 6/8; the notes choose between them: the meter whose beats
the notes keep (no note struck off a beat and held across the next) wins, and where both are kept,
a line of eighths is read in compound time (jigs), one of quarters in simple time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from fractions import Fraction

Bar = Sequence[tuple[Fraction, Fraction]]  # (onset within the bar, duration) of each note, in quarter notes


def meter_of_bars(bars: Sequence[tuple[Fraction, Bar]]) -> tuple[int, int] | None:
    """The time signature (numerator, denominator) of bars given as (length in quarter notes, notes), from
    the length most bars have, the longer on a tie (a shorter first bar is a pickup, a shorter last one an
    ending); None when no bar length makes a meter."""
    counts = Counter(Fraction(length) for length, _ in bars if length > 0)
    if not counts:
        return None
    length = max(counts, key=lambda each: (counts[each], each))
    candidates = _meters(length)
    if not candidates:
        return None
    regular = [notes for bar_length, notes in bars if bar_length == length]
    return min(candidates, key=lambda meter: (_syncopations(regular, meter), _tie_break(regular, meter)))


def _meters(length: Fraction) -> list[tuple[int, int]]:
    """The meters whose bars last `length` quarter notes: simple (n/4) and compound (n/8) where both fit."""
    eighths = length * 2
    if eighths.denominator != 1:
        sixteenths = length * 4
        return [(int(sixteenths), 16)] if sixteenths.denominator == 1 and sixteenths <= 32 else []
    meters = []
    if length.denominator == 1 and length <= 12:
        meters.append((int(length), 4))
    if eighths % 3 == 0 or not meters:
        meters.append((int(eighths), 8))
    return [meter for meter in meters if meter[0] <= 32]


def _beat(meter: tuple[int, int]) -> Fraction:
    numerator, denominator = meter
    if denominator == 8 and numerator % 3 == 0 and numerator > 3:
        return Fraction(3, 2)  # compound: a dotted quarter
    return Fraction(4, denominator)


def _syncopations(bars: Sequence[Bar], meter: tuple[int, int]) -> int:
    """Notes struck off the beat and held across the next beat."""
    beat = _beat(meter)
    return sum(1 for bar in bars for onset, duration in bar
               if onset % beat and (onset // beat + 1) * beat < onset + duration)


def _tie_break(bars: Sequence[Bar], meter: tuple[int, int]) -> int:
    """0 for the meter a line like this is usually written in: compound for eighths, simple for longer notes."""
    durations = sorted(duration for bar in bars for _, duration in bar)
    eighths = bool(durations) and durations[len(durations) // 2] <= Fraction(1, 2)
    compound = _beat(meter) == Fraction(3, 2)
    return 0 if compound == eighths else 1
