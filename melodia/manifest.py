"""A folder's manifest: what melodia made there and what the user said of it, read and written here only.

    {"settings": {...what made the files...},
     "outputs": [{"file": "001.mid", "notes": 31, ..., "keep": true, "rating": 4}, ...]}

`generate` and the studio write manifest.json; a batch job writes manifest.json (manifest-shard-I-of-N.json for a
shard) beside a .csv of the same rows; `melodia keep`, `discard` and `rate` (`melodia.feedback`) mark its entries.
Fields melodia does not know, on an entry or beside "outputs", are kept as they were.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from melodia.errors import MelodiaError
from melodia.io.atomic import atomic_write_text

MANIFEST = "manifest.json"


class ManifestError(MelodiaError):
    """A manifest that cannot be read."""


@dataclass
class Manifest:
    """The manifest at `path`: the settings that made its files (None: not recorded) and one entry per file."""

    path: Path
    outputs: list[dict[str, Any]] = field(default_factory=list)
    settings: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # other top-level fields, written back as they were

    @classmethod
    def read(cls, path: str | os.PathLike[str], missing_ok: bool = False, lenient: bool = False) -> Manifest:
        """The manifest at `path` (an empty one when there is none and `missing_ok`); `lenient` leaves out the
        entries that are not {"file": NAME, ...} objects instead of refusing the manifest (for reading only).

        Raises:
            ManifestError: the file cannot be read as JSON, or is not an object whose "outputs" is a list of
                {"file": NAME, ...} entries.
        """
        path = Path(path)
        if missing_ok and not path.is_file():
            return cls(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ManifestError(f"{path}: not a readable manifest ({str(error)[:120]})") from error
        outputs = data.get("outputs", []) if isinstance(data, dict) else None
        if lenient and isinstance(outputs, list):
            outputs = [e for e in outputs if isinstance(e, dict) and isinstance(e.get("file"), str)]
        if not isinstance(outputs, list) or not all(isinstance(e, dict) and isinstance(e.get("file"), str)
                                                    for e in outputs):
            raise ManifestError(f"{path}: not a manifest of melodies; expected {{\"outputs\": [{{\"file\": NAME, "
                                "...}]} as melodia writes it")
        settings = data.get("settings")
        known = ("settings", "outputs") if isinstance(settings, dict) else ("outputs",)
        return cls(path, outputs, settings if isinstance(settings, dict) else None,
                   {key: value for key, value in data.items() if key not in known})

    def entries(self, name: str) -> list[dict[str, Any]]:
        """The entries of the file called `name`."""
        return [entry for entry in self.outputs if entry["file"] == name]

    def write(self) -> Path:
        """Write the manifest atomically; its path."""
        data = {**({"settings": self.settings} if self.settings is not None else {}), "outputs": self.outputs,
                **self.extra}
        return atomic_write_text(self.path, json.dumps(data, indent=2))


def manifests(folder: str | os.PathLike[str]) -> list[Path]:
    """The JSON manifests of a folder: manifest.json and a batch's shards' manifest-shard-*.json, sorted."""
    return sorted(p for p in Path(folder).glob("manifest*.json") if p.is_file())
