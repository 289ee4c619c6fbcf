"""Torch datasets over a built corpus, with augmentation applied on the fly.

Each piece runs BOS ... EOS, so piece boundaries stay marked inside fixed-length
windows. Augmentation moves whole windows or pieces: a random transposition that
keeps every pitched note inside the tokenizer's pitch range (drums never move), and
an optional tempo shift by whole tempo levels. Only pieces of the requested split are
ever read, so augmentation cannot carry a piece across splits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from melodia.corpus.reader import Corpus
from melodia.tokenizers import PAD, Tokenizer


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
        kinds = ("NoteOn", "NoteOff") if tokenizer.config.scheme == "performance" else ("Pitch",)
        self.pitch_of = np.full(len(vocab), -1, dtype=np.int64)
        for kind in kinds:
            start, stop = vocab.ranges[kind]
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

    def transposed(self, tokens: np.ndarray, pitched: np.ndarray, shift: int) -> np.ndarray | None:
        """`tokens` moved by `shift` semitones, or None when a note would leave the pitch range."""
        lowest, highest = self.shift_range(tokens, pitched)
        if not lowest <= shift <= highest:
            return None
        moved = tokens.astype(np.int64)
        moved[pitched] += shift
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


class TokenDataset(Dataset[torch.Tensor]):
    """Examples from one split: fixed-length windows, or whole pieces.

    With `window`, the split's pieces are laid end to end and cut into examples of
    `window + 1` tokens (inputs are the first `window`, targets the last `window`).
    Without it, each example is one whole piece (cut to `max_tokens` when given).
    Augmentation is drawn from (seed, epoch, index), so it is reproducible; call
    `set_epoch` each epoch for fresh draws.
    """

    def __init__(self, corpus: Corpus, split: str, window: int | None = 256,
                 augmentation: Augmentation = Augmentation(), seed: int = 0, max_tokens: int | None = None) -> None:
        self.pieces = corpus.split(split)
        self.window = window
        self.augmentation = augmentation
        self.seed = seed
        self.epoch = 0
        self.max_tokens = max_tokens
        self.pitch_map = PitchMap(corpus.tokenizer)
        self.piece_tokens = [corpus.piece_tokens(piece) for piece in self.pieces]
        stream = np.concatenate(self.piece_tokens) if self.piece_tokens else np.zeros(0, dtype=np.uint16)
        self.stream = stream.astype(np.int64)
        self.stream_pitched = self.pitch_map.pitched(self.stream)
        self.piece_starts = np.cumsum([0] + [len(t) for t in self.piece_tokens])

    def __len__(self) -> int:
        if self.window:
            return max(0, (len(self.stream) - 1) // self.window)
        return len(self.pieces)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __getitem__(self, index: int) -> torch.Tensor:
        if self.window:
            start, stop = index * self.window, index * self.window + self.window + 1
        else:
            start = int(self.piece_starts[index])
            stop = int(self.piece_starts[index + 1])
            if self.max_tokens:
                stop = min(stop, start + self.max_tokens)
        tokens, pitched = self.stream[start:stop], self.stream_pitched[start:stop]
        if self.augmentation.transpose or self.augmentation.tempo_levels:
            rng = np.random.default_rng((self.seed, self.epoch, index))
            tokens = augment(tokens, pitched, self.pitch_map, self.augmentation, rng)
        return torch.from_numpy(np.ascontiguousarray(tokens))


def pad_pieces(batch: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad whole pieces with PAD into one (batch, longest) tensor; also return their lengths."""
    lengths = torch.tensor([len(piece) for piece in batch])
    padded = torch.full((len(batch), int(lengths.max())), PAD, dtype=torch.long)
    for row, piece in enumerate(batch):
        padded[row, :len(piece)] = piece
    return padded, lengths


def make_loader(dataset: TokenDataset, batch_size: int, shuffle: bool = True, seed: int = 0,
                num_workers: int = 0) -> DataLoader:
    """A DataLoader over `dataset`: stacked windows, or padded pieces with their lengths."""
    generator = torch.Generator().manual_seed(seed)
    collate = None if dataset.window else pad_pieces
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator,
                      num_workers=num_workers, collate_fn=collate, drop_last=bool(dataset.window) and shuffle)
