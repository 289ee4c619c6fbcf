"""The measures of classical part writing (melodia/metrics/classical.py) on hand-made passages and real music:
a Bach chorale and Mozart's K. 545 from music21's corpus."""

from __future__ import annotations

import itertools
from dataclasses import replace
from functools import cache

import music21
import pytest

from melodia.metrics import classical
from melodia.score import ChordSymbol, KeySignature, Note, Score, TimeSignature, Track

Q = 480  # a quarter note, in ticks


def voice(pitches: list[int], length: int = Q, start: int = 0) -> list[Note]:
    """One note per pitch, `length` ticks each, one after another (0 is a rest)."""
    return [Note(p, 80, start + i * length, length) for i, p in enumerate(pitches) if p]


def score_of(*voices: list[Note], meter: tuple[int, int] = (4, 4), names: tuple[str, ...] = ()) -> Score:
    tracks = [Track(names[i] if i < len(names) else f"voice {i}", 0, False, list(v)) for i, v in enumerate(voices)]
    return Score(tracks, time_signatures=[TimeSignature(0, *meter)], key_signatures=[KeySignature(0, 0)])


@cache
def corpus_score(name: str) -> Score:
    return Score.from_music21(music21.corpus.parse(name))


def bach() -> tuple[Score, list[list[Note]]]:
    score = corpus_score("bach/bwv66.6")
    return score, [list(t.notes) for t in score.tracks if t.notes]


# --- parallels -----------------------------------------------------------------------------------------------

def test_parallel_fifths_in_a_constructed_passage_are_counted() -> None:
    upper, lower = voice([72, 74, 76, 77]), voice([65, 67, 69, 70])  # C-D-E-F over F-G-A-Bb: fifths all the way
    score = score_of(upper, lower)
    assert classical.parallel_counts(score, [upper, lower]) == {"fifths": 3, "octaves": 0}
    assert classical.parallels_per_100_beats(score, [upper, lower]) == pytest.approx(75.0)  # 3 in 4 beats


@pytest.mark.parametrize(("upper", "lower", "expected"), [
    ([72, 74], [60, 62], {"fifths": 0, "octaves": 1}),  # octaves
    ([60, 62], [60, 62], {"fifths": 0, "octaves": 1}),  # unisons count with octaves
    ([79, 86], [60, 67], {"fifths": 1, "octaves": 0}),  # a twelfth to a twelfth
    ([72, 71], [65, 67], {"fifths": 0, "octaves": 0}),  # contrary motion
    ([72, 72], [65, 65], {"fifths": 0, "octaves": 0}),  # repeated notes: nothing moves
    ([76, 79], [67, 72], {"fifths": 0, "octaves": 0}),  # a sixth into a fifth: direct, not parallel
    ([72, 74], [65, 0], {"fifths": 0, "octaves": 0}),  # the lower voice rests
], ids=["octaves", "unisons", "compound-fifths", "contrary", "repeated", "direct", "rest"])
def test_what_counts_as_parallel(upper: list[int], lower: list[int], expected: dict[str, int]) -> None:
    high, low = voice(upper), voice(lower)
    assert classical.parallel_counts(score_of(high, low), [high, low]) == expected


