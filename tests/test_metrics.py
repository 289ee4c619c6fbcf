"""Metrics on hand-made scores whose values are known, set comparison and the originality check."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
from conftest import DATA

from melodia import KeySignature, Note, Score, TimeSignature, Track
from melodia.compare import compare_sets
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
from melodia.originality import ReferenceIndex, share_with_runs

Q = 480  # a quarter note


def line(pitches: list[int], length: int = Q, meter: tuple[int, int] = (4, 4)) -> Score:
    notes = [Note(p, 80, i * length, length) for i, p in enumerate(pitches)]
    return Score([Track(notes=notes)], time_signatures=[TimeSignature(0, *meter)])


C_MAJOR_SCALE = [60, 62, 64, 65, 67, 69, 71, 72]


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


def test_compare_same_and_different_sets() -> None:
    rng = np.random.default_rng(0)
    folk_like = [line(list(60 + rng.choice(C_MAJOR_SCALE, 16) - 60)) for _ in range(30)]
    similar = [line(list(60 + rng.choice(C_MAJOR_SCALE, 16) - 60)) for _ in range(30)]
    wild = [line(list(rng.integers(30, 100, 16)), length=Q // 4) for _ in range(30)]
    close = compare_sets(similar, folk_like)
    far = compare_sets(wild, folk_like)
    for metric in ("pitch_range", "scale_consistency", "interval_histogram", "pitch_class_entropy"):
        assert close[metric]["overlap"] > 0.6 and far[metric]["overlap"] < close[metric]["overlap"] - 0.3, metric
        assert far[metric]["kl"] > close[metric]["kl"]


def test_originality_finds_a_planted_transposed_run() -> None:
    rng = np.random.default_rng(1)
    references = [(f"tune{i}", line(list(rng.integers(55, 80, 40)))) for i in range(50)]
    source = references[17][1].tracks[0].notes[10:30]  # 20 notes of tune17 ...
    planted = [n.pitch + 5 for n in source]  # ... up a fourth
    piece = line([48, 90, *planted, 30, 99])
    match = ReferenceIndex(references).longest_match(piece)
    assert match.reference == "tune17" and match.notes == 20 and match.position == 2
    assert ReferenceIndex(references).longest_match(line([60, 60, 60])).notes == 0
    assert share_with_runs([match], (8, 20, 24)) == {8: 1.0, 20: 1.0, 24: 0.0}


def test_metrics_and_compare_commands(tmp_path) -> None:
    result = subprocess.run([sys.executable, "-m", "melodia.cli", "metrics", str(DATA / "waltz_3_4.mid"), "--json"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)[str(DATA / "waltz_3_4.mid")]
    assert values["pitch_range"] == 7 and values["scale_consistency"] == 1.0
    compared = subprocess.run([sys.executable, "-m", "melodia.cli", "compare", "--generated", str(DATA),
                               "--reference", str(DATA / "jig_6_8.mid"), str(DATA / "waltz_3_4.mid"),
                               str(DATA / "tune.abc")], capture_output=True, text=True)
    assert compared.returncode == 0, compared.stderr
    assert "pitch_class_entropy" in compared.stdout and "melodia: skipped" in compared.stderr


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


def test_compare_leaves_out_pieces_a_metric_cannot_measure() -> None:
    signed = line([60, 62, 64, 65, 67])
    signed.key_signatures = [KeySignature(0, 0, "major")]
    result = compare_sets([signed, signed], [line([60, 64, 67, 72])] * 3)
    assert result["key_agreement"]["generated_mean"] == 1.0 and math.isnan(result["key_agreement"]["overlap"])
    assert not math.isnan(result["repetition"]["overlap"])


def test_a_one_voice_line_of_very_short_notes_has_no_polyphony() -> None:
    flurry = Score([Track(notes=[Note(60 + i % 5, 80, i * 50, 50) for i in range(40)])])  # 50-tick notes
    assert polyphony(flurry) == 1.0 and polyphony_rate(flurry) == 0.0
