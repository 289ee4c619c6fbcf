"""Build a corpus cache: parse and tokenize every piece of a recipe, on several processes.

Work is cut by source file. Each file's result (its pieces' tokens and metadata,
and the report of what was skipped or altered) is cached under a key made of the
file's bytes, the tokenizer settings and melodia's version, so a second build only
redoes what changed. The results are put together in recipe order, never in the
order workers finish, so the output is byte-identical for any number of workers.

Output, in the corpus folder:
    tokens.u16      every piece's tokens, BOS to EOS, end to end (uint16; memory-mapped)
    index.json      each piece: source, title, key, meter, form, notes, tokens, offset, split ...
    report.txt      every piece that was skipped or altered, and why
    tokenizer.json  the tokenizer (config and vocabulary)
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from melodia.analysis import estimate_key
from melodia.corpus.recipe import Recipe, Source
from melodia.errors import MelodiaError
from melodia.io.atomic import atomic_write_bytes, atomic_write_text
from melodia.io.music21 import patiently
from melodia.resources import cache_root
from melodia.score import Score
from melodia.theory.pitch import PITCH_CLASS_NAMES
from melodia.tokenizers import TokenizerConfig, tokenizer_from_config
from melodia.tokenizers.grid import DRUM_KEY, QuantizedScore
from melodia.version import __version__

# 3: pieces read as played (repeats expanded), each with its form;
# 2: music21 budgets in CPU time, retried once; ABC tunes get the standard's default L: and K:
CACHE_FORMAT = 3
TOKEN_DTYPE = np.uint16


def corpus_folder(name: str) -> Path:
    return cache_root() / "corpora" / name


@dataclass(frozen=True)
class Unit:
    """One source file to parse: the unit of work, and of caching."""

    collection: str
    kind: str
    path: Path
    name: str  # collection/relative path: stable across machines
    key: str
    steps_as: str = "held"


@dataclass
class BuildResult:
    folder: Path
    pieces: int
    skipped: int
    altered: int
    files_parsed: int
    files_cached: int
    seconds: float
    up_to_date: bool


def build_corpus(recipe: Recipe, workers: int | None = None, progress: bool = True,
                 folder: Path | None = None) -> BuildResult:
    """Build (or bring up to date) the cache of `recipe`; return what was done."""
    started = time.perf_counter()
    folder = folder or corpus_folder(recipe.name)
    parts = folder / "parts"
    parts.mkdir(parents=True, exist_ok=True)
    config_json = recipe.tokenizer.to_json()
    units = [unit for source in recipe.sources for unit in _units(source, config_json)]
    build_key = hashlib.sha256("|".join([recipe.fingerprint(), *(u.key for u in units)]).encode()).hexdigest()
    index_path = folder / "index.json"
    if index_path.is_file() and (folder / "tokens.u16").is_file():
        try:
            previous = json.loads(index_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            previous = {}
        if previous.get("build_key") == build_key:
            totals = previous["totals"]
            return BuildResult(folder, totals["pieces"], totals["skipped"], totals["altered"], 0, len(units),
                               time.perf_counter() - started, True)
    todo = [unit for unit in units if not (parts / f"{unit.key}.npz").is_file()]
    _parse_units(todo, recipe.tokenizer, parts, workers, progress, recipe.name)
    totals = _assemble(recipe, units, parts, folder, build_key)
    for stale in set(parts.glob("*.npz")) - {parts / f"{u.key}.npz" for u in units}:
        stale.unlink()
    return BuildResult(folder, totals["pieces"], totals["skipped"], totals["altered"], len(todo),
                       len(units) - len(todo), time.perf_counter() - started, False)


def _units(source: Source, config_json: str) -> Iterator[Unit]:
    root = source.location.parent if source.kind == "jsb" else source.location
    for path in source.files():
        name = f"{source.collection}/{path.relative_to(root).as_posix()}"
        digest = hashlib.sha256()
        for part in (str(CACHE_FORMAT), __version__, config_json, source.kind, source.steps_as, name):
            digest.update(part.encode() + b"\0")
        digest.update(path.read_bytes())
        yield Unit(source.collection, source.kind, path, name, digest.hexdigest()[:32], source.steps_as)


def _parse_units(todo: list[Unit], config: TokenizerConfig, parts: Path, workers: int | None,
                 progress: bool, name: str) -> None:
    if not todo:
        return
    from tqdm import tqdm

    workers = max(1, min(workers or os.cpu_count() or 1, len(todo)))
    bar = tqdm(total=len(todo), desc=f"building {name}", unit="file", disable=not progress)
    if workers == 1:
        for unit in todo:
            _store(parts, unit, parse_unit(unit, config.to_dict()))
            bar.update()
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(parse_unit, unit, config.to_dict()): unit for unit in todo}
            for future in as_completed(futures):
                _store(parts, futures[future], future.result())
                bar.update()
    bar.close()


def _store(parts: Path, unit: Unit, result: tuple[np.ndarray, dict[str, Any]]) -> None:
    tokens, meta = result
    buffer = io.BytesIO()
    np.savez(buffer, tokens=tokens, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))
    atomic_write_bytes(parts / f"{unit.key}.npz", buffer.getvalue())


# ---------------------------------------------------------------- one source file (in a worker)


def parse_unit(unit: Unit, config: dict[str, Any]) -> tuple[np.ndarray, dict[str, Any]]:
    """Tokenize every piece of one source file: (tokens end to end, {pieces, report})."""
    tokenizer = tokenizer_from_config(TokenizerConfig.from_dict(config))
    pieces: list[dict[str, Any]] = []
    arrays: list[np.ndarray] = []
    report: list[str] = []
    for number, (piece_id, load, extra) in enumerate(_pieces_of(unit)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                score = patiently(load)
                quantized = tokenizer.grid.quantize(score)
                if len(quantized.onset) == 0:
                    raise MelodiaError("no notes")
                tokens = tokenizer.encode_quantized(quantized)
            except MelodiaError as error:
                report.append(f"skipped {piece_id}: {_reason(error, unit)}")
                continue
            except Exception as error:  # a music21 failure inside a piece must not stop the build
                report.append(f"skipped {piece_id}: {type(error).__name__}: {str(error)[:160]}")
                continue
        pieces.append(_describe(piece_id, unit, number, score, quantized, tokens, extra))
        arrays.append(tokens.astype(TOKEN_DTYPE))
        notes_before = score.note_count
        reasons = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
        if notes_before > len(quantized.onset):
            reasons.append(f"kept {len(quantized.onset)} of {notes_before} notes (quantized, "
                           f"{'top line' if tokenizer.config.melody else 'duplicates merged'})")
        if reasons:
            report.append(f"altered {piece_id}: " + "; ".join(dict.fromkeys(r.replace("\n", " ") for r in reasons)))
    tokens = np.concatenate(arrays) if arrays else np.zeros(0, dtype=TOKEN_DTYPE)
    return tokens, {"pieces": pieces, "report": report}


def _reason(error: Exception, unit: Unit) -> str:
    text = str(error)
    return text.split(": ", 1)[1] if text.startswith(str(unit.path)) and ": " in text else text


def _pieces_of(unit: Unit) -> Iterator[tuple[str, Callable[[], Score], dict[str, Any]]]:
    """(piece id, a function that reads it, extra metadata) for each piece of a source file."""
    path, suffix = unit.path, unit.path.suffix.lower()
    if unit.kind == "jsb":
        from melodia.io.jsb import read_jsb

        for split, chorales in read_jsb(path, unit.steps_as).items():
            for number, (score, steps) in enumerate(chorales):
                yield f"{unit.name}#{split}{number}", _returning(score), {"split": split, "steps": steps}
    elif suffix == ".abc":
        from melodia.io.music21 import abc_tunes, score_from_text

        text = path.read_text(encoding="utf-8", errors="replace")
        for number, tune in enumerate(abc_tunes(text)):
            piece_id = f"{unit.name}#{number}"
            yield piece_id, partial(score_from_text, tune, "abc", piece_id), {}
    elif suffix in (".mid", ".midi", ".smf", ".kar", ".rmi"):
        from melodia.io.midi import read_midi

        yield unit.name, partial(read_midi, path), {}
    else:
        from melodia.io.music21 import read_music21_pieces

        try:
            scores = patiently(partial(read_music21_pieces, path))
        except MelodiaError as error:
            def fail(error: MelodiaError = error) -> Score:
                raise error
            yield unit.name, fail, {}
            return
        for number, score in enumerate(scores):
            yield (unit.name if len(scores) == 1 else f"{unit.name}#{number}"), _returning(score), {}


def _returning(score: Score) -> Callable[[], Score]:
    """A loader for a score already read."""
    return lambda: score


def _describe(piece_id: str, unit: Unit, number: int, score: Score, quantized: QuantizedScore,
              tokens: np.ndarray, extra: dict[str, Any]) -> dict[str, Any]:
    pitched = quantized.track_key != DRUM_KEY
    if score.key_signatures:
        tonic, mode, key_source = score.key_signatures[0].tonic, score.key_signatures[0].mode, "given"
    else:
        (tonic, mode), key_source = estimate_key(quantized.pitch[pitched], quantized.duration[pitched]), "estimated"
    content = hashlib.sha256()
    for column in (quantized.onset, quantized.duration, quantized.pitch, quantized.track_key):
        content.update(np.ascontiguousarray(column, dtype=np.int64).tobytes())
    numerator, denominator = quantized.meters[0][1:]
    return {
        "id": piece_id, "collection": unit.collection, "source": unit.name, "number": number,
        "title": score.title[:120], "key": f"{PITCH_CLASS_NAMES[tonic]} {mode}", "key_source": key_source,
        "meter": f"{numerator}/{denominator}", "notes": len(quantized.onset), "tokens": len(tokens),
        "pitch_low": int(quantized.pitch[pitched].min()) if pitched.any() else 0,
        "pitch_high": int(quantized.pitch[pitched].max()) if pitched.any() else 0,
        "content": content.hexdigest()[:24], **_form_fields(score), **extra,
    }


def _form_fields(score: Score) -> dict[str, Any]:
    """The form of a piece read with repeats: its strains as played ('AABB'), and whether it repeats
    any and has endings."""
    form = score.form
    return {"form": form.letters if form is not None else "", "repeats": bool(form and form.has_repeats),
            "endings": bool(form and form.has_endings)}


# ---------------------------------------------------------------- putting it together


def _assemble(recipe: Recipe, units: list[Unit], parts: Path, folder: Path, build_key: str) -> dict[str, int]:
    arrays, pieces, report = [], [], []
    per_collection: dict[str, Counter[str]] = {}
    offset = 0
    for unit in units:
        with np.load(parts / f"{unit.key}.npz") as stored:
            tokens, meta = stored["tokens"], json.loads(stored["meta"].tobytes())
        counts = per_collection.setdefault(unit.collection, Counter())
        counts["files"] += 1
        for piece in meta["pieces"]:
            piece["offset"] = offset
            piece.setdefault("split", _split(piece["content"], recipe))
            offset += piece["tokens"]
            counts["pieces"] += 1
        counts["skipped"] += sum(line.startswith("skipped") for line in meta["report"])
        counts["altered"] += sum(line.startswith("altered") for line in meta["report"])
        arrays.append(tokens)
        pieces += meta["pieces"]
        report += meta["report"]
    duplicates = sum(n - 1 for n in Counter(p["content"] for p in pieces).values() if n > 1)
    totals = {"pieces": len(pieces), "skipped": sum(c["skipped"] for c in per_collection.values()),
              "altered": sum(c["altered"] for c in per_collection.values()), "duplicates": duplicates,
              "tokens": offset}
    tokenizer = tokenizer_from_config(recipe.tokenizer)
    index = {"format": CACHE_FORMAT, "melodia": __version__, "name": recipe.name, "description": recipe.description,
             "build_key": build_key, "token_dtype": np.dtype(TOKEN_DTYPE).name, "totals": totals,
             "collections": {name: dict(sorted(c.items())) for name, c in per_collection.items()},
             "pieces": pieces}
    atomic_write_bytes(folder / "tokens.u16", np.concatenate(arrays).astype(TOKEN_DTYPE).tobytes()
                       if arrays else b"")
    tokenizer.save(folder / "tokenizer.json")
    atomic_write_text(folder / "report.txt", _report_text(recipe, totals, per_collection, report))
    atomic_write_text(folder / "index.json", json.dumps(index, indent=0, sort_keys=True) + "\n")
    return totals


def _split(content: str, recipe: Recipe) -> str:
    """Where a piece goes, from a hash of its notes: exact duplicates always land together."""
    share = int(content[:8], 16) / 0x1_0000_0000
    if share < recipe.test_share:
        return "test"
    return "valid" if share < recipe.test_share + recipe.valid_share else "train"


def _report_text(recipe: Recipe, totals: dict[str, int], per_collection: dict[str, Counter[str]],
                 report: list[str]) -> str:
    lines = [f"corpus {recipe.name}: {totals['pieces']} pieces built, {totals['skipped']} skipped, "
             f"{totals['altered']} altered, {totals['duplicates']} exact duplicates"]
    for name, counts in per_collection.items():
        tried = counts["pieces"] + counts["skipped"]
        lines.append(f"  {name}: {counts['files']} files, {counts['pieces']} of {tried} pieces built, "
                     f"{counts['skipped']} skipped, {counts['altered']} altered")
    return "\n".join([*lines, "", *report]) + "\n"

