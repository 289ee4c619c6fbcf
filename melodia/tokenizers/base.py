"""The tokenizer base class: vocabulary, grammar, encode, decode, check, save and load.

Each scheme subclasses `Tokenizer` and supplies its vocabulary, its vectorized
encoder and its `GrammarState`, the one state machine that both masks the next
token while sampling and reads a sequence back into notes.
"""

from __future__ import annotations

import json
import os
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from melodia.errors import TokenizerError
from melodia.io.atomic import atomic_write_text
from melodia.score import Score
from melodia.tokenizers.config import TokenizerConfig
from melodia.tokenizers.grid import Grid, QuantizedScore

FORMAT = "melodia-tokenizer"
FORMAT_VERSION = 1
PAD, BOS, EOS = 0, 1, 2


class Vocabulary:
    """Token strings `Kind_value` (or `Kind` for a value of None) in one id range per kind."""

    def __init__(self, groups: Sequence[tuple[str, Sequence[Any]]]) -> None:
        self.tokens: list[str] = ["PAD", "BOS", "EOS"]
        self.kind_of: list[str] = ["PAD", "BOS", "EOS"]
        self.index_of: list[int] = [0, 0, 0]
        self.ranges: dict[str, tuple[int, int]] = {"PAD": (0, 1), "BOS": (1, 2), "EOS": (2, 3)}
        for kind, values in groups:
            start = len(self.tokens)
            self.tokens += [kind if value is None else f"{kind}_{value}" for value in values]
            self.kind_of += [kind] * len(values)
            self.index_of += list(range(len(values)))
            self.ranges[kind] = (start, len(self.tokens))
        self.ids = {token: index for index, token in enumerate(self.tokens)}

    def __len__(self) -> int:
        return len(self.tokens)

    def id(self, kind: str, index: int) -> int:
        return self.ranges[kind][0] + index

    def kinds_in(self, mask: np.ndarray) -> list[str]:
        return [kind for kind, (start, stop) in self.ranges.items() if mask[start:stop].any()]


