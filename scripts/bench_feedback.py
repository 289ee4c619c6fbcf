"""Learning what a listener likes: simulated listeners keep and discard, the model learns, five rounds.

Each listener is a hidden taste, a function of the notes a melody adds to its seed (the seed is the
same in every melody, so it is left out):

- stepwise: steps of 1-2 semitones, within an octave;
- dotted: dotted notes and syncopations (a note struck off the beat and held over it);
- climber: the highest note in the second half, well above the first half's;
- mixolydian: the flattened seventh (a D mixolydian tune; strict scale keeps C sharp out, so its
  count against the other degrees is the taste);
- no-repeats: dislikes a note repeated at the same pitch.

A round: the model makes 8 candidates from the listener's seed (the studio's settings: 8 bars, its
form, strict scale); the listener keeps those whose taste score reaches its threshold, set on 64
melodies of the base model so that about 25 % are kept at the start, and discards the rest; the
model learns (from the base, on every mark so far). Three loops run from the same random seeds:
`melodia.lm.learn` (the preference objective), today's keep-only fine-tuning (`melodia.lm.finetune` on the
kept melodies), and no learning. Printed, per listener and round: the share of new melodies the
listener would keep, on the 8 candidates and 56 more drawn with them (64 in all), before the round's
learning; "after" is the share after the last round's. Then the checks on each final personal model:
key heard as written, tonic endings, held-out folk NLL against the base (Essen ballads in the
default model's test split), distinct outputs, and the longest run copied from the kept melodies
beside the same figure for the base model's melodies. And the time of each learning step and the
size of the model file.

Usage: nice -n 10 python scripts/bench_feedback.py [--listeners stepwise,dotted] [--rounds 5]
       [--methods learn,keep-only,none] [--set objective=ipo]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import json
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from melodia.apps.studio_session import StudioSettings
from melodia.feedback import discard, keep, kept_files
from melodia.io.midi import write_midi
from melodia.lm.finetune import finetune
from melodia.lm.generation import generate, read_seed, settings_record
from melodia.lm.learn import LearnSettings, learn
from melodia.lm.modelfile import load_model
from melodia.metrics import SCALAR_METRICS, ends_on_tonic, heard_key
from melodia.score import Note, Score

CANDIDATES = 8
EXTRA = 56  # melodies drawn beside the candidates to measure the share kept
CALIBRATION = 64
KEEP_SHARE = 0.25
METHODS = ("learn", "keep-only", "none")
HELD_OUT_FILES = ("ballad10.abc", "ballad20.abc", "ballad60.abc", "ballad70.abc", "ballad80.abc")


def _continuation(score: Score, seed_end: int) -> list[Note]:
    return sorted((n for n in score.notes if n.onset_tick >= seed_end), key=lambda n: (n.onset_tick, -n.pitch))


def stepwise(score: Score, seed_end: int) -> float:
    notes = _continuation(score, seed_end)
    moves = [abs(b.pitch - a.pitch) for a, b in itertools.pairwise(notes) if b.pitch != a.pitch]
    span = max(n.pitch for n in notes) - min(n.pitch for n in notes) if notes else 0
    return (sum(m <= 2 for m in moves) / max(len(moves), 1)) - 0.1 * max(0, span - 12)


def dotted(score: Score, seed_end: int) -> float:
    notes = _continuation(score, seed_end)
    beat = score.time_signatures[0].beat_ticks
    dots = sum(n.duration_tick in (180, 360, 720, 1440) for n in notes)
    syncopated = sum(n.onset_tick % beat != 0 and (n.onset_tick // beat) != ((n.end_tick - 1) // beat)
                     for n in notes)
    return (dots + syncopated) / max(len(notes), 1)


def climber(score: Score, seed_end: int) -> float:
    notes = _continuation(score, seed_end)
    if len(notes) < 4:
        return -99.0
    middle = (notes[0].onset_tick + notes[-1].end_tick) / 2
    first = [n.pitch for n in notes if n.onset_tick < middle] or [0]
    second = [n.pitch for n in notes if n.onset_tick >= middle] or [0]
    return float(max(second) - max(first))


def flat_seventh(score: Score, seed_end: int) -> float:
    notes = _continuation(score, seed_end)
    return sum(n.pitch % 12 == 0 for n in notes) / max(len(notes), 1)  # C natural in D mixolydian


def no_repeats(score: Score, seed_end: int) -> float:
    notes = _continuation(score, seed_end)
    return -sum(a.pitch == b.pitch for a, b in itertools.pairwise(notes)) / max(len(notes) - 1, 1)


@dataclass(frozen=True)
class Listener:
    name: str
    taste: Callable[[Score, int], float]
    settings: StudioSettings = field(default_factory=StudioSettings)


LISTENERS = (
    Listener("stepwise", stepwise),
    Listener("dotted", dotted, StudioSettings(seed="C4 E4 G4 E4 key=C meter=4/4")),
    Listener("climber", climber, StudioSettings(seed="G4 A4 B4 G4 key=G meter=3/4")),
    Listener("mixolydian", flat_seventh, StudioSettings(seed="D4 F#4 A4 C5", key="D mixolydian", meter="4/4")),
    Listener("no-repeats", no_repeats, StudioSettings(seed="A4 C5 E5 D5 key=Am meter=4/4")),
)


def draw(model: object, listener: Listener, count: int, random_seed: int) -> list[Score]:
    settings = listener.settings
    return generate(model, settings.seed, count, settings.constraints(), settings.sampling(), random_seed)


def write_round(folder: Path, melodies: Sequence[Score], likes: Sequence[bool], listener: Listener,
                random_seed: int) -> None:
    """The candidates as 001.mid ... with a manifest as the studio writes it, each marked as the listener judged
    it."""
    settings = listener.settings
    record = settings_record(settings.seed, settings.constraints(), settings.sampling(), random_seed, "default",
                             len(melodies))
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps({"outputs": [{"file": f"{i + 1:03d}.mid", "settings": record}
                                                                  for i in range(len(melodies))]}))
    for number, (melody, liked) in enumerate(zip(melodies, likes), start=1):
        path = folder / f"{number:03d}.mid"
        write_midi(melody, path)
        (keep if liked else discard)(path)


@dataclass
class Loop:
    """What one loop of rounds did: the share kept of each round's new melodies (the last: after the last
    learning), the seconds (wall, CPU) of each learning step, the final model and its file, the round folders."""

    shares: list[float]
    seconds: list[tuple[float, float]]
    final: tuple[object, object]
    model_file: Path | None
    folders: list[Path]


def run_loop(listener: Listener, method: str, rounds: int, threshold: float, work: Path,
             settings: LearnSettings) -> Loop:
    model = load_model("default")[:2]
    seed_end = read_seed(listener.settings.seed)[0].end_tick
    loop = Loop([], [], model, None, [])
    output = work / f"{listener.name}-{method}.safetensors"
    for number in range(1, rounds + 2):
        melodies = draw(loop.final, listener, CANDIDATES + EXTRA, 7919 * number)
        likes = [listener.taste(m, seed_end) >= threshold for m in melodies]
        loop.shares.append(sum(likes) / len(likes))
        if number > rounds:
            break
        folder = work / f"{listener.name}-{method}-round{number}"
        write_round(folder, melodies[:CANDIDATES], likes[:CANDIDATES], listener, 7919 * number)
        loop.folders.append(folder)
        started, cpu = time.perf_counter(), time.process_time()
        if method == "learn":  # from the last round's personal model, on every mark so far
            learn(output if output.is_file() else "default", loop.folders, output, settings=settings,
                  random_seed=number)
        elif method == "keep-only":  # today's: fine-tune the default on every kept melody so far
            kept = [f for f in loop.folders if kept_files(f)]
            if kept:
                with contextlib.redirect_stdout(io.StringIO()):  # its epoch lines
                    finetune("default", output, kept=kept, progress_bar=False, guard=False)
        loop.seconds.append((time.perf_counter() - started, time.process_time() - cpu))
        if method != "none" and output.is_file():
            loop.final, loop.model_file = load_model(output)[:2], output
    return loop


def held_out_folk(tokenizer: object) -> list[np.ndarray]:
    """Token sequences of Essen ballads in the folk corpus's test split (the default model never saw them)."""
    import music21

    from melodia.corpus.build import build_corpus
    from melodia.corpus.reader import Corpus
    from melodia.corpus.recipe import Recipe, Source
    from melodia.resources import cache_root

    location = Path(music21.__file__).parent / "corpus" / "essenFolksong"
    recipe = Recipe(name="bench-feedback-folk", sources=(Source("essen", "music21", location, HELD_OUT_FILES),),
                    tokenizer=tokenizer.config, valid_share=0.05, test_share=0.05)  # type: ignore[attr-defined]
    result = build_corpus(recipe, workers=1, progress=False, folder=cache_root() / "bench" / "feedback-folk")
    corpus = Corpus(result.folder)
    return [corpus.piece_tokens(piece) for piece in corpus.split("test")]


