"""Metrics (melodia/metrics/) on hand-made scores whose values are known."""

from __future__ import annotations

import math

import pytest
from helpers import C_MAJOR_SCALE, Q, line

from melodia import KeySignature, Note, Score, Track
from melodia.metrics import (
    cadence_rate,
    duration_histogram,
    empty_beat_rate,
    final_note_beats,
    groove_consistency,
    in_key_rate,
    interval_histogram,
    key_agreement,
    mean_absolute_interval,
    motif_reuse,
    note_density,
    phrase_parallelism,
    pitch_class_entropy,
    pitch_classes_used,
    pitch_range,
    pitches_used,
    polyphony,
    polyphony_rate,
    repetition,
    scale_consistency,
    tonic_ending,
)


def test_pitch_metrics_of_a_scale() -> None:
    scale = line(C_MAJOR_SCALE)
    assert pitch_range(scale) == 12 and pitches_used(scale) == 8 and pitch_classes_used(scale) == 7
    # 8 notes on 7 pitch classes, C twice: entropy = -(2/8 log2 2/8 + 6 * 1/8 log2 1/8)
    assert pitch_class_entropy(scale) == pytest.approx(-(0.25 * math.log2(0.25) + 6 * 0.125 * math.log2(0.125)))
    assert scale_consistency(scale) == 1.0
    assert in_key_rate(scale, 0, "major") == 1.0
    assert in_key_rate(scale, 9, "minor") == 1.0  # A minor shares the notes
    assert in_key_rate(scale, 1, "major") == pytest.approx(3 / 8)  # of C# major: F (E#) and both Cs (B#)
    chromatic = line(list(range(60, 72)))
    assert pitch_class_entropy(chromatic) == pytest.approx(math.log2(12))
    assert scale_consistency(chromatic) == pytest.approx(7 / 12)


def test_intervals() -> None:
    score = line([60, 64, 62, 74, 45])
    assert mean_absolute_interval(score) == pytest.approx((4 + 2 + 12 + 29) / 4)
    histogram = interval_histogram(score)
    assert histogram[12 + 4] == 0.25 and histogram[12 - 2] == 0.25 and histogram[24] == 0.25 and histogram[0] == 0.25


def test_polyphony_density_durations_and_silence() -> None:
    chords = Score([Track(notes=[Note(60, 80, 0, 2 * Q), Note(64, 80, 0, Q), Note(67, 80, Q, Q),
                                 Note(72, 80, 3 * Q, Q)])])
    # sixteenths 0-3: two notes; 4-7: two notes; 8-11: silent; 12-15: one note
    assert polyphony(chords) == pytest.approx((2 * 4 + 2 * 4 + 1 * 4) / 12)
    assert polyphony_rate(chords) == pytest.approx(8 / 12)
    assert empty_beat_rate(chords) == pytest.approx(1 / 4)
    assert note_density(chords) == 4.0
    assert list(duration_histogram(chords)) == [0, 0, 0, 0.75, 0, 0.25, 0, 0]


