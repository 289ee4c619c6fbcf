"""The figures of infilling, melodies over chords and per-bar controls (issue 19), for a model.

Held-out folk tunes (the folk corpus's test split) and fixed random draws, so a rerun prints the
same figures:
1. Infilling: NLL per token of 4 masked bars given the bars before and after them (fill-in-the-
   middle) against given the bars before only (plain continuation), the network's own (also by token
   kind) and under the grammar, and how the top line crosses
   the gap's last bar line (leap, rest, length of the note before) in infills, in prefix-only
   continuations glued to the same suffix, and at the bar lines of the real tunes.
2. Melodies over chords: melody notes on strong beats that are chord tones (metrics.chord_tone_rate)
   over given progressions, without the progression as a baseline, and for the real tunes against
   their analysed chords.
3. Per-bar controls: Spearman correlation between asked and produced notes per bar, and register.
4. Plain-continuation NLL of this model and of a reference model on the same tunes.

Usage: python scripts/report_controls.py [--model default] [--reference OLD_MODEL] [--tunes 200]
"""

from __future__ import annotations

import argparse
import copy
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from melodia.corpus.reader import Corpus
from melodia.lm.constraints import Constraints
from melodia.lm.controls import Controls, Labeler
from melodia.lm.generation import generate
from melodia.lm.infill import BarSpan, infill
from melodia.lm.modelfile import open_model
from melodia.lm.sampler import SamplingConfig, sample
from melodia.metrics import bar_mean_pitches, bar_note_counts, chord_tone_rate, junction, spearman
from melodia.score import ChordSymbol, Score
from melodia.tokenizers import EOS
from melodia.tokenizers.metrical import fill_prompt
from melodia.tokenizers.rules import BarCount, InOrder

GAP = 4
PROGRESSIONS = [  # (seed, meter, progression)
    ("D4 E4 F#4 G4 key=D", "4/4", "D | G | A7 | D | Bm | G | A7 | D"),
    ("A4/8 B4/8 C5/8 A4/8 B4/8 G4/8 key=Am meter=6/8", "6/8", "Am | G | Am | E7 | Am | Dm | E7 | Am"),
    ("G4/2 B4 key=G meter=3/4", "3/4", "G | C | D7 | G | Em | C | D7 | G"),
    ("C5/8 B4/8 A4 G4 E4 key=C", "4/4", "C | F | G7 | C | Am | Dm | G7 | C"),
]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--reference", help="a model whose plain-continuation NLL to print beside")
    parser.add_argument("--tunes", type=int, default=200, help="held-out tunes for items 1 and 4")
    parser.add_argument("--melodies", type=int, default=40, help="melodies per progression and per control")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    model, tokenizer = open_model(args.model)
    corpus = Corpus.open("folk")
    tunes = _tunes(corpus, args.tunes)
    print(f"model {args.model}; {len(tunes)} held-out folk tunes (test split), gaps of {GAP} bars\n")
    _infilling(model, tokenizer, tunes)
    _chords(args.model, corpus, tunes, args.melodies)
    _controls(args.model, args.melodies)
    _plain(args.model, args.reference, corpus, tunes)


# ------------------------------------------------------------------ 1. infilling


def _tunes(corpus: Corpus, count: int) -> list[tuple[np.ndarray, int]]:
    """(tokens, first bar of the gap, from 0) of held-out tunes in one meter and tempo with a gap inside."""
    rng = np.random.default_rng(19)
    vocab = corpus.tokenizer.vocab
    out = []
    for piece in corpus.split("test"):
        tokens = corpus.piece_tokens(piece).astype(np.int64)
        bars = int((tokens == vocab.id("Bar", 0)).sum())
        changes = sum(int(((tokens >= a) & (tokens < b)).sum()) for a, b in (vocab.ranges["TimeSig"],
                                                                               vocab.ranges["Tempo"]))
        if bars >= GAP + 4 and changes == 2:
            out.append((tokens, int(rng.integers(2, bars - GAP))))
        if len(out) == count:
            break
    return out


