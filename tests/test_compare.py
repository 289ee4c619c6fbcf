"""Set-to-set comparison of metrics (melodia/metrics/compare.py)."""

from __future__ import annotations

import math

import numpy as np
from helpers import C_MAJOR_SCALE, Q, line

from melodia import KeySignature
from melodia.metrics.compare import compare


def test_compare_same_and_different_sets() -> None:
    rng = np.random.default_rng(0)
    folk_like = [line(list(60 + rng.choice(C_MAJOR_SCALE, 16) - 60)) for _ in range(30)]
    similar = [line(list(60 + rng.choice(C_MAJOR_SCALE, 16) - 60)) for _ in range(30)]
    wild = [line(list(rng.integers(30, 100, 16)), length=Q // 4) for _ in range(30)]
    close = compare(similar, folk_like)
    far = compare(wild, folk_like)
    for metric in ("pitch_range", "scale_consistency", "interval_histogram", "pitch_class_entropy"):
        assert close[metric]["overlap"] > 0.6 and far[metric]["overlap"] < close[metric]["overlap"] - 0.3, metric
        assert far[metric]["kl"] > close[metric]["kl"]


def test_compare_leaves_out_pieces_a_metric_cannot_measure() -> None:
    signed = line([60, 62, 64, 65, 67])
    signed.key_signatures = [KeySignature(0, 0, "major")]
    result = compare([signed, signed], [line([60, 64, 67, 72])] * 3)
    assert result["key_agreement"]["generated_mean"] == 1.0 and math.isnan(result["key_agreement"]["overlap"])
    assert not math.isnan(result["repetition"]["overlap"])