class GrammarState(ABC):
    """Where a token sequence stands: which tokens may come next, and the notes so far."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        self.tokenizer = tokenizer
        self.vocab = tokenizer.vocab
        self.ended = False
        self.last_kind = "PAD"
        self.notes: list[tuple[int, int, int, int, int]] = []  # onset, duration, pitch, velocity bin, key
        self.meters: list[tuple[int, int, int]] = []
        self.tempos: list[tuple[int, int]] = []

    @abstractmethod
    def allowed(self) -> np.ndarray:
        """A boolean mask over the vocabulary: True for every token that may come next."""

    @abstractmethod
    def advance(self, token: int) -> None:
        """Take one token, which `allowed()` must permit."""

    def finish(self) -> QuantizedScore:
        """The notes read so far (a sequence cut short is closed where it stops)."""
        columns = np.asarray(self.notes, dtype=np.int64).reshape(-1, 5).T
        onset, duration, pitch, velocity_bin, key = columns
        order = np.lexsort((pitch, key, onset))
        return QuantizedScore(onset[order], duration[order], pitch[order], velocity_bin[order],
                              key[order], list(self.meters), list(self.tempos))

    def _mask(self, *kinds: str) -> np.ndarray:
        mask = np.zeros(len(self.vocab), dtype=bool)
        for kind in kinds:
            start, stop = self.vocab.ranges[kind]
            mask[start:stop] = True
        return mask


class Tokenizer(ABC):
    """Turns a `Score` into one canonical token sequence and back.

    `decode(encode(s)) == quantize(s)` for every score, and every sequence that
    `check` passes decodes without error.
    """

    scheme: ClassVar[str]
    pitch_kinds: ClassVar[tuple[str, ...]]  # the kinds of token that carry a pitch, the one that starts a note first
    supports_constraints: ClassVar[bool] = False  # whether generation's constraint masks read this grammar
    caps_durations: ClassVar[bool] = False  # a note longer than the longest Duration token is cut to it

    def __init__(self, config: TokenizerConfig) -> None:
        if config.scheme != self.scheme:
            raise TokenizerError(f"a {type(self).__name__} needs scheme {self.scheme!r}, "
                                 f"got {config.scheme!r}")
        self.config = config
        self.grid = Grid(config, cap_durations=self.caps_durations)
        self.vocab = Vocabulary(self._vocabulary_groups())

    @abstractmethod
    def _vocabulary_groups(self) -> list[tuple[str, Sequence[Any]]]:
        """(kind, values) in id order, after PAD, BOS and EOS."""

    @abstractmethod
    def encode_quantized(self, quantized: QuantizedScore) -> np.ndarray:
        """The token ids of a quantized score, BOS to EOS."""

    @abstractmethod
    def new_state(self) -> GrammarState:
        """A grammar state before the first token (BOS)."""

    def __len__(self) -> int:
        return len(self.vocab)

    def pitch_ids(self) -> np.ndarray:
        """The ids of the tokens that start a note, one per pitch, from the lowest pitch up."""
        start, stop = self.vocab.ranges[self.pitch_kinds[0]]
        return np.arange(start, stop)

    def pitch_id_ranges(self) -> list[tuple[int, int]]:
        """The id range of every kind of token that carries a pitch, each from the lowest pitch up."""
        return [self.vocab.ranges[kind] for kind in self.pitch_kinds]

    @property
    def meter_ids(self) -> dict[tuple[int, int], int]:
        return {meter: self.vocab.id("TimeSig", i) for i, meter in enumerate(self.grid.meters)}

    def _header(self, quantized: QuantizedScore) -> list[int]:
        """BOS, the initial time signature and (when tempo is on) the initial tempo."""
        header = [BOS, self.meter_ids[quantized.meters[0][1:]]]
        if self.config.tempo:
            header.append(self.vocab.id("Tempo", quantized.tempos[0][1]))
        return header

    def quantize(self, score: Score) -> Score:
        """What this tokenizer keeps of `score`: exactly what `decode(encode(score))` gives."""
        return self.grid.to_score(self.grid.quantize(score))

    def encode(self, score: Score) -> np.ndarray:
        """The token ids of `score` (int32), from BOS to EOS."""
        return self.encode_quantized(self.grid.quantize(score))

    def decode(self, tokens: Iterable[int]) -> Score:
        """Read a token sequence back into a `Score`.

        A sequence cut short (no EOS) decodes up to where it stops.

        Raises:
            TokenizerError: at the first token the grammar forbids.
        """
        state = self.new_state()
        for position, token in enumerate(tokens):
            problem = self._violation(state, int(token), position)
            if problem:
                raise TokenizerError(f"cannot decode: {problem}")
            state.advance(int(token))
        return self.grid.to_score(state.finish())

    def check(self, tokens: Iterable[int], complete: bool = True) -> list[str]:
        """Every grammar violation in `tokens`, one line each; empty when the sequence is valid.

        A forbidden token is reported and skipped. With `complete`, the sequence must end with EOS.
        """
        state = self.new_state()
        found = []
        for position, token in enumerate(tokens):
            problem = self._violation(state, int(token), position)
            if problem:
                found.append(problem)
            else:
                state.advance(int(token))
        if complete and not state.ended:
            found.append("the sequence does not end with EOS")
        return found

    def _violation(self, state: GrammarState, token: int, position: int) -> str:
        if not 0 <= token < len(self.vocab):
            return f"token {position}: id {token} is outside the vocabulary (0..{len(self.vocab) - 1})"
        mask = state.allowed()
        if mask[token]:
            return ""
        expected = ", ".join(self.vocab.kinds_in(mask)) or "nothing (the sequence has ended)"
        return (f"token {position}: {self.vocab.tokens[token]} may not follow {state.last_kind} here; "
                f"expected {expected}")

    def to_strings(self, tokens: Iterable[int]) -> list[str]:
        return [self.vocab.tokens[int(token)] for token in tokens]

    def to_ids(self, strings: Iterable[str]) -> np.ndarray:
        try:
            return np.asarray([self.vocab.ids[s] for s in strings], dtype=np.int32)
        except KeyError as error:
            raise TokenizerError(f"unknown token {error.args[0]!r}") from error

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "version": FORMAT_VERSION, "config": self.config.to_dict(),
                "vocabulary": self.vocab.tokens}

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Save config and vocabulary as one JSON file, atomically."""
        return atomic_write_text(path, json.dumps(self.to_dict(), indent=1) + "\n")


def interleave(rows: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Tokens of many rows, each row giving up to one token per column, in column order.

    `rows` is a list of columns (present, token id), each array as long as the rows.
    """
    present = np.stack([p for p, _ in rows])
    counts = present.sum(axis=0)
    starts = np.cumsum(counts) - counts
    out = np.empty(int(counts.sum()), dtype=np.int32)
    before = np.zeros_like(starts)
    for column, (is_present, token) in enumerate(rows):
        out[(starts + before)[is_present]] = token[is_present]
        before = before + present[column]
    return out
