"""A folk player's report: whole generated tunes beside real tunes of the same kind, as played.

For each kind (jigs in 6/8, reels and hornpipes, waltzes, airs) it reads real tunes from music21's corpus with
their repeats expanded (Ryan's Mammoth Collection for jigs, reels and hornpipes; O'Neill's 1850 and Aird's
Airs for waltzes and airs), writes as many tunes with `melodia.lm.tunes.write_tunes` (32 bars as played where the
kind has two strains, seeded with the first bar of a real tune of that kind), and prints the measures of
`melodia.metrics.tunes` side by side with their ratio and the issue's goal.

Last, reels and waltzes over chord progressions (`--chords`): strong-beat notes on chord tones, repeats kept.

With `--defaults N`, issue 16's figures for N melodies of 16 bars at the command line's defaults.

Last, the wall time of `melodia generate --tune reel --num 10` (10 reels of 32 bars as played, with their MIDI
files, piano rolls and MusicXML), start-up included, the best of 3 (`--no-command` leaves it out).

Usage: python scripts/report_folk.py [--model melodia/data/default.safetensors] [--count 40] [--kinds jig,reel]
       [--no-chords] [--defaults 200] [--no-command]
"""

from __future__ import annotations

import argparse
import re
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from melodia.lm.modelfile import open_model
from melodia.lm.tunes import TUNE_TYPES, write_tunes
from melodia.metrics import tunes as measures
from melodia.score import KeySignature, Note, Score, TimeSignature, Track

RATE_GOAL = (None, 1.5)  # at most 1.5x real tunes
RATIO_GOAL = (0.75, 1.33)
METRE_AND_SHAPE: dict[str, tuple[Callable[[Score], float], tuple[float | None, float]]] = {
    "bar equal to the bar before": (measures.repeated_bar_rate, RATE_GOAL),
    "notes tied over a bar line": (measures.tie_rate, RATE_GOAL),
    "off-beat notes held across a beat": (measures.held_offbeat_rate, RATE_GOAL),
    "notes off the sixteenth grid": (measures.off_grid_rate, RATE_GOAL),
    "same-pitch runs of 5+ (per note)": (measures.same_pitch_runs, RATE_GOAL),
    "unrecovered leaps of a minor 6th+": (measures.unrecovered_leap_rate, RATE_GOAL),
    "leaps of a fifth or more (per interval)": (measures.leap_rate, RATE_GOAL),
    "share in the commonest duration": (measures.common_duration_share, RATIO_GOAL),
    "final note's height in the range": (measures.final_height, RATIO_GOAL),
}
KIND_SOURCES = {  # kind -> (corpus folder, pattern of its R: field or meter, tunes with the meter)
    "jig": ("ryansMammoth", r"R:\s*(double )?jig", "6/8"),
    "reel": ("ryansMammoth", r"R:\s*reel", None),
    "hornpipe": ("ryansMammoth", r"R:\s*hornpipe", None),
    "waltz": ("oneills1850|airdsAirs", r"M:\s*3/4", "3/4"),
    "air": ("oneills1850|airdsAirs", r"R:\s*air", None),
    "folk": ("essenFolksong|oneills1850", r"", None),  # every tune: the sources of the folk corpus
}


def corpus_tunes(kind: str) -> Iterator[tuple[str, str]]:
    """(name, ABC text) of each tune of `kind` in music21's corpus, in a fixed order."""
    import music21

    root = Path(music21.__file__).parent / "corpus"
    folders, pattern, _ = KIND_SOURCES[kind]
    for folder in folders.split("|"):
        for path in sorted((root / folder).glob("*.abc")):
            text = path.read_text(encoding="latin-1")
            for index, tune in enumerate(re.split(r"\n(?=X:)", text)):
                if re.search(pattern, tune, re.IGNORECASE) and "K:" in tune:
                    yield f"{path.stem}#{index}", tune


def real_tunes(kind: str, count: int) -> list[Score]:
    """Up to `count` real tunes of `kind` as played (with their form, where written with repeats)."""
    from melodia.io.music21 import score_from_text

    found: list[Score] = []
    meter = KIND_SOURCES[kind][2]
    for name, text in corpus_tunes(kind):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                score = score_from_text(text, "abc", name)
            except Exception:  # a tune music21 cannot read is left out of the reference
                continue
        if not score.note_count or (meter and str(score.initial_time_signature()) != meter):
            continue
        found.append(score)
        if len(found) == count:
            break
    return found


