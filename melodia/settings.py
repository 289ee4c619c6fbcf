"""Reading settings: TOML or JSON files into frozen dataclasses, and `--set a.b=value` overrides.

Every mistake is one error naming the file, the field, the value and what would be accepted.
A settings class is read field by field from its type hints (nested dataclasses from nested
tables, lists into tuples, a class with a `read_setting(value, where)` classmethod by that
reader: a key from "D dorian"); a class may declare `ALIASES`, flat names that stand for nested
fields (`hidden_size` for `model.hidden_size`), in files and overrides alike, and `RENAMED`, a field's
former names (`seed` for `random_seed`), still read from older files, records and overrides but never
written. Files whose shape is not a dataclass (style templates, batch jobs, recipes) are read with `Fields`.

This module imports nothing of melodia but its errors, so any module may use it.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import sys
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from melodia.errors import MelodiaError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["Fields", "beside", "flat_settings", "from_dict", "read_file", "read_settings", "table_with_overrides",
           "tomllib", "with_overrides"]

T = TypeVar("T")
TRUE, FALSE = ("true", "1", "yes"), ("false", "0", "no")


def read_file(path: Path, error: type[MelodiaError], noun: str = "", adjective: str = "valid") -> dict[str, Any]:
    """The table of a TOML file (JSON when its name ends in .json).

    Args:
        path: the file.
        error: the class of the error to raise.
        noun: what the file is, for messages ("job": "no such job file").
        adjective: how a file that does not parse falls short ("not a valid TOML file").
    """
    kind = "JSON" if path.suffix == ".json" else "TOML"
    what = f"{noun} file" if noun else "file"
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if kind == "JSON" else tomllib.loads(text)
    except FileNotFoundError:
        raise error(f"{path}: no such {what}") from None
    except OSError as problem:
        raise error(f"{path}: cannot read ({problem.strerror or problem})") from None
    except ValueError as problem:  # TOML, JSON and UTF-8 decoding errors are all ValueErrors
        raise error(f"{path}: not a {adjective} {kind} {what} ({problem})") from None
    if not isinstance(data, dict):
        raise error(f"{path}: the file must hold a table of settings, not {type(data).__name__}")
    return data


def read_settings(cls: type[T], path: Path, error: type[MelodiaError]) -> T:
    """An instance of the settings class `cls` from a TOML or JSON file."""
    return from_dict(cls, read_file(path, error, "settings"), error, str(path))


def from_dict(cls: type[T], data: Any, error: type[MelodiaError], source: str, where: str = "") -> T:
    """An instance of the dataclass `cls` from a table, every field checked against its type.

    Args:
        cls: a dataclass; nested dataclass fields are read from nested tables.
        data: the table (a dict).
        error: the class of the error to raise.
        source: what the table came from (a file name), starting every message ("": nothing).
        where: the dotted name of the table inside its file ("" at the top).
    """
    if not isinstance(data, dict):
        raise error(f"{_at(source)}{where or 'the settings'} should be a table, not {data!r}")
    data = _unalias(cls, data, error, source)
    accepted = _init_fields(cls)
    unknown = sorted(set(data) - set(accepted))
    if unknown:
        raise error(f"{_at(source)}unknown field {_join(where, unknown[0])!r}; expected one of "
                    f"{', '.join(sorted({*accepted, *_aliases(cls)}))}")
    hints = typing.get_type_hints(cls)
    values = {name: _checked(hints[name], value, error, source, _join(where, name)) for name, value in data.items()}
    missing = [name for name, spec in accepted.items() if name not in values and _required(spec)]
    if missing:
        raise error(f"{_at(source)}field {_join(where, missing[0])!r} is missing")
    try:
        return cls(**values)
    except MelodiaError as problem:
        raise error(f"{_at(source)}{problem}") from None


def with_overrides(settings: T, pairs: list[str], error: type[MelodiaError]) -> T:
    """`settings` with `key=value` strings applied; a key may be dotted (`model.hidden_size`) or an alias."""
    cls = type(settings)
    updates: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        name = _renamed(cls).get(key.strip(), key.strip())
        path = _aliases(cls).get(name, name).split(".")
        hint = _field_hint(cls, path) if sep else None
        if hint is None:
            raise error(f"--set {pair!r}: expected key=value with key one of {', '.join(_settable(cls))}")
        place = updates
        for name in path[:-1]:
            place = place.setdefault(name, {})
        place[path[-1]] = _parsed(hint, text.strip(), error, f"--set {key.strip()}={text.strip()}")
    return _replaced(settings, updates)


def table_with_overrides(table: dict[str, Any], pairs: list[str], error: type[MelodiaError],
                         aliases: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A copy of the file's `table` with `key=value` strings applied, for files read with `Fields`
    (which then check every value as they would a file's and name an unknown key with the accepted ones).

    A key may be dotted (`constraints.form`) or one of `aliases` (`form` for `constraints.form`); a value
    is read as a TOML value (`2`, `0.9`, `true`, `[0.8, 1.0]`), and as text when it is not one (`AABB`).
    """
    table = copy.deepcopy(table)
    for pair in pairs:
        key, sep, text = pair.partition("=")
        path = (aliases or {}).get(key.strip(), key.strip()).split(".")
        if not sep or not all(name.strip() for name in path):
            raise error(f"--set {pair!r}: expected key=value, e.g. count=2 or constraints.form=AABB")
        place = table
        for name in path[:-1]:
            place = place.setdefault(name, {})
            if not isinstance(place, dict):
                raise error(f"--set {pair!r}: {name} is not a table")
        place[path[-1]] = _toml_value(text.strip())
    return table


