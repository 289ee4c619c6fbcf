"""Time limits (melodia/limits.py): a block stopped on time, nested limits, CPU time that does not count waiting."""

from __future__ import annotations

import signal
import time

import pytest

from melodia.limits import TimeLimitExceeded, time_limit


def test_time_limit_stops_a_block_and_keeps_an_outer_limit() -> None:
    started, swallowed = time.monotonic(), []
    with pytest.raises(TimeLimitExceeded), time_limit(0.2):
        while True:  # like music21: a bare except around part of the work swallows rings there
            try:
                time.sleep(0.01)
            except BaseException:
                swallowed.append(1)
            busy_until = time.monotonic() + 0.01
            while time.monotonic() < busy_until:
                pass
    assert time.monotonic() - started < 2
    with pytest.raises(TimeLimitExceeded), time_limit(0.5):  # the outer limit still fires after an inner one
        with time_limit(5):
            pass
        time.sleep(2)
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_a_cpu_time_limit_does_not_count_waiting() -> None:
    with time_limit(0.05, clock="cpu"):
        time.sleep(0.3)  # no CPU used, as when other processes hold the cores: no ring
    with pytest.raises(TimeLimitExceeded), time_limit(0.05, clock="cpu"):
        while True:
            pass
    assert signal.getitimer(signal.ITIMER_PROF) == (0.0, 0.0)
