"""Meters: the time signature that bar lines imply.

    meter_of_bars([(3, [(0, 1/2), (1/2, 1/2), ...]), ...])  -> (6, 8)

A fragment written with bar lines but no time signature ('GAB cBA|BGE D3|') says how long its bars
are: 3 quarters here. That length is 3/4 or 6/8; the notes choose between them: the meter whose beats
the notes keep (no note struck off a beat and held across the next) wins, and where both are kept,
a line of eighths is read in compound time (jigs), one of quarters in simple time.

A meter's beats (`Meter`), the one definition every other module asks:

    Meter(6, 8).beat -> 3/2 (a dotted quarter)    Meter(6, 8).beats -> 2    Meter(4, 4).strong_beats -> (0, 2)

A meter is compound when its numerator is a multiple of 3 above 3 and its note value an eighth or shorter
(6/8, 9/8, 12/8, 6/16, 12/16): it beats in dotted notes, three of its written notes each. Every other meter
beats in its written note value (2/4, 3/4, 4/4, 2/2, 3/8, 6/4; odd meters such as 5/4 and 7/8 count each of
their notes a beat, their grouping, 3+2 or 2+3, being the piece's own).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from fractions import Fraction
from typing import NamedTuple

from melodia.errors import MelodiaError

Bar = Sequence[tuple[Fraction, Fraction]]  # (onset within the bar, duration) of each note, in quarter notes


class MeterError(MelodiaError):
    """A meter that cannot be read."""


class Meter(NamedTuple):
    """A time signature without a place in time, and its beats: 6/8 is Meter(6, 8) (lengths in quarter notes).
    A meter is also the pair (numerator, denominator): Meter(6, 8) == (6, 8)."""

    numerator: int
    denominator: int

    def __str__(self) -> str:
        return f"{self.numerator}/{self.denominator}"

    @classmethod
    def parse(cls, text: str, where: str, example: str = "3/4 or 6/8") -> Meter:
        """'6/8' as a `Meter`: a numerator 1-255 over 1, 2, 4, 8, 16 or 32.

        Raises:
            MeterError: naming `where` and what is accepted (`example`).
        """
        found = re.match(r"^(\d+)/(\d+)$", text.strip())
        if not found or not 1 <= int(found.group(1)) <= 255 or int(found.group(2)) not in (1, 2, 4, 8, 16, 32):
            raise MeterError(f"{where}: expected a meter like {example}")
        return cls(int(found.group(1)), int(found.group(2)))

    @classmethod
    def read_setting(cls, value: object, where: str) -> Meter:
        """'6/8' (or [6, 8]) as a `Meter` (a settings value)."""
        text = f"{value[0]}/{value[1]}" if isinstance(value, list | tuple) and len(value) == 2 else value
        if not isinstance(text, str):
            raise MeterError(f"{where} = {value!r}: expected a meter like 3/4 or 6/8")
        return cls.parse(text, f"{where} = {value!r}")

    @property
    def compound(self) -> bool:
        """Beats in dotted notes, three written notes each: 6/8, 9/8, 12/8, 6/16, 12/16."""
        return self.denominator >= 8 and self.numerator % 3 == 0 and self.numerator > 3

    @property
    def bar(self) -> Fraction:
        return Fraction(4 * self.numerator, self.denominator)

    @property
    def beat(self) -> Fraction:
        """One beat: a dotted note in a compound meter, else the written note value."""
        return Fraction(12 if self.compound else 4, self.denominator)

    @property
    def beats(self) -> int:
        """Beats in a bar."""
        return self.numerator // 3 if self.compound else self.numerator

    @property
    def strong_beats(self) -> tuple[int, ...]:
        return strong_beats(self.beats)

    def beat_in(self, units_per_quarter: int) -> int:
        """The beat in units of 1/`units_per_quarter` quarter note (ticks, grid steps), at least one."""
        return max(1, int(self.beat * units_per_quarter))


def strong_beats(beats: int) -> tuple[int, ...]:
    """The strong beats of a bar of `beats` beats, counted from 0: the first, and the middle one of a bar of
    4 or 6 beats."""
    return (0, beats // 2) if beats in (4, 6) else (0,)


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


def _syncopations(bars: Sequence[Bar], meter: tuple[int, int]) -> int:
    """Notes struck off the beat and held across the next beat."""
    beat = Meter(*meter).beat
    return sum(1 for bar in bars for onset, duration in bar
               if onset % beat and (onset // beat + 1) * beat < onset + duration)


def _tie_break(bars: Sequence[Bar], meter: tuple[int, int]) -> int:
    """0 for the meter a line like this is usually written in: compound for eighths, simple for longer notes."""
    durations = sorted(duration for bar in bars for _, duration in bar)
    eighths = bool(durations) and durations[len(durations) // 2] <= Fraction(1, 2)
    compound = Meter(*meter).compound
    return 0 if compound == eighths else 1
