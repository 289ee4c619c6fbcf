"""A built corpus: its index, its tokens (memory-mapped) and its tokenizer."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from melodia.corpus.build import TOKEN_DTYPE, corpus_folder
from melodia.errors import MelodiaError
from melodia.score import Score
from melodia.tokenizers import Tokenizer, load_tokenizer

SPLITS = ("train", "valid", "test")


class CorpusError(MelodiaError):
    """A corpus that is not built, or whose cache is damaged."""


class Corpus:
    """Read access to a corpus cache written by `build_corpus`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        index_path = folder / "index.json"
        if not index_path.is_file():
            raise CorpusError(f"{folder}: no corpus built here; run: melodia corpus build {folder.name}")
        try:
            self.index: dict[str, Any] = json.loads(index_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise CorpusError(f"{index_path}: unreadable index ({error}); rebuild the corpus") from error
        self.name: str = self.index["name"]
        self.pieces: list[dict[str, Any]] = self.index["pieces"]
        self.tokenizer: Tokenizer = load_tokenizer(folder / "tokenizer.json")
        size = (folder / "tokens.u16").stat().st_size // np.dtype(TOKEN_DTYPE).itemsize
        if size != self.index["totals"]["tokens"]:
            raise CorpusError(f"{folder / 'tokens.u16'}: holds {size} tokens, the index says "
                              f"{self.index['totals']['tokens']}; rebuild the corpus")
        self.tokens = (np.memmap(folder / "tokens.u16", dtype=TOKEN_DTYPE, mode="r") if size
                       else np.zeros(0, dtype=TOKEN_DTYPE))

    @classmethod
    def open(cls, name_or_folder: str | Path) -> Corpus:
        """A corpus by name (in the cache) or by the folder it was built into."""
        path = Path(name_or_folder)
        if (path / "index.json").is_file():
            return cls(path)
        return cls(corpus_folder(str(name_or_folder)))

    def split(self, split: str) -> list[dict[str, Any]]:
        if split not in SPLITS:
            raise CorpusError(f"split {split!r}: expected one of {', '.join(SPLITS)}")
        return [piece for piece in self.pieces if piece["split"] == split]

    def piece_tokens(self, piece: dict[str, Any]) -> np.ndarray:
        return np.asarray(self.tokens[piece["offset"]:piece["offset"] + piece["tokens"]])

    def scores(self, split: str | None = None) -> list[tuple[str, Score]]:
        """(piece id, decoded `Score`) of every piece, or of one split."""
        pieces = self.pieces if split is None else self.split(split)
        return [(piece["id"], self.tokenizer.decode(self.piece_tokens(piece))) for piece in pieces]

    def content_hash(self) -> str:
        """Identifies exactly these pieces and tokens (model files record it)."""
        return str(self.index["build_key"])[:16]

    def stats(self) -> dict[str, Any]:
        """Pieces, notes and tokens per split and per collection, and how much of the vocabulary is used."""
        per_split = {split: {"pieces": 0, "notes": 0, "tokens": 0} for split in SPLITS}
        per_collection: dict[str, Counter[str]] = {}
        for piece in self.pieces:
            for counts in (per_split[piece["split"]], per_collection.setdefault(piece["collection"], Counter())):
                counts["pieces"] += 1
                counts["notes"] += piece["notes"]
                counts["tokens"] += piece["tokens"]
        counts_by_token = np.bincount(self.tokens, minlength=len(self.tokenizer)) if len(self.tokens) else \
            np.zeros(len(self.tokenizer), dtype=np.int64)
        vocab = self.tokenizer.vocab
        unused_kinds = {kind: int((counts_by_token[start:stop] == 0).sum()) for kind, (start, stop)
                        in vocab.ranges.items() if kind != "PAD"}
        totals = self.index["totals"]
        return {
            "name": self.name, "pieces": totals["pieces"], "skipped": totals["skipped"],
            "altered": totals["altered"], "duplicates": totals["duplicates"],
            "notes": sum(s["notes"] for s in per_split.values()), "tokens": totals["tokens"],
            "with_repeats": sum(bool(p.get("repeats")) for p in self.pieces),
            "with_endings": sum(bool(p.get("endings")) for p in self.pieces),
            "vocabulary": len(vocab), "vocabulary_used": int((counts_by_token > 0).sum()),
            "unused_by_kind": {k: v for k, v in unused_kinds.items() if v},
            "splits": per_split, "collections": {k: dict(v) for k, v in per_collection.items()},
            "built": self.index["collections"],
        }


def corpus_stats(name_or_folder: str | Path) -> dict[str, Any]:
    """What `melodia corpus stats` prints of a built corpus: pieces, notes, tokens, vocabulary use, splits."""
    return Corpus.open(name_or_folder).stats()


def format_stats(stats: dict[str, Any]) -> str:
    """`Corpus.stats()` as a short readable table."""
    lines = [f"corpus {stats['name']}: {stats['pieces']} pieces ({stats['skipped']} skipped, "
             f"{stats['altered']} altered, {stats['duplicates']} exact duplicates), {stats['notes']} notes, "
             f"{stats['tokens']} tokens",
             f"form: {stats['with_repeats']} pieces with repeats, {stats['with_endings']} with first and second "
             "endings (read as played)",
             f"vocabulary: {stats['vocabulary_used']} of {stats['vocabulary']} tokens used",
             f"{'split':10}{'pieces':>9}{'notes':>11}{'tokens':>12}"]
    for split, counts in stats["splits"].items():
        lines.append(f"{split:10}{counts['pieces']:>9}{counts['notes']:>11}{counts['tokens']:>12}")
    lines.append(f"{'collection':14}{'files':>7}{'built':>8}{'skipped':>9}{'altered':>9}")
    for name, counts in stats["built"].items():
        lines.append(f"{name:14}{counts.get('files', 0):>7}{counts.get('pieces', 0):>8}"
                     f"{counts.get('skipped', 0):>9}{counts.get('altered', 0):>9}")
    return "\n".join(lines)
