"""Sampling speed: melodia's sampler against a naive loop that steps nn.LSTM one token at a time.

Both use the same 2-layer LSTM (512 units, embedding 256) over the folk tokenizer's
vocabulary, in one run. The naive loop embeds, steps `nn.LSTM`, projects, softmaxes and
draws, one token at a time, with no grammar. melodia's sampler also computes the
grammar mask of every sequence at every step (EOS is masked so that every sequence runs
to full length in both). The four loops take turns (`melodia.lm.bench.interleaved`), so that other
work on the machine slows them alike. Prints the median tokens/s at batch 1 and batch 64
(aggregate), and the ratios the generation issue asks for (median over rounds).

Usage: python scripts/bench_generate.py [--tokens 300] [--rounds 5]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import numpy as np
import torch

from melodia.corpus import find_recipe
from melodia.lm.bench import interleaved
from melodia.lm.model import MelodyLM, ModelConfig
from melodia.lm.sampler import SamplingConfig, sample
from melodia.tokenizers import BOS, EOS, GrammarState, Tokenizer, tokenizer_from_config


def naive(model: MelodyLM, tokens: int, batch: int) -> float:
    """The plainest loop, nn.LSTM stepped one token at a time; the tokens it made."""
    generator = torch.Generator().manual_seed(0)
    current = torch.full((batch, 1), BOS, dtype=torch.long)
    state = None
    with torch.no_grad():
        for _ in range(tokens):
            output, state = model.rnn(model.embedding(current), state)
            logits = model.decoder(model.bottleneck(output[:, -1]))
            current = torch.multinomial(torch.softmax(logits, dim=-1), 1, generator=generator)
    return tokens * batch


def no_end(state: GrammarState, mask: np.ndarray) -> np.ndarray:
    """Keep every sequence going to full length, so both loops make the same number of tokens."""
    narrowed = mask.copy()
    narrowed[EOS] = False
    return narrowed


def ours(model: MelodyLM, tokenizer: Tokenizer, tokens: int, batch: int) -> float:
    """melodia's sampler, grammar masks included; the tokens it made."""
    sequences = sample(model, tokenizer, [BOS], batch, SamplingConfig(max_tokens=tokens + 1),
                       torch.Generator().manual_seed(0), [no_end])
    return sum(len(s) - 1 for s in sequences)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=300, help="tokens per sequence")
    parser.add_argument("--rounds", type=int, default=5, help="turns each loop takes")
    args = parser.parse_args(argv)
    tokenizer = tokenizer_from_config(find_recipe("folk").tokenizer)
    torch.manual_seed(0)
    model = MelodyLM(ModelConfig(len(tokenizer), 256, 512, 2)).eval()
    naive(model, 20, 1)  # warm up
    ours(model, tokenizer, 20, 1)
    rounds = interleaved({"naive 1": lambda: naive(model, args.tokens, 1),
                          "ours 1": lambda: ours(model, tokenizer, args.tokens, 1),
                          "naive 64": lambda: naive(model, args.tokens, 64),
                          "ours 64": lambda: ours(model, tokenizer, args.tokens, 64)}, args.rounds)
    rate = {side: rounds.median_rate(side) for side in rounds.work}
    print(f"2-layer LSTM, 512 units, vocabulary {len(tokenizer)}, {torch.get_num_threads()} threads, "
          f"{args.tokens} tokens a sequence, {args.rounds} rounds (medians)")
    print(f"{'':30}{'batch 1 tokens/s':>18}{'batch 64 tokens/s':>20}")
    print(f"{'naive nn.LSTM loop':30}{rate['naive 1']:>18,.0f}{rate['naive 64']:>20,.0f}")
    print(f"{'melodia sampler (with grammar)':30}{rate['ours 1']:>18,.0f}{rate['ours 64']:>20,.0f}")
    print(f"batch 1, melodia / naive: {rounds.ratio('ours 1', 'naive 1'):.2f}x (goal 3x)")
    print(f"batch 64 melodia / naive at batch 1: {rounds.ratio('ours 64', 'naive 1'):.1f}x (goal 20x)")


if __name__ == "__main__":
    main()
