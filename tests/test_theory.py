"""The music-theory layer (melodia/theory/): one Key type, one key estimator with named policies, and the
meter that bar lines imply."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import music21
import numpy as np
import pytest
from conftest import DATA

from melodia.analysis import estimate_key as analysis_estimate_key
from melodia.analysis import key_correlations
from melodia.io import read_score
from melodia.seed import SeedFile, parse_seed, read_seed, seed_key
from melodia.theory.key import HEARD, KEY_POLICIES, KRUMHANSL, OLD_SEED, SEED, Key, KeyNameError, estimate_key
from melodia.theory.meter import meter_of_bars

MUSIC21_MIDI = Path(music21.__file__).parent / "midi" / "testPrimitive"


def test_a_key_has_a_tonic_a_mode_and_a_name() -> None:
    assert Key(4, "minor").name == str(Key(4, "minor")) == "E minor"
    assert Key.parse("F# minor") == Key.parse("F#m") == Key(6, "minor")
    assert Key.parse("A minor") == Key(9, "minor") and Key.parse("D-dorian") == Key(2, "dorian")
    assert Key.parse("Bb") == Key(10, "major") and Key(7).relative == Key(4, "minor")
    assert Key(2, "dorian").quality == "minor" and Key(2, "dorian").as_major_or_minor() == Key(2, "minor")
    assert Key(9, "minor").pitch_classes == (9, 11, 0, 2, 4, 5, 7)
    with pytest.raises(KeyNameError, match="mode 'bluesy' is not one of"):
        Key.parse("A bluesy")


def test_the_policies_are_named_settings() -> None:
    assert KEY_POLICIES["heard"] is HEARD and KEY_POLICIES["seed"] is SEED
    assert HEARD.profiles == "aarden" and KRUMHANSL.profiles == "krumhansl" and SEED.signature == "wins"


def _line(score: object) -> tuple[np.ndarray, np.ndarray]:
    notes = sorted(score.notes, key=lambda n: (n.onset_tick, n.pitch))  # type: ignore[attr-defined]
    return np.array([n.pitch for n in notes]), np.array([n.duration_tick for n in notes], dtype=float)


def test_analysis_estimates_keep_their_figures_through_the_one_estimator() -> None:
    chorale = read_score(DATA.parent.parent / "melodia" / "data" / "bwv66.6.mid")
    pitches, durations = _line(chorale)
    for profiles, policy in (("krumhansl", KRUMHANSL), ("aarden", HEARD)):
        correlations = key_correlations(pitches, durations, profiles)
        best = max(correlations, key=lambda key: correlations[key])  # the estimate before the theory layer
        key = estimate_key(pitches, durations, policy)
        assert analysis_estimate_key(pitches, durations, profiles) == best == (key.tonic, key.mode)
    assert estimate_key(pitches, durations, HEARD) == Key(6, "minor")  # F# minor, as music21 hears it


@pytest.mark.parametrize(("seed", "key", "before"), [
    ("C4 D4 E4", "C major", "A minor"),  # no A, nothing minor in it
    ("G4 A4 B4", "G major", "E minor"),
    ("G4/8 A4/8 B4/8 C5/8 B4/8 A4/8 B4/8 G4/8 E4/8 D4/4.", "G major", "G major"),
    ("A4 B4 C5 E5", "A minor", "A minor"),  # the minor tonic and third: minor
    ("E4 G4 B4 E5 D#5 E5/2", "E minor", "E minor"),  # and with its leading note
    ("D4 F4 A4 D5 C5 A4 D4/2", "D minor", "D minor"),
], ids=["C-D-E", "G-A-B", "readme-abc-notes-typed", "A-minor-triad", "E-minor-leading-note", "D-minor"])
def test_a_seed_without_a_signature_is_major_unless_its_notes_show_minor(seed: str, key: str, before: str) -> None:
    score, named = read_seed(seed)
    assert named is None and not score.key_signatures
    assert seed_key(score).name == key
    assert estimate_key(*_line(score), OLD_SEED).name == before  # the seed key before issue 33


def test_the_readme_abc_fragment_is_in_g_major_and_6_8() -> None:
    score, _ = read_seed("GAB cBA|BGE D3|")
    assert not score.key_signatures  # was music21's default K:C, whose relative minor the old seed key chose
    assert seed_key(score) == Key(7, "major") and [str(m) for m in score.time_signatures] == ["6/8"]
    assert estimate_key(*_line(score), OLD_SEED, Key(0, "major")) == Key(9, "minor")


def test_a_seed_files_key_signature_wins() -> None:
    score, _ = read_seed(SeedFile(MUSIC21_MIDI / "test06.mid", bars=2))
    assert [k.name for k in score.key_signatures] == ["G major"]
    assert seed_key(score) == Key(7, "major")  # was E minor: the signature's relative minor fitted better
    pitches, durations = _line(score)
    assert estimate_key(pitches, durations, OLD_SEED, Key(7, "major")) == Key(4, "minor")


def test_a_seeds_key_word_is_its_key() -> None:
    assert parse_seed("C4 D4 E4 key=A minor")[1] == Key(9, "minor")


def _bars(text: str) -> list[tuple[Fraction, list[tuple[Fraction, Fraction]]]]:
    """Bars written as 'length: onset+duration ...' in eighths, '|' between them."""
    bars = []
    for bar in text.split("|"):
        length, notes = bar.split(":")
        bars.append((Fraction(int(length), 2), [(Fraction(int(a), 2), Fraction(int(b), 2))
                                                 for a, b in (note.split("+") for note in notes.split())]))
    return bars


@pytest.mark.parametrize(("bars", "meter"), [
    ("6: 0+1 1+1 2+1 3+1 4+1 5+1 | 6: 0+1 1+1 2+1 3+3", (6, 8)),  # GAB cBA|BGE D3|
    ("2: 0+2 | 6: 0+2 2+2 4+2 | 6: 0+6", (3, 4)),  # a pickup, then quarters
    ("6: 0+2 2+1 3+2 5+1", (6, 8)),  # a long-short jig rhythm
    ("8: 0+2 2+2 4+4 | 8: 0+8", (4, 4)),
    ("4: 0+1 1+1 2+2", (2, 4)),
    ("7: 0+2 2+2 4+3", (7, 8)),
    ("9: 0+3 3+3 6+3", (9, 8)),
    ("12: 0+3 3+3 6+3 9+3", (12, 8)),
    ("3: 0+1 1+1 2+1", (3, 8)),
], ids=["jig", "waltz-with-pickup", "jig-long-short", "4/4", "2/4", "7/8", "9/8", "12/8", "3/8"])
def test_the_meter_of_bar_lines(bars: str, meter: tuple[int, int]) -> None:
    assert meter_of_bars(_bars(bars)) == meter


def test_no_bars_no_meter() -> None:
    assert meter_of_bars([]) is None
