"""The JSB Chorales benchmark: test NLL per quarter-note step, beside the published table.

1. builds the `jsb` corpus (the published train / valid / test split),
2. trains on train with the settings in scripts/bench_jsb.toml (transposition augmentation,
   a fixed number of steps from a fixed seed, the best valid epoch kept), and saves the model
   file; the training's CPU time is reported, and nothing about the machine changes the figure,
3. chooses on valid how many transpositions to average over at test time,
4. scores the test chorales once: total NLL (nats) / total quarter-note steps, and the
   n-gram baseline (order chosen on valid) on the same split,
5. writes the test chorales as MIDI and checks that `melodia evaluate` on them gives the
   same total.

Usage: python scripts/bench_jsb.py [-o jsb.safetensors] [--config scripts/bench_jsb.toml] [--skip-training]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from melodia.corpus import build_corpus, find_recipe
from melodia.corpus.reader import Corpus
from melodia.evaluate import transposition_average_nll
from melodia.io import write_score
from melodia.io.jsb import read_jsb
from melodia.modelfile import load_model
from melodia.ngram import choose_order
from melodia.train import TrainConfig, train

HERE = Path(__file__).resolve().parent
PUBLISHED = [("tanh RNN (Bai et al. 2018)", 8.91), ("LSTM (Bai et al. 2018)", 8.45), ("GRU (Bai et al. 2018)", 8.43),
             ("TCN (Bai et al. 2018)", 8.10), ("RRU (Zakovskis et al. 2021)", 7.72),
             ("DBN+LSTM (Vohra et al. 2015)", 3.47)]


def per_step(corpus: Corpus, split: str, nll: list[float]) -> float:
    return sum(nll) / sum(piece["steps"] for piece in corpus.split(split))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", default="jsb.safetensors", help="where to save the model file")
    parser.add_argument("--config", default=str(HERE / "bench_jsb.toml"), help="training settings")
    parser.add_argument("--skip-training", action="store_true", help="score an existing model file")
    args = parser.parse_args(argv)
    started = time.monotonic()
    build_corpus(find_recipe("jsb"), progress=False)
    corpus = Corpus.open("jsb")
    output = Path(args.output)
    config = TrainConfig.from_file(Path(args.config))
    if not args.skip_training:
        train(config, output, resume=output.with_name(output.name + ".ckpt").exists() and not output.exists())
    model, tokenizer, record = load_model(output)

    def tokens(split: str) -> list:
        return [corpus.piece_tokens(piece) for piece in corpus.split(split)]

    valid_by_shifts = {k: per_step(corpus, "valid", transposition_average_nll(model, tokenizer, tokens("valid"), k))
                       for k in (0, 1, 2, 3, 4, 5, 6)}
    shifts = min(valid_by_shifts, key=valid_by_shifts.__getitem__)
    test_nll = transposition_average_nll(model, tokenizer, tokens("test"), shifts)
    test_plain = per_step(corpus, "test", transposition_average_nll(model, tokenizer, tokens("test"), 0))
    ngram, by_order = choose_order(tokens("train"), tokens("valid"), len(tokenizer))
    ngram_test = per_step(corpus, "test", [ngram.nll(t) for t in tokens("test")])
    ours = per_step(corpus, "test", test_nll)
    with tempfile.TemporaryDirectory() as folder:
        source = find_recipe("jsb").sources[0]
        for number, (score, _) in enumerate(read_jsb(source.location, source.steps_as)["test"]):
            write_score(score, Path(folder) / f"test{number:02d}.mid")
        result = subprocess.run([sys.executable, "-m", "melodia.cli", "evaluate", "--model", str(output), folder,
                                 "--transpositions", str(shifts), "--json"], capture_output=True, text=True)
        if result.returncode != 0:
            raise SystemExit(f"melodia evaluate failed: {result.stderr}")
        command_total = json.loads(result.stdout)["total"]["nll"]
    steps = sum(piece["steps"] for piece in corpus.split("test"))
    print(f"JSB Chorales, test split: {len(corpus.split('test'))} chorales, {steps} quarter-note steps")
    print(f"model: {record['config']['layers']}-layer {record['config']['cell'].upper()}, "
          f"{record['config']['hidden_size']} units, {record['parameters']:,} parameters, {record['steps']} steps, "
          f"best valid {record['valid_loss']:.4f} nats/token at epoch {record['best_epoch'] + 1}; trained in "
          + (f"{record['cpu_minutes']:.1f} CPU-minutes" if "cpu_minutes" in record else "(CPU time not recorded)"))
    print("valid NLL per step by transpositions averaged: "
          + ", ".join(f"+-{k}: {v:.3f}" for k, v in valid_by_shifts.items()) + f" -> chose +-{shifts}")
    print("n-gram orders on valid (nats/token): " + ", ".join(f"{k}: {v:.3f}" for k, v in by_order.items()))
    print()
    print(f"{'model':44}{'test NLL per step (nats)':>26}")
    for name, figure in PUBLISHED:
        print(f"{name:44}{figure:>26.2f}")
    print(f"{f'n-gram, interpolated Kneser-Ney, order {ngram.order}':44}{ngram_test:>26.3f}")
    print(f"{'melodia event LSTM, single pass':44}{test_plain:>26.3f}")
    print(f"{f'melodia event LSTM, +-{shifts} transpositions averaged':44}{ours:>26.3f}")
    print()
    same = abs(command_total - sum(test_nll)) <= 1e-6 * abs(sum(test_nll))
    print(f"melodia evaluate on the test chorales written as MIDI: total {command_total:.4f} nats, "
          f"this script: {sum(test_nll):.4f} ({'the same' if same else 'DIFFERENT'})")
    print(f"whole run: {(time.monotonic() - started) / 60:.1f} wall minutes; model file: {output}")


if __name__ == "__main__":
    main()
