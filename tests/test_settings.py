"""The settings module: files into dataclasses, checked field by field, and `--set` overrides."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import pytest

from melodia.errors import MelodiaError
from melodia.settings import Fields, from_dict, read_file, read_settings, with_overrides


class SettingsError(MelodiaError):
    """The error the tests ask for."""


@dataclass(frozen=True)
class Voice:
    program: int = 0
    loudness: float = 0.5
    name: str = "violin"

    def __post_init__(self) -> None:
        if not 0 <= self.program <= 127:
            raise SettingsError(f"program = {self.program}: expected 0..127")


@dataclass(frozen=True)
class Ensemble:
    ALIASES: ClassVar[dict[str, str]] = {"program": "lead.program"}

    title: str
    lead: Voice = field(default_factory=Voice)
    pitch_range: tuple[int, int] = (0, 127)
    keys: tuple[str, ...] = ()
    tempo: float | None = None
    folder: Path = Path(".")
    swing: bool = False


def test_nested_tables_become_nested_dataclasses_and_lists_tuples() -> None:
    data = {"title": "duo", "lead": {"program": 40, "loudness": 1}, "pitch_range": [48, 84], "keys": ["D", "G"],
            "folder": "out", "swing": True}
    ensemble = from_dict(Ensemble, data, SettingsError, "duo.toml")
    assert ensemble == Ensemble("duo", Voice(40, 1), (48, 84), ("D", "G"), None, Path("out"), True)


@pytest.mark.parametrize("data, message", [
    ({"title": "x", "colour": 1}, "duo.toml: unknown field 'colour'; expected one of folder, keys, lead, "
                                  "pitch_range, program, swing, tempo, title"),
    ({"title": "x", "lead": {"instrument": 1}}, "unknown field 'lead.instrument'; expected one of loudness, name"),
    ({}, "field 'title' is missing"),
    ({"title": 3}, "title = 3 should be a string"),
    ({"title": "x", "lead": {"program": "40"}}, "lead.program = '40' should be a whole number"),
    ({"title": "x", "lead": {"program": True}}, "lead.program = True should be a whole number"),
    ({"title": "x", "pitch_range": [1, 2, 3]}, r"pitch_range = \[1, 2, 3\] should be a list"),
    ({"title": "x", "keys": ["D", 4]}, r"keys\[1\] = 4 should be a string"),
    ({"title": "x", "tempo": "fast"}, "tempo = 'fast' should be a number or none"),
    ({"title": "x", "lead": 3}, "lead = 3 should be a table"),
    ({"title": "x", "lead": {"program": 300}}, "duo.toml: program = 300: expected 0..127"),
    ({"title": "x", "program": 1, "lead": {"program": 2}}, "program is set twice"),
], ids=["unknown", "unknown-nested", "missing", "type", "nested-type", "bool-for-int", "tuple-length",
        "tuple-item", "union", "not-a-table", "checked-by-the-class", "alias-twice"])
def test_mistakes_name_the_source_the_field_and_what_is_accepted(data: dict[str, object], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        from_dict(Ensemble, data, SettingsError, "duo.toml")


def test_an_alias_stands_for_its_nested_field() -> None:
    assert from_dict(Ensemble, {"title": "x", "program": 71}, SettingsError, "x").lead.program == 71
    assert from_dict(Ensemble, {"title": "x", "program": 71, "lead": {"name": "clarinet"}}, SettingsError,
                     "x").lead == Voice(71, 0.5, "clarinet")


def test_overrides_reach_nested_fields_by_dotted_name_or_alias() -> None:
    base = Ensemble("x")
    changed = with_overrides(base, ["lead.loudness=0.75", "program=12", "keys=D, G", "swing=yes", "tempo=none",
                                    "pitch_range=40,80"], SettingsError)
    assert changed == Ensemble("x", Voice(12, 0.75), (40, 80), ("D", "G"), None, Path("."), True)
    assert with_overrides(base, ["tempo=96"], SettingsError).tempo == 96.0
    with pytest.raises(SettingsError, match=r"--set 'lead\.colour=1': expected key=value with key one of "
                                            r"program, title, lead\.program"):
        with_overrides(base, ["lead.colour=1"], SettingsError)
    with pytest.raises(SettingsError, match=r"--set lead\.program=loud: expected a whole number"):
        with_overrides(base, ["lead.program=loud"], SettingsError)
    with pytest.raises(SettingsError, match="--set swing=maybe: expected true or false"):
        with_overrides(base, ["swing=maybe"], SettingsError)
    with pytest.raises(SettingsError, match="program = 200"):
        with_overrides(base, ["program=200"], SettingsError)


def test_files_are_toml_or_json(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text('title = "duo"\n[lead]\nprogram = 40\n')
    (tmp_path / "a.json").write_text(json.dumps({"title": "duo", "lead": {"program": 40}}))
    assert read_settings(Ensemble, tmp_path / "a.toml", SettingsError) == read_settings(
        Ensemble, tmp_path / "a.json", SettingsError)
    (tmp_path / "bad.toml").write_text("title = \n")
    with pytest.raises(SettingsError, match=r"bad\.toml: not a valid TOML settings file"):
        read_settings(Ensemble, tmp_path / "bad.toml", SettingsError)
    with pytest.raises(SettingsError, match=r"nope\.json: no such job file"):
        read_file(tmp_path / "nope.json", SettingsError, "job")
    (tmp_path / "list.json").write_text("[1]")
    with pytest.raises(SettingsError, match="must hold a table"):
        read_file(tmp_path / "list.json", SettingsError)


def test_fields_checks_hand_written_tables_and_rejects_what_is_left(tmp_path: Path) -> None:
    fields = Fields(tmp_path / "job.toml", {"count": 3, "colour": "red"}, SettingsError, "grid")
    assert fields.number("count", 1, 1, 10, whole=True) == 3
    with pytest.raises(SettingsError, match=r"job\.toml: unknown field 'grid\.colour'; expected one of count"):
        fields.done()
