"""Repeats as played (melodia/io/repeats.py): folk tunes with repeats and endings read as music21's
expandRepeats plays them, their form kept; MusicXML written with repeat signs and endings reads back the same."""

from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import DATA, MUSIC21

from melodia import read_score, write_score
from melodia.errors import MelodiaWarning
from melodia.io.music21 import abc_tunes, agreement_with_music21, read_music21_pieces
from melodia.score import Score, Track

CORPUS = MUSIC21 / "corpus"
BELLE = CORPUS / "ryansMammoth" / "BelleOfBostonReel.abc"
LAKESIDE_ROAD = f"{CORPUS / 'oneills1850' / '1625-1700.abc'}#75"  # a pickup before each strain, no |: at the top
AVONMORE = f"{CORPUS / 'oneills1850' / '1176-1275.abc'}#14"  # |: A || B :| (no end repeat after A): ABAB
NEW_LINE = CORPUS / "ryansMammoth" / "NewLineReel.abc"  # A :| |: B with no end repeat: music21 cannot expand it
SAMPLE_EVERY = 150  # every 150th tune of Ryan's, O'Neill's and Aird's: 29 tunes, 15 s of CPU (all take ~28 minutes)


def notes_from(score: Score, start: int, end: int) -> list[tuple[int, int, int]]:
    """(onset from `start`, pitch, ticks) of the notes that start in [start, end)."""
    return sorted((n.onset_tick - start, n.pitch, n.duration_tick) for n in score.notes if start <= n.onset_tick < end)


def played(score: Score) -> list[tuple[int, int, int]]:
    return sorted((n.onset_tick, n.pitch, n.duration_tick) for n in score.notes)


def test_belle_of_boston_reads_as_played_aabb() -> None:
    """`A |1 x :|2 y |] B |1 z :|2 w |]`: music21 alone plays AABAAB (48 bars), the issue found 18 bars."""
    score = read_score(BELLE)
    form = score.form
    assert form is not None and form.describe() == "AABB, 8 + 8 bars, endings 1-2"
    assert form.letters == "AABB" and form.has_repeats and form.has_endings
    assert score.bar_count() == 32 and score.time_signatures[0].bar_ticks == 960
    bar = 960
    assert [(p.start_tick, p.ending_tick, p.end_tick, p.ending) for p in form.playings] == [
        (0, 7 * bar, 8 * bar, 1), (8 * bar, 15 * bar, 16 * bar, 2),
        (16 * bar, 23 * bar, 24 * bar, 1), (24 * bar, 31 * bar, 32 * bar, 2)]
    for first, second in (form.playings[:2], form.playings[2:]):
        assert notes_from(score, first.start_tick, first.ending_tick) == \
            notes_from(score, second.start_tick, second.ending_tick)  # the strain again, note for note
        assert notes_from(score, first.ending_tick, first.end_tick) != \
            notes_from(score, second.ending_tick, second.end_tick)  # each playing its own ending
    assert len(score.time_signatures) == 1 and len(score.key_signatures) == 1  # not restated by the repeats
    assert agreement_with_music21(BELLE.read_text()) == ("folk", "", True)


def test_a_pickup_is_played_again_where_the_repeat_goes_back_to_it() -> None:
    score = read_score(LAKESIDE_ROAD)
    assert score.form is not None and score.form.describe() == "AABB, 8 + 8 bars"
    first, second = score.form.playings[:2]
    assert first.start_tick == 720 and second.start_tick - first.start_tick == 8 * 960  # 8 bars of 2/4 a playing
    assert notes_from(score, first.start_tick, first.end_tick) == notes_from(score, second.start_tick, second.end_tick)


def test_repeats_music21_cannot_expand_are_kept_as_written_with_a_warning() -> None:
    with pytest.warns(MelodiaWarning, match="repeats left as written; music21 cannot expand them"):
        score = read_score(NEW_LINE)
    assert score.form is None and score.bar_count() == 16


