"""Do the folk tunes with repeats read as played? Checks every tune of Ryan's Mammoth Collection,
O'Neill's 1850 and Aird's Airs (music21's corpus) that has repeat signs, endings or D.C./D.S.
against music21's own `expandRepeats`: the same notes (onset, pitch, length) and the same length.

Tunes whose end repeat has no start repeat are read as a folk player reads them (back to the
last double bar or strain end, where music21 goes back to the top); those are checked against
`expandRepeats` of the same tune with that start repeat written in, and counted apart.

    python scripts/report_repeats.py [--every N] [--collection ryansMammoth ...]
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections import Counter
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

COLLECTIONS = ("ryansMammoth", "oneills1850", "airdsAirs")


def tunes(collections: tuple[str, ...], every: int = 1) -> Iterator[tuple[str, str]]:
    """(name, ABC text) of every `every`-th tune of the collections, in a fixed order."""
    import music21

    from melodia.io.music21 import abc_tunes

    root = Path(music21.__file__).parent / "corpus"
    count = 0
    for collection in collections:
        for path in sorted((root / collection).glob("*.abc")):
            text = path.read_text(encoding="utf-8", errors="replace")
            for number, tune in enumerate(abc_tunes(text)):
                if count % every == 0:
                    yield f"{collection}/{path.name}#{number + 1}", tune
                count += 1


def played_notes(part: Any) -> tuple[list[tuple[int, int, int]], int]:
    """(onset tick, pitch, length in ticks) of every note of `part` as `expandRepeats` plays it, ties
    merged, grace notes left out; and the ticks it lasts."""
    from melodia.score import TICKS_PER_QUARTER

    played = part.expandRepeats()
    measures = played.getElementsByClass("Measure")
    shift = Fraction(measures[0].paddingLeft) if measures else Fraction(0)
    notes: list[list[int]] = []
    held: dict[int, list[int]] = {}  # pitch -> the note a tie carries on (music21's stripTies ties any pitches)
    for element in played.flatten().notes:
        if element.quarterLength == 0:
            continue
        onset = round((Fraction(element.offset) + shift) * TICKS_PER_QUARTER)
        length = round(Fraction(element.quarterLength) * TICKS_PER_QUARTER)
        for member in element.notes if element.isChord else (element,) if element.isNote else ():
            pitch, tie = round(member.pitch.ps), member.tie.type if member.tie is not None else None
            note = held.pop(pitch, None)
            if note is not None and tie in ("stop", "continue") and note[0] + note[2] == onset:
                note[2] += length
            else:
                note = [onset, pitch, length]
                notes.append(note)
            if tie in ("start", "continue"):
                held[pitch] = note
    bars = sum(Fraction(m.duration.quarterLength) for m in measures)
    return sorted((a, b, c) for a, b, c in notes), round((bars + shift) * TICKS_PER_QUARTER)


def check(name: str, tune: str) -> tuple[str, str, bool]:
    """(outcome, reason) for one tune: 'plain' (no repeats), 'agrees', 'folk' (agrees once the
    implied start repeat is written), 'written' (music21 cannot expand it; kept as written),
    'differs' or 'unread'."""
    import music21

    from melodia.io.music21 import abc_with_defaults, score_from_music21
    from melodia.io.repeats import has_repeats

    try:
        stream = music21.converter.parse(abc_with_defaults(tune), format="abc")
    except Exception as error:  # music21 raises many kinds on bad ABC
        return "unread", f"music21 cannot parse it: {type(error).__name__}", False
    if isinstance(stream, music21.stream.Opus):
        stream = stream.scores[0]
    part = stream.parts[0] if stream.parts else stream
    if not has_repeats(part):
        return "plain", "", False
    try:
        reference = played_notes(part)
    except Exception as error:  # music21 finds the repeats incoherent
        reference = None
        why = f"{type(error).__name__}: {str(error).splitlines()[0][:80] if str(error) else ''}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        score = score_from_music21(stream)
    notes = sorted((n.onset_tick, n.pitch, n.duration_tick) for n in score.tracks[0].notes)
    length = score.form.playings[-1].end_tick if score.form is not None else None
    endings = bool(part.spannerBundle.getByClass(music21.spanner.RepeatBracket))
    if reference is None:
        return ("written", why, endings) if score.form is None else \
            ("differs", f"melodia expanded what music21 cannot: {why}", endings)
    if score.form is None:
        return "differs", "melodia kept it as written", endings
    if (notes, length) == reference:
        return "agrees", "", endings
    folk = played_notes(stream.parts[0] if stream.parts else stream)  # now with the implied start repeats
    if folk != reference and (notes, length) == folk:
        return "folk", "", endings
    first = next((i for i, (a, b) in enumerate(zip(notes, reference[0], strict=False)) if a != b),
                 min(len(notes), len(reference[0])))
    return "differs", (f"{len(notes)} notes over {length} ticks, expandRepeats {len(reference[0])} over "
                       f"{reference[1]}; first difference at note {first}", endings)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=int, default=1, help="check every N-th tune (default: all)")
    parser.add_argument("--collection", nargs="+", default=list(COLLECTIONS), choices=COLLECTIONS)
    args = parser.parse_args(argv)
    outcomes: Counter[str] = Counter()
    endings = 0
    reasons: list[str] = []
    for name, tune in tunes(tuple(args.collection), args.every):
        outcome, reason, has_endings = check(name, tune)
        outcomes[outcome] += 1
        endings += has_endings
        if reason:
            reasons.append(f"  {outcome} {name}: {reason}")
    checked = sum(outcomes.values())
    with_repeats = checked - outcomes["plain"] - outcomes["unread"]
    print(f"tunes checked: {checked} ({', '.join(args.collection)}, every {args.every})")
    print(f"  unreadable by music21: {outcomes['unread']}")
    print(f"  with repeats, endings or D.C./D.S.: {with_repeats} (with endings: {endings})")
    print(f"  agreeing with music21's expandRepeats: {outcomes['agrees']}")
    print(f"  agreeing once the start repeat a folk player reads is written: {outcomes['folk']}")
    print(f"  kept as written, music21 cannot expand them: {outcomes['written']}")
    print(f"  differing: {outcomes['differs']}")
    print("\n".join(reasons[:60]) + (f"\n  ... and {len(reasons) - 60} more" if len(reasons) > 60 else ""))
    return 1 if outcomes["differs"] else 0


if __name__ == "__main__":
    sys.exit(main())