def _toml_value(text: str) -> Any:
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        return text


def flat_settings(settings: Any) -> dict[str, Any]:
    """The fields of `settings` as plain values, nested fields under their aliases and the
    fields no alias names left out."""
    flat = {f.name: getattr(settings, f.name) for f in dataclasses.fields(settings)
            if not dataclasses.is_dataclass(getattr(settings, f.name))}
    for alias, dotted in _aliases(type(settings)).items():
        value = settings
        for name in dotted.split("."):
            value = getattr(value, name)
        flat[alias] = value
    return flat


def _at(source: str) -> str:
    """The start of a message about a table read from `source` (nothing when the source goes without saying)."""
    return f"{source}: " if source else ""


def _aliases(cls: type) -> Mapping[str, str]:
    return getattr(cls, "ALIASES", {})


def _renamed(cls: type) -> Mapping[str, str]:
    return getattr(cls, "RENAMED", {})


def current_names(cls: type, data: dict[str, Any], error: type[MelodiaError], source: str = "") -> dict[str, Any]:
    """`data` with every former name of a field of `cls` (its `RENAMED`) under the field's name."""
    renamed = _renamed(cls)
    current: dict[str, Any] = {}
    for key, value in data.items():
        name = renamed.get(key, key)
        if name in current:
            raise error(f"{_at(source)}{name} is set twice (as {key} and as {name})")
        current[name] = value
    return current