def test_pieces_without_repeats_have_no_form() -> None:
    assert read_score(DATA / "waltz_3_4.mid").form is None
    assert read_music21_pieces(DATA / "tune.abc")[1].form is None
    assert "  form: no repeats" in read_score(DATA / "waltz_3_4.mid").summary().splitlines()


def folk_tunes(every: int) -> list[tuple[str, str]]:
    """(name, ABC text) of every `every`-th tune of Ryan's, O'Neill's and Aird's, in a fixed order."""
    found = []
    for collection in ("ryansMammoth", "oneills1850", "airdsAirs"):
        for path in sorted((CORPUS / collection).glob("*.abc")):
            found += [(f"{collection}/{path.name}#{n + 1}", tune) for n, tune in enumerate(abc_tunes(path.read_text()))]
    return found[::every]


def test_folk_tunes_read_as_music21_expand_repeats_plays_them() -> None:
    """A fixed sample (scripts/report_repeats.py checks all of them): the same notes and length as expandRepeats,
    or, where an end repeat has no start repeat, as expandRepeats plays it with the start a folk player reads."""
    outcomes: Counter[str] = Counter()
    differing = []
    for name, tune in folk_tunes(SAMPLE_EVERY):
        outcome, reason, _ = agreement_with_music21(tune)
        outcomes[outcome] += 1
        if outcome in ("differs", "unread"):
            differing.append(f"{name}: {reason}")
    assert not differing, differing
    assert outcomes == {"agrees": 14, "folk": 8, "plain": 7}


@pytest.mark.parametrize("source", [str(BELLE), LAKESIDE_ROAD, f"{DATA / 'tune.abc'}#1"],
                         ids=["endings", "pickups", "jig-AA"])
def test_musicxml_keeps_repeats_and_endings_and_reads_back_the_same(tmp_path: Path, source: str) -> None:
    score = read_score(source)
    path = write_score(score, tmp_path / "tune.musicxml")
    text = path.read_text()
    assert text.count('<repeat direction="backward"') == (1 if "tune.abc" in source else 2)
    assert ('<ending number="2"' in text) == ("Belle" in source)
    back = read_score(path)
    assert back.form == score.form and played(back) == played(score)
    written_bars = text.count("<measure ")
    assert written_bars < score.bar_count()  # each strain written once


def test_a_form_repeat_signs_cannot_write_is_written_as_played(tmp_path: Path) -> None:
    score = read_score(AVONMORE)
    assert score.form is not None and score.form.letters == "ABAB"
    with pytest.warns(MelodiaWarning, match="cannot be written as repeat signs; MusicXML written as played"):
        path = write_score(score, tmp_path / "tune.musicxml")
    assert "<repeat " not in path.read_text()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert played(read_score(path)) == played(score)


def test_midi_is_written_as_played(tmp_path: Path) -> None:
    score = read_score(BELLE)
    back = read_score(write_score(score, tmp_path / "tune.mid"))
    assert back.bar_count() == 32 and [(n.onset_tick, n.pitch) for n in back.notes] == \
        [(n.onset_tick, n.pitch) for n in score.notes]


def test_every_part_is_expanded_alike(tmp_path: Path) -> None:
    """Two parts written with repeats and endings (as melodia writes them) read back as played, alike."""
    belle = read_score(BELLE)
    lower = Track("second fiddle", 40, False, [replace(n, pitch=n.pitch - 12) for n in belle.tracks[0].notes])
    duet = replace(belle, tracks=[replace(belle.tracks[0], name="fiddle"), lower])
    back = read_score(write_score(duet, tmp_path / "duet.musicxml"))
    assert back.form == belle.form
    assert [(t.name, t.program) for t in back.tracks] == [("fiddle", 0), ("second fiddle", 40)]
    upper, second = ([(n.onset_tick, n.pitch) for n in t.notes] for t in back.tracks)
    assert upper == [(n.onset_tick, n.pitch) for n in belle.tracks[0].notes]
    assert second == [(onset, pitch - 12) for onset, pitch in upper]
