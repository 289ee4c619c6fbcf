"""Corpus recipes: which files make a corpus, how they are tokenized and how they are split.

A recipe is a small TOML file (see `corpora/`). Named recipes live in the repository's
`corpora/` folder, installed as the package `melodia.corpora` (or in `$MELODIA_CORPORA`);
any folder of music files gets a recipe made on the spot.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from melodia.errors import MelodiaError
from melodia.io import music_files
from melodia.settings import Fields, read_file
from melodia.tokenizers import TokenizerConfig

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


def corpus_names() -> list[str]:
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
    raise RecipeError(f"{name_or_path}: not a corpus name ({', '.join(corpus_names())}), "
                      "a recipe .toml file or a folder of music files")


def folder_recipe(folder: Path) -> Recipe:
    """The recipe `corpora/folder.toml` describes, for `folder`."""
    template = load_recipe(corpora_folder() / "folder.toml", with_sources=False)
    source = Source(folder.resolve().name or "folder", "folder", folder.resolve())
    return Recipe(name=folder.resolve().name or "folder", sources=(source,), tokenizer=template.tokenizer,
                  valid_share=template.valid_share, test_share=template.test_share,
                  description=f"files under {folder}", origin=str(folder))


def load_recipe(path: Path, with_sources: bool = True) -> Recipe:
    """Read a recipe TOML file, naming the file and the field of any mistake.

    Without `with_sources`, only its settings are read (for a template).
    """
    fields = Fields(path, read_file(path, RecipeError), RecipeError)
    name = fields.take("name", str)
    if not name:
        raise fields.fail("field 'name' must be a non-empty string")
    description = fields.take("description", str, "")
    sources = fields.take("sources", list, [])
    if not sources:
        raise fields.fail("needs at least one [[sources]] table")
    valid, test = _split(Fields(path, fields.take("split", dict, {}), RecipeError, "split"))
    tokenizer = TokenizerConfig.from_dict(fields.take("tokenizer", dict, {}), f"{path}: [tokenizer]")
    fields.done()
    resolved = tuple(_source(Fields(path, table, RecipeError, f"sources[{index}]"))
                     for index, table in enumerate(sources)) if with_sources else ()
    return Recipe(name=name, sources=resolved, tokenizer=tokenizer, valid_share=valid, test_share=test,
                  description=description, origin=str(path))


def _split(fields: Fields) -> tuple[float, float]:
    """The [split] table's valid and test shares."""
    valid, test = fields.take("valid", int | float, 0.05), fields.take("test", int | float, 0.05)
    fields.done()
    if not all(0 <= v < 1 for v in (valid, test)) or valid + test >= 1:
        raise fields.fail(f"[split] valid = {valid!r}, test = {test!r}: shares in [0, 1) adding up to less than 1")
    return float(valid), float(test)


def _source(fields: Fields) -> Source:
    kinds = [kind for kind in SOURCE_KINDS if kind in fields.table]
    if len(kinds) != 1:
        raise fields.fail(f"{fields.where} needs exactly one of {', '.join(SOURCE_KINDS)}")
    kind = kinds[0]
    place = str(fields.take(kind, str | int))
    collection = str(fields.take("collection", str, place))
    patterns = tuple(str(p) for p in fields.take("patterns", list, []))
    steps_as = fields.take("steps_as", str, "held")
    fields.done()
    if kind == "music21":
        import music21

        location = Path(music21.__file__).parent / "corpus" / place
    else:
        location = (fields.path.parent / place).resolve()
    if not location.exists():
        raise fields.fail(f"source {collection!r}: {location} does not exist")
    if steps_as not in ("held", "struck"):
        raise fields.fail(f"source {collection!r}: steps_as = {steps_as!r}: expected 'held' or 'struck'")
    return Source(collection=collection, kind=kind, location=location, patterns=patterns, steps_as=steps_as)
