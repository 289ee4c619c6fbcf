"""Checked fields of the TOML files people write for melodia (style templates, batch jobs):
every mistake is one error naming the file, the field, the value and what would be accepted."""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any

from melodia.errors import MelodiaError


class Fields:
    """Takes fields out of one TOML table, checking each; `done` rejects whatever is left."""

    def __init__(self, path: Path, table: Any, error: type[MelodiaError], where: str = "") -> None:
        if not isinstance(table, dict):
            raise error(f"{path}: {where or 'the file'} must be a table, not {table!r}")
        self.path, self.table, self.error, self.where = path, table, error, where
        self.seen: set[str] = set()

    def name(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def fail(self, message: str) -> MelodiaError:
        """The error to raise, naming the file."""
        return self.error(f"{self.path}: {message}")

    def take(self, key: str, kind: Any, default: Any = None) -> Any:
        """The field's value, of type `kind`; `default` when absent (None: the field is required)."""
        self.seen.add(key)
        if key not in self.table:
            if default is None:
                raise self.fail(f"field {self.name(key)!r} is missing")
            return default
        value = self.table[key]
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            names = " or ".join(t.__name__ for t in (typing.get_args(kind) or (kind,)))
            raise self.fail(f"{self.name(key)} = {value!r} should be a {names}")
        return value

    def number(self, key: str, default: float, low: float, high: float, whole: bool = False) -> float:
        """The field as a number from `low` to `high` (a whole number if `whole`)."""
        self.seen.add(key)
        return self.check_number(self.name(key), self.table.get(key, default), low, high, whole)

    def numbers(self, key: str, default: list[float], low: float, high: float) -> tuple[float, ...]:
        """A non-empty list of numbers from `low` to `high`."""
        values = self.take(key, list, default)
        if not values:
            raise self.fail(f"{self.name(key)} = {values!r} should be a non-empty list")
        return tuple(self.check_number(self.name(key), value, low, high) for value in values)

    def check_number(self, name: str, value: Any, low: float, high: float, whole: bool = False) -> float:
        kinds = (int,) if whole else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds) or not low <= value <= high:
            kind = "a whole number" if whole else "a number"
            raise self.fail(f"{name} = {value!r} should be {kind} from {low:g} to {high:g}")
        return float(value)

    def boolean(self, key: str, default: bool) -> bool:
        self.seen.add(key)
        value = self.table.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(f"{self.name(key)} = {value!r} should be true or false")
        return value

    def strings(self, key: str, default: list[str] | None) -> tuple[str, ...]:
        """A non-empty list of non-empty strings."""
        values = self.take(key, list, default)
        if not values:
            raise self.fail(f"{self.name(key)} = {values!r} should be a non-empty list")
        bad = next((v for v in values if not isinstance(v, str) or not v.strip()), None)
        if bad is not None:
            raise self.fail(f"{self.name(key)} entry {bad!r} should be a non-empty string")
        return tuple(values)

    def done(self) -> None:
        unknown = sorted(set(self.table) - self.seen)
        if unknown:
            raise self.fail(f"unknown field {self.name(unknown[0])!r}; expected one of {', '.join(sorted(self.seen))}")


def beside(path: Path, reference: str) -> str:
    """`reference` as a file next to the TOML file `path` when it names a .toml file or a file
    there; otherwise unchanged (a preset name)."""
    candidate = path.parent / reference
    return str(candidate) if reference.endswith(".toml") or (candidate.suffix and candidate.is_file()) else reference
