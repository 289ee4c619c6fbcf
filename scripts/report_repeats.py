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
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from melodia.io.music21 import agreement_with_music21

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=int, default=1, help="check every N-th tune (default: all)")
    parser.add_argument("--collection", nargs="+", default=list(COLLECTIONS), choices=COLLECTIONS)
    args = parser.parse_args(argv)
    outcomes: Counter[str] = Counter()
    endings = 0
    reasons: list[str] = []
    for name, tune in tunes(tuple(args.collection), args.every):
        outcome, reason, has_endings = agreement_with_music21(tune)
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
