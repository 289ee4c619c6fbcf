"""What every generated melody must respect, parsed once into typed values: hard limits, kept by masks while
sampling (the soft controls, which the model leans towards, are `melodia.lm.controls.Controls`).

    Constraints(key=Mode(2, "dorian"), meter=Meter(6, 8), pitch_range=PitchRange(60, 84), bars=16)
    Constraints.parse({"key": "D dorian", "meter": "6/8", "range": "C4:C6", "bars": 16})

`Constraints.parse` reads the text a user types or writes in a job file; it is the one reader the
command line, batch jobs, `--set` and Python callers share (through `melodia.settings`), and it
refuses a value naming the field, the value and what is accepted. Built directly, `Constraints`
takes typed values and reads text for `key`, `meter` and `pitch_range` the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, NamedTuple

import numpy as np

from melodia.errors import MelodiaError
from melodia.gm import INSTRUMENT_RANGES
from melodia.lm.form import form_letters
from melodia.seed import Mode, parse_range
from melodia.theory.meter import Meter
from melodia.theory.pitch import note_name

SCALE_CHOICES = ("strict", "soft", "off")
# The longest melody asked for: sampling time grows with the length (a melody of 1000 bars took 25 CPU-s on a busy
# 2-core machine), and a typed extra zero should be refused at once rather than run for an hour.
MAX_BARS = 1000
MAX_NOTES = 8000
METRE_CHOICES = ("free", "strict")
LINE_CHOICES = ("free", "singable")


class GenerateError(MelodiaError):
    """A generation request that cannot be met as asked: a constraint that cannot be read, or that no
    melody could keep."""


class PitchRange(NamedTuple):
    """The lowest and the highest MIDI pitch a melody may use."""

    low: int
    high: int

    def __str__(self) -> str:
        return f"{note_name(self.low)}:{note_name(self.high)}"

    @classmethod
    def read_setting(cls, value: object, where: str) -> PitchRange:
        """'C4:C6' or (60, 84) as a `PitchRange`: MIDI pitches, 0 <= low < high <= 127."""
        if isinstance(value, str):
            return cls(*parse_range(value, f"{where} ="))
        if isinstance(value, list | tuple) and len(value) == 2 and all(_whole(p, 0) for p in value) \
                and value[0] < value[1] <= 127:
            return cls(int(value[0]), int(value[1]))
        raise GenerateError(f"{where} = {value!r}: expected LOW:HIGH note names such as C4:C6, or (low, high), "
                              "MIDI pitches with 0 <= low < high <= 127")


@dataclass(frozen=True)
class Constraints:
    """What every output must respect; None leaves a constraint off."""

    ALIASES: ClassVar[dict[str, str]] = {"range": "pitch_range"}

    key: Mode | None = None  # by default the seed's key, else one estimated from its notes
    pitch_range: PitchRange | None = None
    max_leap: int | None = None  # semitones, 1 or more
    bars: int | None = None  # length in bars, seed included
    notes: int | None = None  # length in notes, seed included
    meter: Meter | None = None  # by default the seed's
    end_on_tonic: bool = False
    instrument: str | None = None  # keep notes in this instrument's range (see gm.INSTRUMENT_RANGES)
    form: str | None = None  # "AABB", one letter a phrase; by default one fitting the length; "none": no form
    phrase_bars: int | None = None  # bars per phrase; by default 4 where the length allows
    scale: str = "strict"  # "strict": only the key's scale; "soft": a bias towards it; "off": any pitch
    metre: str | None = None  # "strict": a dance tune's metre (no ties over bar lines or held syncopations, no
    # triplets); "free" or None (a tune type's own) otherwise
    line: str | None = None  # "singable": at most 4 notes in a row on one pitch, a leap of a minor sixth or more
    # turns back; "free" or None (a tune type's own) otherwise

    def __post_init__(self) -> None:
        """Read text given for key, meter and pitch_range; refuse a value no melody could have, naming the
        field, the value and what is accepted (a `GenerateError`)."""
        try:
            self._read_and_check()
        except GenerateError:
            raise
        except MelodiaError as error:  # a key, meter or form that cannot be read
            raise GenerateError(str(error)) from None

    def _read_and_check(self) -> None:
        for name, reader in (("key", Mode.read_setting), ("meter", Meter.read_setting),
                             ("pitch_range", PitchRange.read_setting)):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Mode | Meter | PitchRange):
                object.__setattr__(self, name, reader(value, f"constraints.{name}"))
            elif isinstance(value, PitchRange):
                PitchRange.read_setting(tuple(value), f"constraints.{name}")
        for name, least in (("bars", 1), ("notes", 1), ("max_leap", 1), ("phrase_bars", 1)):
            value = getattr(self, name)
            if value is not None and not _whole(value, least):
                raise GenerateError(f"constraints.{name} = {value!r}: expected a whole number >= {least}"
                                    + (" (semitones; 0 would repeat one note)" if name == "max_leap" else ""))
        for name, most in (("bars", MAX_BARS), ("notes", MAX_NOTES)):
            if (value := getattr(self, name)) is not None and value > most:
                raise GenerateError(f"constraints.{name} = {value}: expected at most {most} {name}, the longest "
                                    "melody melodia writes")
        if self.phrase_bars is not None and self.phrase_bars > 64:
            raise GenerateError(f"constraints.phrase_bars = {self.phrase_bars}: expected 1 to 64 bars")
        if self.instrument is not None and self.instrument not in INSTRUMENT_RANGES:
            raise GenerateError(f"constraints.instrument = {self.instrument!r}: expected one of "
                                  f"{', '.join(sorted(INSTRUMENT_RANGES))}")
        if self.line is not None and self.line not in LINE_CHOICES:
            raise GenerateError(f"constraints.line = {self.line!r}: expected one of {', '.join(LINE_CHOICES)}")
        if self.metre is not None and self.metre not in METRE_CHOICES:
            raise GenerateError(f"constraints.metre = {self.metre!r}: expected one of {', '.join(METRE_CHOICES)}")
        if self.scale not in SCALE_CHOICES:
            raise GenerateError(f"constraints.scale = {self.scale!r}: expected one of {', '.join(SCALE_CHOICES)}")
        if self.form is not None:
            if not isinstance(self.form, str):
                raise GenerateError(f"constraints.form = {self.form!r}: expected letters such as AABB, or none")
            object.__setattr__(self, "form", form_letters(self.form, "constraints.form ="))
        if not isinstance(self.end_on_tonic, bool):
            raise GenerateError(f"constraints.end_on_tonic = {self.end_on_tonic!r}: expected true or false")

    @classmethod
    def parse(cls, values: Mapping[str, Any], source: str = "constraints", where: str = "") -> Constraints:
        """Constraints from a table of text and numbers (a job file's [constraints], the command line's
        options): every field checked and read, an unknown field named with the accepted ones.

        Args:
            values: field names (or "range" for pitch_range) and their values, None for "not given".
            source: what the values came from (a file name), starting every message.
            where: the dotted name of their table inside the file ("constraints").

        Raises:
            GenerateError: starting with `source`, naming the field, the value and what is accepted.
        """
        from melodia.settings import from_dict

        return from_dict(cls, {name: value for name, value in values.items() if value is not None},
                         GenerateError, source, where)

    def as_text(self) -> dict[str, Any]:
        """The fields as a user writes them ("D dorian", "6/8", "C4:C6"), for manifests and job files;
        `Constraints.parse` reads them back."""
        fields = asdict(self)
        for name in ("key", "meter", "pitch_range"):
            value = getattr(self, name)
            fields[name] = None if value is None else str(value)
        return fields


def check_count(count: object, what: str, error: type[GenerateError] = GenerateError) -> None:
    """Refuse a `count` of `what` (melodies, tunes, versions) that is not a whole number, 1 or more."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise error(f"count {count!r}: expected a whole number of {what}, 1 or more")


def _whole(value: object, least: int) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool) and bool(value >= least)

