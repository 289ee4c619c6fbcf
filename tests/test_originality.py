"""The originality check (melodia/metrics/originality.py): the longest run a piece shares with a reference."""

from __future__ import annotations

import numpy as np
from helpers import line

from melodia.metrics.originality import ReferenceIndex, share_with_runs


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