def folk_nll(model: object, sequences: Sequence[np.ndarray]) -> float:
    from melodia.lm.evaluate import model_nll

    return sum(model_nll(model, sequences)) / sum(len(s) - 1 for s in sequences)  # type: ignore[arg-type]


def longest_copy(melodies: Sequence[Score], kept: Sequence[Score], seed_end: int) -> int:
    """The longest run of notes (pitch and length) any melody's continuation shares with a kept melody's."""
    from melodia.lm.finetune import continuation
    from melodia.metrics.originality import ReferenceIndex

    index = ReferenceIndex([(str(i), continuation(s, seed_end)) for i, s in enumerate(kept)])
    return max((index.longest_match(continuation(m, seed_end)).notes for m in melodies), default=0)


def quality(listener: Listener, method: str, loop: Loop, folk: Sequence[np.ndarray], base_nll: float,
            base: tuple[object, object]) -> str:
    from melodia.io import read_score

    seed_end = read_seed(listener.settings.seed)[0].end_tick
    melodies = draw(loop.final, listener, 32, 424242)
    candidates = melodies[:CANDIDATES]
    key_heard = statistics.mean(heard_key(m).tonic == m.key_signatures[0].tonic for m in melodies)
    base_melodies = draw(base, listener, 32, 424242)
    base_key = statistics.mean(heard_key(m).tonic == m.key_signatures[0].tonic for m in base_melodies)
    tonic = statistics.mean(ends_on_tonic(m, m.key_signatures[0].tonic) for m in melodies)
    nll = folk_nll(loop.final[0], folk)
    distinct = len({tuple((n.pitch, n.onset_tick, n.duration_tick) for n in m.notes) for m in candidates})
    kept = [read_score(path) for folder in loop.folders for path in kept_files(folder)]
    copy = longest_copy(melodies, kept, seed_end)
    base_copy = longest_copy(base_melodies, kept, seed_end)
    form = "  ".join(f"{name} {_mean(melodies, name) / max(_mean(base_melodies, name), 1e-9):.2f}x"
                     for name in ("repetition", "phrase_parallelism", "motif_reuse"))
    size = loop.model_file.stat().st_size / 1e6 if loop.model_file else 0.0
    return (f"  {listener.name:11} {method:9} key heard {key_heard:4.0%} (base {base_key:.0%})  tonic endings "
            f"{tonic:4.0%}  folk NLL "
            f"{nll / base_nll:.3f}x base  distinct {distinct}/{CANDIDATES}  longest run copied from kept "
            f"{copy} notes (base model's melodies: {base_copy})  file {size:.1f} MB\n"
            f"  {'':21} form against the base model's melodies: {form}")


