"""Training speed: melodia's training loop against a bare nn.LSTM loop of the same size and batch.

Both run the same model shape (embedding, 2-layer LSTM, tied projection), batch, bptt,
AdamW and gradient clipping for the same number of steps, in one run, taking turns in
chunks (`melodia.lm.bench.interleaved`) so that other work on the machine slows both alike.
melodia's figure includes its whole data path: its own loop (`melodia.lm.train`: slicing,
conditions, steps) and the epoch stream (order, augmentation, batching), which a real run
makes once an epoch: it is made once a round too, and its time spread over an epoch's steps.
The bare loop feeds one pre-made random tensor. Prints the median tokens/s of each and the
median over rounds of melodia / bare.

Usage: python scripts/bench_train.py [--corpus folk] [--steps 70] [--rounds 7] [--hidden 512] [--batch 32]
[--bptt 128] [--threads N] (the corpus is built first if it is not in the cache yet). On a machine
shared with other work, one thread (--threads 1) gives steadier rounds: with two, each step waits
for whichever thread the other work held up.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from pathlib import Path
from statistics import median

import torch
from torch import nn
from tqdm import tqdm

from melodia.corpus import build_corpus, find_recipe
from melodia.corpus.dataset import Augmentation
from melodia.corpus.reader import Corpus
from melodia.errors import MelodiaError
from melodia.lm import train as training
from melodia.lm.bench import interleaved, median_ratio
from melodia.lm.model import ModelConfig
from melodia.lm.train import TrainConfig


def bare_loop(vocab: int, embedding: int, hidden: int, batch: int, bptt: int, steps: int,
              device: torch.device | None = None) -> Callable[[], float]:
    """The plainest truncated-BPTT loop over one random tensor (with bf16 autocast on a GPU, as
    melodia trains there): a function that runs `steps` steps (the state carried from call to call)
    and returns the tokens they took."""
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
    state: tuple[torch.Tensor, ...] | None = None

    def chunk() -> float:
        nonlocal state
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
        return steps * batch * bptt

    return chunk


class MelodiaLoop:
    """melodia's training loop (`melodia.lm.train`'s own set-up and epoch loop), `steps` steps at a time.

    `steps_chunk` runs the loop's steps on the current epoch's stream; `stream_chunk` makes the next
    epoch's stream (order, transposition, rows), which a real run does once an epoch."""

    def __init__(self, config: TrainConfig, output: Path, steps: int) -> None:
        self.run = training._set_up(config, output, resume=False)
        self.steps = steps
        self.stream: tuple[torch.Tensor, torch.Tensor] | None = None
        # the loop asks for the epoch's stream at every call: it gets the one `stream_chunk` made
        self.run.train_data.rows = lambda epoch, rows, shuffle: self.stream  # type: ignore[assignment,return-value]
        self.bar = tqdm(disable=True)

    def stream_chunk(self) -> float:
        run = self.run
        self.stream = training.EpochStreams.rows(run.train_data, run.state.epoch,
                                                 run.config.batch_size * run.world, shuffle=True)
        return 1

    def steps_chunk(self) -> float:
        run = self.run
        if run.state.chunk >= run.steps_per_epoch:  # an epoch done: the next one, as `train` goes on (no validation)
            run.state.epoch, run.state.chunk, run.state.epoch_losses, run.carried = run.state.epoch + 1, 0, [], None
        tokens = run.state.tokens_seen
        run.state.done = False
        run.config = dataclasses.replace(run.config, max_steps=run.state.step + self.steps)
        training._train_epoch(run, self.bar)
        _synchronize(run.device)
        return run.state.tokens_seen - tokens


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="folk")
    parser.add_argument("--steps", type=int, default=70, help="steps of each side in all")
    parser.add_argument("--rounds", type=int, default=7, help="turns each side takes (steps / rounds a turn)")
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--embedding", type=int, default=256)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--bptt", type=int, default=128)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's own choice)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        corpus = Corpus.open(args.corpus)  # a cache carried to a machine without music21 is used as it is
    except MelodiaError:
        build_corpus(find_recipe(args.corpus), progress=False)
        corpus = Corpus.open(args.corpus)
    vocab = len(corpus.tokenizer)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")  # where melodia's train() runs
    chunk = max(1, args.steps // args.rounds)
    config = TrainConfig(corpus=args.corpus, model=ModelConfig(hidden_size=args.hidden, embedding_size=args.embedding),
                         augmentation=Augmentation(transpose=5), batch_size=args.batch, bptt=args.bptt,
                         max_steps=chunk * args.rounds, epochs=1_000_000, warmup_steps=10, checkpoint_minutes=1e9)
    bare = bare_loop(vocab, args.embedding, args.hidden, args.batch, args.bptt, chunk, device)
    with tempfile.TemporaryDirectory() as folder:
        ours = MelodiaLoop(config, Path(folder) / "bench.safetensors", chunk)
        ours.stream_chunk()
        ours.steps_chunk()  # warm up: the first steps of a fresh model and optimizer are slower, in both
        bare()
        rounds = interleaved({"melodia": ours.steps_chunk, "epoch stream": ours.stream_chunk, "bare": bare},
                             args.rounds)
    steps_per_epoch = ours.run.steps_per_epoch
    ours_rates = [tokens / (seconds + stream * chunk / steps_per_epoch) for tokens, seconds, stream in
                  zip(rounds.work["melodia"], rounds.seconds["melodia"], rounds.seconds["epoch stream"], strict=True)]
    ratios = [melodia_rate / bare_rate for melodia_rate, bare_rate in zip(ours_rates, rounds.rates("bare"),
                                                                          strict=True)]
    where = torch.cuda.get_device_name(device) + ", bf16 autocast" if device.type == "cuda" else \
        f"CPU, {torch.get_num_threads()} threads"
    print(f"2-layer LSTM, {args.hidden} units, embedding {args.embedding}, vocabulary {vocab}, batch {args.batch}, "
          f"bptt {args.bptt}, {args.rounds} rounds of {chunk} steps each side, {where}")
    print(f"melodia training loop ({args.corpus} corpus, transposition on): {median(ours_rates):10,.0f} tokens/s "
          f"(median; its epoch stream {median(rounds.seconds['epoch stream']):.2f} s an epoch of "
          f"{steps_per_epoch} steps, included)")
    print(f"bare nn.LSTM loop (random tokens):                     {rounds.median_rate('bare'):10,.0f} tokens/s "
          "(median)")
    print("ratio melodia / bare by round: " + " ".join(f"{r:.2f}" for r in ratios))
    print(f"ratio melodia / bare: {median_ratio(ours_rates, rounds.rates('bare')):.2f} (median over rounds)")


if __name__ == "__main__":
    main()
