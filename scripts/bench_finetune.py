"""Fine-tuning on a style the default model never saw: the soprano lines of Bach's chorales.

The default model learnt folk tunes (Essen and Irish). From music21's corpus, the soprano
line of each Bach chorale is written as MIDI (one harmonization per tune: lines sharing
their first 12 notes count once); the first 50 in the corpus's order (every other one) are
the user's folder, the 50 between them are held out. Then, in one run:

1. `melodia.lm.finetune.finetune("default", ..., folder=the 50)`: its own train/valid split,
   early stopping, at most `STEPS` steps;
2. models trained from scratch on the same files and split for 5 CPU-minutes: one of the
   default's shape for `STEPS` steps, and a small one (1 layer of 192 units) for
   `SMALL_STEPS` steps (fixed counts: steps of the fine-tuning batch were measured at about
   `SECONDS_PER_STEP` and `SMALL_SECONDS_PER_STEP` CPU-s, validation and checkpoints
   included, on one thread of this project's CPU; the script prints the time each took);
3. held-out NLL (nats/token) of the 50 held-out lines under the default, the fine-tuned
   and the from-scratch model;
4. melodies of 8 bars from the opening bar of each held-out line, by the default and by
   the fine-tuned model, set against the held-out lines' first 8 bars with `compare`
   (overlap area per metric: 1 = they sit among the real lines as the real lines do);
5. the memorization guard's figures for the models, beside the same figure for the real
   held-out lines against the 50 (what no copying looks like in this style), and for a
   model over-trained on 4 of the files (what copying looks like);
6. feedback: the most stepwise 2, 5, 10 and 20 of 60 default melodies kept (and, as a
   control, the 5 most leaping), a model fine-tuned on them alone, and the mean absolute
   interval of 60 new melodies from the same seeds before and after.

Usage: nice -n 10 python scripts/bench_finetune.py [--pieces 50]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from melodia.io import read_score
from melodia.lm.evaluate import model_nll
from melodia.lm.finetune import GUARD_NOTES, finetune, finetune_config, finetune_corpus, memorization_check, opening
from melodia.lm.generation import Constraints, generate
from melodia.lm.model import MelodyLM, ModelConfig
from melodia.lm.modelfile import load_model
from melodia.lm.train import Start, train
from melodia.metrics.compare import compare
from melodia.metrics.originality import ReferenceIndex, share_with_runs, symbols
from melodia.resources import cache_root
from melodia.score import Score

STEPS = 2300
SECONDS_PER_STEP = 0.123
SMALL_STEPS = 17000
SMALL_SECONDS_PER_STEP = 0.017
OVERFIT_STEPS = 300
KEPT_COUNTS = (2, 5, 10, 20)
STUDY_SEEDS = ("D4 E4 F#4/8 G4/8 A4/2 key=D meter=6/8", "G4 A4 B4 D5 key=G meter=3/4", "A4 C5 E5 D5 key=Am meter=4/4")
BARS = 8


def soprano_lines(folder: Path, count: int) -> list[Path]:
    """The soprano line of the first `count` distinct chorale tunes of music21's corpus, as MIDI files."""
    import music21

    from melodia.io.midi import write_midi

    folder.mkdir(parents=True, exist_ok=True)
    paths = sorted(p for p in map(Path, music21.corpus.getComposer("bach")) if p.name.startswith("bwv")
                   and p.suffix == ".mxl")
    written, tunes = [], set()
    for path in paths:
        target = folder / f"{path.stem}.mid"
        if not target.is_file():
            try:
                parts = music21.converter.parse(path).parts
            except Exception:  # a corpus file music21 cannot read: the next one
                continue
            if len(parts) != 4:
                continue
            write_midi(Score.from_music21(parts[0]), target)
        tune = tuple(symbols(read_score(target))[:11])
        if len(tune) < 11 or tune in tunes:
            continue
        tunes.add(tune)
        written.append(target)
        if len(written) == count:
            break
    return written


def held_out_nll(model: MelodyLM, tokenizer: object, scores: Sequence[Score]) -> float:
    sequences = [tokenizer.encode(score) for score in scores]  # type: ignore[attr-defined]
    return sum(model_nll(model, sequences)) / sum(len(s) - 1 for s in sequences)


def melodies(model: MelodyLM, tokenizer: object, held_out: Sequence[Score]) -> list[Score]:
    """One melody of `BARS` bars from the opening bar of each held-out line."""
    result = []
    for number, piece in enumerate(held_out):
        try:
            result += generate((model, tokenizer), opening(piece), 1, Constraints(bars=BARS), random_seed=number)
        except Exception as error:  # a seed the constraints cannot continue: reported, the others go on
            print(f"  seed {number}: {error}", file=sys.stderr)
    return result


