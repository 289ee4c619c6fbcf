"""Feedback: the melodies a user keeps, marked in the manifest of the folder they are in.

The keep mark is one field, `"keep": true`, on a file's entry in a folder's manifest. Every
manifest melodia writes has the same shape, and `melodia finetune --kept FOLDER` reads any
of them:

    FOLDER/manifest.json   (or manifest-shard-I-of-N.json, or any manifest*.json)
    {
      "settings": {...},                      # free: whatever made the files (optional)
      "outputs": [
        {"file": "003.mid", "keep": true, ...},   # "file": a MIDI / ABC / MusicXML file,
        {"file": "004.mid", ...},                 #   relative to FOLDER; other fields free
        ...
      ]
    }

`melodia generate` and `melodia batch` write such manifests (batch also writes
manifest.csv, whose `keep` column is updated alongside). A tool that collects kept
melodies into a folder of its own (the Jupyter studio's Keep button, say) writes the
melody file there and adds its entry with `"keep": true` to that folder's manifest.json,
creating the file as `{"outputs": [...]}` when it does not exist; `mark_kept` does
exactly this. An entry without `keep`, or with `"keep": false`, is not kept.

    melodia keep out/003.mid            mark it (refused if no manifest of out/ lists it)
    melodia keep liked/tune.mid --add   mark it, adding an entry to liked/manifest.json if none lists it
    melodia keep out/003.mid --drop     take the mark off
    melodia finetune --from MODEL --kept out/ -o mine.safetensors
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

from melodia.errors import MelodiaError
from melodia.io.atomic import atomic_write_text

KEEP = "keep"
MANIFEST = "manifest.json"


class FeedbackError(MelodiaError):
    """A file that cannot be marked, or a manifest that cannot be read."""


def manifests(folder: Path) -> list[Path]:
    """The JSON manifests of a folder: manifest.json and the shards' manifest-shard-*.json, sorted."""
    return sorted(p for p in Path(folder).glob("manifest*.json") if p.is_file())


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise FeedbackError(f"{path}: not a readable manifest ({str(error)[:120]})") from error
    if not isinstance(data, dict) or not isinstance(data.get("outputs", []), list):
        raise FeedbackError(f"{path}: a manifest is a JSON object with a list 'outputs' of "
                            "{\"file\": NAME, \"keep\": true} entries")
    return data


def mark_kept(path: str | os.PathLike[str], keep: bool = True, add: bool = True) -> list[Path]:
    """Mark `path` kept (or not) in every manifest of its folder that lists it; the manifests changed.

    A file no manifest lists gets an entry in its folder's manifest.json (made when missing)
    when it is marked kept and `add` is true, so a folder of melodies collected by hand works too.

    Raises:
        FeedbackError: `path` is not a file, a manifest of its folder is damaged, or (when `add` is
            false) no manifest of its folder lists it.
    """
    path = Path(path)
    if not path.is_file():
        raise FeedbackError(f"{path}: no such file to keep; pass a melody a manifest lists (out/003.mid)")
    changed = []
    for manifest in manifests(path.parent):
        data = _read(manifest)
        entries = [e for e in data.get("outputs", []) if isinstance(e, dict) and e.get("file") == path.name]
        if not entries:
            continue
        for entry in entries:
            entry[KEEP] = keep
        atomic_write_text(manifest, json.dumps(data, indent=2))
        _mark_csv(manifest.with_suffix(".csv"), path.name, keep)
        changed.append(manifest)
    if not changed and not add:
        add_it = f", or pass --add to list it in {path.parent / MANIFEST}" if keep else ""
        raise FeedbackError(f"{path}: no manifest lists it (looked in {path.parent / 'manifest*.json'}); "
                            f"melodia keep marks the outputs of generate and batch{add_it}")
    if not changed and keep:
        manifest = path.parent / MANIFEST
        data = _read(manifest) if manifest.is_file() else {"outputs": []}
        data.setdefault("outputs", []).append({"file": path.name, KEEP: True})
        atomic_write_text(manifest, json.dumps(data, indent=2))
        changed.append(manifest)
    return changed


def _mark_csv(table: Path, name: str, keep: bool) -> None:
    """The same mark in a batch job's manifest.csv, as a `keep` column (True or empty)."""
    if not table.is_file():
        return
    rows = list(csv.DictReader(io.StringIO(table.read_text(encoding="utf-8"))))
    if not rows or "file" not in rows[0]:
        return
    for row in rows:
        if row["file"] == name:
            row[KEEP] = "True" if keep else ""  # as csv writes a row's True
    columns = list(dict.fromkeys(key for row in rows for key in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, restval="")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(table, buffer.getvalue())


def kept_names(folder: str | os.PathLike[str]) -> set[str]:
    """The file names the manifests of `folder` mark kept (files that may since have gone included)."""
    names = set()
    for manifest in manifests(Path(folder)):
        for entry in _read(manifest).get("outputs", []):
            if isinstance(entry, dict) and entry.get(KEEP) is True and isinstance(entry.get("file"), str):
                names.add(entry["file"])
    return names


def previously_kept(folder: str | os.PathLike[str]) -> set[str]:
    """`kept_names`, or nothing when the folder's manifests are missing or damaged (they are about to be rewritten)."""
    try:
        return kept_names(folder)
    except FeedbackError:
        return set()


def kept_files(folder: str | os.PathLike[str]) -> list[Path]:
    """The kept melodies of `folder` that exist, sorted.

    Raises:
        FeedbackError: `folder` is not a folder, or holds no manifest.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FeedbackError(f"{folder}: not a folder; --kept takes a folder of outputs with a manifest.json")
    if not manifests(folder):
        raise FeedbackError(f"{folder}: no manifest.json here; mark melodies with: melodia keep {folder}/001.mid")
    return sorted(folder / name for name in kept_names(folder) if (folder / name).is_file())
