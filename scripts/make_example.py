"""Write the bundled example piece, melodia/data/bwv66.6.mid, from music21's corpus.

Run once; the file is committed. Usage: python scripts/make_example.py
"""

from __future__ import annotations

from music21 import corpus

from melodia.io.midi import write_midi
from melodia.io.music21 import read_music21
from melodia.resources import example_path


def main() -> None:
    score = read_music21(corpus.getWork("bach/bwv66.6"))
    score.title = "Christ unser Herr zum Jordan kam (BWV 66.6), J. S. Bach"
    print(f"wrote {write_midi(score, example_path())}")


if __name__ == "__main__":
    main()
