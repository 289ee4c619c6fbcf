"""Metrics (melodia/metrics.py) on hand-made scores whose values are known."""

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
