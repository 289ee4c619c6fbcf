"""Issue 29 items 1 and 2: the melody through every preset and option, and the piano's two hands.

For each preset and option over the inputs of tests/test_style_sacred.py (a pop lead sheet,
folk tunes in 2/4, 3/4, 4/4, 6/8 and 4/2, music21's testPrimitive MIDI files): the share of
melody notes played with their written pitch, onset and length (a re-timing rhythm's or swing's
own map applied to the melody alone is what is wanted there), and how many inputs were refused.
For each piano preset: onsets one pianist could not play (`melodia.style.piano.hand_faults`),
left-hand notes at or above a right-hand note they sound with, the lowest bass, the tracks.
Then the note text, bar by bar, of a pop tune and a folk tune through piano-solo and piano-ballad.

    .venv/bin/python scripts/report_sacred.py
"""

from __future__ import annotations

import warnings
from bisect import bisect_right
from collections import Counter
from itertools import groupby
from pathlib import Path
from typing import Any

import music21

from melodia.analysis.roles import detect_voices, melody_track_index
from melodia.errors import StyleError
from melodia.io import read_score
from melodia.score import TICKS_PER_QUARTER, Note, Score, Track
from melodia.style import load_instrumentation, load_style, preset_names, stylize
from melodia.style.arrange import melody_track
from melodia.style.piano import hand_faults
from melodia.theory.pitch import note_name

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
MUSIC21 = Path(music21.__file__).parent
ESSEN = MUSIC21 / "corpus" / "essenFolksong"
INPUTS = [str(DATA / "pop_chords.abc"), f"{DATA / 'tune.abc'}#1", f"{DATA / 'tune.abc'}#2",
          f"{ESSEN / 'han1.abc'}#1", f"{ESSEN / 'han1.abc'}#2", f"{ESSEN / 'altdeu10.abc'}#3",
          f"{ESSEN / 'irl.abc'}#1", f"{ESSEN / 'kinder0.abc'}#6", str(DATA / "waltz_3_4.mid"),
          str(DATA / "jig_6_8.mid")] + [str(MUSIC21 / "midi" / "testPrimitive" / f"test{n}.mid")
                                        for n in ("02", "06", "11", "14", "17", "18")]
CASES: list[dict[str, Any]] = [{"instrumentation": n} for n in preset_names("instrumentation")] + \
    [{"style": n} for n in preset_names("styles")] + [{"rhythm": n} for n in preset_names("rhythm")] + \
    [{"instrumentation": "piano-solo", "intro": "phrase", "ending": "held"},
     {"instrumentation": "string-quartet", "intro": "vamp", "ending": "held", "chords": "C | G | Am | F"},
     {"instrumentation": "piano-solo", "rhythm": "waltz"}, {"style": "jazz-swing", "swing": 3.0}]
PIANO: list[dict[str, Any]] = [
    {"instrumentation": "piano-solo"}, {"style": "piano-ballad"}, {"instrumentation": "piano-solo", "rhythm": "waltz"},
    {"instrumentation": "piano-solo", "rhythm": "jig"},
    {"instrumentation": "piano-solo", "intro": "phrase", "ending": "held", "tempo": 60}]


def written(notes: list[Note]) -> Counter[tuple[int, int, int]]:
    return Counter((n.pitch, n.onset_tick, n.duration_tick) for n in notes)


def melody_of(out: Score, case: dict[str, Any]) -> list[Note]:
    style = load_style(case["style"]) if "style" in case else None
    parts = load_instrumentation(case["instrumentation"]) if "instrumentation" in case else \
        style.instrumentation if style else None
    index = melody_track(out, parts) if parts else melody_track_index(out)
    return out.tracks[index].notes if index is not None else []


def wanted(score: Score, case: dict[str, Any]) -> list[Note]:
    """The melody through the case's rhythm alone (as written when the rhythm does not re-time)."""
    alone = Score([Track("melody", 0, False, detect_voices(score).melody)], list(score.tempos),
                  list(score.time_signatures), list(score.key_signatures))
    rhythm = case.get("rhythm") or (load_style(case["style"]).rhythm if "style" in case else None)
    options = {"swing": case["swing"]} if "swing" in case else {}
    return stylize(alone, rhythm=rhythm, **options).tracks[0].notes if rhythm or options else alone.tracks[0].notes


def kept_share(melody: list[Note], played: list[Note]) -> float:
    """Share of `melody` found as written in `played`, at the best single shift (an intro's length)."""
    have = written(played)
    if not melody:
        return 1.0
    shifts = {t - melody[0].onset_tick for p, t, _ in have if p == melody[0].pitch} or {0}
    return max(sum(min(c, have[(p, t + s, d)]) for (p, t, d), c in written(melody).items()) for s in shifts) \
        / len(melody)


