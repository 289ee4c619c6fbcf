"""Form (melodia/lm/form.py): the plan of a tune, and its returns and cadences counted over a batch of the shipped
model's melodies."""

from __future__ import annotations

import pytest
from helpers import README_SEED, shipped

from melodia.lm.form import FormError, plan_form
from melodia.lm.generation import Constraints, generate
from melodia.metrics import key_agreement, phrase_parallelism, repetition, tonic_ending
from melodia.score import Score


def bars_of(score: Score) -> list[tuple[tuple[int, int, int], ...]]:
    """Each bar's notes as (position, pitch, length)."""
    starts = score.bar_starts()
    bars: list[list[tuple[int, int, int]]] = [[] for _ in starts]
    for note in score.tracks[0].notes:
        index = max(i for i, start in enumerate(starts) if start <= note.onset_tick)
        bars[index].append((note.onset_tick - starts[index], note.pitch, note.duration_tick))
    return [tuple(bar) for bar in bars]


def test_a_plan_returns_its_letters_and_ends_each_phrase_on_a_cadence() -> None:
    plan = plan_form("AABA", 4, 16)
    assert [p.first_bar for p in plan.phrases] == [1, 5, 9, 13]
    assert [plan.cadence_at(bar) for bar in (4, 8, 12, 16)] == ["half", "full", "half", "final"]
    assert plan.source_bar(5) == (1, True) and plan.source_bar(6) == (2, False)  # the first return
    assert plan.source_bar(13) == (1, False) and plan.source_bar(9) is None  # a later return; a new letter
    assert plan.source_bar(10) is None  # a new section is new throughout: no bar copied from the one before
    assert plan_form(None, None, 8).form == "AA" and plan_form(None, None, 16).form == "AABA"
    assert plan_form(None, None, 12).phrase_bars == 4 and plan_form("AABB", 2, None).bars == 8


@pytest.mark.parametrize(("form", "phrase_bars", "bars", "message"), [
    ("AAXB", 4, 16, "expected letters A-H"),
    ("AABB", 4, 12, "makes 16 bars, but 12 are asked for"),
    ("AB", 0, 8, "phrase_bars 0: expected 1 to 64 bars"),
])
def test_a_form_that_cannot_be_made_is_named(form: str, phrase_bars: int, bars: int, message: str) -> None:
    with pytest.raises(FormError, match=message):
        plan_form(form, phrase_bars, bars)


def test_readme_defaults_give_tunes_with_form_endings_and_the_seed_key() -> None:
    scores = generate(shipped(), README_SEED, 20, Constraints(bars=16), random_seed=5)
    assert all(s.key_signatures and s.key_signatures[0].name == "D major" for s in scores)
    assert sum(bars_of(s)[4] == bars_of(s)[0] for s in scores) >= 16  # the A returns: bar 5 is bar 1
    assert sum(phrase_parallelism(s) > 0 for s in scores) >= 16
    assert sum(tonic_ending(s) for s in scores) >= 18
    assert sum(key_agreement(s) for s in scores) >= 16
    assert sum(repetition(s) for s in scores) / len(scores) < 0.3  # returns vary: not a loop of copies
    assert sum(bars_of(s)[9] == bars_of(s)[8] for s in scores) <= 2  # the B is not its first bar twice
    asked = generate(shipped(), README_SEED, 4, Constraints(bars=16, form="AABA"), random_seed=5)
    assert all(s.form is not None and s.form.describe() == "AABA, 4 + 4 bars, endings 1-2" for s in asked)
    assert all(bars_of(s)[12:16] == bars_of(s)[4:8] for s in asked)  # AABA asked for is played as written
    free = generate(shipped(), README_SEED, 20, Constraints(bars=16, form="none"), random_seed=5)
    assert sum(phrase_parallelism(s) for s in free) < sum(phrase_parallelism(s) for s in scores)


def _state_before_last_pitch(tokenizer: object, score: Score) -> object:
    """The grammar's state after `score`'s tokens up to (not including) its last note's pitch."""
    tokens = tokenizer.encode(score).tolist()
    low, high = tokenizer.vocab.ranges["Pitch"]
    pitch_tokens = [i for i, token in enumerate(tokens) if low <= token < high]
    state = tokenizer.new_state()
    for token in tokens[:pitch_tokens[-1]]:
        state.advance(int(token))
    return state


def test_fresh_bar_keeps_a_bar_from_being_the_bar_before_or_the_bar_a_repeat_goes_back_to() -> None:
    from helpers import MELODY, line

    from melodia.lm.form import FormPlan, FreshBar, Phrase

    pitch = MELODY.vocab.ranges["Pitch"][0] - MELODY.config.pitch_range[0]
    plain = FormPlan("A", 2, (Phrase("A", 1, 2, (), "full"),))
    state = _state_before_last_pitch(MELODY, line([60, 62, 64, 65, 60, 62, 64, 65]))  # bar 2 about to copy bar 1
    allowed = state.allowed()
    assert allowed[pitch + 65]
    narrowed = FreshBar(MELODY, plain, 2)(state, allowed)
    assert not narrowed[pitch + 65] and narrowed[pitch + 67]  # its last note may be anything but F4
    # bar 3 closes a strain whose repeat goes back to bar 1: it may not be bar 1 again, nor hold one pitch
    # for more than 4 notes across the repeat
    back = FormPlan("A", 3, (Phrase("A", 1, 3, (), "half"),), goes_back=1)
    state = _state_before_last_pitch(MELODY, line([60, 62, 64, 65, 67, 69, 71, 72, 60, 62, 64, 65]))
    assert not FreshBar(MELODY, back, 2)(state, state.allowed())[pitch + 65]
    state = _state_before_last_pitch(MELODY, line([60, 60, 60, 62, 67, 69, 71, 72, 64, 65, 60, 60]))
    narrowed = FreshBar(MELODY, back, 2)(state, state.allowed())
    assert not narrowed[pitch + 60] and narrowed[pitch + 62]  # C4 C4 | C4 C4 C4 D4 would be five C4s
    assert FreshBar(MELODY, plain, 2)(state, state.allowed())[pitch + 60]  # without a repeat it is free


@pytest.mark.parametrize("kind", ["waltz", "air"])
def test_no_bar_is_heard_twice_in_a_row_and_no_pitch_five_times_across_a_repeat(kind: str) -> None:
    from melodia.lm.tunes import write_tunes
    from melodia.metrics import tunes as measures

    tunes = write_tunes(shipped(), "B4/2 A4/4 key=G meter=3/4", kind, count=6, random_seed=5)
    assert [measures.repeated_bar_rate(t.played) for t in tunes] == [0.0] * 6
    assert [measures.same_pitch_runs(t.played) for t in tunes] == [0.0] * 6


def test_seam_keeps_the_first_note_drawn_within_a_fifth_of_the_note_before() -> None:
    from helpers import MELODY, line

    from melodia.lm.form import FormPlan, Phrase, Seam

    pitch = MELODY.vocab.ranges["Pitch"][0] - MELODY.config.pitch_range[0]
    state = _state_before_last_pitch(MELODY, line([60, 62, 64, 65, 72]))  # about to draw after F4
    rule = Seam(MELODY, FormPlan("A", 2, (Phrase("A", 1, 2, (), "full"),)), 2, given_notes=4)
    narrowed = rule(state, state.allowed())
    assert narrowed[pitch + 72] and not narrowed[pitch + 73] and narrowed[pitch + 58] and not narrowed[pitch + 57]
    assert Seam(MELODY, rule.plan, 2, given_notes=3)(state, state.allowed())[pitch + 80]  # later notes are free
