"""Training speed: melodia's training loop against a bare nn.LSTM loop of the same size and batch.

Both run the same model shape (embedding, 2-layer LSTM, tied projection), batch, bptt,
AdamW and gradient clipping for the same number of steps, in one run. melodia's figure
includes its whole data path (epoch stream, augmentation, batching); the bare loop
feeds one pre-made random tensor. Prints tokens/s for each and melodia / bare.

Usage: python scripts/bench_train.py [--corpus folk] [--steps 60] [--hidden 512] [--batch 32] [--bptt 128]
(the corpus is built first if it is not in the cache yet)
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path

import torch
from torch import nn

from melodia.corpus import build_corpus, find_recipe
from melodia.corpus.dataset import Augmentation
from melodia.corpus.reader import Corpus
from melodia.errors import MelodiaError
from melodia.model import ModelConfig
from melodia.train import TrainConfig, train


def bare_loop(vocab: int, embedding: int, hidden: int, batch: int, bptt: int, steps: int,
              device: torch.device | None = None) -> float:
    """Tokens per second of the plainest truncated-BPTT loop over one random tensor (with
    bf16 autocast on a GPU, as melodia trains there)."""
    device = device or torch.device("cpu")
    torch.manual_seed(0)
    embed = nn.Embedding(vocab, embedding).to(device)
    lstm = nn.LSTM(embedding, hidden, 2, batch_first=True, dropout=0.2).to(device)
    bottleneck = nn.Linear(hidden, embedding).to(device)
    decoder = nn.Linear(embedding, vocab).to(device)
    decoder.weight = embed.weight
    parameters = [*embed.parameters(), *lstm.parameters(), *bottleneck.parameters(), decoder.bias]
    optimizer = torch.optim.AdamW(parameters, lr=3e-3, weight_decay=0.01)
    data = torch.randint(0, vocab, (batch, steps * bptt + 1), device=device)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else nullcontext()
    state = None
    _synchronize(device)
    start = time.perf_counter()
    for step in range(steps):
        inputs = data[:, step * bptt:(step + 1) * bptt]
        targets = data[:, step * bptt + 1:(step + 1) * bptt + 1]
        with autocast:
            output, state = lstm(embed(inputs), state)
            logits = decoder(bottleneck(output))
            loss = nn.functional.cross_entropy(logits.reshape(-1, vocab).float(), targets.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(parameters, 1.0)
        optimizer.step()
        state = tuple(s.detach() for s in state)
    _synchronize(device)
    return steps * batch * bptt / (time.perf_counter() - start)


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="folk")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--embedding", type=int, default=256)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--bptt", type=int, default=128)
    args = parser.parse_args(argv)
    try:
        corpus = Corpus.open(args.corpus)  # a cache carried to a machine without music21 is used as it is
    except MelodiaError:
        build_corpus(find_recipe(args.corpus), progress=False)
        corpus = Corpus.open(args.corpus)
    vocab = len(corpus.tokenizer)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")  # where melodia's train() runs
    config = TrainConfig(corpus=args.corpus, model=ModelConfig(hidden_size=args.hidden, embedding_size=args.embedding),
                         augmentation=Augmentation(transpose=5), batch_size=args.batch, bptt=args.bptt,
                         max_steps=args.steps, epochs=1, warmup_steps=10, checkpoint_minutes=1e9)
    bare_loop(vocab, args.embedding, args.hidden, args.batch, args.bptt, 5, device)  # warm up the kernels
    with tempfile.TemporaryDirectory() as folder:
        record = train(config, Path(folder) / "bench.safetensors", progress_bar=False)
    ours = record["training_tokens_per_s"]
    bare = bare_loop(vocab, args.embedding, args.hidden, args.batch, args.bptt, args.steps, device)
    where = torch.cuda.get_device_name(device) + ", bf16 autocast" if device.type == "cuda" else \
        f"CPU, {torch.get_num_threads()} threads"
    print(f"2-layer LSTM, {args.hidden} units, embedding {args.embedding}, vocabulary {vocab}, batch {args.batch}, "
          f"bptt {args.bptt}, {args.steps} steps, {where}")
    print(f"melodia training loop ({args.corpus} corpus, transposition on): {ours:10,.0f} tokens/s")
    print(f"bare nn.LSTM loop (random tokens):                     {bare:10,.0f} tokens/s")
    print(f"ratio melodia / bare: {ours / bare:.2f}")


if __name__ == "__main__":
    main()
