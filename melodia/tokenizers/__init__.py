"""Tokenizers: a `Score` to one canonical token sequence and back, with a grammar."""

from melodia.tokenizers.base import (
    BOS,
    EOS,
    PAD,
    GrammarState,
    Tokenizer,
)
from melodia.tokenizers.config import TokenizerConfig
from melodia.tokenizers.metrical import MetricalTokenizer
from melodia.tokenizers.performance import PerformanceTokenizer
from melodia.tokenizers.schemes import load_tokenizer, tokenize, tokenizer_from_config, tokenizer_from_dict

__all__ = [
    "BOS",
    "EOS",
    "PAD",
    "GrammarState",
    "MetricalTokenizer",
    "PerformanceTokenizer",
    "Tokenizer",
    "TokenizerConfig",
    "load_tokenizer",
    "tokenize",
    "tokenizer_from_config",
    "tokenizer_from_dict",
]