def test_groove_and_repetition() -> None:
    steady = line([60, 62, 64, 65] * 3)  # three identical 4/4 bars of quarters
    assert groove_consistency(steady) == 1.0 and repetition(steady) == pytest.approx(2 / 3)
    mixed = Score([Track(notes=[*[Note(60, 80, i * Q, Q) for i in range(4)],
                                *[Note(62, 80, 4 * Q + i * Q // 2, Q // 2) for i in range(8)]])])
    # bar 1 strikes sixteenths 0, 4, 8, 12; bar 2 also 2, 6, 10, 14: 4 of 16 slots differ
    assert groove_consistency(mixed) == pytest.approx(1 - 4 / 16)
    assert repetition(mixed) == 0.0


def test_structure_metrics_see_form_endings_and_key() -> None:
    phrase = [60, 62, 64, 65, 67, 65, 64, 62, 60, 64, 67, 72, 71, 67, 65, 62]  # four bars of quarters
    answer = [60, 62, 64, 65, 69, 67, 65, 64, 62, 65, 69, 67, 64, 62, 60, 60]
    tune = line(phrase + answer)
    assert phrase_parallelism(tune) == pytest.approx(1 / 4)  # bar 5 is bar 1; bars 6-8 differ
    assert repetition(tune) == pytest.approx(1 / 8)
    assert motif_reuse(line([60, 62, 64, 60, 62, 64, 60, 62, 64, 67])) == pytest.approx(4 / 6)  # 2 motifs twice
    tune.key_signatures = [KeySignature(0, 0, "major")]
    assert final_note_beats(tune) == 1.0 and tonic_ending(tune) == 0.0  # the tonic on beat 4 is not strong
    held = line([*phrase[:14], 60], meter=(4, 4))
    held.tracks[0].notes[-1].duration_tick = 2 * Q  # the tonic on beat 3 of bar 4, two beats long
    held.key_signatures = [KeySignature(0, 0, "major")]
    assert tonic_ending(held) == 1.0 and cadence_rate(held) == pytest.approx(1.0)
    assert key_agreement(held) == 1.0 and key_agreement(held, (9, "minor")) == 0.0
    assert math.isnan(key_agreement(line(phrase)))  # no key signature, no key to agree with
    jig = line([62, 66, 69, 66, 62, 62], length=Q * 3 // 2, meter=(6, 8))
    assert final_note_beats(jig) == 1.0  # a dotted quarter is the beat of 6/8


def test_a_one_voice_line_of_very_short_notes_has_no_polyphony() -> None:
    flurry = Score([Track(notes=[Note(60 + i % 5, 80, i * 50, 50) for i in range(40)])])  # 50-tick notes
    assert polyphony(flurry) == 1.0 and polyphony_rate(flurry) == 0.0


# ---------------------------------------------------------------- a folk player's measures (metrics.tunes)


def test_metre_measures_see_ties_syncopations_and_triplets() -> None:
    from melodia.metrics import tunes

    eighth = Q // 2
    steady = line([60, 62, 64, 65, 67, 65, 64, 62], eighth)
    assert tunes.tie_rate(steady) == tunes.held_offbeat_rate(steady) == tunes.off_grid_rate(steady) == 0.0
    # a quarter struck on the last eighth of a 4/4 bar is tied over the bar line and held across the beat
    tied = Score([Track(notes=[Note(60, 80, 0, 7 * eighth), Note(62, 80, 7 * eighth, Q), Note(64, 80, 9 * eighth,
                                                                                             7 * eighth)])])
    assert tunes.tie_rate(tied) == pytest.approx(1 / 3)
    assert tunes.held_offbeat_rate(tied) == pytest.approx(2 / 3)
    triplets = line([60, 62, 64, 65, 67, 69], Q // 3)
    assert tunes.off_grid_rate(triplets) == 1.0  # every triplet eighth lasts off the grid


def test_shape_measures_see_runs_hanging_leaps_and_high_endings() -> None:
    from melodia.metrics import tunes

    assert tunes.same_pitch_runs(line([60] * 5 + [62, 64])) == pytest.approx(1 / 7)
    assert tunes.same_pitch_runs(line([60] * 4 + [62, 64])) == 0.0
    assert tunes.raised_seventh_share(line([67, 69, 68, 69, 67, 65]), tonic=9) == pytest.approx(1 / 3)  # A minor
    assert math.isnan(tunes.raised_seventh_share(line([69, 71, 72]), tonic=9))  # no seventh degree
    assert tunes.unrecovered_leap_rate(line([60, 69, 71, 72])) == pytest.approx(1 / 4)  # up a sixth, on up
    assert tunes.unrecovered_leap_rate(line([60, 69, 67, 65])) == 0.0  # up a sixth, then back down
    assert tunes.final_height(line([60, 64, 67, 72])) == 1.0
    assert tunes.final_height(line([67, 72, 64, 60])) == 0.0
    assert tunes.common_duration_share(line([60, 62, 64])) == 1.0
    assert tunes.leap_rate(line([60, 67, 65, 72, 60])) == pytest.approx(3 / 4)  # up a fifth, down a step, ...
    assert tunes.leap_rate(line([60, 62, 64, 65])) == 0.0
    assert tunes.leading_note_share(line([68, 68, 69, 71]), tonic=9) == 0.5  # G#, G#, A, B in A minor


def test_a_stop_cadence_is_three_beats_struck_one_by_one_at_a_strain_end() -> None:
    """Two hornpipe strains (Ryan's style, AABB): the A strain's endings close `G2 B2 G2` after running eighths (a
    stop cadence), the B strain's on a held note; a score without a form has no playings to judge."""
    from melodia.io.music21 import score_from_text
    from melodia.metrics import tunes

    abc = ("X:1\nT:stops\nM:4/4\nL:1/8\nK:G\n|:GABc dedB|dedB dedB|c2ec B2dB|1 A>G G2 B2 G2:|2 A>G G2 B2 G2||\n"
           "|:gfga bgab|gfga bgab|egfg dgBd|1 cBAB c4:|2 cBAB G4|]\n")
    score = score_from_text(abc, "abc", "stops")
    assert score.form is not None and score.form.letters == "AABB"
    assert tunes.stop_cadence_share(score) == pytest.approx(2 / 4)
    assert math.isnan(tunes.stop_cadence_share(line([60, 62, 64])))


def test_strain_measures_read_the_form_of_a_real_tune_as_played() -> None:
    from melodia.io.music21 import score_from_text
    from melodia.metrics import tunes

    abc = ("X:1\nT:test\nM:4/4\nL:1/8\nK:G\n|:GABc dedB|dedB dedB|c2ec B2dB|1 AGFG A4:|2 AGFA G4||\n"
           "|:gfga bgab|gfga bgab|egfg dgBd|1 cBAB c4:|2 cBAB G4|]\n")
    score = score_from_text(abc, "abc", "test tune")
    assert score.form is not None and score.form.letters == "AABB"
    assert tunes.strain_return_share(score) == 1.0
    assert tunes.strain_tonic_endings(score, 7) == 1.0  # both strains close on G
    assert tunes.strain_pitch_rise(score) > 5  # the B strain sits an octave up
    assert (tunes.strain_compass(score, 0), tunes.strain_compass(score)) == (10.0, 14.0)  # F#4-E5, A4-B5
    assert tunes.repeated_bar_rate(score) == pytest.approx(2 / 15)  # 16 bars as played: gfga bgab, twice
    without_form = line([60, 62, 64])
    assert math.isnan(tunes.strain_return_share(without_form))
