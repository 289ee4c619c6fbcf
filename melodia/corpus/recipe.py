"""Corpus recipes: which files make a corpus, how they are tokenized and how they are split.

A recipe is a small TOML file (see `corpora/`). Named recipes live in the repository's
`corpora/` folder, installed as the package `melodia.corpora` (or in `$MELODIA_CORPORA`);
any folder of music files gets a recipe made on the spot.
"""

from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from melodia.errors import MelodiaError
from melodia.io import music_files
from melodia.tokenizers import TokenizerConfig

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SOURCE_KINDS = ("music21", "folder", "jsb")


class RecipeError(MelodiaError):
    """A recipe file that cannot be used as it is."""


@dataclass(frozen=True)
class Source:
    """One collection of a corpus: a music21 corpus folder, a folder of files, or the JSB file."""

    collection: str
    kind: str
    location: Path
    patterns: tuple[str, ...] = ()
    steps_as: str = "held"  # the jsb kind only: see `melodia.io.jsb.read_jsb`

    def files(self) -> list[Path]:
        """The files of this source, sorted, so every build walks them in one order."""
        if self.kind == "jsb":
            return [self.location]
        if not self.location.is_dir():
            raise RecipeError(f"{self.location}: collection {self.collection!r} is not a folder")
        if not self.patterns:
            return music_files(self.location)
        return sorted({p for pattern in self.patterns for p in self.location.glob(pattern) if p.is_file()})


@dataclass(frozen=True)
class Recipe:
    """A named corpus: its sources, tokenizer settings and split rule."""

    name: str
    sources: tuple[Source, ...]
    tokenizer: TokenizerConfig
    valid_share: float = 0.05
    test_share: float = 0.05
    description: str = ""
    origin: str = field(default="", compare=False)

    def fingerprint(self) -> str:
        """Changes whenever a setting that shapes the tokens changes."""
        settings = f"{self.tokenizer.to_json()}|{self.valid_share}|{self.test_share}"
        return hashlib.sha256(settings.encode()).hexdigest()[:16]


def corpora_folder() -> Path:
    """Where named recipes live: `$MELODIA_CORPORA`, else the package's `melodia.corpora` (the repository's
    `corpora/` folder, shipped inside the package)."""
    configured = os.environ.get("MELODIA_CORPORA")
    if configured:
        return Path(configured)
    import melodia.corpora

    return Path(next(iter(melodia.corpora.__path__)))


def recipe_names() -> list[str]:
    return sorted(p.stem for p in corpora_folder().glob("*.toml") if p.stem != "folder")


def find_recipe(name_or_path: str) -> Recipe:
    """A named recipe (`folk`), a recipe file (`my.toml`) or a folder of music files."""
    path = Path(name_or_path)
    if path.suffix == ".toml":
        return load_recipe(path)
    if path.is_dir():
        return folder_recipe(path)
    named = corpora_folder() / f"{name_or_path}.toml"
    if named.is_file():
        return load_recipe(named)
    raise RecipeError(f"{name_or_path}: not a corpus name ({', '.join(recipe_names())}), "
                      "a recipe .toml file or a folder of music files")


def folder_recipe(folder: Path) -> Recipe:
    """The recipe `corpora/folder.toml` describes, for `folder`."""
    template = load_recipe(corpora_folder() / "folder.toml", with_sources=False)
    source = Source(folder.resolve().name or "folder", "folder", folder.resolve())
    return Recipe(folder.resolve().name or "folder", (source,), template.tokenizer, template.valid_share,
                  template.test_share, f"files under {folder}", str(folder))


def load_recipe(path: Path, with_sources: bool = True) -> Recipe:
    """Read a recipe TOML file, naming the file and the field of any mistake.

    Without `with_sources`, only its settings are read (for a template).
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise RecipeError(f"{path}: cannot read ({error.strerror or error})") from error
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise RecipeError(f"{path}: not valid TOML ({error})") from error
    _only(data, {"name", "description", "sources", "tokenizer", "split"}, path, "the recipe")
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise RecipeError(f"{path}: field 'name' must be a non-empty string")
    sources = data.get("sources")
    if not isinstance(sources, list) or not sources:
        raise RecipeError(f"{path}: needs at least one [[sources]] table")
    split = data.get("split", {})
    _only(split, {"valid", "test"}, path, "[split]")
    valid, test = split.get("valid", 0.05), split.get("test", 0.05)
    if not all(isinstance(v, (int, float)) and 0 <= v < 1 for v in (valid, test)) or valid + test >= 1:
        raise RecipeError(f"{path}: [split] valid = {valid!r}, test = {test!r}: shares in [0, 1) "
                          "adding up to less than 1")
    tokenizer = TokenizerConfig.from_dict(data.get("tokenizer", {}), f"{path}: [tokenizer]")
    resolved = tuple(_source(s, path) for s in sources) if with_sources else ()
    return Recipe(name, resolved, tokenizer, float(valid), float(test),
                  str(data.get("description", "")), str(path))


def _source(table: Any, path: Path) -> Source:
    if not isinstance(table, dict):
        raise RecipeError(f"{path}: each [[sources]] entry must be a table")
    _only(table, {"collection", "patterns", "steps_as", *SOURCE_KINDS}, path, "[[sources]]")
    kinds = [kind for kind in SOURCE_KINDS if kind in table]
    if len(kinds) != 1:
        raise RecipeError(f"{path}: a [[sources]] entry needs exactly one of {', '.join(SOURCE_KINDS)}")
    kind = kinds[0]
    collection = str(table.get("collection", table[kind]))
    patterns = tuple(str(p) for p in table.get("patterns", ()))
    if kind == "music21":
        import music21

        location = Path(music21.__file__).parent / "corpus" / str(table[kind])
    else:
        location = (path.parent / str(table[kind])).resolve()
    if not location.exists():
        raise RecipeError(f"{path}: source {collection!r}: {location} does not exist")
    steps_as = str(table.get("steps_as", "held"))
    if steps_as not in ("held", "struck"):
        raise RecipeError(f"{path}: source {collection!r}: steps_as = {steps_as!r}: expected 'held' or 'struck'")
    return Source(collection, kind, location, patterns, steps_as)


def _only(table: Any, allowed: set[str], path: Path, where: str) -> None:
    if not isinstance(table, dict):
        raise RecipeError(f"{path}: {where} must be a table")
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise RecipeError(f"{path}: unknown field {unknown[0]!r} in {where}; known: {', '.join(sorted(allowed))}")