def test_parallels_between_beats_are_counted_only_at_every_onset() -> None:
    # On the two beats the voices stand a sixth, then a fifth apart; the eighths from the second on move in fifths.
    upper = voice([76, 74, 72, 74], length=Q // 2)
    lower = voice([67, 67, 65, 67], length=Q // 2)
    score = score_of(upper, lower)
    assert classical.parallel_counts(score, [upper, lower])["fifths"] == 0
    assert classical.parallel_counts(score, [upper, lower], every_onset=True)["fifths"] == 2


def test_a_doubled_line_is_one_run_and_lone_parallels_leave_it_out() -> None:
    upper, lower = voice([72, 74, 76, 77, 79]), voice([60, 62, 64, 65, 67])
    score = score_of(upper, lower)
    assert classical.parallel_counts(score, [upper, lower])["octaves"] == 4
    assert classical.parallel_counts(score, [upper, lower], doublings=False)["octaves"] == 0
    once = voice([72, 74, 71, 72]), voice([60, 62, 67, 64])  # one parallel octave, then contrary motion
    assert classical.parallel_counts(score_of(*once), list(once), doublings=False)["octaves"] == 1


def test_the_bass_is_read_by_its_lowest_note() -> None:
    soprano = voice([72, 74])
    bass = [Note(48, 80, 0, Q), Note(55, 80, 0, Q), Note(50, 80, Q, Q), Note(57, 80, Q, Q)]  # fifths C-G, D-A
    score = score_of(soprano, bass)
    assert classical.parallel_counts(score, [soprano, bass]) == {"fifths": 0, "octaves": 1}  # C5-C3 to D5-D3


def test_a_bach_chorale_shows_few_parallels_and_a_constructed_one_many() -> None:
    score, voices = bach()
    assert classical.parallels_per_100_beats(score, voices) < 3
    soprano = voices[0]
    alto_in_fifths = [replace(n, pitch=n.pitch - 7) for n in soprano]  # the alto doubles the tune a fifth below
    spoiled = [soprano, alto_in_fifths, *voices[2:]]
    counts = classical.parallel_counts(score, spoiled)
    moving = sum(a.pitch != b.pitch for a, b in itertools.pairwise(soprano))
    assert counts["fifths"] >= moving // 2
    assert classical.parallels_per_100_beats(score, spoiled) > 10 * max(1.0, classical.parallels_per_100_beats(
        score, voices))


# --- crossings -----------------------------------------------------------------------------------------------

def test_crossings_are_counted_at_each_beat_crossed() -> None:
    upper, lower = voice([67, 64, 62, 67]), voice([60, 65, 64, 60])  # the lower voice is above on beats 2 and 3
    score = score_of(upper, lower)
    assert classical.crossings(score, [upper, lower]) == 2
    assert classical.crossings(score, [lower, upper]) == 2  # the other order: beats 1 and 4
    assert classical.crossings_per_100_beats(score, [upper, lower]) == pytest.approx(50.0)


def test_swapping_a_chorales_alto_and_tenor_makes_crossings() -> None:
    score, (soprano, alto, tenor, bass) = bach()
    assert classical.crossings_per_100_beats(score, [soprano, alto, tenor, bass]) < 5
    assert classical.crossings_per_100_beats(score, [soprano, tenor, alto, bass]) > 50


# --- parts -----------------------------------------------------------------------------------------------------

def test_notes_per_bar_counts_a_double_stop_once() -> None:
    viola = [*voice([60, 62, 64, 65]), Note(67, 80, 0, Q)]  # a double stop on the first beat
    score = score_of(viola, voice([48] * 8))
    assert classical.notes_per_bar(score, viola) == pytest.approx(2.0)  # 4 strokes over 2 bars


@pytest.mark.parametrize(("name", "program", "instrument"), [
    ("Violin I", 40, "violin"), ("Violoncello", 0, "cello"), ("Viola", 41, "viola"), ("Vc.", 0, "cello"),
    ("", 42, "cello"), ("Alto", 52, "alto"), ("Bass", 52, "bass"), ("Bass", 0, "bass"), ("Contrabass", 43, None),
    ("Piano right hand", 0, None), ("Piano bass", 0, None), ("Bass", 33, None)])
def test_instrument_of_a_part(name: str, program: int, instrument: str | None) -> None:
    assert classical.instrument_of(Track(name, program)) == instrument


def test_in_range_share() -> None:
    cello = Track("Violoncello", 42, False, voice([36, 35, 60, 81, 82]))  # C2 fits, B1 is too low, A5 fits, Bb5 not
    assert classical.in_range_share(cello) == pytest.approx(3 / 5)
    assert classical.in_range_share(cello, "soprano") == pytest.approx(2 / 5)
    assert classical.in_range_share(Track("Piano", 0, False, voice([60]))) != classical.in_range_share(cello)  # NaN


def test_a_bach_chorales_voices_are_in_their_ranges() -> None:
    score, _ = bach()
    shares = [classical.in_range_share(t) for t in score.tracks if t.notes]
    assert len(shares) == 4 and min(shares) > 0.95


# --- the piano -------------------------------------------------------------------------------------------------

def test_playable_piano_hands() -> None:
    right = [*voice([72, 74, 76, 77]), Note(64, 80, 0, 4 * Q)]
    left = [Note(48, 80, 0, 2 * Q), Note(55, 80, 0, 2 * Q), Note(64 - 12, 80, 0, 2 * Q), Note(43, 80, 2 * Q, 2 * Q)]
    assert classical.piano_problems(right, left) == []
    assert classical.piano_playable_share(right, left) == 1.0


@pytest.mark.parametrize(("right", "left", "problem"), [
    ([60, 62, 64, 65, 67, 69], [48], "right hand at tick 0: 6 keys"),
    ([60, 77], [48], "right hand at tick 0: a span of 17 semitones"),
    ([72], [60, 64, 72], "left hand at tick 0: key 72 held by the other hand"),
    ([72], [26, 38], "left hand at tick 0: key 26 below 28"),
], ids=["six-keys", "span", "shared-key", "below-E1"])
def test_unplayable_piano_chords(right: list[int], left: list[int], problem: str) -> None:
    problems = classical.piano_problems([Note(p, 80, 0, Q) for p in right], [Note(p, 80, 0, Q) for p in left])
    assert any(text.startswith(problem) for text in problems), problems


def test_a_key_held_by_one_hand_cannot_be_struck_by_the_other() -> None:
    right = [Note(60, 80, 0, 4 * Q)]  # the right hand holds C4 for a bar
    left = voice([48, 52, 55, 60])  # an Alberti-like figure that strikes C4 on beat 4
    assert classical.piano_problems(right, left) == [f"left hand at tick {3 * Q}: key 60 held by the other hand"]
    assert classical.piano_playable_share(right, left) == pytest.approx(4 / 5)


def test_mozart_k545_is_playable_by_these_limits() -> None:
    score = corpus_score("mozart/k545/movement1_exposition")
    assert len(classical.piano_tracks(score)) == 2
    right, left = classical.hands_of(score)
    assert classical.piano_playable_share(right, left) == 1.0
    assert min(n.pitch for n in left) < max(n.pitch for n in left) < max(n.pitch for n in right)


def test_a_third_staff_is_played_by_the_left_hand() -> None:
    melody, middle, bass = voice([72]), voice([60]), voice([36])
    right, left = classical.hands_of(score_of(melody, bass, middle))
    assert right == melody and sorted(n.pitch for n in left) == [36, 60]
    assert classical.piano_problems(right, left) == ["left hand at tick 0: a span of 24 semitones"]


# --- cadences --------------------------------------------------------------------------------------------------

def chorale_ending(final_bass: int, before_root: int) -> Score:
    """Two bars in C major: melody D5 (a half) and C5 (a whole) over a chord on `before_root` then C."""
    melody = [Note(74, 80, 0, 2 * Q), Note(72, 80, 2 * Q, 4 * Q)]
    fifth = (before_root + 7) % 12
    alto = [Note(60 + fifth if fifth < 6 else 48 + fifth, 80, 0, 2 * Q), Note(64, 80, 2 * Q, 4 * Q)]
    bass = [Note(36 + before_root, 80, 0, 2 * Q), Note(final_bass, 80, 2 * Q, 4 * Q)]
    return score_of(melody, alto, bass, meter=(4, 4))


@pytest.mark.parametrize(("final_bass", "before_root", "closed"), [
    (48, 7, True),  # V-I, the bass on C
    (43, 7, False),  # V-I6/4: the final chord over G
    (52, 7, False),  # V-I6
    (48, 5, False),  # IV-I: plagal, not V-I
], ids=["V-I", "six-four", "six-three", "plagal"])
def test_a_phrase_ending_on_the_tonic_closes_with_root_position_V_I(final_bass: int, before_root: int,
                                                                    closed: bool) -> None:
    score = chorale_ending(final_bass, before_root)
    voices = [list(t.notes) for t in score.tracks]
    assert classical.cadence_checks(score, voices[0], voices) == [(2 * Q, closed)]
    assert classical.tonic_cadence_share(score, voices[0], voices) == float(closed)


def test_phrases_not_ending_on_the_tonic_are_not_judged() -> None:
    score = chorale_ending(48, 7)
    voices = [list(t.notes) for t in score.tracks]
    assert classical.cadence_checks(score, voices[0], voices, tonic=7) == []


def test_bachs_cadences_at_his_fermatas() -> None:
    # bwv66.6 in F# minor (read with its pickup filled to a whole bar): of its six fermatas, two are on the tonic;
    # the third phrase closes C#-F# over the bass, the last over vii(o)7 in the bass B-F#, not V-I.
    score, voices = bach()
    fermatas = (2880, 4800, 6720, 10560, 14400, 18240)
    ends = [n for n in voices[0] if n.onset_tick in fermatas]
    assert len(ends) == len(fermatas)
    assert classical.cadence_checks(score, voices[0], voices, ends=ends) == [(6720, True), (18240, False)]


# --- given chords ----------------------------------------------------------------------------------------------

def test_given_chords_fit_on_beats_where_the_accompaniment_sounds() -> None:
    symbols = [ChordSymbol(0, "C"), ChordSymbol(4 * Q, "G7")]
    fitting = [Note(p, 80, 0, 4 * Q) for p in (48, 55, 64)] + [Note(p, 80, 4 * Q, 4 * Q) for p in (43, 53, 59)]
    score = score_of(voice([72] * 8), fitting)
    assert classical.given_chord_share(score, [fitting], symbols) == 1.0
    off = fitting[:3] + [Note(p, 80, 4 * Q, 2 * Q) for p in (43, 52, 59)]  # E in a G7 bar for two beats, then rest
    checks = classical.given_chord_checks(score, [off], symbols)
    assert [fits for _, fits in checks] == [True] * 4 + [False] * 2


def test_given_chords_are_counted_on_the_meters_beats() -> None:
    chords = [Note(p, 80, 0, 6 * Q) for p in (50, 54, 57)]  # D major, two bars of 6/8
    score = score_of(voice([74] * 4, length=3 * Q // 2 * 1), chords, meter=(6, 8))
    assert [t for t, _ in classical.given_chord_checks(score, [chords], [ChordSymbol(0, "D")])] == \
        [0, 720, 1440, 2160]


# --- the melody ------------------------------------------------------------------------------------------------

def test_a_melody_moved_an_octave_is_not_unchanged() -> None:
    tune = voice([64, 64, 67, 64, 62, 62, 59, 62], length=Q)
    moved = [replace(n, pitch=n.pitch + 12) if n.pitch == 59 else replace(n) for n in tune]  # the B3 up to B4
    assert classical.melody_unchanged(tune, tune) == 1.0
    assert classical.melody_unchanged(tune, moved) == pytest.approx(7 / 8)
    shortened = [replace(n, duration_tick=n.duration_tick - 60) for n in tune]
    assert classical.melody_unchanged(tune, shortened) == 0.0


def test_a_melody_after_an_intro_is_found_by_its_shift() -> None:
    tune = voice([60, 62, 64, 65])
    after_intro = [replace(n, onset_tick=n.onset_tick + 4 * Q) for n in tune]
    assert classical.melody_unchanged(tune, after_intro) == 0.0
    assert classical.melody_unchanged(tune, after_intro, shifts=(0, 4 * Q, 8 * Q)) == 1.0
    assert classical.best_shift(tune, after_intro, (0, 4 * Q, 8 * Q)) == 4 * Q


def test_a_humanized_melody_is_found_within_a_tolerance() -> None:
    tune = voice([60, 62, 64, 65])
    humanized = [replace(n, onset_tick=n.onset_tick + (7 if i % 2 else -5), duration_tick=n.duration_tick - 9)
                 for i, n in enumerate(tune)]
    assert classical.melody_unchanged(tune, humanized) == 0.0
    assert classical.melody_unchanged(tune, humanized, tolerance=10) == 1.0
    assert classical.melody_unchanged(tune, humanized, tolerance=8) == 0.0


@pytest.mark.parametrize(("pickup", "closing_bars"), [(0, [3, 7]), (3 * Q, [4, 8])], ids=["downbeat", "pickup"])
def test_phrases_close_every_four_bars(pickup: int, closing_bars: list[int]) -> None:
    # Quarter notes, with a half note on the first beat of every second bar; the last a whole note.
    notes, tick = [], pickup
    if pickup:
        notes.append(Note(67, 80, 0 + pickup, Q))
        tick += Q
    for bar in range(8):
        lengths = [2 * Q, Q, Q] if bar % 2 else [Q] * 4
        for length in lengths if bar < 7 else [4 * Q]:
            notes.append(Note(72, 80, tick, length))
            tick += length
    score = score_of(notes)
    closes = classical.phrase_closes(score, notes)
    assert [n.onset_tick // (4 * Q) for n in closes] == closing_bars


def test_a_phrase_end_the_user_harmonized_otherwise_is_not_the_arrangers_cadence() -> None:
    # pop-ballad-g (G major): bar 12 closes on G4 over the user's Em (not counted), bar 16 on G4 after "D7" | "G"
    # (counted); a tune without symbols leaves every cadence to the arranger.
    from pathlib import Path

    from melodia.io import read_score

    tune = read_score(Path(__file__).parent.parent / "corpora" / "melodies" / "pop-ballad-g.abc")
    bar = tune.initial_time_signature().bar_ticks
    assert not classical.given_cadence(tune.chord_symbols, 11 * bar + bar // 2, 7, bar)  # "Em" B4 G4
    assert classical.given_cadence(tune.chord_symbols, 15 * bar, 7, bar)  # "D7" G2 F2 | "G" G8
    assert classical.given_cadence([], 11 * bar, 7, bar)
    score = chorale_ending(48, 7)
    voices = [list(t.notes) for t in score.tracks]
    assert classical.cadence_checks(score, voices[0], voices, given=[ChordSymbol(0, "G"), ChordSymbol(Q, "Am")]) == []
    assert classical.cadence_checks(score, voices[0], voices, given=[ChordSymbol(0, "G7"), ChordSymbol(2 * Q, "C")]) \
        == [(2 * Q, True)]