KINDS = ("Pitch", "Duration", "Position", "Bar")  # the token kinds whose NLL is shown apart


def _nll(model: Any, tokenizer: Any, tokens: list[int], labels: np.ndarray | None, targets: range,
         grammar: bool = True) -> np.ndarray:
    """NLL (nats) of each token at `targets` given the ones before them: (targets, 2), the network's own and
    under the grammar (its probabilities renormalised over the tokens the grammar allows there, the
    distribution melodia draws from; the network's own again without `grammar`)."""
    inputs = torch.tensor([tokens[:-1]])
    conditions = None if labels is None else torch.from_numpy(labels[:-1]).unsqueeze(0)
    with torch.no_grad():
        logits, _ = model(inputs, None, conditions)
    rows = logits[0].double().numpy()[[i - 1 for i in targets]]
    chosen = rows[np.arange(len(rows)), [tokens[i] for i in targets]]
    own = np.logaddexp.reduce(rows, axis=1) - chosen
    if not grammar:
        return np.stack([own, own], axis=1)
    state, allowed = tokenizer.new_state(), []
    for i, token in enumerate(tokens[:-1]):
        state.advance(token)
        if i + 1 in targets:
            allowed.append(state.allowed())
    masked = np.logaddexp.reduce(np.where(np.asarray(allowed), rows, -np.inf), axis=1) - chosen
    return np.stack([own, masked], axis=1)


def _labels(tokenizer: Any, model: Any, tokens: list[int]) -> np.ndarray | None:
    if not model.config.conditions:
        return None
    labeler, state, rows = Labeler(tuple(model.config.conditions)), tokenizer.new_state(), []
    for token in tokens:
        state.advance(token)
        rows.append(labeler(state))
    return np.stack(rows)


def _infilling(model: Any, tokenizer: Any, tunes: list[tuple[np.ndarray, int]]) -> None:
    both, prefix_only, kinds = [], [], []
    infills, continued, real = [], [], []
    started = time.monotonic()
    for number, (tokens, first) in enumerate(tunes):
        prompt, a, b = fill_prompt(tokenizer, tokens, first, GAP)
        middle = list(map(int, tokens[a:b]))
        arranged = [*prompt, *middle, EOS]
        start = len(arranged) - 1 - len(middle)
        both.append(_nll(model, tokenizer, arranged, _labels(tokenizer, model, arranged),
                         range(start, start + len(middle))))
        plain = list(map(int, tokens))
        prefix_only.append(_nll(model, tokenizer, plain, _labels(tokenizer, model, plain), range(a, b)))
        kinds += [tokenizer.vocab.kind_of[token] for token in middle]
        tune = tokenizer.decode(tokens)
        starts = tune.bar_starts()
        gap_end = starts[first + GAP]
        real += [j for tick in starts[1:] if (j := junction(tune, tick))]
        filled = infill((model, tokenizer), tune, BarSpan(first + 1, first + GAP), 1, random_seed=number)[0]
        infills.append(junction(filled, gap_end))
        continued.append(junction(_continued(model, tokenizer, tune, tokens[:a], first, starts), gap_end))
    seconds = time.monotonic() - started
    print("1. Infilling")
    _print_nll(np.concatenate(both), np.concatenate(prefix_only), np.asarray(kinds))
    print("   crossing into the kept bars after the gap (real: every bar line of the same tunes):")
    print(f"   {'':24s}{'mean leap':>10s}{'steps<=2':>10s}{'leaps>=7':>10s}{'rest':>8s}{'held>=1 beat':>14s}"
          f"{'leap overlap':>14s}")
    reference = _leap_histogram(real)
    for name, rows in (("infills", infills), ("prefix-only + suffix", continued), ("real bar lines", real)):
        rows = [r for r in rows if r]
        leaps = np.asarray([r[0] for r in rows], dtype=float)
        print(f"   {name:24s}{leaps.mean():10.2f}{(leaps <= 2).mean():10.1%}{(leaps >= 7).mean():10.1%}"
              f"{np.mean([r[1] > 0 for r in rows]):8.1%}{np.mean([r[2] >= 1 for r in rows]):14.1%}"
              f"{1 - 0.5 * np.abs(_leap_histogram(rows) - reference).sum():14.3f}")
    print(f"   ({len(tunes)} infills and continuations drawn in {seconds:.0f} s)\n")