def case_name(case: dict[str, Any]) -> str:
    return " ".join(f"--{k} {v}" for k, v in case.items())


def melody_table(scores: list[Score]) -> None:
    print("| preset / options | melody notes as the rhythm alone maps them | as written in the input | "
          "pitches in order | inputs refused |\n| --- | --- | --- | --- | --- |")
    for case in CASES:
        found = unmoved = in_order = total = refused = 0
        for score in scores:
            try:
                out = stylize(score, **case)
            except StyleError:
                refused += 1
                continue
            melody, played = wanted(score, case), melody_of(out, case)
            found += round(kept_share(melody, played) * len(melody))
            unmoved += round(kept_share(detect_voices(score).melody, played) * len(melody))
            in_order += [n.pitch for n in melody] == [n.pitch for n in detect_voices(score).melody]
            total += len(melody)
        total = max(total, 1)  # every input refused: 0 of 0
        print(f"| {case_name(case)} | {100 * found / total:.1f} % of {total} | {100 * unmoved / total:.1f} % | "
              f"{in_order} of {len(scores) - refused} inputs | {refused} |")


def piano_table(scores: list[Score]) -> None:
    print("\n| piano preset | tracks | onsets a pianist cannot play | hand crossings | lowest bass |\n"
          "| --- | --- | --- | --- | --- |")
    for case in PIANO:
        names, faults, onsets, crossed, lowest = set(), 0, 0, 0, 127
        for score in scores:
            out = stylize(score, **case)
            names.add(", ".join(t.name for t in out.tracks))
            hands = [t.notes for t in out.tracks] + [[], []]  # a hand with nothing to play has no track
            right, left = hands[0], hands[1]
            faults += len(hand_faults(right, left))
            onsets += len({n.onset_tick for n in right}) + len({n.onset_tick for n in left})
            crossed += sum(1 for high in right for low in left if low.pitch >= high.pitch
                           and low.onset_tick < high.end_tick and high.onset_tick < low.end_tick)
            lowest = min([lowest, *(n.pitch for n in left)])
        print(f"| {case_name(case)} | {' / '.join(sorted(names))} | {faults} of {onsets} | {crossed} | "
              f"{note_name(lowest)} |")


def note_text(path: str, **options: Any) -> None:
    """Each bar: its chord symbols, then each track's notes (chords joined by +, lengths in quarters
    when not an eighth)."""
    out = stylize(read_score(path), **options)
    starts = out.bar_starts(out.end_tick - 1)
    symbols: dict[int, list[str]] = {}
    for chord in out.chord_symbols:
        symbols.setdefault(bisect_right(starts, chord.tick) - 1, []).append(chord.symbol)
    print(f"\n{Path(path).name} {case_name(options)} ({out.initial_time_signature()}, {out.initial_bpm():g} BPM)")
    for index, start in enumerate(starts):
        stop = starts[index + 1] if index + 1 < len(starts) else out.end_tick + 1
        hands = []
        for track in out.tracks:
            notes = sorted((n for n in track.notes if start <= n.onset_tick < stop),
                           key=lambda n: (n.onset_tick, n.pitch))
            nearby = TICKS_PER_QUARTER // 16  # onsets this close sound as one chord
            groups = [list(g) for _, g in groupby(notes, key=lambda n: round(n.onset_tick / nearby))]
            eighth = TICKS_PER_QUARTER // 2
            hands.append(f"{track.name}: " + " ".join("+".join(note_name(n.pitch) for n in g) + (
                "" if g[-1].duration_tick == eighth else f"/{g[-1].duration_tick / TICKS_PER_QUARTER:.3g}")
                for g in groups))
        print(f"  {index + 1:2d} {' '.join(symbols.get(index, [])):10s}| " + " | ".join(hands))


def main() -> None:
    warnings.simplefilter("ignore")
    scores = [read_score(path) for path in INPUTS]
    print(f"{len(scores)} inputs, {sum(len(detect_voices(s).melody) for s in scores)} melody notes\n")
    melody_table(scores)
    piano_table(scores)
    piano_presets: list[dict[str, Any]] = [{"instrumentation": "piano-solo"}, {"style": "piano-ballad"}]
    for options in piano_presets:
        note_text(str(DATA / "pop_chords.abc"), **options)
        note_text(f"{ESSEN / 'han1.abc'}#1", **options)


if __name__ == "__main__":
    main()
