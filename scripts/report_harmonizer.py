"""The quality report of the shipped harmonizer: writes docs/harmonizer.md and prints its tables.

    python scripts/report_harmonizer.py [--model melodia/data/harmonizer.safetensors] [-o docs/harmonizer.md]

On the held-out chorales (split by hymn tune, so no tune of the test split was seen in training), from the
soprano alone: NLL of Bach's alto, tenor and bass beside a count baseline; chord and root agreement with
Bach; voice-leading faults per 100 beats of the model's harmonizations beside Bach's own; cadences at
fermatas. Then melodies that are not chorales, the command's time beside `melodia inspect` of the same
file, and the model file's size and training time.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

import melodia
from melodia.harmony import default_harmonizer_path, harmonize, load, melody_grid, melody_of
from melodia.harmony.data import STEPS_PER_QUARTER, Chorale, load_chorales, split_of, voice_grid
from melodia.harmony.evaluate import Comparison, CountBaseline, compare_with_bach, nll_per_quarter
from melodia.harmony.model import Harmonizer, HarmonizerMix, load_harmonizer
from melodia.harmony.sampling import Sampling
from melodia.harmony.voiceleading import FAULT_KINDS, SATB_RANGES, fault_counts
from melodia.io import read_score, write_score
from melodia.resources import cache_root
from melodia.seed import parse_seed
from melodia.theory.pitch import note_name

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TEST_PRIMITIVE = Path(str(__import__("music21").__file__)).parent / "midi" / "testPrimitive"
# Melodies that are not chorales: note text (key and meter given) and MIDI files of music21's test set.
TUNES = {
    "minor tune (A minor, 4/4)": "A4 C5 B4 A4 E5/2 D5/4 C5/4 B4 A4 G#4 B4 A4/1 "
                                 "C5 D5 E5 C5 F5/2 E5/4 D5/4 C5 B4 A4 G#4 A4/1 key=Am",
    "6/8 tune (D major)": "D4/8 F#4/8 A4/8 D5/4 A4/8 B4/4 A4/8 F#4/4 D4/8 E4/8 F#4/8 G4/8 A4/4. "
                          "B4/8 A4/8 G4/8 F#4/8 E4/8 D4/8 E4/4 C#4/8 D4/4. key=D meter=6/8",
    "pop melody (testPrimitive/test18.mid)": str(TEST_PRIMITIVE / "test18.mid"),
    "reel (testPrimitive/test06.mid)": str(TEST_PRIMITIVE / "test06.mid"),
}
DEFAULTS = Sampling()
SAMPLED = (f"drawn at the defaults ({DEFAULTS.candidates} drawn at temperature {DEFAULTS.temperature} vote on each "
           f"beat's chord; a beam search {DEFAULTS.beam_width} wide writes the likeliest voices plus "
           f"{DEFAULTS.guide:g} nats times each beat chord's share of the votes)")
LIKELIEST = (f"most likely (--most-likely: {DEFAULTS.votes} draws at temperature 1 vote on each beat's chord; the "
             f"same beam search under their votes)")
PLAIN_BEAM = "the likeliest harmonization alone (a beam search 16 wide, no chord votes: --most-likely before the votes)"
SEEDS = (0, 1, 2, 3)  # the first is the one reported above
GREEDY = "the likeliest choice at each step (a beam 1 wide)"
GENERATED = (("G4 A4 B4 key=G", "4/4"), ("E4 G4 A4 key=Em", "4/4"), ("D4 F#4 A4 key=D meter=3/4", "3/4"),
             ("A4/8 B4/8 C#5/8 D5/4 key=A meter=6/8", "6/8"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(default_harmonizer_path()))
    parser.add_argument("-o", "--output", default=str(ROOT / "docs" / "harmonizer.md"))
    parser.add_argument("--train-log", help="the training run's log, for its time")
    parser.add_argument("--train-minutes", type=float,
                        help="the training run's wall minutes as measured when it ran, where its log is not at hand")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    chorales = load_chorales(cache_root() / "harmonizer-chorales.npz")
    train = [c for c in chorales if split_of(c) == "train"]
    test = [c for c in chorales if split_of(c) == "test"]
    model = load(args.model)
    lines = [f"# The four-part harmonizer: quality report\n\nWritten by `scripts/report_harmonizer.py` "
             f"(melodia {melodia.__version__}). {len(test)} held-out chorales of music21's Bach corpus "
             f"({sum(c.steps for c in test) // STEPS_PER_QUARTER} beats), split from the {len(train)} training "
             "chorales by hymn tune; each harmonized from its soprano (with its fermatas) alone.\n"]
    lines += likelihood(load_harmonizer(args.model)[0], train, test)
    goals = {}
    for label, sampling in ((SAMPLED, DEFAULTS),
                            (LIKELIEST, Sampling(0.0, True, 1, 0)),
                            (PLAIN_BEAM, Sampling(0.0, True, 1, 0, beam_width=16, guide=0.0)),
                            (GREEDY, Sampling(0.0, True, 1, 0, beam_width=1))):
        comparison = compare_with_bach(model, test, sampling)
        lines += against_bach(label, comparison)
        goals[label] = comparison
    spread = {label: [goals[label].chord_agreement] + [compare_with_bach(model, test, replace(sampling, seed=seed))
                                                       .chord_agreement for seed in SEEDS[1:]]
              for label, sampling in ((SAMPLED, DEFAULTS), (LIKELIEST, Sampling(0.0, True, 1, 0)))}
    lines += goal_table(goals, spread)
    lines += robustness(args.model)
    lines += speed_and_size(args.model, args.train_log, args.train_minutes)
    text = "\n".join(lines) + "\n"
    Path(args.output).write_text(text, encoding="utf-8")
    print(text)
    return 0


def likelihood(model: Harmonizer | HarmonizerMix, train: list[Chorale], test: list[Chorale]) -> list[str]:
    started = time.perf_counter()
    baseline = CountBaseline(train)
    network, counts = nll_per_quarter(model, baseline, test)
    print(f"likelihood: {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return ["## Likelihood of Bach's lower voices\n",
            "| NLL of alto, tenor and bass per quarter step (nats) | |\n| --- | --- |",
            f"| the harmonizer | {network:.3f} |",
            f"| count baseline (each voice's token given the soprano's pitch and its own previous pitch, "
            f"Witten-Bell back-off, every transposition) | {counts:.3f} |",
            f"| ratio, harmonizer / baseline | {network / counts:.3f} |\n"]


def against_bach(label: str, c: Comparison) -> list[str]:
    rows = [f"## Harmonizations, {label}, against Bach's\n",
            f"Chord (pitch-class set) the same as Bach's on {100 * c.chord_agreement:.1f} % of beats, "
            f"its root on {100 * c.root_agreement:.1f} %; lower-voice notes outside SATB ranges: "
            f"{c.lower_out_of_range}.\n",
            "| faults per 100 beats | model | Bach |\n| --- | --- | --- |"]
    rows += [f"| {kind.replace('_', ' ')} | {c.faults[kind]:.2f} | {c.bach_faults[kind]:.2f} |"
             for kind in (*FAULT_KINDS, "total")]
    rows += ["", f"| cadences at fermatas ({int(c.cadences['fermatas'])}) | model | Bach |\n| --- | --- | --- |"]
    rows += [f"| {kind} | {100 * c.cadences[kind]:.1f} % | {100 * c.bach_cadences[kind]:.1f} % |"
             for kind in ("V-I", "IV-I", "V-vi", "half", "other", "cadence")]
    return [*rows, ""]


def goal_table(goals: dict[str, Comparison], spread: dict[str, list[float]]) -> list[str]:
    rows = ["## Goals\n", "| | defaults | most likely | goal |\n| --- | --- | --- | --- |"]
    sampled, likeliest = goals[SAMPLED], goals[LIKELIEST]
    ratios = [c.faults["total"] / c.bach_faults["total"] for c in (sampled, likeliest)]
    rows.append(f"| voice-leading faults per 100 beats, model / Bach | {ratios[0]:.2f} "
                f"({sampled.faults['total']:.2f} vs {sampled.bach_faults['total']:.2f}) | {ratios[1]:.2f} "
                f"({likeliest.faults['total']:.2f}) | at most 1.5 |")
    rows.append(f"| chord agreement with Bach | {100 * sampled.chord_agreement:.1f} % | "
                f"{100 * likeliest.chord_agreement:.1f} % | at least 50 % |")
    cells = [f"{100 * min(v):.1f} / {100 * float(np.mean(v)):.1f} / {100 * max(v):.1f} %"
             for v in (spread[SAMPLED], spread[LIKELIEST])]
    rows.append(f"| the same, random seeds {SEEDS[0]}-{SEEDS[-1]} (the draws differ): lowest / mean / highest | "
                f"{cells[0]} | {cells[1]} | |")
    rows.append(f"| lower-voice notes outside SATB ranges | {sampled.lower_out_of_range} | "
                f"{likeliest.lower_out_of_range} | 0 |\n")
    return rows


def generated_tune(seed: str, random_seed: int) -> melodia.Score:
    """A 16-bar tune by the default melody model from `seed`."""
    from melodia.lm.generation import Constraints

    return melodia.generate("default", seed, 1, Constraints(bars=16), random_seed=random_seed)[0]


def _tune(text: str) -> melodia.Score:
    return read_score(text) if Path(text).is_file() else parse_seed(text)[0]


def robustness(model_path: str) -> list[str]:
    tunes = {name: _tune(text) for name, text in TUNES.items()}
    for index, (seed, meter) in enumerate(GENERATED):
        name = f"generated folk tune {index + 1} ({meter}, seed {seed.split(' key')[0]!r})"
        tunes[name] = generated_tune(seed, index + 1)
    rows = ["## Melodies that are not chorales\n",
            "Faults of the written voices per 100 beats (the given soprano's own range not counted); "
            "soprano unchanged; lower-voice notes out of range.\n",
            "| melody | beats | faults / 100 beats | soprano kept | out of range |\n| --- | --- | --- | --- | --- |"]
    for name, tune in tunes.items():
        chorale = harmonize(tune, model=model_path)
        notes = melody_of(tune)
        kept = [(n.pitch, n.onset_tick, n.duration_tick) for n in notes] == \
            [(n.pitch, n.onset_tick, n.duration_tick) for n in chorale.tracks[0].notes]
        grid = melody_grid(chorale, chorale.tracks[0].notes)
        for row, track in enumerate(chorale.tracks[1:], start=1):
            grid.pitches[row], grid.struck[row] = voice_grid(track.notes, grid.steps)
        counts = fault_counts(grid.pitches, grid.struck, ranged=(1, 2, 3))
        beats = grid.steps / STEPS_PER_QUARTER
        out = sum(not SATB_RANGES[row][0] <= n.pitch <= SATB_RANGES[row][1]
                  for row, track in enumerate(chorale.tracks[1:], start=1) for n in track.notes)
        rows.append(f"| {name} | {beats:.0f} | {100 * sum(counts.values()) / beats:.2f} | "
                    f"{'yes' if kept else 'NO'} | {out} |")
    rows += ["", "Examples (the first four bars of each voice, as note text):\n"]
    for name in [*list(tunes)[:2], list(tunes)[4]]:
        chorale = harmonize(tunes[name], model=model_path)
        rows.append(f"{name}:\n\n```\n{note_text(chorale)}\n```\n")
    return rows


def note_text(score: melodia.Score, bars: int = 4) -> str:
    """Each voice's notes in its first `bars` bars, as melodia's note names with quarter-note lengths."""
    end = score.bar_starts()[min(bars, len(score.bar_starts()) - 1)] if score.bar_count() > bars else score.end_tick
    lines = []
    for track in score.tracks:
        words = [note_words(note_name(n.pitch), n.duration_tick) for n in track.notes if n.onset_tick < end]
        lines.append(f"{track.name:8} {' '.join(words)}")
    return "\n".join(lines)


def note_words(name: str, ticks: int) -> str:
    """A note as melodia's note text writes it (/4 a quarter, /8. a dotted eighth), tied (~) across values."""
    values = {1920: "/1", 1440: "/2.", 960: "/2", 720: "/4.", 480: "/4", 360: "/8.", 240: "/8", 120: "/16"}
    words = []
    while ticks >= 120:
        value = max(t for t in values if t <= ticks)
        words.append(f"{name}{values[value]}")
        ticks -= value
    return "~ ".join(words) or name


