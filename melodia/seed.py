"""Seed phrases typed as note text: "C4 D4 E4/8 E4/8 G4/2 r/4 key=G meter=3/4".

Each word is one of:
    a note     letter A-G, accidentals (# or b, doubled for double sharps and flats),
               an octave (C4 is middle C; default: the previous note's octave, 4 at first),
               an optional duration /1 /2 /4 /8 /16 /32 with dots (/4.) or a triplet t (/8t)
               (default: the previous duration, a quarter at first), and ~ to tie it to
               the next note of the same pitch
    a rest     r, with an optional duration: r/4, r/2.
    key=K      K a tonic and an optional mode: G, Gm, F#, Bbm, D-dorian, E_phrygian
    meter=N/D  the time signature, for example 6/8
    tempo=BPM  quarter notes per minute
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from melodia.analysis import SCALES
from melodia.errors import MelodiaError
from melodia.score import MAJOR, MINOR, TICKS_PER_QUARTER, KeySignature, Note, Score, TempoChange, TimeSignature, Track

NOTE = re.compile(r"^([A-Ga-g])(##|bb|#|b)?(-?\d)?(?:/(\d+)(t)?(\.{0,2}))?(~)?$")
REST = re.compile(r"^[rR](?:/(\d+)(t)?(\.{0,2}))?$")
LETTERS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
ACCIDENTALS = {None: 0, "#": 1, "##": 2, "b": -1, "bb": -2}
MODES = tuple(SCALES)
ACCEPTED = ("a note like C4, F#3/8, Bb5/4. or E4/8t (~ ties it on), a rest like r/4, "
            "key=G (Gm, D-dorian), meter=6/8 or tempo=100")


class SeedError(MelodiaError):
    """A seed phrase that cannot be read; the message points at the word."""


@dataclass(frozen=True)
class Mode:
    """A tonic pitch class and a scale name from `MODES`."""

    tonic: int
    name: str

    def __str__(self) -> str:
        from melodia.score import PITCH_CLASS_NAMES

        return f"{PITCH_CLASS_NAMES[self.tonic]} {self.name}"

    @classmethod
    def read_setting(cls, value: object, where: str) -> Mode:
        """'D dorian', 'Gm' or 'F# minor' (a settings value) as a `Mode`."""
        if not isinstance(value, str):
            raise SeedError(f"{where} = {value!r}: expected a tonic and a mode, such as G, Gm, F# minor or D dorian")
        return parse_key(value, f"{where} =")


def parse_key(text: str, where: str = "key") -> Mode:
    """'G', 'Gm', 'F# minor', 'D dorian', 'D-dorian', 'Bb_mixolydian' to a `Mode`."""
    match = re.match(r"^\s*([A-Ga-g])(##|bb|#|b)?\s*[-_ ]?\s*(m|min|maj|[a-z][a-z-]*)?\s*$", text)
    if not match:
        raise SeedError(f"{where} {text!r}: expected a tonic and a mode, such as G, Gm, F# minor or D dorian")
    letter, accidental, mode = match.groups()
    tonic = (LETTERS[letter.upper()] + ACCIDENTALS[accidental]) % 12
    name = {None: MAJOR, "m": MINOR, "min": MINOR, "maj": MAJOR}.get(mode, mode)
    if name not in MODES:
        raise SeedError(f"{where} {text!r}: mode {mode!r} is not one of {', '.join(MODES)}")
    return Mode(tonic, name)


def _duration(denominator: str | None, triplet: str | None, dots: str | None, word: str, index: int) -> Fraction:
    value = int(denominator or 4)
    if value not in (1, 2, 4, 8, 16, 32, 64):
        raise SeedError(f"seed phrase, word {index + 1} {word!r}: duration /{value} is not /1 /2 /4 /8 /16 /32 or /64")
    length = Fraction(4, value)
    if triplet:
        length *= Fraction(2, 3)
    extra = length
    for _ in dots or "":
        extra /= 2
        length += extra
    return length


def parse_seed(text: str) -> tuple[Score, Mode | None]:
    """The notes of a seed phrase as a one-track `Score`, and its key when it names one.

    Raises:
        SeedError: naming the word that cannot be read and what would be accepted.
    """
    notes: list[Note] = []
    meter, mode, tempo = None, None, None
    position = Fraction(0)
    length, octave = Fraction(1), 4
    tied: Note | None = None
    for index, word in enumerate(text.split()):
        where = f"seed phrase, word {index + 1} {word!r}"
        if word.startswith("key="):
            mode = parse_key(word[4:].replace("_", " "), where)
            continue
        if word.startswith("meter="):
            meter = parse_meter(word[6:], where, "meter=3/4 or meter=6/8")
            continue
        if word.startswith("tempo="):
            try:
                tempo = float(word[6:])
            except ValueError:
                tempo = 0.0
            if not 10 <= tempo <= 400:
                raise SeedError(f"{where}: expected a tempo in quarter notes per minute, 10 to 400")
            continue
        rest = REST.match(word)
        if rest:
            if rest.group(1):
                length = _duration(rest.group(1), rest.group(2), rest.group(3), word, index)
            position += length
            tied = None
            continue
        note = NOTE.match(word)
        if not note:
            raise SeedError(f"{where}: expected {ACCEPTED}")
        letter, accidental, octave_text, denominator, triplet, dots, tie = note.groups()
        if octave_text is not None:
            octave = int(octave_text)
        if denominator:
            length = _duration(denominator, triplet, dots, word, index)
        pitch = 12 * (octave + 1) + LETTERS[letter.upper()] + ACCIDENTALS[accidental]
        if not 0 <= pitch <= 127:
            raise SeedError(f"{where}: pitch {pitch} is outside MIDI's 0..127 (C-1 to G9)")
        onset, ticks = round(position * TICKS_PER_QUARTER), round(length * TICKS_PER_QUARTER)
        if tied is not None and tied.pitch == pitch and tied.end_tick == onset:
            tied.duration_tick += ticks
        else:
            notes.append(Note(pitch, 90, onset, ticks))
        tied = notes[-1] if tie else None
        position += length
    if not notes:
        raise SeedError(f"seed phrase {text!r} holds no notes; expected words like C4 D4 E4/8")
    keys = [KeySignature(0, mode.tonic, MINOR if mode.name in (MINOR, "aeolian", "harmonic-minor",
                                                                 "minor-pentatonic", "dorian", "phrygian") else MAJOR)
            ] if mode else []
    score = Score([Track("seed", 0, False, notes)], [TempoChange(0, tempo)] if tempo else [],
                  [meter] if meter else [], keys, "seed phrase")
    return score, mode


def parse_meter(text: str, where: str, example: str = "3/4 or 6/8") -> TimeSignature:
    """'6/8' to a time signature at tick 0: a numerator 1-255 over 1, 2, 4, 8, 16 or 32."""
    found = re.match(r"^(\d+)/(\d+)$", text.strip())
    if not found or not 1 <= int(found.group(1)) <= 255 or int(found.group(2)) not in (1, 2, 4, 8, 16, 32):
        raise SeedError(f"{where}: expected a meter like {example}")
    return TimeSignature(0, int(found.group(1)), int(found.group(2)))


def parse_range(text: str, where: str = "--range") -> tuple[int, int]:
    """'C4:C6' to (60, 84): the lowest and highest pitch, low first."""
    low, sep, high = text.partition(":")
    try:
        pitches = [parse_seed(note)[0].tracks[0].notes[0].pitch for note in (low, high)]
    except (MelodiaError, IndexError):
        pitches = []
    if not sep or len(pitches) != 2 or pitches[0] >= pitches[1]:
        raise SeedError(f"{where} {text!r}: expected LOW:HIGH note names, low first, e.g. C4:C6")
    return pitches[0], pitches[1]
