"""The JSB Chorales benchmark: test NLL per quarter-note step, beside the published table.

1. builds the `jsb` corpus (the published train / valid / test split; every step's chord spelled
   out, four tokens a step),
2. trains `--members` models on train with the settings in scripts/bench_jsb.toml, member k from
   seed + k - 1 (transposition augmentation, a fixed number of steps, the best valid epoch kept),
   and saves their model files; the training's CPU time is reported, and nothing about the machine
   changes the figure,
3. chooses on valid how many transpositions to mix and how their weights follow the piece so far
   (`melodia.lm.evaluate.mixture_nll`'s tempering), then, at that many transpositions, how fast the weights
   forget older tokens and what prior weight the n-gram (fitted on train, its order chosen on valid) has as
   one more component,
4. scores the test chorales once with that choice: total NLL (nats) / total quarter-note steps,
   beside one member's single pass and the n-gram baseline (order chosen on valid),
5. writes the test chorales as MIDI and checks that `melodia evaluate` on them gives the same total.

Usage: python scripts/bench_jsb.py [-o jsb.safetensors] [--members 2] [--config scripts/bench_jsb.toml]
       [--skip-training] [--valid-only]   (member k > 1 is saved beside the first: jsb.2.safetensors, ...)

`--valid-only` stops after step 3: the valid split's figures for trying settings, the test split unseen.
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

import numpy as np

from melodia.corpus import build_corpus, find_recipe
from melodia.corpus.reader import Corpus
from melodia.io import write_score
from melodia.io.jsb import read_jsb
from melodia.lm.evaluate import component_log_probs, mixture_nll, ngram_prior
from melodia.lm.modelfile import load_model
from melodia.lm.ngram import KneserNey, choose_order
from melodia.lm.train import TrainConfig, train

HERE = Path(__file__).resolve().parent
PUBLISHED = [("tanh RNN (Bai et al. 2018)", 8.91), ("LSTM (Bai et al. 2018)", 8.45), ("GRU (Bai et al. 2018)", 8.43),
             ("TCN (Bai et al. 2018)", 8.10), ("RRU (Zakovskis et al. 2021)", 7.72),
             ("DBN+LSTM (Vohra et al. 2015)", 3.47)]
MOST_SHIFTS = 6  # the training's transpositions reach +-6 semitones
TEMPERINGS = (1.0, 0.75, 0.5, 0.25, 0.1, 0.05, 0.0)
FORGETTINGS = (1.0, 0.99, 0.98, 0.95, 0.9)
NGRAM_WEIGHTS = (0.0, 0.1, 0.2, 0.3)


def member_paths(output: Path, members: int) -> list[Path]:
    return [output] + [output.with_name(f"{output.stem}.{k}{output.suffix}") for k in range(2, members + 1)]


class Mixtures:
    """Every component's log-probabilities of a split's pieces, from which any mixture is scored."""

    def __init__(self, models: list, tokenizer: object, corpus: Corpus, split: str, shifts: int,
                 ngram: KneserNey) -> None:
        pieces = corpus.split(split)
        tokens = [corpus.piece_tokens(p) for p in pieces]
        self.steps = sum(piece["steps"] for piece in pieces)
        self.shifts = shifts
        self.rows = component_log_probs(models, tokenizer, tokens, shifts)
        self.ngram_rows = [ngram.log_probs(t) for t in tokens]

    def nll(self, members: Sequence[int], shifts: int, tempering: float, forgetting: float = 1.0,
            ngram_weight: float = 0.0) -> list[float]:
        """Each piece's NLL under the mixture of `members` over transpositions by -shifts..shifts (and the
        n-gram, of prior weight `ngram_weight`)."""
        width = 2 * self.shifts + 1
        chosen = [m * width + self.shifts + s for m in members for s in range(-shifts, shifts + 1)]
        if ngram_weight == 0.0:
            return [mixture_nll(rows[chosen], tempering, forgetting) for rows in self.rows]
        prior = ngram_prior(len(chosen), ngram_weight)
        return [mixture_nll(np.vstack([rows[chosen], ngram]), tempering, forgetting, prior)
                for rows, ngram in zip(self.rows, self.ngram_rows)]

    def per_step(self, members: Sequence[int], shifts: int, tempering: float, forgetting: float = 1.0,
                 ngram_weight: float = 0.0) -> float:
        return sum(self.nll(members, shifts, tempering, forgetting, ngram_weight)) / self.steps


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", default="jsb.safetensors", help="where to save the first member")
    parser.add_argument("--members", type=int, default=2, help="models trained alike from seeds one apart")
    parser.add_argument("--config", default=str(HERE / "bench_jsb.toml"), help="training settings")
    parser.add_argument("--skip-training", action="store_true", help="score existing model files")
    parser.add_argument("--valid-only", action="store_true", help="print the valid split's figures and stop")
    args = parser.parse_args(argv)
    started = time.monotonic()
    build_corpus(find_recipe("jsb"), progress=False)
    corpus = Corpus.open("jsb")
    config = TrainConfig.from_file(Path(args.config))
    paths = member_paths(Path(args.output), args.members)
    for k, path in enumerate(paths):
        if not args.skip_training:
            member = config.with_overrides([f"random_seed={config.random_seed + k}"])
            train(member, path, resume=path.with_name(path.name + ".ckpt").exists() and not path.exists())
    loaded = [load_model(path) for path in paths]
    models, tokenizer, records = [m for m, _, _ in loaded], loaded[0][1], [r for _, _, r in loaded]
    everyone = range(len(models))

    tokens = {split: [corpus.piece_tokens(piece) for piece in corpus.split(split)]
              for split in ("train", "valid", "test")}
    ngram, by_order = choose_order(tokens["train"], tokens["valid"], len(tokenizer))

    valid = Mixtures(models, tokenizer, corpus, "valid", MOST_SHIFTS, ngram)
    choices = {(k, b): valid.per_step(everyone, k, b) for k in range(MOST_SHIFTS + 1) for b in TEMPERINGS}
    shifts, tempering = min(choices, key=choices.__getitem__)
    blends = {(g, w, b): valid.per_step(everyone, shifts, b, g, w)
              for g in FORGETTINGS for w in NGRAM_WEIGHTS for b in TEMPERINGS}
    forgetting, ngram_weight, blend_tempering = min(blends, key=blends.__getitem__)
    if args.valid_only:
        print_members(records)
        print_valid(choices, shifts, tempering)
        print_blends(blends, shifts, ngram.order, (forgetting, ngram_weight, blend_tempering))
        return
    test = Mixtures(models, tokenizer, corpus, "test", shifts, ngram)
    test_nll = test.nll(everyone, shifts, blend_tempering, forgetting, ngram_weight)
    ours = sum(test_nll) / test.steps
    transposed = test.per_step(everyone, shifts, tempering)
    single = test.per_step([0], 0, 1.0)
    members_only = test.per_step(everyone, 0, tempering)
    whole_pieces = test.per_step(everyone, shifts, 1.0)
    ngram_test = sum(ngram.nll(t) for t in tokens["test"]) / test.steps
    command_total = evaluate_command(paths, shifts, blend_tempering, forgetting, ngram_weight)

    print(f"JSB Chorales, test split: {len(corpus.split('test'))} chorales, {test.steps} quarter-note steps")
    print_members(records)
    print_valid(choices, shifts, tempering)
    print_blends(blends, shifts, ngram.order, (forgetting, ngram_weight, blend_tempering))
    print("n-gram orders on valid (nats/token): " + ", ".join(f"{k}: {v:.3f}" for k, v in by_order.items()))
    print()
    print(f"{'model':58}{'test NLL per step (nats)':>26}")
    for name, figure in PUBLISHED:
        print(f"{name:58}{figure:>26.2f}")
    print(f"{f'n-gram, interpolated Kneser-Ney, order {ngram.order}':58}{ngram_test:>26.3f}")
    print(f"{'melodia event LSTM, one member, single pass':58}{single:>26.3f}")
    mixed = f"{len(models)} member{'s' if len(models) > 1 else ''}"
    if len(models) > 1:
        print(f"{f'melodia, {mixed}, no transposition':58}{members_only:>26.3f}")
    print(f"{f'melodia, {mixed}, +-{shifts} transpositions, whole pieces':58}{whole_pieces:>26.3f}")
    print(f"{f'melodia, {mixed}, +-{shifts} transpositions, tempering {tempering:g}':58}{transposed:>26.3f}")
    print(f"{f'  and forgetting {forgetting:g}, n-gram weight {ngram_weight:g}, tempering {blend_tempering:g}':58}"
          f"{ours:>26.3f}")
    print()
    same = abs(command_total - sum(test_nll)) <= 1e-6 * abs(sum(test_nll))
    print(f"melodia evaluate on the test chorales written as MIDI: total {command_total:.4f} nats, "
          f"this script: {sum(test_nll):.4f} ({'the same' if same else 'DIFFERENT'})")
    print(f"whole run: {(time.monotonic() - started) / 60:.1f} wall minutes; model files: "
          + ", ".join(str(path) for path in paths))


def print_members(records: list[dict]) -> None:
    record = records[0]
    cpu = [r.get("cpu_minutes") for r in records]
    print(f"members: {len(records)} of a {record['config']['layers']}-layer {record['config']['cell'].upper()}, "
          f"{record['config']['hidden_size']} units, dropout {record['config']['dropout']:g}, "
          f"{record['parameters']:,} parameters, {record['steps']} steps each; "
          "best valid " + ", ".join(f"{r['valid_loss']:.4f} nats/token (epoch {r['best_epoch'] + 1})" for r in records)
          + "; trained in " + (f"{sum(cpu):.1f} CPU-minutes (" + " + ".join(f"{c:.1f}" for c in cpu) + ")"
                                if all(c is not None for c in cpu) else "(CPU time not recorded)"))


def print_valid(choices: dict[tuple[int, float], float], shifts: int, tempering: float) -> None:
    print("valid NLL per step, transpositions mixed (rows) by tempering (columns):")
    print("       " + "".join(f"{b:>9g}" for b in TEMPERINGS))
    for k in range(MOST_SHIFTS + 1):
        print(f"  +-{k}  " + "".join(f"{choices[k, b]:>9.3f}" for b in TEMPERINGS))
    print(f"  chose +-{shifts} transpositions, tempering {tempering:g}")


def print_blends(blends: dict[tuple[float, float, float], float], shifts: int, order: int,
                 chosen: tuple[float, float, float]) -> None:
    print(f"valid NLL per step at +-{shifts} transpositions, by forgetting and the {order}-gram's weight (rows) "
          "and tempering (columns):")
    print("             " + "".join(f"{b:>9g}" for b in TEMPERINGS))
    for g in FORGETTINGS:
        for w in NGRAM_WEIGHTS:
            print(f"  {g:<5g} {w:<5g}" + "".join(f"{blends[g, w, b]:>9.3f}" for b in TEMPERINGS))
    print(f"  chose forgetting {chosen[0]:g}, n-gram weight {chosen[1]:g}, tempering {chosen[2]:g}")


def evaluate_command(paths: list[Path], shifts: int, tempering: float, forgetting: float, ngram_weight: float) -> float:
    """The test chorales' total NLL as `melodia evaluate` gives it for their MIDI files."""
    with tempfile.TemporaryDirectory() as folder:
        source = find_recipe("jsb").sources[0]
        for number, (score, _) in enumerate(read_jsb(source.location, source.steps_as)["test"]):
            write_score(score, Path(folder) / f"test{number:02d}.mid")
        models = [word for path in paths for word in ("--model", str(path))]
        result = subprocess.run([sys.executable, "-m", "melodia", "evaluate", *models, folder, "--transpositions",
                                 str(shifts), "--tempering", repr(tempering), "--forgetting", repr(forgetting),
                                 "--ngram-weight", repr(ngram_weight), "--json"], capture_output=True, text=True)
        if result.returncode != 0:
            raise SystemExit(f"melodia evaluate failed: {result.stderr}")
        return float(json.loads(result.stdout)["total"]["nll"])


if __name__ == "__main__":
    main()
