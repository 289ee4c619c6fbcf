"""Quality report of the default model, written to docs/default-model.md.

1. NLL of the model on the folk test split beside the n-gram baseline (same tokens).
2. Tunes: 200 melodies of 16 bars at the command line's defaults, from typed seeds in major
   and minor keys, flat and sharp, in 4/4, 3/4, 2/4 and 6/8, against the first 16 bars of
   200 held-out real tunes: bar repetition, phrase parallelism, motif reuse (ratio of
   means), tonic endings, phrase-end cadences, key agreement with the seed's key; the same
   with --end-on-tonic and with --scale soft; and the time of `melodia generate` for 10
   melodies of 16 bars.
3. 200 generated melodies against 200 held-out tunes, metric by metric (overlap area, KL);
   seeds are the first bar of held-out tunes, so the generated set starts where real tunes do.
4. Originality: for runs of 8, 12, 16 and 24 notes, the share of generated melodies (both
   sets) that share such a run with some training tune, beside the same share for held-out tunes.

Usage: python scripts/report_default.py [--model melodia/data/default.safetensors] [--count 200] [--tunes-only]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from melodia.corpus.reader import Corpus
from melodia.lm.evaluate import evaluate
from melodia.lm.generation import Constraints, generate
from melodia.lm.modelfile import load_model
from melodia.lm.sampler import SamplingConfig
from melodia.metrics import SCALAR_METRICS, key_agreement
from melodia.metrics.compare import compare
from melodia.metrics.originality import ReferenceIndex, share_with_runs
from melodia.score import Score

ROOT = Path(__file__).resolve().parent.parent
GOAL_METRICS = ("pitch_class_entropy", "scale_consistency", "pitch_range", "interval_histogram",
                "duration_histogram")
SEEDS = (  # (seed phrase, mode): major and minor, sharp and flat keys, four meters
    ("D4 E4 F#4/8 G4/8 A4/2 key=D meter=6/8", "major"),
    ("G4/8 B4/8 D5/8 B4/8 A4/8 G4/8 F#4/8 A4/8 key=G meter=4/4", "major"),
    ("F4 A4 C5 A4/2 key=F meter=3/4", "major"),
    ("Bb4/8 C5/8 D5/8 Bb4/8 F4/4 key=Bb meter=2/4", "major"),
    ("C5/4. B4/8 A4 G4 key=C meter=4/4", "major"),
    ("A4/8 B4/8 C5/8 A4/8 E5/4 key=Am meter=4/4", "minor"),
    ("E4/8 G4/8 B4/8 E5/4. key=Em meter=6/8", "minor"),
    ("D4 F4 A4/2 key=Dm meter=3/4", "minor"),
    ("G4/8 Bb4/8 D5/8 G5/8 F5/4 key=Gm meter=2/4", "minor"),
    ("C5/8 Eb5/8 G5/8 C5/8 Bb4/4 key=Cm meter=6/8", "minor"),
)
FORM_METRICS = ("repetition", "phrase_parallelism", "motif_reuse")


def first_bars(score: Score, bars: int = 16) -> Score:
    """A copy of `score` cut after its first `bars` bars."""
    starts = score.bar_starts()
    end = starts[bars] if bars < len(starts) else score.end_tick + 1
    track = score.tracks[0]
    return replace(score, tracks=[replace(track, notes=[replace(n) for n in track.notes if n.onset_tick < end])])


def tunes(model: object, count: int, **options: object) -> tuple[list[Score], list[str]]:
    """`count` melodies of 16 bars, spread over SEEDS, at the command line's defaults (and `options`)."""
    scores: list[Score] = []
    modes: list[str] = []
    per_seed = -(-count // len(SEEDS))
    for index, (seed, mode) in enumerate(SEEDS):
        take = min(per_seed, count - len(scores))
        if take > 0:
            scores += generate(model, seed, take, Constraints(bars=16, **options), SamplingConfig(),  # type: ignore
                               random_seed=index)
            modes += [mode] * take
    return scores, modes


def mean(scores: list[Score], name: str) -> float:
    return float(np.nanmean([SCALAR_METRICS[name](score) for score in scores]))


def seed_agreement(scores: list[Score], modes: list[str], wanted: str) -> float:
    """Share of the melodies from `wanted`-mode seeds heard (Aarden-Essen profiles) in the seed's key."""
    chosen = [score for score, mode in zip(scores, modes) if mode == wanted]
    return float(np.mean([key_agreement(score) for score in chosen]))


def command_seconds(model: str, *options: str, runs: int = 3) -> float:
    """Wall time of `melodia generate` with `options` (by default 10 melodies of 16 bars), start-up included: the
    best of `runs` (other work on the machine only ever adds time)."""
    options = options or ("--seed", SEEDS[0][0], "--num", "10", "--bars", "16")
    times = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as folder:
            started = time.monotonic()
            subprocess.run([sys.executable, "-m", "melodia", "generate", "--model", model, *options, "-o", folder,
                            "--quiet"], check=True, capture_output=True)
            times.append(time.monotonic() - started)
    return min(times)


def tune_section(model: object, model_path: str, held_out: list[Score], count: int) -> tuple[list[str], list[Score]]:
    """The report's lines on form, cadences and key, and the melodies made at the defaults."""
    real = [first_bars(score) for score in held_out]
    made, modes = tunes(model, count)
    ending, _ = tunes(model, max(count // 5, len(SEEDS)), end_on_tonic=True)
    soft, soft_modes = tunes(model, max(count // 2, len(SEEDS)), scale="soft")
    rows = []
    for name in FORM_METRICS:
        ours, theirs = mean(made, name), mean(real, name)
        rows.append(f"| {name} | {ours:.3f} | {theirs:.3f} | **{ours / theirs:.2f}** | 0.75 - 1.33 |")
    lines = [
        f"## Tunes: {len(made)} melodies of 16 bars against the first 16 bars of {len(real)} held-out tunes", "",
        f"Seeds: {', '.join(f'`{seed}`' for seed, _ in SEEDS)}; {len(made) // len(SEEDS)} melodies each at the "
        "command line's defaults (temperature 1, form by length: AABA of 4-bar phrases, strict scale).", "",
        "| measure | generated | real | ratio | goal |", "| --- | --- | --- | --- | --- |", *rows,
        f"| last note the tonic, on a strong beat, at least a beat | {mean(made, 'tonic_ending'):.1%} | "
        f"{mean(real, 'tonic_ending'):.1%} (whole tunes {mean(held_out, 'tonic_ending'):.1%}) | | at least 70 % |",
        f"| the same, with --end-on-tonic ({len(ending)} melodies) | {mean(ending, 'tonic_ending'):.1%} | | | 100 % |",
        f"| phrase ends (every 4 bars) on a tonic-chord note of a beat or more | {mean(made, 'cadence_rate'):.1%} | "
        f"{mean(real, 'cadence_rate'):.1%} | | |",
        f"| heard in the seed's key, major seeds | {seed_agreement(made, modes, 'major'):.1%} | | | at least 80 % |",
        f"| heard in the seed's key, minor seeds | {seed_agreement(made, modes, 'minor'):.1%} | | | at least 80 % |",
        f"| heard in the seed's key with --scale soft, major / minor ({len(soft)} melodies) | "
        f"{seed_agreement(soft, soft_modes, 'major'):.1%} / {seed_agreement(soft, soft_modes, 'minor'):.1%} | | | |",
        f"| final note length, beats | {mean(made, 'final_note_beats'):.2f} | {mean(real, 'final_note_beats'):.2f} "
        "| | |", "",
        "Key heard: Aarden-Essen key profiles over the duration-weighted pitch classes (music21's default key "
        "analysis). Real tunes carry no key signature in the corpus, so their tonic is the key heard.", "",
        f"`melodia generate` of 10 melodies of 16 bars, start-up included, best of 3: "
        f"**{command_seconds(model_path):.1f} s** (goal under 5 s).", ""]
    return lines, made


def first_bar(score: Score) -> Score:
    """A copy of `score` cut after the first bar that holds notes (a seed for one melody)."""
    starts = score.bar_starts()
    track = score.tracks[0]
    first = track.notes[0].onset_tick
    bar = max(i for i, s in enumerate(starts) if s <= first)
    end = starts[bar + 1] if bar + 1 < len(starts) else score.end_tick
    notes = [replace(n) for n in track.notes if n.onset_tick < end]
    return replace(score, tracks=[replace(track, notes=notes)])


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(ROOT / "melodia" / "data" / "default.safetensors"))
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--output", default=str(ROOT / "docs" / "default-model.md"))
    parser.add_argument("--tunes-only", action="store_true", help="only the tunes section, printed, not written")
    args = parser.parse_args(argv)
    started = time.monotonic()
    model, tokenizer, record = load_model(args.model)
    corpus = Corpus.open(record["corpus"])
    held_out = corpus.scores("test")[:args.count]
    index = ReferenceIndex(corpus.scores("train"))
    shares_real = share_with_runs([index.longest_match(s) for _, s in held_out])
    tune_lines, made = tune_section((model, tokenizer), args.model, [s for _, s in held_out], args.count)
    shares_made = share_with_runs([index.longest_match(s) for s in made])
    originality = [
        "## Originality (longest run shared with a training tune)", "",
        "| run of notes | generated: tunes of 16 bars | generated: first-bar seeds | held-out real tunes |",
        "| --- | --- | --- | --- |"]
    if args.tunes_only:
        print("\n".join([*tune_lines, *originality, *[f"| {length} | {shares_made[length]:.1%} | | "
                                                     f"{shares_real[length]:.1%} |" for length in shares_real]]))
        return
    nll = evaluate(Path(args.model), [f"corpus:{corpus.name}:test"], baseline=True)
    rng = np.random.default_rng(0)
    generated: list[Score] = []
    for _, tune in held_out:
        bars = max(4, min(16, len(tune.bar_starts(tune.end_tick - 1))))
        generated += generate((model, tokenizer), first_bar(tune), 1, Constraints(bars=bars),
                              SamplingConfig(temperature=0.9, top_p=0.95), random_seed=int(rng.integers(1 << 30)))
    comparison = compare(generated, [score for _, score in held_out])
    shares_generated = share_with_runs([index.longest_match(s) for s in generated])
    ratio = nll["total"]["nll"] / nll["baseline"]["total"]["nll"]
    lines = [
        "# The default model: quality report", "",
        f"Written by `scripts/report_default.py` in {(time.monotonic() - started) / 60:.1f} minutes. Model: "
        f"{record['config']['layers']}-layer {record['config']['cell'].upper()}, {record['config']['hidden_size']} "
        f"units, trained {_steps(record)} steps on `{record['corpus']}` (best valid {record['valid_loss']:.4f} "
        "nats/token, plain continuation, fill-in-the-middle and controls mixed; docs/controls.md).", "",
        "## Likelihood on the folk test split", "",
        "| model | NLL (nats) | nats/token | bits/note |", "| --- | --- | --- | --- |",
        f"| default model | {nll['total']['nll']:.0f} | {nll['total']['nats_per_token']:.4f} | "
        f"{nll['total']['bits_per_note']:.3f} |",
        f"| n-gram (Kneser-Ney, order {nll['baseline']['order']}) | {nll['baseline']['total']['nll']:.0f} | "
        f"{nll['baseline']['total']['nats_per_token']:.4f} | {nll['baseline']['total']['bits_per_note']:.3f} |",
        "", f"Model / n-gram: **{ratio:.3f}** (goal at most 0.8).", "", *tune_lines,
        f"## {len(generated)} generated melodies against {len(held_out)} held-out tunes", "",
        "Seeds: the first bar of each held-out tune; temperature 0.9, top-p 0.95; lengths as the tunes' (4 to 16 "
        "bars).", "",
        "| metric | overlap area | KL | generated mean | real mean | goal |", "| --- | --- | --- | --- | --- | --- |",
        *[f"| {name} | {row['overlap']:.3f} | {row['kl']:.3f} | {row['generated_mean']:.3f} | "
          f"{row['reference_mean']:.3f} | {'>= 0.8' if name in GOAL_METRICS else ''} |"
          for name, row in comparison.items()],
        "", *originality,
        *[f"| {length} | {shares_made[length]:.1%} | {shares_generated[length]:.1%} | {shares_real[length]:.1%} |"
          for length in shares_real],
        "", "Goal: generated melodies copy no more than held-out tunes at every length, and under 2% share a "
        "24-note run.", ""]
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    from melodia.io.atomic import atomic_write_text

    atomic_write_text(args.output, "\n".join(lines))
    print("\n".join(lines))


def _steps(record: dict) -> str:
    """The training steps, by stage when the model was trained in stages (scripts/train_default.py)."""
    stages = [record]
    while earlier := stages[0].get("stage2") or stages[0].get("stage1"):
        stages.insert(0, earlier)
    return " + ".join(str(stage["steps"]) for stage in stages)


if __name__ == "__main__":
    main()
