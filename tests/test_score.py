from __future__ import annotations

import pytest

from melodia import KeySignature, Note, Score, ScoreError, TempoChange, TimeSignature, Track
from melodia.score import Form, Playing, Strain


def test_valid_score_passes_validate() -> None:
    score = Score([Track("lead", 73, False, [Note(60, 90, 0, 480)])], [TempoChange(0, 100.0)],
                  [TimeSignature(0, 6, 8)], [KeySignature(0, 2, "major")])
    assert score.validate() is score
    assert score.problems() == []


@pytest.mark.parametrize(("note", "fragment"), [
    (Note(128, 90, 0, 480), "pitch 128"),
    (Note(60, 0, 0, 480), "velocity 0"),
    (Note(60, 90, -5, 480), "onset tick -5"),
    (Note(60, 90, 0, 0), "duration 0"),
], ids=["pitch", "velocity", "onset", "duration"])
def test_validate_names_the_bad_value(note: Note, fragment: str) -> None:
    with pytest.raises(ScoreError, match=fragment):
        Score([Track(notes=[note])]).validate()


def test_validate_finds_unordered_and_bad_meta_events() -> None:
    score = Score(tempos=[TempoChange(480, 120.0), TempoChange(0, -3.0)],
                  time_signatures=[TimeSignature(0, 3, 5)], key_signatures=[KeySignature(0, 12, "dorian")])
    problems = score.problems()
    assert any("tempo changes are not in strictly increasing" in p for p in problems)
    assert any("-3.0 BPM" in p for p in problems)
    assert any("3/5" in p for p in problems)
    assert any("'dorian'" in p for p in problems)


def test_bar_starts_follow_meter_changes_including_mid_bar() -> None:
    score = Score(time_signatures=[TimeSignature(0, 4, 4), TimeSignature(1920 * 2, 3, 4),
                                   TimeSignature(1920 * 2 + 1440 + 480, 6, 8)])
    # 4/4, 4/4, 3/4, then a 6/8 that begins one beat into the next 3/4 bar
    assert score.bar_starts(8000) == [0, 1920, 3840, 5280, 5760, 7200]


def test_duration_seconds_follows_the_tempo_map() -> None:
    score = Score([Track(notes=[Note(60, 90, 0, 1920)])], [TempoChange(0, 120.0), TempoChange(960, 60.0)])
    assert score.duration_seconds() == pytest.approx(1.0 + 2.0)


def test_key_names() -> None:
    assert KeySignature(0, 6, "minor").name == "F# minor"
    assert KeySignature(0, 10, "major").name == "Bb major"


@pytest.mark.parametrize(("end_tick", "bars"), [(1920 * 8, 8), (1920 * 8 + 1, 9), (1, 1)],
                         ids=["ends-on-bar-line", "one-tick-over", "one-tick"])
def test_summary_counts_the_bars_the_notes_take(end_tick: int, bars: int) -> None:
    score = Score([Track(notes=[Note(60, 90, 0, end_tick)])])
    assert score.bar_count() == bars
    assert f", {bars} bars," in score.summary()


def test_an_empty_score_has_no_bars() -> None:
    assert Score().bar_count() == 0


BAR = 1920


def aabb(endings: bool = True) -> Form:
    """Two 8-bar strains of 4/4, each played twice; with first and second endings of one bar."""
    playings = []
    for strain in (0, 1):
        for time in (0, 1):
            start = (2 * strain + time) * 8 * BAR
            playings.append(Playing(strain, start, start + 8 * BAR, time + 1 if endings else 0,
                                    start + 7 * BAR if endings else start + 8 * BAR))
    numbers = (1, 2) if endings else ()
    return Form((Strain("A", 8, numbers), Strain("B", 8, numbers)), tuple(playings))


def test_a_form_describes_itself_as_a_player_would() -> None:
    assert aabb().describe() == "AABB, 8 + 8 bars, endings 1-2"
    assert aabb(endings=False).describe() == "AABB, 8 + 8 bars"
    assert aabb().letters == "AABB" and aabb().has_repeats and aabb().has_endings
    assert not aabb(endings=False).has_endings
    once = Form((Strain("A", 8), Strain("B", 8)), (Playing(0, 0, 8 * BAR), Playing(1, 8 * BAR, 16 * BAR)))
    assert once.describe() == "no repeats" and not once.has_repeats
    assert aabb().playings[1].ending_ticks == BAR and aabb(endings=False).playings[1].ending_ticks == 0


def test_summary_shows_the_form() -> None:
    notes = [Note(60, 90, bar * BAR, BAR) for bar in range(32)]
    assert "  form: AABB, 8 + 8 bars, endings 1-2" in Score([Track(notes=notes)], form=aabb()).summary().splitlines()
    assert "  form: no repeats" in Score([Track(notes=notes)]).summary().splitlines()


def test_validate_finds_a_form_that_does_not_fit_the_notes() -> None:
    notes = [Note(60, 90, 0, 33 * BAR)]
    assert Score([Track(notes=notes)], form=aabb()).problems() == \
        [f"form: its playings end at tick {32 * BAR}, before the notes ({33 * BAR})"]
    assert Score([Track(notes=[Note(60, 90, 0, BAR)])], form=aabb()).problems() == []  # the rest is rests
    backwards = Form((Strain("A", 1),), (Playing(0, BAR, 2 * BAR), Playing(0, 0, BAR), Playing(3, 2 * BAR, 3 * BAR)))
    found = Score([Track(notes=[Note(60, 90, 0, 3 * BAR)])], form=backwards).problems()
    assert "form: playing 2: ticks 0..1920 overlap or go back" in found
    assert "form: playing 3 names strain 3; the form has 1" in found
    with pytest.raises(ScoreError, match="invalid score: form: "):
        Score([Track(notes=notes)], form=aabb()).validate()