def _mean(melodies: Sequence[Score], metric: str) -> float:
    return float(np.nanmean([SCALAR_METRICS[metric](m) for m in melodies]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--listeners", default=",".join(listener.name for listener in LISTENERS))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="a learn setting")
    parser.add_argument("--no-quality", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    settings = LearnSettings().with_overrides(args.set)
    methods = args.methods.split(",")
    chosen = [listener for listener in LISTENERS if listener.name in args.listeners.split(",")]
    base = load_model("default")[:2]
    print(f"learn settings: {settings}")
    table: dict[str, dict[str, Loop]] = {}
    with tempfile.TemporaryDirectory() as temporary:
        work = Path(temporary)
        for listener in chosen:
            seed_end = read_seed(listener.settings.seed)[0].end_tick
            tastes = [listener.taste(m, seed_end) for m in draw(base, listener, CALIBRATION, 1)]
            threshold = float(np.quantile(tastes, 1 - KEEP_SHARE))
            if np.mean(np.array(tastes) >= threshold) > 2 * KEEP_SHARE:  # many ties at the threshold: above it
                threshold = float(np.nextafter(threshold, np.inf))
            table[listener.name] = {}
            for method in methods:
                loop = run_loop(listener, method, args.rounds, threshold, work, settings)
                table[listener.name][method] = loop
                shares = " ".join(f"{s:4.0%}" for s in loop.shares)
                timing = ""
                if loop.seconds and method != "none":
                    timing = (f"  learning at most {max(w for w, _ in loop.seconds):.1f} s wall, "
                              f"{max(c for _, c in loop.seconds):.1f} s CPU")
                print(f"{listener.name:11} {method:9} threshold {threshold:7.3f}: {shares}{timing}", flush=True)
        print(f"\nshare of new melodies the listener keeps ({CANDIDATES + EXTRA} a round), rounds 1..N (before "
              "each round's learning), then after the last round's learning")
        header = " ".join(f"{f'r{n}':>5}" for n in range(1, args.rounds + 1)) + "  after   gain"
        print(f"{'listener':11} {'method':9} {header}")
        for name, rows in table.items():
            for method, loop in rows.items():
                gain = loop.shares[-1] - loop.shares[0]
                print(f"{name:11} {method:9} " + " ".join(f"{s:5.0%}" for s in loop.shares[:-1])
                      + f"  {loop.shares[-1]:5.0%}  {gain:+5.0%}")
            if "learn" in rows and "keep-only" in rows:
                learnt = rows["learn"].shares[-1] - rows["learn"].shares[0]
                kept = rows["keep-only"].shares[-1] - rows["keep-only"].shares[0]
                ratio = f"{learnt / kept:.1f}x" if kept > 0 else "keep-only gained nothing"
                print(f"{name:11} gain of learn against keep-only: {ratio}")
        if "learn" in methods and not args.no_quality:
            print("\nquality of the final models (32 melodies each, the same random seed as the base's; the longest "
                  "run copied from the kept melodies counts the notes after the seed)")
            folk = held_out_folk(base[1])
            base_nll = folk_nll(base[0], folk)
            print(f"  held-out folk: {len(folk)} Essen ballads of the test split, base NLL {base_nll:.4f} nats/token")
            for listener in chosen:
                for method in ("learn", "keep-only"):
                    if method in table[listener.name] and table[listener.name][method].model_file:
                        print(quality(listener, method, table[listener.name][method], folk, base_nll, base),
                              flush=True)


if __name__ == "__main__":
    main()