def speed_and_size(model_path: str, train_log: str | None, train_minutes: float | None = None) -> list[str]:
    with tempfile.TemporaryDirectory() as folder:
        tune = generated_tune("G4 A4 B4 key=G", 7)
        source = write_score(tune, Path(folder) / "tune.mid")
        command = [sys.executable, "-m", "melodia.apps.cli"]
        harmonize_time = best_of(3, [*command, "harmonize", str(source), "-o", str(Path(folder) / "out.mid"),
                                     "--force", "--model", model_path])
        inspect_time = best_of(3, [*command, "inspect", str(source)])
    size = os.path.getsize(model_path)
    record = load_harmonizer(model_path)[1]
    members = record.get("members") or [record]
    epochs = "/".join(sorted({str(m.get("settings", {}).get("epochs")) for m in members}))
    if "cpu_minutes" in record and train_minutes is None and train_log is None:
        minutes = f"{record['cpu_minutes']:.1f} CPU-minutes (the training processes' CPU time, recorded as they ran)"
    else:
        minutes = training_minutes(train_log) if train_minutes is None else \
            f"{train_minutes:.1f} wall minutes on one thread of a shared 2-core machine, as measured when it was " \
            "trained (so at most that in CPU-minutes)"
    networks = f"{len(members)} networks of {epochs} epochs" if len(members) > 1 else f"{epochs} epochs"
    return ["## Speed and size\n", "| | measured | goal |\n| --- | --- | --- |",
            f"| `melodia harmonize` of a 16-bar tune (best of 3), beside `melodia inspect` of the same file | "
            f"{harmonize_time:.2f} s ({harmonize_time / inspect_time:.1f}x inspect's {inspect_time:.2f} s) | "
            "under 3 s on 2 CPU cores |",
            f"| model file | {size / 1e6:.1f} MB | at most 10 MB |",
            f"| training ({networks}, one thread each, "
            f"scripts/train_harmonizer.py) | {minutes} | at most 60 CPU-minutes |",
            f"| valid NLL per step at the end of training | {record.get('valid_nll_per_step', float('nan')):.3f} "
            "nats | |\n"]


def best_of(runs: int, command: list[str]) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, cwd=ROOT)
        times.append(time.perf_counter() - started)
    return float(np.min(times))


def training_minutes(train_log: str | None) -> str:
    """The wall time of the training run from its log's last epoch line, if a log is given."""
    if not train_log or not Path(train_log).is_file():
        return "(no log given)"
    epochs = [line for line in Path(train_log).read_text().splitlines() if line.startswith("epoch ")]
    if not epochs:
        return "(no epochs in the log)"
    seconds = float(epochs[-1].rsplit(", ", 1)[-1].split()[0])
    return f"{seconds / 60:.1f} wall minutes on one thread of a shared 2-core machine (so at most that in CPU-minutes)"


if __name__ == "__main__":
    sys.exit(main())
