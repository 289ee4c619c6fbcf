"""Constraints (kept by every output) and controls (leaned towards) read once into typed values, from text, tables
and `--set`, and refused with a named value."""

from __future__ import annotations

import pytest

from melodia.lm.constraints import Constraints, GenerateError, Meter, PitchRange
from melodia.lm.controls import Controls
from melodia.lm.generation import GenerationSettings, read_record, settings_record
from melodia.lm.sampler import SamplingConfig
from melodia.score import TimeSignature
from melodia.seed import Mode
from melodia.settings import with_overrides


def test_text_is_read_into_typed_values() -> None:
    constraints = Constraints.parse({"key": "D dorian", "meter": "6/8", "range": "C4:C6", "max_leap": 5,
                                     "bars": 16, "form": "aa'bb", "instrument": "flute", "scale": "soft"})
    assert constraints.key == Mode(2, "dorian") and constraints.meter == Meter(6, 8)
    assert constraints.pitch_range == PitchRange(60, 84) and constraints.form == "AABB"
    assert TimeSignature(480, *constraints.meter) == TimeSignature(480, 6, 8)  # a meter placed in time


def test_python_callers_may_give_typed_values_or_text_alike() -> None:
    typed = Constraints(key=Mode(9, "minor"), meter=Meter(3, 4), pitch_range=PitchRange(57, 81), bars=8)
    assert Constraints(key="Am", meter="3/4", pitch_range="A3:A5", bars=8) == typed  # type: ignore[arg-type]
    assert Constraints(pitch_range=(57, 81)).pitch_range == PitchRange(57, 81)  # type: ignore[arg-type]


def test_as_text_reads_back_to_the_same_constraints() -> None:
    constraints = Constraints.parse({"key": "F# minor", "meter": "2/4", "range": "D4:B5", "end_on_tonic": True})
    text = constraints.as_text()
    assert (text["key"], text["meter"], text["pitch_range"]) == ("F# minor", "2/4", "D4:B5")
    assert Constraints.parse(text) == constraints


def test_set_overrides_read_text_the_same_way() -> None:
    settings = with_overrides(GenerationSettings(), ["key=Bb mixolydian", "range=C4:G5", "meter=9/8"],
                              GenerateError)
    assert settings.constraints.key == Mode(10, "mixolydian")
    assert settings.constraints.pitch_range == PitchRange(60, 79) and settings.constraints.meter == Meter(9, 8)


BAD = [
    ({"bars": 0}, "constraints.bars = 0: expected a whole number >= 1"),
    ({"notes": 0}, "constraints.notes = 0: expected a whole number >= 1"),
    ({"max_leap": -1}, "constraints.max_leap = -1: expected a whole number >= 1"),
    ({"max_leap": 0}, "constraints.max_leap = 0: expected a whole number >= 1 (semitones; 0 would repeat one note)"),
    ({"key": "A bluesy"}, "constraints.key = 'A bluesy': mode 'bluesy' is not one of"),
    ({"phrase_bars": 0}, "constraints.phrase_bars = 0: expected a whole number >= 1"),
    ({"bars": True}, "constraints.bars = True: expected a whole number >= 1"),
    ({"pitch_range": (72, 60)}, "constraints.pitch_range = (72, 60): expected LOW:HIGH note names such as C4:C6, or"),
    ({"pitch_range": (60, 128)}, "constraints.pitch_range = (60, 128)"),
    ({"pitch_range": "C6:C4"}, "constraints.pitch_range = 'C6:C4': expected LOW:HIGH note names, low first"),
    ({"key": "H major"}, "constraints.key = 'H major': expected a tonic and a mode"),
    ({"key": "D lydian-dominant"}, "constraints.key = 'D lydian-dominant': mode 'lydian-dominant' is not one of"),
    ({"meter": "6/7"}, "constraints.meter = '6/7': expected a meter like 3/4 or 6/8"),
    ({"instrument": "kazoo"}, "constraints.instrument = 'kazoo': expected one of accordion"),
    ({"scale": "loose"}, "constraints.scale = 'loose': expected one of strict, soft, off"),
    ({"form": "AAXB"}, "constraints.form = 'AAXB': expected letters A-H, one per phrase"),
]


@pytest.mark.parametrize(("values", "message"), BAD, ids=[str(v) for v, _ in BAD])
def test_a_value_no_melody_could_have_is_named_with_what_is_accepted(values: dict[str, object],
                                                                     message: str) -> None:
    with pytest.raises(GenerateError) as error:
        Constraints(**values)  # type: ignore[arg-type]
    assert str(error.value).startswith(message) and "\n" not in str(error.value)
    assert "--" not in str(error.value)  # the library names values, not command-line flags


def test_a_table_names_its_source_and_unknown_fields() -> None:
    with pytest.raises(GenerateError, match=r"^job\.toml: unknown field 'constraints\.speed'; expected one of"):
        Constraints.parse({"speed": 2}, "job.toml", "constraints")
    with pytest.raises(GenerateError, match=r"^job\.toml: constraints\.max_leap = 'far' should be"):
        Constraints.parse({"max_leap": "far"}, "job.toml", "constraints")
    assert Constraints(bars=1, notes=1, max_leap=1, phrase_bars=1, pitch_range=PitchRange(0, 127)).max_leap == 1


CONTROLS_BAD = [
    ({"density": "0,0,0"}, "controls.density = '0,0,0': no bar with a note; expected notes per bar with at least"),
    ({"density": "swelling"}, "controls.density = 'swelling': expected numbers per bar such as 2,4,4,8, or one of"),
    ({"register": "mid,top"}, "controls.register = 'mid,top': 'top' is not a register; expected low, mid, high"),
    ({"chords": "D | | G"}, "controls.chords = 'D | | G': "),
    ({"chords": " "}, "controls.chords = ' ': expected text, such as 'D | G | A7 | D'"),
]


@pytest.mark.parametrize(("values", "message"), CONTROLS_BAD, ids=[str(v) for v, _ in CONTROLS_BAD])
def test_a_control_that_cannot_be_read_is_named_with_what_is_accepted(values: dict[str, str], message: str) -> None:
    with pytest.raises(GenerateError) as error:
        Controls(**values)
    assert str(error.value).startswith(message) and "\n" not in str(error.value)


def test_controls_are_not_constraints_and_set_reaches_both() -> None:
    """A control is steered towards, not kept: `Constraints` has no field for one, and `--set` reaches either
    table by its flat name."""
    with pytest.raises(GenerateError, match=r"unknown field 'constraints\.chords'; expected one of"):
        Constraints.parse({"chords": "D | G"}, "job.toml", "constraints")
    settings = with_overrides(GenerationSettings(), ["density=rising", "controls.chords=D | G", "max_leap=5"],
                              GenerateError)
    assert settings.controls == Controls(chords="D | G", density="rising") and settings.constraints.max_leap == 5
    assert not Controls() and Controls(register="high")


def test_a_manifest_record_reads_back_its_constraints_and_controls() -> None:
    """`settings_record` writes both tables and `read_record` reads them back; a record written when the controls
    were constraints' fields is read the same."""
    constraints, controls = Constraints(bars=8, key="D"), Controls(chords="D | G", density="4")
    record = settings_record("D4 E4", constraints, SamplingConfig(), 0, "default", 1, controls)
    assert record["controls"] == {"chords": "D | G", "density": "4", "register": None}
    assert read_record(record) == (constraints, controls)
    older = {"constraints": {**constraints.as_text(), "chords": "D | G", "density": "4"}}
    assert read_record(older) == (constraints, controls)
