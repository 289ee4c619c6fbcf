"""How often the key of a seed (the first 1, 2 and 4 bars of a real tune) is the key of the whole tune,
before (the seed key of melodia 0.x until issue 33) and after (`melodia.theory.key`'s seed policy).

The tunes: a fixed sample of music21's bundled folk tunes (the four collections of the folk corpus
recipe: Essen, O'Neill's 1850, Aird's Airs, Ryan's Mammoth), the same count from each, taken in the
order of an MD5 hash of each tune's text (`--skip` takes later ones: tune the policy on a skipped
sample and report on the first). The key of the whole tune is music21's `analyze('key')` (Aarden-Essen
profiles, major or minor). A seed is read without its key signature ("notes only", what a typed or
ABC-fragment seed gives) and with it (what a seed file gives).

    .venv/bin/python scripts/report_seed_key.py [--tunes 100] [--skip 0]
"""

from __future__ import annotations

import argparse
import hashlib
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import music21
import numpy as np

from melodia.io.music21 import abc_tunes, abc_with_defaults, score_from_music21
from melodia.theory.key import HEARD, OLD_SEED, SEED, Key, KeyPolicy, estimate_key

COLLECTIONS = ("essenFolksong", "oneills1850", "airdsAirs", "ryansMammoth")
BARS = (1, 2, 4)
CORPUS = Path(music21.__file__).parent / "corpus"


@dataclass
class Tune:
    """A tune's notes in order (pitch, duration), the tick each bar starts, its signature and music21's key."""

    name: str
    pitches: np.ndarray
    durations: np.ndarray
    onsets: np.ndarray
    bar_starts: list[int]
    signature: Key | None
    key: Key


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tunes", type=int, default=100, help="tunes per collection (default: %(default)s)")
    parser.add_argument("--skip", type=int, default=0, help="skip this many tunes per collection first")
    args = parser.parse_args(argv)
    tunes = [tune for name in COLLECTIONS for tune in sample(name, args.tunes, args.skip)]
    print(f"{len(tunes)} folk tunes ({args.tunes} from each of {', '.join(COLLECTIONS)}, skipping {args.skip}); "
          "the key of the whole tune is music21's analyze('key')")
    minor = sum(t.key.mode == "minor" for t in tunes)
    heard = np.mean([estimate_key(t.pitches, t.durations, HEARD) == t.key for t in tunes])
    print(f"whole tunes: {minor} in minor ({100 * minor / len(tunes):.0f} %); melodia's 'heard' policy agrees with "
          f"music21 on {100 * heard:.1f} %\n")
    print(f"{'seed':28}{'bars':>5}{'before':>9}{'after':>9}{'  (minor tunes: before, after)'}")
    for label, signed in (("notes only", False), ("with its key signature", True)):
        for bars in BARS:
            before, after, before_minor, after_minor = score(tunes, bars, signed)
            print(f"{label:28}{bars:>5}{before:>8.1f}%{after:>8.1f}%   ({before_minor:.1f} %, {after_minor:.1f} %)")


def score(tunes: list[Tune], bars: int, signed: bool, policies: tuple[KeyPolicy, KeyPolicy] = (OLD_SEED, SEED)
          ) -> tuple[float, float, float, float]:
    """Per cent of tunes whose seed key is the tune's key, before and after; and of the minor tunes alone."""
    hits = np.zeros((len(tunes), 2), dtype=bool)
    for row, tune in enumerate(tunes):
        end = tune.bar_starts[bars] if bars < len(tune.bar_starts) else tune.onsets[-1] + 1
        kept = tune.onsets < end
        signature = tune.signature if signed else None
        for column, policy in enumerate(policies):
            hits[row, column] = estimate_key(tune.pitches[kept], tune.durations[kept], policy, signature) == tune.key
    minor = np.array([tune.key.mode == "minor" for tune in tunes])
    return (100 * hits[:, 0].mean(), 100 * hits[:, 1].mean(), 100 * hits[minor, 0].mean(),
            100 * hits[minor, 1].mean())


def sample(collection: str, count: int, skip: int) -> list[Tune]:
    """`count` tunes of a collection, after `skip`, in the order of the MD5 of their text."""
    texts = [tune for path in sorted((CORPUS / collection).glob("*.abc"))
             for tune in abc_tunes(path.read_text(encoding="latin-1"))]
    texts.sort(key=lambda text: hashlib.md5(text.encode("latin-1")).hexdigest())
    tunes: list[Tune] = []
    for text in texts[skip:]:
        if len(tunes) == count:
            break
        tune = read_tune(collection, text)
        if tune is not None:
            tunes.append(tune)
    return tunes


def read_tune(collection: str, text: str) -> Tune | None:
    """The tune, or None for one music21 cannot read or with fewer than 4 bars."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            stream = music21.converter.parse(abc_with_defaults(text), format="abc")
            if isinstance(stream, music21.stream.Opus):
                stream = stream.scores[0]
            heard = stream.analyze("key")
            score = score_from_music21(stream)
    except Exception:  # a tune music21 cannot read is left out, as the corpus build does
        return None
    notes = sorted(score.notes, key=lambda n: (n.onset_tick, -n.pitch))
    starts = score.bar_starts()
    if len(starts) < 5 or not notes:
        return None
    signature = score.key_signatures[0] if score.key_signatures else None
    return Tune(f"{collection}: {score.title}", np.array([n.pitch for n in notes]),
                np.array([n.duration_tick for n in notes], dtype=float), np.array([n.onset_tick for n in notes]),
                starts, Key(signature.tonic, signature.mode) if signature else None,
                Key(heard.tonic.pitchClass, heard.mode))


if __name__ == "__main__":
    main()