def mean_overlap(result: dict[str, dict[str, float]]) -> float:
    return float(np.nanmean([row["overlap"] for row in result.values()]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pieces", type=int, default=50)
    args = parser.parse_args()
    torch.set_num_threads(1)
    lines = soprano_lines(cache_root() / "bench" / "chorale-sopranos", 2 * args.pieces)
    mine, held = lines[0::2], lines[1::2]
    held_scores = [read_score(p) for p in held]
    print(f"style: soprano lines of Bach chorales, {len(mine)} to fine-tune on, {len(held)} held out")
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work) / "mine"
        folder.mkdir()
        for path in mine:
            (folder / path.name).write_bytes(path.read_bytes())
        base, tokenizer, _ = load_model("default")
        started = time.process_time()
        tuned_path = Path(work) / "tuned.safetensors"
        record = finetune("default", tuned_path, folder, overrides=[f"max_steps={STEPS}"], progress_bar=False,
                          guard=False)
        tuned_seconds = time.process_time() - started
        print(f"fine-tuned: {record['steps']} steps, {tuned_seconds:.0f} CPU-s, files "
              f"{record['finetune']['train_files']} train / {record['finetune']['valid_files']} valid, "
              f"best epoch {record['best_epoch'] + 1}")
        corpus = finetune_corpus(tokenizer, folder, progress=False)
        small = ModelConfig(vocab_size=len(tokenizer), embedding_size=64, hidden_size=192, layers=1)
        scratch = from_scratch(base.config, corpus, STEPS, Path(work) / "scratch.safetensors")
        small_scratch = from_scratch(small, corpus, SMALL_STEPS, Path(work) / "small.safetensors")
        tuned, _, _ = load_model(tuned_path)
        report_nll(base, tuned, {"from scratch": scratch, "from scratch, small": small_scratch}, tokenizer,
                   held_scores)
        report_compare(base, tuned, tokenizer, held_scores)
        report_memorization(tuned, scratch, tokenizer, corpus, held_scores)
        report_overfit(mine[:4], Path(work), tokenizer)
        report_kept(Path(work))


def from_scratch(settings: ModelConfig, corpus: object, steps: int, output: Path) -> MelodyLM:
    """A model of `settings`, freshly made (seed 0), trained on `corpus` for `steps` steps at `train`'s learning
    rate."""
    torch.manual_seed(0)
    model = MelodyLM(settings)
    config = finetune_config(model, corpus, ["lr=0.003", "epochs=100000", "patience=100000", f"max_steps={steps}"])
    started = time.process_time()
    record = train(config, output, progress_bar=False, start=Start(corpus, model))  # type: ignore[arg-type]
    print(f"from scratch, {model.config.layers} x {model.config.hidden_size}: {record['steps']} steps, "
          f"{time.process_time() - started:.0f} CPU-s, best epoch {record['best_epoch'] + 1}")
    return load_model(output)[0]


def report_nll(base: MelodyLM, tuned: MelodyLM, scratch: dict[str, MelodyLM], tokenizer: object,
               held: Sequence[Score]) -> None:
    figures = {name: held_out_nll(model, tokenizer, held) for name, model in
               (("default", base), ("fine-tuned", tuned), *scratch.items())}
    print("\nheld-out NLL of the 50 held-out lines, nats/token (lower is better):")
    for name, value in figures.items():
        print(f"  {name:22}{value:8.4f}   fine-tuned / this {figures['fine-tuned'] / value:.3f}")
    beats = all(figures["fine-tuned"] < value for name, value in figures.items() if name != "fine-tuned")
    print(f"  the fine-tuned model {'beats' if beats else 'DOES NOT beat'} the default and the from-scratch models")


def report_compare(base: MelodyLM, tuned: MelodyLM, tokenizer: object, held: Sequence[Score]) -> None:
    reference = [opening(piece, BARS) for piece in held]
    before = compare(melodies(base, tokenizer, held), reference)
    after = compare(melodies(tuned, tokenizer, held), reference)
    print(f"\ncompare: {BARS}-bar melodies from each held-out line's opening bar against the lines' first {BARS} "
          "bars; overlap area (higher is closer), mean of the metric")
    print(f"  {'metric':26}{'default':>9}{'tuned':>9}{'gen. mean default':>19}{'tuned':>9}{'real':>9}")
    for name in before:
        b, a = before[name], after[name]
        print(f"  {name:26}{b['overlap']:>9.3f}{a['overlap']:>9.3f}{b['generated_mean']:>19.3f}"
              f"{a['generated_mean']:>9.3f}{a['reference_mean']:>9.3f}")
    closer = sum(after[n]["overlap"] > before[n]["overlap"] + 0.005 for n in before)
    further = sum(after[n]["overlap"] < before[n]["overlap"] - 0.005 for n in before)
    print(f"  mean overlap: default {mean_overlap(before):.3f}, fine-tuned {mean_overlap(after):.3f} ({closer} of "
          f"{len(before)} metrics closer, {further} further, the rest within 0.005: generate's form, cadences and "
          "tonic ending hold them)")


def report_memorization(tuned: MelodyLM, scratch: MelodyLM, tokenizer: object, corpus: object,
                        held: Sequence[Score]) -> None:
    train_pieces = corpus.scores("train")  # type: ignore[attr-defined]
    mine = corpus.scores()  # type: ignore[attr-defined]
    index = ReferenceIndex(mine)
    real = share_with_runs([index.longest_match(piece) for piece in held], (8, 12, GUARD_NOTES, 24))
    print("\nmemorization: share sharing a run of 8 / 12 / 16 / 24 notes with one of the 50 files")
    print("  real held-out lines (whole):      " + " / ".join(f"{v:.1%}" for v in real.values()))
    for name, model in (("fine-tuned", tuned), ("from scratch", scratch)):
        report = memorization_check(model, tokenizer, train_pieces, mine)
        print(f"  {name + ' (guard, 16 bars)':34}" + " / ".join(f"{v:.1%}" for v in report.shares.values())
              + f"  -> {'COPYING' if report.copying else 'fine'}")


def report_overfit(files: Sequence[Path], work: Path, tokenizer: object) -> None:
    """The guard on a model that should copy: 4 files (too few for a valid split), a high rate, no early stop."""
    folder = work / "few"
    folder.mkdir()
    for path in files:
        (folder / path.name).write_bytes(path.read_bytes())
    output = work / "overfit.safetensors"
    record = finetune("default", output, folder, overrides=["lr=0.003", "epochs=1000", "patience=1000",
                                                            f"max_steps={OVERFIT_STEPS}"], progress_bar=False)
    shares = record["memorization"]
    print(f"  {'over-trained, 4 files (guard)':34}" + " / ".join(f"{v:.1%}" for v in shares.values()))
    print("    " + (output.with_name(output.name + ".memorization.txt")).read_text().replace("\n", "\n    ").rstrip())


def study_melodies(model: object, tokenizer: object, random_seed: int, each: int = 20) -> list[Score]:
    return [score for number, seed in enumerate(STUDY_SEEDS)
            for score in generate((model, tokenizer), seed, each, Constraints(bars=BARS),
                                  random_seed=random_seed + number)]


def report_kept(work: Path) -> None:
    """How many kept melodies move the outputs: keep the most stepwise of 60 default melodies, fine-tune on them
    alone, and measure the mean absolute interval of 60 new melodies (same seeds) before and after."""
    from melodia.feedback import keep
    from melodia.lm.generation import write_outputs
    from melodia.metrics import mean_absolute_interval

    base, tokenizer, _ = load_model("default")
    pool_folder = work / "pool"
    pool = study_melodies(base, tokenizer, 1)
    paths = write_outputs(pool, pool_folder, {"seeds": list(STUDY_SEEDS)})
    ranked = sorted(zip((mean_absolute_interval(s) for s in pool), paths, strict=True))
    before = np.asarray([mean_absolute_interval(s) for s in study_melodies(base, tokenizer, 2)])
    print(f"\nkept melodies: the most stepwise of {len(pool)} default melodies kept; mean absolute interval of "
          f"{len(before)} new melodies (semitones, +- standard error)")
    print(f"  {'kept':>9}{'kept mean':>11}{'outputs':>17}{'change':>9}")
    print(f"  {'none':>9}{'':>11}{before.mean():>9.3f} +- {before.std() / len(before) ** 0.5:.3f}")
    for label, chosen in [*((f"{count}", ranked[:count]) for count in KEPT_COUNTS), ("5 leaping", ranked[-5:])]:
        for path in paths:
            keep(path, drop=True)
        for _, path in chosen:
            keep(path)
        output = work / f"kept-{label.replace(' ', '-')}.safetensors"
        finetune("default", output, kept=[pool_folder], progress_bar=False, guard=False)
        tuned, _, _ = load_model(output)
        after = np.asarray([mean_absolute_interval(s) for s in study_melodies(tuned, tokenizer, 2)])
        kept_mean = np.mean([value for value, _ in chosen])
        print(f"  {label:>9}{kept_mean:>11.3f}{after.mean():>9.3f} +- {after.std() / len(after) ** 0.5:.3f}"
              f"{after.mean() - before.mean():>+9.3f}")


if __name__ == "__main__":
    main()
