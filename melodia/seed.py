"""Seed phrases typed as note text: "C4 D4 E4/8 E4/8 G4/2 r/4 key=G meter=3/4".

Each word is one of:
    a note     letter A-G, accidentals (# or b, doubled for double sharps and flats),
               an octave (C4 is middle C; default: the previous note's octave, 4 at first),
               an optional duration /1 /2 /4 /8 /16 /32 with dots (/4.) or a triplet t (/8t)
               (default: the previous duration, a quarter at first), and ~ to tie it to
               the next note of the same pitch
    a rest     r, with an optional duration: r/4, r/2.
    key=K      K a tonic and an optional mode: G, Gm, F#, Bbm, A minor, D-dorian, E_phrygian
    meter=N/D  the time signature, for example 6/8
    tempo=BPM  quarter notes per minute
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from melodia.errors import MelodiaError
from melodia.score import TICKS_PER_QUARTER, KeySignature, Note, Score, TempoChange, TimeSignature, Track
from melodia.theory.key import MODE_WORDS, MODES, SEED, Key, KeyNameError, estimate_key
from melodia.theory.meter import Meter, MeterError
from melodia.theory.pitch import ACCIDENTALS, LETTERS

NOTE = re.compile(r"^([A-Ga-g])(##|bb|#|b)?(-?\d)?(?:/(\d+)(t)?(\.{0,2}))?(~)?$")
REST = re.compile(r"^[rR](?:/(\d+)(t)?(\.{0,2}))?$")
MODE_NAMES = {*MODES, *(word for word in MODE_WORDS if word)}
ACCEPTED = ("a note like C4, F#3/8, Bb5/4. or E4/8t (~ ties it on), a rest like r/4, "
            "key=G (Gm, A minor, D-dorian), meter=6/8 or tempo=100")


class SeedError(MelodiaError):
    """A seed phrase that cannot be read; the message points at the word."""


Mode = Key  # the key a seed or a constraint names (one type: `melodia.theory.key.Key`)


def parse_key(text: str, where: str = "key") -> Key:
    """'G', 'Gm', 'F# minor', 'A minor', 'D dorian', 'D-dorian', 'Bb_mixolydian' to a `Key`."""
    try:
        return Key.parse(text, where)
    except KeyNameError as error:
        raise SeedError(str(error)) from None


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
    for index, word in enumerate(_words(text)):
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
    keys = [KeySignature(0, mode.tonic, mode.quality)] if mode else []
    score = Score([Track("seed", 0, False, notes)], [TempoChange(0, tempo)] if tempo else [],
                  [meter] if meter else [], keys, "seed phrase")
    return score, mode


def _words(text: str) -> list[str]:
    """The words of a seed phrase, a key's mode kept with it: 'key=A minor' is one word, as --key "A minor" is."""
    words: list[str] = []
    for word in text.split():
        if words and words[-1].startswith("key=") and " " not in words[-1] and word.lower() in MODE_NAMES:
            words[-1] += " " + word.lower()
        else:
            words.append(word)
    return words


def parse_meter(text: str, where: str, example: str = "3/4 or 6/8") -> TimeSignature:
    """'6/8' to a time signature at tick 0 (`melodia.theory.meter.Meter.parse`)."""
    try:
        meter = Meter.parse(text, where, example)
    except MeterError as error:
        raise SeedError(str(error)) from None
    return TimeSignature(0, *meter)


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


@dataclass(frozen=True)
class SeedFile:
    """A seed taken from a file: its first `bars` bars (all when None), of track `track` (all when None)."""

    path: Path
    bars: int | None = None
    track: int | None = None


def read_seed(seed: Any) -> tuple[Score, Key | None]:
    """The seed as a `Score`, and its key when the seed names one (`key=` in note text).

    `seed` is note text ("C4 D4 E4/8"), an ABC fragment or tune, a `Score`, a music21 stream or a `SeedFile`.
    Reading one imports neither torch nor a model, so a seed that cannot be read is reported at once.
    """
    if isinstance(seed, Score):
        return copy.deepcopy(seed), None
    if isinstance(seed, SeedFile):
        return _seed_from_file(seed), None
    if isinstance(seed, str):
        if re.search(r"(?m)^\s*K:", seed) or "|" in seed:  # ABC: a tune, or a bare fragment of bars
            from melodia.io.music21 import score_from_text

            return score_from_text(seed, "abc", "ABC seed"), None
        return parse_seed(seed)
    if hasattr(seed, "flatten"):  # a music21 stream
        return Score.from_music21(seed), None
    raise SeedError(f"seed of type {type(seed).__name__}: expected note text, an ABC fragment, a Score, "
                    "a music21 stream or a SeedFile")


def _seed_from_file(seed: SeedFile) -> Score:
    from melodia.io import read_score

    score = read_score(seed.path)
    if seed.track is not None:
        if not 0 <= seed.track < len(score.tracks):
            raise SeedError(f"{seed.path}: track {seed.track} asked for; the file has tracks "
                            f"0..{len(score.tracks) - 1}")
        score.tracks = [score.tracks[seed.track]]
    if seed.bars is not None:
        starts = score.bar_starts()
        end = starts[seed.bars] if seed.bars < len(starts) else score.end_tick
        for track in score.tracks:
            track.notes = [n for n in track.notes if n.onset_tick < end]
            for note in track.notes:
                note.duration_tick = min(note.duration_tick, end - note.onset_tick)
    if not score.note_count:
        raise SeedError(f"{seed.path}: the seed taken from it holds no notes")
    return score


def seed_key(score: Score) -> Key:
    """The key of a seed that names none: its key signature's (a file's), or else the key heard in its notes
    by the seed policy (`melodia.theory.key.SEED`): among the keys whose scale holds every pitch class, a
    minor key only when the notes sound its tonic and minor third, the best by Aarden-Essen correlation,
    the first and last notes breaking near-ties. On the first 1, 2 and 4 bars of 400 held-out folk tunes, without
    their signatures, it finds music21's key of the whole tune 43, 67 and 72 % of the time (the estimate before
    issue 33: 38, 63 and 71 %; `scripts/report_seed_key.py`)."""
    if score.key_signatures:
        signature = score.key_signatures[0]
        return Key(signature.tonic, signature.mode)
    notes = sorted(score.notes, key=lambda n: (n.onset_tick, n.pitch))
    return estimate_key([n.pitch for n in notes], [n.duration_tick for n in notes], SEED)


def requested_key(named: Key | None, asked: Key | None) -> Key | None:
    """The key a request names: the one asked for (`--key`, constraints.key) or the seed's `key=`; both when
    they are one key. A seed naming one key and a request asking for another is refused: which was meant?"""
    if named is not None and asked is not None and named != asked:
        raise SeedError(f"the seed names key={named} and the constraints ask for key {asked}; give one of them, "
                        "or the same key in both")
    return asked or named
