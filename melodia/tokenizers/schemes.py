"""Every tokenizer scheme by its name, and a tokenizer read back from its config and vocabulary (a model
file's, or a saved JSON file). Above the schemes, so that the base class imports none of its subclasses."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from melodia.errors import TokenizerError
from melodia.io import read_score
from melodia.score import Score
from melodia.tokenizers.base import FORMAT, FORMAT_VERSION, Tokenizer
from melodia.tokenizers.config import TokenizerConfig
from melodia.tokenizers.metrical import MetricalTokenizer
from melodia.tokenizers.performance import PerformanceTokenizer

SCHEMES: dict[str, type[Tokenizer]] = {"metrical": MetricalTokenizer, "performance": PerformanceTokenizer}


def tokenizer_from_config(config: TokenizerConfig) -> Tokenizer:
    """The tokenizer of `config.scheme`."""
    return SCHEMES[config.scheme](config)


def tokenizer_from_dict(data: Any, source: str = "tokenizer") -> Tokenizer:
    """Rebuild a tokenizer from `Tokenizer.to_dict()`, checking format, version and vocabulary."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise TokenizerError(f"{source}: not a melodia tokenizer (no format {FORMAT!r})")
    if data.get("version") != FORMAT_VERSION:
        raise TokenizerError(f"{source}: tokenizer format version {data.get('version')!r}; this melodia "
                             f"reads version {FORMAT_VERSION}")
    if not isinstance(data.get("config"), dict):
        raise TokenizerError(f"{source}: missing 'config' object")
    tokenizer = tokenizer_from_config(TokenizerConfig.from_dict(data["config"], source))
    if data.get("vocabulary") != tokenizer.vocab.tokens:
        raise TokenizerError(f"{source}: its vocabulary differs from the one its config makes; "
                             "it was written by an incompatible melodia")
    return tokenizer


def load_tokenizer(path: str | os.PathLike[str]) -> Tokenizer:
    """Load a tokenizer saved with `Tokenizer.save`."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise TokenizerError(f"{path}: cannot read tokenizer JSON ({error})") from error
    return tokenizer_from_dict(data, str(path))


def tokenize(source: Score | str | os.PathLike[str], tokenizer: Tokenizer | None = None) -> list[str]:
    """What `melodia tokenize` prints: a score's (or a music file's) tokens, as words, by `tokenizer` (by default
    the metrical scheme's)."""
    score = source if isinstance(source, Score) else read_score(source)
    tokenizer = tokenizer or tokenizer_from_config(TokenizerConfig())
    return tokenizer.to_strings(tokenizer.encode(score))
