"""Feedback: the melodies a user keeps, discards or rates, marked in the manifest of the folder they are in.

The marks are two fields on a file's entry in a folder's manifest: `"keep": true` (kept) or
`"keep": false` (discarded), and `"rating"`, a whole number 1-5. Every manifest melodia writes has
the same shape; `melodia finetune --kept FOLDER` reads the kept ones, `melodia learn --feedback
FOLDER` all of them (see `melodia.lm.learn`):

    FOLDER/manifest.json   (or manifest-shard-I-of-N.json, or any manifest*.json)
    {
      "settings": {...},                      # free: whatever made the files (optional)
      "outputs": [
        {"file": "003.mid", "keep": true, ...},   # "file": a MIDI / ABC / MusicXML file,
        {"file": "004.mid", "keep": false, "rating": 2, ...},   # relative to FOLDER; other fields free
        {"file": "005.mid", ...},                 #   (not marked)
        ...
      ]
    }

`melodia generate` and `melodia batch` write such manifests (batch also writes
manifest.csv, whose `keep` column is updated alongside). A tool that collects kept
melodies into a folder of its own (the Jupyter studio's Keep button, say) writes the
melody file there and adds its entry with `"keep": true` to that folder's manifest.json,
creating the file as `{"outputs": [...]}` when it does not exist; `keep` does
exactly this. An entry without `keep`, or with `"keep": false`, is not kept.

    melodia keep out/003.mid            mark it (refused if no manifest of out/ lists it)
    melodia keep liked/tune.mid --add   mark it, adding an entry to liked/manifest.json if none lists it
    melodia keep out/003.mid --drop     take the mark off (the entry loses its "keep": neither kept nor discarded)
    melodia discard out/004.mid         mark it discarded: "keep": false
    melodia rate out/005.mid 4          rate it 1 (worst) to 5 (best): "rating": 4
    melodia finetune --from MODEL --kept out/ -o mine.safetensors
    melodia learn --from default --feedback out/ -o mine.safetensors

In Python: `keep`, `discard`, `rate` and `marks` (every marked file of a folder).
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from melodia.errors import MelodiaError
from melodia.io.atomic import atomic_write_text
from melodia.manifest import MANIFEST, Manifest, ManifestError, manifests

KEEP = "keep"
RATING = "rating"
RATINGS = range(1, 6)


class FeedbackError(MelodiaError):
    """A file that cannot be marked, or a manifest that cannot be read."""


def _read(path: Path, missing_ok: bool = False) -> Manifest:
    try:
        return Manifest.read(path, missing_ok)
    except ManifestError as error:
        raise FeedbackError(str(error)) from None


@dataclass(frozen=True)
class Mark:
    """What the user said of one file: kept (True), discarded (False) or neither (None), and a rating 1-5."""

    path: Path
    keep: bool | None = None
    rating: int | None = None
    settings: dict[str, Any] | None = field(default=None, compare=False)  # what made it, when a manifest says


def keep(path: str | os.PathLike[str], *, drop: bool = False, add: bool = True) -> list[Path]:
    """Mark `path` kept (or, with `drop`, take its keep or discard mark off) in every manifest of its folder
    that lists it; the manifests changed.

    A file no manifest lists gets an entry in its folder's manifest.json (made when missing)
    when it is marked kept and `add` is true, so a folder of melodies collected by hand works too.

    Raises:
        FeedbackError: `path` is not a file, a manifest of its folder is damaged, or (when `add` is
            false) no manifest of its folder lists it.
    """
    if drop and add and not _listed(Path(path)):
        return []  # nothing to take a mark off
    return _mark(path, {KEEP: None if drop else True}, add=add, command="melodia keep")


def discard(path: str | os.PathLike[str], add: bool = True) -> list[Path]:
    """Mark `path` discarded (`"keep": false`) in every manifest of its folder that lists it, as `keep`
    does, adding an entry to its folder's manifest.json when none lists it and `add` is true."""
    return _mark(path, {KEEP: False}, add=add, command="melodia discard")