def first_bar_seed(score: Score) -> Score:
    """The real tune's first whole bar (after any pickup), as a seed."""
    starts = score.bar_starts(score.end_tick)
    first = 1 if len(starts) > 1 and starts[1] - starts[0] < score.time_signature_at(starts[1]).bar_ticks else 0
    begin, end = starts[first], starts[first + 1] if first + 1 < len(starts) else score.end_tick
    line = measures.melody(score)
    notes = [Note(n.pitch, 90, n.onset_tick - begin, min(n.end_tick, end) - n.onset_tick)
             for n in line if begin <= n.onset_tick < end]
    meter = score.time_signature_at(begin)
    keys = [KeySignature(0, key.tonic, key.mode) for key in score.key_signatures[:1]]
    return Score(tracks=[Track("seed", 0, False, notes)],
                 time_signatures=[TimeSignature(0, meter.numerator, meter.denominator)], key_signatures=keys)


def tonic_of(score: Score) -> int:
    return score.key_signatures[0].tonic if score.key_signatures else 0


def mean(values: list[float]) -> float:
    finite = [v for v in values if not np.isnan(v)]
    return float(np.mean(finite)) if finite else float("nan")


def verdict(made: float, real: float, goal: tuple[float | None, float]) -> str:
    if np.isnan(made) or np.isnan(real):
        return ""
    if goal == RATE_GOAL:
        return "met" if made <= 1.5 * real + 1e-9 else "not met"
    ratio = made / real if real else float("inf")
    return "met" if goal[0] <= ratio <= goal[1] else "not met"  # type: ignore[operator]


def report_kind(kind: str, loaded: object, count: int) -> None:
    real = real_tunes(kind, count)
    started = time.process_time()
    made = [write_tunes(loaded, first_bar_seed(score), kind, 1, random_seed=index)[0]
            for index, score in enumerate(real)]
    seconds = time.process_time() - started
    print(f"\n## {kind}: {len(made)} generated ({TUNE_TYPES[kind].form} of {TUNE_TYPES[kind].strain_bars}-bar "
          f"strains, {seconds / max(len(made), 1):.2f} CPU-s a tune) against {len(real)} real tunes as played\n")
    print("| measure | generated | real | ratio | goal |\n| --- | --- | --- | --- | --- |")
    with_form = [score for score in real if score.form is not None and score.form.has_repeats]
    rows = [("strain repeats: bars equal in the second playing",
             mean([measures.strain_return_share(t.played) for t in made]),
             mean([measures.strain_return_share(s) for s in with_form]), "at least 0.95"),
            ("second endings and the tune's end on the tonic",
             mean([measures.strain_tonic_endings(t.played, t.key.tonic) for t in made]),
             mean([measures.strain_tonic_endings(s, tonic_of(s)) for s in with_form]), "at least 0.90"),
            ("B strain's mean pitch above A's (semitones)",
             mean([measures.strain_pitch_rise(t.played) for t in made]),
             mean([measures.strain_pitch_rise(s) for s in with_form]), "0.75-1.33x"),
            ("B strain's compass (semitones, first playing)",
             mean([measures.strain_compass(t.played) for t in made]),
             mean([measures.strain_compass(s) for s in with_form]), "")]
    for name, ours, theirs, goal in rows:
        print(f"| {name} | {ours:.3f} | {theirs:.3f} | {ours / theirs if theirs else float('nan'):.2f} | {goal} |")
    for name, (measure, goal_range) in METRE_AND_SHAPE.items():
        ours, theirs = mean([measure(t.played) for t in made]), mean([measure(s) for s in real])
        goal = "at most 1.5x" if goal_range == RATE_GOAL else "0.75-1.33x"
        print(f"| {name} | {ours:.4f} | {theirs:.4f} | {ours / theirs if theirs else float('nan'):.2f} | "
              f"{goal} ({verdict(ours, theirs, goal_range)}) |")
    if kind == "hornpipe":  # its strains close on a stop cadence, three beats struck one by one (`G2 B2 G2`)
        ours = mean([measures.stop_cadence_share(t.played) for t in made])
        theirs = mean([measures.stop_cadence_share(s) for s in with_form])
        print(f"| playings closing on a stop cadence | {ours:.3f} | {theirs:.3f} | "
              f"{ours / theirs if theirs else float('nan'):.2f} | |")
    minor = [(t, s) for t, s in zip(made, real) if s.key_signatures and s.key_signatures[0].mode == "minor"]
    if minor:
        ours = mean([measures.raised_seventh_share(t.played, t.key.tonic) for t, _ in minor])
        theirs = mean([measures.raised_seventh_share(s, tonic_of(s)) for _, s in minor])
        print(f"| minor tunes ({len(minor)}): seventh degree raised | {ours:.3f} | {theirs:.3f} | "
              f"{ours / theirs if theirs else float('nan'):.2f} | |")
        ours = mean([measures.leading_note_share(t.played, t.key.tonic) for t, _ in minor])
        theirs = mean([measures.leading_note_share(s, tonic_of(s)) for _, s in minor])
        print(f"| minor tunes ({len(minor)}): leading note's share of the notes | {ours:.3f} | {theirs:.3f} | "
              f"{ours / theirs if theirs else float('nan'):.2f} | |")
    print(f"\nreal tunes read with repeats: {len(with_form)} of {len(real)}")


