"""Pitch names: MIDI numbers as note names (C4 = 60), spelled for a key where one is given.

    note_name(68) -> 'Ab4'       note_name(68, Key(9, "minor")) -> 'G#4'       note_name(70, Key(5)) -> 'Bb4'

Without a key a pitch class has one name (`PITCH_CLASS_NAMES`: the flats of Eb, Ab and Bb, the sharps of C#
and F#, as most tunes in those keys write them). In a key, a note of its scale takes the letter of its scale
degree (F# in G, Bb in F, E# in F# major, B# in C# minor); a note outside it is the raised sixth or seventh of
a minor key (F# and G# in A minor), else the spelling nearest the key's own notes on the line of fifths (C# and
Bb in C major, F and D# in E minor), sharps in keys with sharps on a tie (G# in C), flats in keys with flats.
The key's own tonic is spelled as its signature is shortest (Db major, C# minor; F# on a tie).
"""

from __future__ import annotations

from typing import Protocol


class Tonality(Protocol):
    """What spelling reads of a key: a `melodia.theory.key.Key` (which names its keys with this module's tables)."""

    @property
    def tonic(self) -> int: ...

    @property
    def mode(self) -> str: ...

    @property
    def quality(self) -> str: ...

    @property
    def pitch_classes(self) -> tuple[int, ...]: ...

    def as_major_or_minor(self) -> Tonality: ...

LETTERS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}  # the pitch class of each letter
ACCIDENTALS = {None: 0, "#": 1, "##": 2, "b": -1, "bb": -2}
LETTER_NAMES = tuple(LETTERS)
NATURALS = tuple(LETTERS.values())
PITCH_CLASS_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
SHARP_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
FLAT_NAMES = ("C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B")
ACCIDENTAL_SIGNS = {-2: "bb", -1: "b", 0: "", 1: "#", 2: "##"}
FIFTHS_OF_LETTER = (0, 2, 4, -1, 1, 3, 5)  # C G D A E B on the circle of fifths from C, F one below
# How far a mode's signature lies from its tonic's major signature, in fifths (a pentatonic mode: its quality's)
MODE_FIFTHS = {"major": 0, "ionian": 0, "lydian": 1, "mixolydian": -1, "dorian": -2, "minor": -3, "aeolian": -3,
               "harmonic-minor": -3, "phrygian": -4, "locrian": -5}

Spelling = tuple[int, int]  # (letter 0-6 from C, alteration in semitones)


def note_name(pitch: int, key: Tonality | None = None) -> str:
    """'C4' for MIDI 60; with `key`, spelled in it ('G#4', not 'Ab4', in A minor)."""
    if key is None:
        return f"{PITCH_CLASS_NAMES[pitch % 12]}{pitch // 12 - 1}"
    letter, alteration = spell(pitch % 12, key)
    return f"{LETTER_NAMES[letter]}{ACCIDENTAL_SIGNS[alteration]}{(pitch - alteration) // 12 - 1}"


def pitch_class_name(pitch_class: int, key: Tonality | None = None) -> str:
    """'G#' for pitch class 8 in A minor, 'Ab' without a key."""
    if key is None:
        return PITCH_CLASS_NAMES[pitch_class % 12]
    letter, alteration = spell(pitch_class % 12, key)
    return LETTER_NAMES[letter] + ACCIDENTAL_SIGNS[alteration]


def key_signature(key: Tonality) -> int:
    """Sharps (positive) or flats (negative) in the signature of `key`, its tonic spelled as it is written."""
    return _fifths(tonic_spelling(key)) + _mode_fifths(key)


def tonic_spelling(key: Tonality) -> Spelling:
    """The tonic's letter and alteration: the spelling with the shorter signature (Db major, C# minor), the
    name of `PITCH_CLASS_NAMES` on a tie (F# major, Eb minor)."""
    candidates = [(letter, _alteration(key.tonic - NATURALS[letter])) for letter in range(7)]
    candidates = [(letter, alteration) for letter, alteration in candidates if abs(alteration) <= 1]
    usual = PITCH_CLASS_NAMES[key.tonic % 12]
    return min(candidates, key=lambda each: (abs(_fifths(each) + _mode_fifths(key)),
                                             LETTER_NAMES[each[0]] + ACCIDENTAL_SIGNS[each[1]] != usual))


def spell(pitch_class: int, key: Tonality) -> Spelling:
    """The letter and alteration of `pitch_class` in `key` (see the module's docstring)."""
    scale = key.pitch_classes if len(key.pitch_classes) == 7 else key.as_major_or_minor().pitch_classes
    tonic_letter, _ = tonic_spelling(key)
    letters = [(tonic_letter + degree) % 7 for degree in range(7)]
    if pitch_class in scale:
        return _spelled(letters[scale.index(pitch_class)], pitch_class)
    step = (pitch_class - key.tonic) % 12
    if key.quality == "minor" and step in (9, 11) and (pitch_class - 1) % 12 in scale:
        return _spelled(letters[scale.index((pitch_class - 1) % 12)], pitch_class)  # the raised sixth and seventh
    signature = key_signature(key)
    spellings = [_spelled(letter, pitch_class) for letter in range(7)]
    near = [each for each in spellings if abs(each[1]) <= 1]
    # the spelling nearest the key's notes on the line of fifths (a tie: sharps in keys with sharps, else flats)
    return min(near, key=lambda each: (abs(_fifths(each) - signature - 2), -each[1] if signature >= 0 else each[1]))


def _fifths(spelling: Spelling) -> int:
    """Where a spelled note lies on the line of fifths (C = 0, G = 1, F = -1, F# = 6, Bb = -2)."""
    return FIFTHS_OF_LETTER[spelling[0]] + 7 * spelling[1]


def _mode_fifths(key: Tonality) -> int:
    return MODE_FIFTHS.get(key.mode, MODE_FIFTHS[key.quality])


def _spelled(letter: int, pitch_class: int) -> Spelling:
    return letter, _alteration(pitch_class - NATURALS[letter])


def _alteration(semitones: int) -> int:
    """`semitones` folded into -6..5: how far a pitch class lies from a letter's natural."""
    return (semitones + 6) % 12 - 6
