"""Time limits for work melodia cannot bound by checking sizes first (music21's parsers)."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class TimeLimitExceeded(BaseException):
    """Raised inside a block that ran past its limit. A BaseException, so that library code
    catching `Exception` cannot swallow it; callers turn it into a `MelodiaError`."""


# (timer, its signal, the clock it counts) for each kind of limit
_CLOCKS = {"wall": ("ITIMER_REAL", "SIGALRM", time.monotonic),
           "cpu": ("ITIMER_PROF", "SIGPROF", time.process_time)}


@contextmanager
def time_limit(seconds: float, error: type[BaseException] = TimeLimitExceeded,
               clock: str = "wall") -> Iterator[None]:
    """Raise `error` (`TimeLimitExceeded`) in the block when it runs longer than `seconds`.

    `clock` "wall" counts elapsed time; "cpu" counts the CPU time of this process, which
    other processes competing for the cores do not use up, so a budget means the same on a
    busy machine as on a quiet one.

    Uses interval timers and their signals, so it works in the main thread of a process
    (corpus workers and notebook kernels included); elsewhere the block runs unbounded. An
    outer limit on the same clock that would fire sooner is kept, and an outer limit is
    re-armed afterwards for the time it has left.
    """
    timer_name, signal_name, now = _CLOCKS[clock]
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return
    timer, signum = getattr(signal, timer_name), getattr(signal, signal_name)
    outer_delay, _ = signal.getitimer(timer)
    if outer_delay and outer_delay <= seconds:
        yield
        return
    outer_handler = signal.getsignal(signum)
    started = now()
    active = [True]

    def ring(*_: object) -> None:
        if active[0]:
            raise error

    signal.signal(signum, ring)
    # Keeps ringing every 50 ms: code with a bare `except:` may swallow one ring, not all.
    signal.setitimer(timer, seconds, 0.05)
    try:
        yield
    finally:
        try:
            active[0] = False
        finally:
            signal.setitimer(timer, 0)
            signal.signal(signum, outer_handler)
            if outer_delay:
                signal.setitimer(timer, max(outer_delay - (now() - started), 1e-3))
