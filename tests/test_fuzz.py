"""Hostile input (scripts/fuzz.py): a bounded fuzz run over every reader. The failures it found are kept as
regression tests beside the reader they concern (tests/io/test_music21.py)."""

from __future__ import annotations

import resource
import warnings

import pytest
from fuzz import TARGETS, run_target

# Inputs per target in the suite's bounded run (under a minute in all on 2 cores);
# scripts/fuzz.py runs for as long as you like.
INPUTS = {"midi": 30000, "abc": 60, "musicxml": 3000, "seed": 3000, "tokens": 20000, "template": 10000,
          "job": 10000, "model": 10000}


def test_every_target_has_a_bounded_run() -> None:
    assert set(INPUTS) == set(TARGETS)


@pytest.mark.parametrize("name", sorted(INPUTS))
def test_fuzz_only_melodia_errors_escape_within_the_bound(name: str) -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tally = run_target(TARGETS[name](), inputs=INPUTS[name], random_seed=2026)
    assert tally.tried == INPUTS[name] and tally.refused > 0
    assert not tally.failures, "\n".join(f"{f.kind}: {f.detail}\n{f.data!r:.300}" for f in tally.failures[:3])
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 1_000_000, f"peak memory grew by {grown_kib // 1024} MiB"