def _print_nll(both: np.ndarray, prefix_only: np.ndarray, kinds: np.ndarray) -> None:
    """NLL per token of the masked bars given both sides and given the bars before only: the network's own, by
    token kind, and under the grammar."""
    print(f"   NLL of the {len(kinds)} tokens of the masked bars, nats/token: given both sides "
          f"{both[:, 0].mean():.4f}, given the bars before only {prefix_only[:, 0].mean():.4f} "
          f"(ratio {both[:, 0].sum() / prefix_only[:, 0].sum():.3f})")
    for kind in KINDS:
        rows = kinds == kind
        print(f"     {kind + ' tokens':16s}({rows.sum():5d}): both sides {both[rows, 0].mean():.4f}, before only "
              f"{prefix_only[rows, 0].mean():.4f} (ratio {both[rows, 0].sum() / prefix_only[rows, 0].sum():.3f})")
    print(f"   under the grammar (what melodia draws from: the gap's length and the next kept note are known): "
          f"both sides {both[:, 1].mean():.4f}, before only {prefix_only[:, 1].mean():.4f} "
          f"(ratio {both[:, 1].sum() / prefix_only[:, 1].sum():.3f})")


def _leap_histogram(rows: Sequence[tuple[int, float, float] | None]) -> np.ndarray:
    leaps = np.minimum([r[0] for r in rows if r], 13)
    return np.bincount(leaps, minlength=14) / max(len(leaps), 1)


def _continued(model: Any, tokenizer: Any, tune: Score, prefix: np.ndarray, first: int, starts: list[int]) -> Score:
    """The tune with its gap written from the bars before it only (plain continuation), the suffix kept."""
    generator = torch.Generator().manual_seed(first)
    rules = [InOrder(tokenizer), BarCount(tokenizer, first + GAP)]
    tokens = sample(model, tokenizer, list(map(int, prefix)), 1, SamplingConfig(), generator, rules)[0]
    written = tokenizer.decode(tokens)
    gap = [n for n in written.notes if starts[first] <= n.onset_tick < starts[first + GAP]]
    out = copy.deepcopy(tune)
    kept = [n for n in out.tracks[0].notes if not starts[first] <= n.onset_tick < starts[first + GAP]]
    out.tracks[0].notes = sorted([*kept, *gap], key=lambda n: n.onset_tick)
    return out


# ------------------------------------------------------------------ 2. chords


def _chords(model: str, corpus: Corpus, tunes: list[tuple[np.ndarray, int]], count: int) -> None:
    from melodia.harmony.chords import harmonize, tune_key

    print("2. Melodies over chords: strong-beat melody notes that are chord tones")
    over, free = [], []
    for seed, meter, progression in PROGRESSIONS:
        asked = generate(model, seed, count, Constraints(bars=8), random_seed=7,
                         controls=Controls(chords=progression))
        plain = generate(model, seed, count, Constraints(bars=8), random_seed=7)
        rate = np.nanmean([chord_tone_rate(s) for s in asked])
        for score in plain:
            score.chord_symbols = asked[0].chord_symbols
        base = np.nanmean([chord_tone_rate(s) for s in plain])
        over.append(rate)
        free.append(base)
        print(f"   {progression:40s} {meter}: {rate:6.1%} with the chords, {base:6.1%} without ({count} melodies)")
    real = []
    for tokens, _ in tunes:
        tune = corpus.tokenizer.decode(tokens)
        notes = tune.notes
        spans = harmonize(tune, notes, tune_key(tune, notes))
        tune.chord_symbols = [ChordSymbol(span.start, span.chord.symbol()) for span in spans]
        real.append(chord_tone_rate(tune))
    print(f"   mean over the progressions: {np.mean(over):.1%} with the chords (goal 85 %), {np.mean(free):.1%} "
          f"without; real folk tunes against their analysed chords: {np.nanmean(real):.1%}\n")