PROGRESSIONS = ("D | G | A7 | D", "D | Bm | G | A7", "D G | A7 D | Em | A7", "D | G | A7")


def report_chords(loaded: object, count: int) -> None:
    """Reels and waltzes over chord progressions (one of 3 bars, which a repeat of 8 bars does not fit): the share
    of strong-beat notes on chord tones, and the share of repeats kept (a repeat over other chords is rewritten)."""
    from melodia.lm.controls import Controls
    from melodia.metrics import chord_tone_rate

    print("\n## with --chords: strong-beat melody notes on chord tones (goal: at least 90 %)\n")
    print("| progression | reels: chord tones | reels: repeats kept | waltzes: chord tones |")
    print("| --- | --- | --- | --- |")
    for progression in PROGRESSIONS:
        asked = Controls(chords=progression)
        reels = write_tunes(loaded, "D4/8 E4/8 F#4/8 A4/8", "reel", count, controls=asked, random_seed=1)
        waltzes = write_tunes(loaded, "D4/4 F#4/4 A4/4", "waltz", count, controls=asked, random_seed=1)
        cell = progression.replace("|", "\\|")  # a bar line inside a table cell
        print(f"| {cell} | {mean([chord_tone_rate(t.played) for t in reels]):.3f} | "
              f"{mean([measures.strain_return_share(t.played) for t in reels]):.3f} | "
              f"{mean([chord_tone_rate(t.played) for t in waltzes]):.3f} |")


def report_defaults(loaded: object, count: int) -> None:
    """Issue 16's figures at the command line's defaults (16 bars, AABA of 4-bar phrases as played) against the
    first 16 bars of real tunes from the folk corpus's sources read as played (every 7th tune of Essen and
    O'Neill's, standing in for the folk test split where the corpus is not built)."""
    sys.path.insert(0, str(Path(__file__).parent))
    from report_default import FORM_METRICS, first_bars, seed_agreement, tunes

    from melodia.metrics import SCALAR_METRICS

    made, modes = tunes(loaded, count)
    real = [first_bars(score) for score in real_tunes("folk", count * 7)[::7]]
    print(f"\n## defaults: {len(made)} melodies of 16 bars (AABA of 4-bar phrases that return varied) against the "
          f"first 16 bars of {len(real)} real tunes as played\n")
    print("| measure | generated | real | ratio | goal |\n| --- | --- | --- | --- | --- |")
    for name in FORM_METRICS:
        ours, theirs = mean([SCALAR_METRICS[name](s) for s in made]), mean([SCALAR_METRICS[name](s) for s in real])
        print(f"| {name} | {ours:.3f} | {theirs:.3f} | {ours / theirs:.2f} | 0.75-1.33 |")
    endings = [mean([SCALAR_METRICS["tonic_ending"](s) for s in scores]) for scores in (made, real)]
    print(f"| last note the tonic (strong beat, a beat or more) | {endings[0]:.3f} | {endings[1]:.3f} | | "
          "at least 0.70 |")
    print(f"| heard in the seed's key, major / minor seeds | {seed_agreement(made, modes, 'major'):.3f} / "
          f"{seed_agreement(made, modes, 'minor'):.3f} | | | at least 0.80 |")


COMMAND_SEED = "D4/8 E4/8 F#4/8 A4/8 D5/8 A4/8 F#4/8 A4/8"


def command_seconds(model: str) -> float:
    """Wall time of `melodia generate` for 10 reels of 32 bars, start-up included, the best of 3."""
    sys.path.insert(0, str(Path(__file__).parent))
    from report_default import command_seconds as seconds_of

    return seconds_of(model, "--seed", COMMAND_SEED, "--tune", "reel", "--num", "10")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="melodia/data/default.safetensors")
    parser.add_argument("--count", type=int, default=40)
    parser.add_argument("--kinds", default=",".join(kind for kind in TUNE_TYPES if kind in KIND_SOURCES))
    parser.add_argument("--no-chords", action="store_true", help="leave out the tunes over chord progressions")
    parser.add_argument("--defaults", type=int, default=0, metavar="N",
                        help="also N melodies of 16 bars at the defaults against real tunes (issue 16's figures)")
    parser.add_argument("--no-command", action="store_true", help="leave out the time of 10 reels at the command line")
    args = parser.parse_args(argv)
    loaded = open_model(args.model)
    for kind in filter(None, args.kinds.split(",")):
        report_kind(kind, loaded, args.count)
    if not args.no_chords:
        report_chords(loaded, max(args.count // 4, 4))
    if args.defaults:
        report_defaults(loaded, args.defaults)
    if not args.no_command:
        print(f"\n`melodia generate --tune reel --num 10` (10 reels of 32 bars as played: MIDI, piano rolls, "
              f"MusicXML), start-up included, best of 3: {command_seconds(args.model):.1f} s (goal under 5 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
