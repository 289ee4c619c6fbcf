"""Seed phrases typed as note text (melodia/seed.py): notes, rests, ties, key and meter; errors point at the word."""

from __future__ import annotations

import pytest

from melodia.seed import SeedError, parse_key, parse_seed, requested_key
from melodia.theory.key import Key


def test_seed_phrase_notes_rests_ties_key_meter() -> None:
    score, mode = parse_seed("C4 D4 E4/8 E4/8 G4/2 r/4 F#/8. Bb/16 C5/8t~ C5/8t key=G meter=3/4 tempo=90")
    notes = [(n.pitch, n.onset_tick, n.duration_tick) for n in score.tracks[0].notes]
    assert notes == [(60, 0, 480), (62, 480, 480), (64, 960, 240), (64, 1200, 240), (67, 1440, 960),
                     (66, 2880, 360), (70, 3240, 120), (72, 3360, 320)]
    assert str(mode) == "G major" and str(score.time_signatures[0]) == "3/4" and score.tempos[0].bpm == 90
    assert str(parse_key("D dorian")) == "D dorian" and str(parse_key("Bbm")) == "Bb minor"


@pytest.mark.parametrize(("text", "message"), [
    ("C4 H4", "word 2 'H4': expected a note like C4"),
    ("C4/3", "duration /3 is not"),
    ("C4 key=X", "expected a tonic and a mode"),
    ("C4 key=D-bluesy", "mode 'bluesy' is not one of"),
    ("C4 meter=3", "expected a meter like meter=3/4"),
    ("r/4 r/2", "holds no notes"),
    ("A9", "outside MIDI's 0..127"),
])
def test_seed_errors_point_at_the_word(text: str, message: str) -> None:
    with pytest.raises(SeedError, match=message):
        parse_seed(text)


@pytest.mark.parametrize(("text", "key"), [
    ("A4 B4 C5 key=A minor", "A minor"),  # as --key "A minor" is written: was refused at the word 'minor'
    ("D4 E4 key=D Dorian meter=3/4", "D dorian"),
    ("F#4 key=F# min", "F# minor"),
    ("C4 key=C", "C major"),
])
def test_a_seed_key_may_be_written_as_key_is(text: str, key: str) -> None:
    score, mode = parse_seed(text)
    assert str(mode) == key and score.key_signatures[0].mode == Key.parse(key).quality


def test_a_seed_key_and_a_different_requested_key_are_refused() -> None:
    seed_key = parse_seed("C4 Eb4 G4 key=Cm")[1]
    with pytest.raises(SeedError, match=r"^the seed names key=C minor and the constraints ask for key F# major; "):
        requested_key(seed_key, Key.parse("F# major"))
    assert requested_key(seed_key, Key(0, "minor")) == Key(0, "minor")
    assert requested_key(None, Key(2, "dorian")) == Key(2, "dorian") and requested_key(seed_key, None) == seed_key
