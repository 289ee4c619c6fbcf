"""Chords: one vocabulary of chord qualities, the `Chord` type, and chord symbols as lead sheets write them.

    parse_symbol("F#m7b5")            -> Chord(6, "m7b5")        Chord(7, "7").symbol() -> "G7"
    parse_progression("Am | Dm G")    -> [[Chord(9, "m")], [Chord(2, "m"), Chord(7, "")]]
    chord_root({7, 11, 2, 5})         -> 7 (G7)

`QUALITIES` are the chords melodia reads, writes and chooses (triads, sixths, sevenths, suspensions);
`ALIASES` the other ways symbols spell them; `MUSICXML_KINDS` the chord kinds of MusicXML and music21 as
those qualities; `CONTROL_KINDS` the four kinds a bar's chord control tells the model (major, minor,
dominant seventh, diminished) and `CONTROL_KIND_OF_QUALITY` which of them each quality is;
`ROOT_TEMPLATES` the qualities by which a sounding pitch-class set is given a root.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from melodia.errors import StyleError
from melodia.theory.pitch import FLAT_NAMES, LETTERS, SHARP_NAMES

QUALITIES: dict[str, tuple[int, ...]] = {
    "": (0, 4, 7), "m": (0, 3, 7), "dim": (0, 3, 6), "aug": (0, 4, 8), "sus4": (0, 5, 7), "sus2": (0, 2, 7),
    "6": (0, 4, 7, 9), "m6": (0, 3, 7, 9), "7": (0, 4, 7, 10), "maj7": (0, 4, 7, 11), "m7": (0, 3, 7, 10),
    "m7b5": (0, 3, 6, 10), "dim7": (0, 3, 6, 9), "mmaj7": (0, 3, 7, 11), "7sus4": (0, 5, 7, 10),
}
ALIASES = {"maj": "", "M": "", "min": "m", "-": "m", "M7": "maj7", "ø": "m7b5", "ø7": "m7b5", "°": "dim",
           "°7": "dim7", "+": "aug", "min7": "m7", "-7": "m7",
           "7sus": "7sus4", "sus": "sus4"}
# MusicXML's (and music21's) chord kinds as qualities; ninths, elevenths and thirteenths are read as the seventh
# chord under them, as a lead sheet's reader with triads and sevenths plays them. Other kinds (power, augmented
# sixths, pedal) are not read.
MUSICXML_KINDS = {
    "major": "", "minor": "m", "diminished": "dim", "augmented": "aug", "suspended-fourth": "sus4",
    "suspended-second": "sus2", "major-sixth": "6", "minor-sixth": "m6", "dominant-seventh": "7", "dominant": "7",
    "major-seventh": "maj7", "minor-seventh": "m7", "half-diminished-seventh": "m7b5", "half-diminished": "m7b5",
    "diminished-seventh": "dim7", "minor-major-seventh": "mmaj7", "dominant-ninth": "7", "dominant-11th": "7",
    "dominant-13th": "7", "major-ninth": "maj7", "major-11th": "maj7", "major-13th": "maj7", "minor-ninth": "m7",
    "minor-11th": "m7", "minor-13th": "m7", "minor-major-ninth": "mmaj7", "half-diminished-ninth": "m7b5",
    "diminished-ninth": "dim7", "suspended-fourth-seventh": "7sus4",
}
# The chord kinds a bar's chord control names (`melodia.lm.controls`), and which of them each quality is
CONTROL_KINDS = ("", "m", "7", "dim")  # major, minor, dominant seventh, diminished
CONTROL_KIND_OF_QUALITY = {"": "", "6": "", "maj7": "", "aug": "", "sus4": "", "sus2": "", "m": "m", "m6": "m",
                           "m7": "m", "mmaj7": "m", "7": "7", "7sus4": "7", "dim": "dim", "m7b5": "dim",
                           "dim7": "dim"}
# Root finding: triads before sevenths, so that a full triad wins a tie
ROOT_TEMPLATES = tuple(QUALITIES[quality] for quality in ("", "m", "dim", "aug", "7", "m7", "m7b5", "maj7", "dim7"))


@dataclass(frozen=True)
class Chord:
    """A chord: root pitch class, quality (a key of `QUALITIES`), and the bass pitch class
    when it is not the root (an inversion)."""

    root: int
    quality: str = ""
    bass: int | None = None

    @property
    def intervals(self) -> tuple[int, ...]:
        return QUALITIES[self.quality]

    @property
    def pitch_classes(self) -> tuple[int, ...]:
        return tuple((self.root + step) % 12 for step in self.intervals)

    @property
    def third(self) -> int:
        return self.intervals[1]

    @property
    def fifth(self) -> int:
        return self.intervals[2]

    @property
    def bass_pc(self) -> int:
        return self.root if self.bass is None else self.bass

    @property
    def is_dominant(self) -> bool:
        return self.quality in ("", "7") and self.intervals[1] == 4

    def symbol(self, flats: bool = False) -> str:
        """The lead-sheet name: 'Am', 'G7', 'F#m7b5', 'C/E'."""
        names = FLAT_NAMES if flats else SHARP_NAMES
        bass = f"/{names[self.bass]}" if self.bass is not None and self.bass != self.root else ""
        return f"{names[self.root]}{self.quality}{bass}"


SYMBOL = re.compile(r"^([A-G])([#b]?)([^/]*)(?:/([A-G])([#b]?))?$")


def parse_symbol(text: str) -> Chord:
    """'Am', 'G7', 'Bbmaj7', 'F#m7b5', 'C/E' as a `Chord`."""
    match = SYMBOL.match(text.strip())
    quality = match.group(3) if match else ""
    quality = ALIASES.get(quality, quality)
    if not match or quality not in QUALITIES:
        raise StyleError(f"chord {text!r}: not a chord symbol; expected a root A-G with # or b, then one of "
                         f"{', '.join(repr(q) for q in QUALITIES)}, then /BASS if any (C, Am, G7, Bbmaj7, C/E)")
    root = (LETTERS[match.group(1)] + {"#": 1, "b": -1, "": 0}[match.group(2)]) % 12
    bass = None
    if match.group(4):
        bass = (LETTERS[match.group(4)] + {"#": 1, "b": -1, "": 0}[match.group(5)]) % 12
    return Chord(root, quality, bass if bass != root else None)


def parse_progression(text: str) -> list[list[Chord]]:
    """'Am | Dm G | C | E7' as bars of chords (a bar's chords share it evenly)."""
    bars = [[parse_symbol(word) for word in bar.split()] for bar in text.split("|")]
    if not bars or any(not bar for bar in bars):
        raise StyleError(f"chords {text!r}: expected bars of chord symbols between '|', such as 'Am | Dm G | C | E7'")
    return bars


def chord_root(pitch_classes: frozenset[int], bass: int | None = None) -> int | None:
    """The root of a pitch-class set by the best-matching triad or seventh-chord template (the bass
    wins ties); None for no notes."""
    if not pitch_classes:
        return None
    best: tuple[float, int] | None = None
    for root in sorted(pitch_classes):
        for order, template in enumerate(ROOT_TEMPLATES):
            tones = {(root + i) % 12 for i in template}
            score = 2 * len(pitch_classes & tones) - len(pitch_classes - tones) - len(tones - pitch_classes) \
                - 0.01 * order + (0.5 if bass is not None and root == bass % 12 else 0.0)
            if best is None or score > best[0]:
                best = (score, root)
    return best[1] if best else None
