"""Augmentation of training pieces, applied on the fly to their tokens.

Augmentation moves whole pieces: a random transposition that keeps every pitched note
inside the tokenizer's pitch range (drums never move), and an optional tempo shift by
whole tempo levels. Training (`melodia.lm.train`) draws it per piece and epoch, only from
the pieces of the split it reads, so augmentation cannot carry a piece across splits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from melodia.tokenizers import Tokenizer


@dataclass(frozen=True)
class Augmentation:
    """Random changes made to each training example.

    Attributes:
        transpose: largest transposition each way, in semitones (0 for none).
        tempo_levels: largest tempo change each way, in tempo levels (0 for none).
    """

    transpose: int = 0
    tempo_levels: int = 0


class PitchMap:
    """Which token ids are pitches, and which of those a transposition may move."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        vocab = tokenizer.vocab
        self.low, self.high = tokenizer.config.pitch_range
        self.pitch_of = np.full(len(vocab), -1, dtype=np.int64)
        for start, stop in tokenizer.pitch_id_ranges():
            self.pitch_of[start:stop] = np.arange(self.low, self.high + 1)
        self.program_range = vocab.ranges.get("Program")
        self.drums = self.program_range[1] - 1 if self.program_range else -1
        self.tempo_range = vocab.ranges.get("Tempo")

    def shift_range(self, tokens: np.ndarray, pitched: np.ndarray) -> tuple[int, int]:
        """The smallest and largest transposition (semitones) that keep every pitched note in range."""
        if not pitched.any():
            return 0, 0
        pitches = self.pitch_of[tokens[pitched]]
        return self.low - int(pitches.min()), self.high - int(pitches.max())

    def transposed(self, tokens: np.ndarray, pitched: np.ndarray, shift: int) -> np.ndarray:
        """`tokens` moved by `shift` semitones, up to (not including) the first note it would take out of the
        pitch range: the whole sequence when every note stays in range."""
        pitch = self.pitch_of[tokens] + shift
        outside = np.flatnonzero(pitched & ((pitch < self.low) | (pitch > self.high)))
        moved = tokens[:int(outside[0]) if len(outside) else len(tokens)].astype(np.int64)
        moved[pitched[:len(moved)]] += shift
        return moved

    def pitched(self, tokens: np.ndarray) -> np.ndarray:
        """True for pitch tokens of pitched instruments (a drum's pitch follows Program_Drums)."""
        is_pitch = self.pitch_of[tokens] >= 0
        if self.program_range is None:
            return is_pitch
        start, stop = self.program_range
        is_program = (tokens >= start) & (tokens < stop)
        last_program = np.maximum.accumulate(np.where(is_program, np.arange(len(tokens)), -1))
        in_drums = (last_program >= 0) & (tokens[np.maximum(last_program, 0)] == self.drums)
        return is_pitch & ~in_drums


def augment(tokens: np.ndarray, pitched: np.ndarray, pitch_map: PitchMap, augmentation: Augmentation,
            rng: np.random.Generator) -> np.ndarray:
    """A transposed (and tempo-shifted) copy of `tokens`; every note stays in the pitch range."""
    tokens = tokens.astype(np.int64)
    if augmentation.transpose and pitched.any():
        lowest, highest = pitch_map.shift_range(tokens, pitched)
        lowest, highest = max(lowest, -augmentation.transpose), min(highest, augmentation.transpose)
        if highest >= lowest:
            tokens[pitched] += int(rng.integers(lowest, highest + 1))
    if augmentation.tempo_levels and pitch_map.tempo_range is not None:
        start, stop = pitch_map.tempo_range
        is_tempo = (tokens >= start) & (tokens < stop)
        shift = int(rng.integers(-augmentation.tempo_levels, augmentation.tempo_levels + 1))
        tokens[is_tempo] = np.clip(tokens[is_tempo] + shift, start, stop - 1)
    return tokens
