"""Sampling speed: melodia's sampler against a naive loop that steps nn.LSTM one token at a time.

Both use the same 2-layer LSTM (512 units, embedding 256) over the folk tokenizer's
vocabulary, in one run. The naive loop embeds, steps `nn.LSTM`, projects, softmaxes and
draws, one token at a time, with no grammar. melodia's sampler also computes the
grammar mask of every sequence at every step (EOS is masked so that every sequence runs
to full length in both). Prints tokens/s at batch 1 and batch 64
(aggregate), and the ratios the generation issue asks for.

Usage: python scripts/bench_generate.py [--tokens 300]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

import numpy as np
import torch

from melodia.corpus import find_recipe
from melodia.model import MelodyLM, ModelConfig
from melodia.sampler import SamplingConfig, sample
from melodia.tokenizers import BOS, EOS, GrammarState, Tokenizer, tokenizer_from_config


def naive(model: MelodyLM, tokens: int, batch: int) -> float:
    """Tokens/s of the plainest loop: nn.LSTM stepped one token at a time."""
    generator = torch.Generator().manual_seed(0)
    current = torch.full((batch, 1), BOS, dtype=torch.long)
    state = None
    start = time.perf_counter()
    with torch.no_grad():
        for _ in range(tokens):
            output, state = model.rnn(model.embedding(current), state)
            logits = model.decoder(model.bottleneck(output[:, -1]))
            current = torch.multinomial(torch.softmax(logits, dim=-1), 1, generator=generator)
    return tokens * batch / (time.perf_counter() - start)


def no_end(state: GrammarState, mask: np.ndarray) -> np.ndarray:
    """Keep every sequence going to full length, so both loops make the same number of tokens."""
    narrowed = mask.copy()
    narrowed[EOS] = False
    return narrowed


def ours(model: MelodyLM, tokenizer: Tokenizer, tokens: int, batch: int) -> float:
    """Tokens/s of melodia's sampler, grammar masks included."""
    start = time.perf_counter()
    sequences = sample(model, tokenizer, [BOS], batch, SamplingConfig(max_tokens=tokens + 1),
                       torch.Generator().manual_seed(0), [no_end])
    seconds = time.perf_counter() - start
    return sum(len(s) - 1 for s in sequences) / seconds


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=300, help="tokens per sequence")
    args = parser.parse_args(argv)
    tokenizer = tokenizer_from_config(find_recipe("folk").tokenizer)
    torch.manual_seed(0)
    model = MelodyLM(ModelConfig(len(tokenizer), 256, 512, 2)).eval()
    naive(model, 20, 1)  # warm up
    ours(model, tokenizer, 20, 1)
    naive_1 = naive(model, args.tokens, 1)
    ours_1 = ours(model, tokenizer, args.tokens, 1)
    naive_64 = naive(model, args.tokens, 64)
    ours_64 = ours(model, tokenizer, args.tokens, 64)
    print(f"2-layer LSTM, 512 units, vocabulary {len(tokenizer)}, {torch.get_num_threads()} threads, "
          f"{args.tokens} tokens a sequence")
    print(f"{'':30}{'batch 1 tokens/s':>18}{'batch 64 tokens/s':>20}")
    print(f"{'naive nn.LSTM loop':30}{naive_1:>18,.0f}{naive_64:>20,.0f}")
    print(f"{'melodia sampler (with grammar)':30}{ours_1:>18,.0f}{ours_64:>20,.0f}")
    print(f"batch 1, melodia / naive: {ours_1 / naive_1:.2f}x (goal 3x)")
    print(f"batch 64 melodia / naive at batch 1: {ours_64 / naive_1:.1f}x (goal 20x)")


if __name__ == "__main__":
    main()