def _join(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _init_fields(cls: type) -> dict[str, dataclasses.Field[Any]]:
    return {f.name: f for f in dataclasses.fields(cls) if f.init}


def _required(spec: dataclasses.Field[Any]) -> bool:
    return spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING


def _unalias(cls: type, data: dict[str, Any], error: type[MelodiaError], source: str) -> dict[str, Any]:
    """`data` with every former name renamed and every alias moved into the nested table it stands for."""
    data = current_names(cls, data, error, source)
    aliases = _aliases(cls)
    if not any(key in aliases for key in data):
        return data
    moved: dict[str, Any] = {key: (dict(value) if isinstance(value, dict) else value) for key, value in data.items()
                             if key not in aliases}
    for key in (key for key in data if key in aliases):
        *tables, name = aliases[key].split(".")
        place = moved
        for table in tables:
            place = place.setdefault(table, {})
            if not isinstance(place, dict):
                raise error(f"{_at(source)}{table} should be a table, not {place!r}")
        if name in place:
            raise error(f"{_at(source)}{key} is set twice (as {key} and as {aliases[key]})")
        place[name] = data[key]
    return moved


def _field_hint(cls: type, path: list[str]) -> Any:
    """The type of the field at the dotted `path`, or None when there is no such field."""
    hint: Any = cls
    for name in path:
        if not isinstance(hint, type) or not dataclasses.is_dataclass(hint) or name not in _init_fields(hint):
            return None
        hint = typing.get_type_hints(hint)[name]
    return None if dataclasses.is_dataclass(hint) or typing.get_origin(hint) is dict else hint


def _settable(cls: type, where: str = "") -> list[str]:
    names = [*_aliases(cls)] if not where else []
    for name, hint in typing.get_type_hints(cls).items():
        if name in _init_fields(cls):
            dotted = _join(where, name)
            if dataclasses.is_dataclass(hint):
                names.extend(_settable(hint, dotted))  # type: ignore[arg-type]
            elif typing.get_origin(hint) is not dict:
                names.append(dotted)
    return names


def _replaced(settings: Any, updates: dict[str, Any]) -> Any:
    values = {name: _replaced(getattr(settings, name), value) if isinstance(value, dict)
              and dataclasses.is_dataclass(getattr(settings, name)) else value for name, value in updates.items()}
    return dataclasses.replace(settings, **values)


def _options(hint: Any) -> tuple[Any, ...]:
    """The types a union admits (one type for anything else)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return typing.get_args(hint)
    return (hint,)


def _describe(hint: Any) -> str:
    if hint is bool:
        return "true or false"
    if hint is int:
        return "a whole number"
    if hint is float:
        return "a number"
    if hint in (str, Path):
        return "a string"
    if hint is type(None):
        return "none"
    origin = typing.get_origin(hint)
    if origin in (tuple, list):
        return "a list"
    if origin is dict or dataclasses.is_dataclass(hint):
        return "a table"
    return " or ".join(_describe(option) for option in _options(hint))


def _checked(hint: Any, value: Any, error: type[MelodiaError], source: str, where: str) -> Any:
    """`value` as the type `hint` (lists as tuples where a tuple is wanted), or an error."""
    for option in _options(hint):
        converted = _as(option, value, error, source, where)
        if converted is not _WRONG:
            return converted
    raise error(f"{_at(source)}{where} = {value!r} should be {_describe(hint)}")


_WRONG = object()


def _as(hint: Any, value: Any, error: type[MelodiaError], source: str, where: str) -> Any:
    """`value` as the type `hint`, or _WRONG."""
    if hint is Any:
        return value
    if hint is type(None):
        return None if value is None else _WRONG
    if hasattr(hint, "read_setting"):
        return _read_setting(hint, value, error, source, where)
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value, error, source, where) if isinstance(value, dict) else _WRONG  # type: ignore[arg-type]
    if hint is bool or hint is str:
        return value if isinstance(value, hint) else _WRONG
    if hint is int or hint is float:
        kinds = (int,) if hint is int else (int, float)
        return value if isinstance(value, kinds) and not isinstance(value, bool) else _WRONG
    if hint is Path:
        return Path(value) if isinstance(value, str) else _WRONG
    return _as_container(hint, value, error, source, where)


def _read_setting(hint: Any, value: Any, error: type[MelodiaError], source: str, where: str) -> Any:
    """`value` read by the class's own `read_setting(value, where)` (a key, a meter, a pitch range from
    its text), or _WRONG for None."""
    if value is None or isinstance(value, hint):
        return _WRONG if value is None else value
    try:
        return hint.read_setting(value, where)
    except MelodiaError as problem:
        raise error(f"{_at(source)}{problem}") from None


def _as_container(hint: Any, value: Any, error: type[MelodiaError], source: str, where: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is dict:
        if not isinstance(value, dict):
            return _WRONG
        return {key: _checked(args[1], item, error, source, f"{where}.{key}") for key, item in value.items()}
    if origin not in (tuple, list) or not isinstance(value, list | tuple):
        return _WRONG
    if origin is tuple and args and args[-1] is not Ellipsis:
        if len(value) != len(args):
            return _WRONG
        kinds = args
    else:
        kinds = (args[0] if args else Any,) * len(value)
    items = [_checked(kind, item, error, source, f"{where}[{index}]")
             for index, (kind, item) in enumerate(zip(kinds, value, strict=True))]
    return tuple(items) if origin is tuple else items


def _parsed(hint: Any, text: str, error: type[MelodiaError], where: str) -> Any:
    """The command-line text `text` as the type `hint`."""
    options = _options(hint)
    if type(None) in options and text.lower() in ("", "none"):
        return None
    for option in (o for o in options if o is not type(None)):
        if hasattr(option, "read_setting"):
            return _read_setting(option, text, error, "", where)
        origin = typing.get_origin(option)
        if origin in (tuple, list):
            args = typing.get_args(option)
            kind = args[0] if args else str
            parts = [_scalar(kind, part.strip()) for part in text.split(",") if part.strip()]
            if _WRONG not in parts:
                return tuple(parts) if origin is tuple else parts
        else:
            value = _scalar(option, text)
            if value is not _WRONG:
                return value
    raise error(f"{where}: expected {_describe(hint)}")


def _scalar(hint: Any, text: str) -> Any:
    try:
        if hint is bool:
            return text.lower() in TRUE if text.lower() in TRUE + FALSE else _WRONG
        if hint in (int, float, str, Path):
            return hint(text)
    except ValueError:
        return _WRONG
    return _WRONG


class Fields:
    """Takes fields out of one table of a hand-written file, checking each; `done` rejects whatever is left.

    For files whose shape is not a settings dataclass (style templates, batch jobs, recipes).
    """

    def __init__(self, path: Path, table: Any, error: type[MelodiaError], where: str = "") -> None:
        if not isinstance(table, dict):
            raise error(f"{path}: {where or 'the file'} must be a table, not {table!r}")
        self.path, self.table, self.error, self.where = path, table, error, where
        self.seen: set[str] = set()

    def name(self, key: str) -> str:
        return _join(self.where, key)

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
