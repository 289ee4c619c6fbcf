"""Tokenization speed: melodia's metrical scheme against MidiTok's REMI, in one run.

Both encode the same real MIDI files (the ones music21's wheel ships, plus
tests/data) with comparable settings: 12 steps a quarter, programs, tempo and
time-signature tokens, 8 velocity levels. Two figures, each as notes per second
on one process:

  encode:         from each library's own in-memory score to token ids
  file to tokens: from the file on disk (melodia's reader; MidiTok reads with symusic)

The four take turns (`melodia.lm.bench.interleaved`), so that other work on the machine slows
them alike; the figures are medians over the rounds, the ratios medians of each round's.

MidiTok is installed for this benchmark only: pip install -e .[bench]
Usage: python scripts/bench_tokenize.py [--repeat N]
"""

from __future__ import annotations

import argparse
import warnings
from collections.abc import Sequence
from pathlib import Path

import music21

from melodia.io import read_score
from melodia.lm.bench import interleaved
from melodia.tokenizers import TokenizerConfig, tokenizer_from_config

ROOT = Path(__file__).resolve().parent.parent


def midi_files() -> list[Path]:
    package = Path(music21.__file__).parent
    files = sorted(package.glob("midi/testPrimitive/*.mid")) + sorted(package.glob("omr/*.mid"))
    return files + sorted(p for p in (ROOT / "tests" / "data").glob("*.mid") if p.stat().st_size > 200
                          and p.read_bytes()[:4] == b"MThd" and "corrupt" not in p.name
                          and "absurd" not in p.name and "zero" not in p.name)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="rounds: runs of each figure, the median counts")
    args = parser.parse_args(argv)
    try:
        import miditok
        import symusic
    except ImportError:
        raise SystemExit("MidiTok is needed for this benchmark: pip install -e .[bench]") from None
    warnings.simplefilter("ignore")
    files = midi_files()
    scores = [read_score(path) for path in files]
    notes = sum(score.note_count for score in scores)
    ours = tokenizer_from_config(TokenizerConfig(steps_per_quarter=12, velocity_bins=8))
    remi = miditok.REMI(miditok.TokenizerConfig(
        beat_res={(0, 4): 12, (4, 8): 12}, num_velocities=8, use_programs=True, use_tempos=True,
        use_time_signatures=True))
    symusic_scores = [symusic.Score(str(path)) for path in files]
    def notes_done(work: object) -> float:
        return notes

    rounds = interleaved({
        "melodia encode": lambda: notes_done([ours.encode(score) for score in scores]),
        "miditok encode": lambda: notes_done([remi.encode(score) for score in symusic_scores]),
        "melodia file to tokens": lambda: notes_done([ours.encode(read_score(path)) for path in files]),
        "miditok file to tokens": lambda: notes_done([remi.encode(path) for path in files]),
    }, args.repeat)
    print(f"{len(files)} MIDI files, {notes} notes; {args.repeat} rounds (medians), one process")
    print(f"{'':16}{'melodia notes/s':>18}{'MidiTok REMI notes/s':>24}{'ratio':>9}")
    for name in ("encode", "file to tokens"):
        print(f"{name:16}{rounds.median_rate(f'melodia {name}'):18,.0f}{rounds.median_rate(f'miditok {name}'):24,.0f}"
              f"{rounds.ratio(f'melodia {name}', f'miditok {name}'):8.1f}x")


if __name__ == "__main__":
    main()