# ------------------------------------------------------------------ 3. per-bar controls


def _controls(model: str, count: int) -> None:
    print("3. Per-bar controls (8 bars after a 1-bar seed, form none; bars 2-8 compared)")
    rng = np.random.default_rng(3)
    seed = "D4 E4 F#4 G4 key=D"
    asked_density, made_density, asked_register, made_register = [], [], [], []
    for index in range(count):
        density = [int(v) for v in rng.integers(2, 9, size=8)]
        register = [str(v) for v in rng.choice(["low", "mid", "high"], size=8)]
        constraints = Constraints(bars=8, form="none")
        made = generate(model, seed, 1, constraints, random_seed=index,
                        controls=Controls(density=",".join(map(str, density))))[0]
        asked_density += density[1:]
        made_density += list(bar_note_counts(made)[1:8])
        constraints = Constraints(bars=8, form="none", scale="strict")
        made = generate(model, seed, 1, constraints, random_seed=index,
                        controls=Controls(register=",".join(register)))[0]
        asked_register += [["low", "mid", "high"].index(r) for r in register[1:]]
        made_register += list(bar_mean_pitches(made)[1:8])
    pairs = [(a, m) for a, m in zip(asked_register, made_register, strict=True) if not math.isnan(m)]
    density_rho = spearman(asked_density, made_density)
    register_rho = spearman(*zip(*pairs, strict=True))
    print(f"   density: Spearman {density_rho:.3f} over {len(asked_density)} bars (goal 0.8); asked 2-8 notes a bar, "
          f"made {np.mean(made_density):.2f} on average")
    print(f"   register: Spearman {register_rho:.3f} over {len(pairs)} bars (goal 0.8)\n")


# ------------------------------------------------------------------ 4. plain continuation


def _plain(model: str, reference: str | None, corpus: Corpus, tunes: list[tuple[np.ndarray, int]]) -> None:
    print("4. Plain continuation: NLL per token of the whole held-out tunes, every control unknown")
    figures = {}
    for name in filter(None, (model, reference)):
        network, tokenizer = open_model(name)
        total = count = 0.0
        for tokens, _ in tunes:
            plain = list(map(int, tokens))
            total += _nll(network, tokenizer, plain, _labels(tokenizer, network, plain), range(1, len(plain)),
                          grammar=False)[:, 0].sum()
            count += len(plain) - 1
        figures[name] = total / count
        print(f"   {name}: {figures[name]:.4f} nats/token")
    if reference:
        print(f"   {model} / {reference}: {figures[model] / figures[reference]:.3f} (goal at most 1.05)")
    if Path(model).suffix or model == "default":
        _infill_timing(model)


def _infill_timing(model: str) -> None:
    import subprocess
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        tune = Path(folder) / "tune.mid"
        from melodia.io.midi import write_midi

        corpus = Corpus.open("folk")
        write_midi(corpus.tokenizer.decode(_tunes(corpus, 1)[0][0]), tune)
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "melodia.apps.cli", "infill", str(tune), "--bars", "3-6", "--num", "10",
                        "--model", model, "-o", str(Path(folder) / "out"), "--quiet"], check=True,
                       capture_output=True)
        print(f"   10 infills of 4 bars from the command line: {time.monotonic() - started:.2f} s (goal 3 s)")


if __name__ == "__main__":
    main()