def rate(path: str | os.PathLike[str], rating: int, add: bool = True) -> list[Path]:
    """Give `path` a rating, 1 (worst) to 5 (best), in every manifest of its folder that lists it, as
    `keep` does.

    Raises:
        FeedbackError: a rating outside 1-5, or what `keep` raises.
    """
    if isinstance(rating, bool) or not isinstance(rating, int) or rating not in RATINGS:
        raise FeedbackError(f"{path}: rating {rating!r}; a rating is a whole number from 1 (worst) to 5 (best)")
    return _mark(path, {RATING: rating}, add=add, command="melodia rate")


def _listed(path: Path) -> bool:
    """Whether a manifest of `path`'s folder lists it (False for a missing file: `_mark` says so)."""
    if not path.is_file():
        return True
    return any(_read(manifest).entries(path.name) for manifest in manifests(path.parent))


def _mark(path: str | os.PathLike[str], fields: dict[str, Any], add: bool, command: str) -> list[Path]:
    """Set `fields` on `path`'s entries in the manifests of its folder (one added to manifest.json if `add` and
    none lists it); the manifests changed."""
    path = Path(path)
    if not path.is_file():
        verb = command.split()[-1]
        raise FeedbackError(f"{path}: no such file to {verb}; pass a melody a manifest lists (out/003.mid)")
    changed = []
    for manifest in map(_read, manifests(path.parent)):
        entries = manifest.entries(path.name)
        if not entries:
            continue
        for entry in entries:
            entry.update({name: value for name, value in fields.items() if value is not None})
            for name in [name for name, value in fields.items() if value is None]:  # a mark taken off
                entry.pop(name, None)
        manifest.write()
        if KEEP in fields:
            _mark_csv(manifest.path.with_suffix(".csv"), path.name, fields[KEEP])
        changed.append(manifest.path)
    if not changed and not add:
        if command == "melodia keep" and fields[KEEP] is None:  # dropping a mark no manifest holds
            raise FeedbackError(f"{path}: no manifest lists it (looked in {path.parent / 'manifest*.json'}); "
                                "melodia keep marks the outputs of generate and batch")
        raise FeedbackError(f"{path}: no manifest lists it (looked in {path.parent / 'manifest*.json'}); "
                            f"{command} marks the outputs of generate and batch, or pass --add to list it in "
                            f"{path.parent / MANIFEST}")
    if not changed:
        manifest = _read(path.parent / MANIFEST, missing_ok=True)
        manifest.outputs.append({"file": path.name, **fields})
        changed.append(manifest.write())
    return changed


def _mark_csv(table: Path, name: str, keep: bool | None) -> None:
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
    return {name for manifest in manifests(Path(folder)) for name in _kept(_read(manifest))}


def previously_kept(folder: str | os.PathLike[str]) -> set[str]:
    """The file names the manifests of `folder` mark kept, read leniently (a batch run again is about to rewrite
    them): a damaged entry is left out, a manifest that cannot be read at all gives none, the others still count."""
    names: set[str] = set()
    for manifest in manifests(Path(folder)):
        try:
            names |= _kept(Manifest.read(manifest, lenient=True))
        except ManifestError:
            continue
    return names


def _kept(manifest: Manifest) -> set[str]:
    return {entry["file"] for entry in manifest.outputs if entry.get(KEEP) is True}


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


def marks(folder: str | os.PathLike[str]) -> list[Mark]:
    """The marked files of `folder` that exist (kept, discarded or rated), sorted by name; a file several
    manifests list counts once, its last marks winning.

    Raises:
        FeedbackError: `folder` is not a folder, holds no manifest, or a manifest is damaged.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FeedbackError(f"{folder}: not a folder; --feedback takes a folder of melodies with a manifest.json")
    if not manifests(folder):
        raise FeedbackError(f"{folder}: no manifest.json here; mark melodies with: melodia keep {folder}/001.mid "
                            f"or melodia discard {folder}/002.mid")
    found: dict[str, Mark] = {}
    for manifest in map(_read, manifests(folder)):
        for entry in manifest.outputs:
            name = entry["file"]
            if not (folder / name).is_file():
                continue
            keep = entry.get(KEEP) if isinstance(entry.get(KEEP), bool) else None
            rating = entry.get(RATING) if entry.get(RATING) in RATINGS and not isinstance(entry.get(RATING), bool) \
                else None
            if keep is not None or rating is not None:
                settings = entry.get("settings", manifest.settings)
                found[name] = Mark(folder / name, keep, rating, settings if isinstance(settings, dict) else None)
    return [found[name] for name in sorted(found)]
