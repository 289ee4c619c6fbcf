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


@contextmanager
def time_limit(seconds: float, error: type[BaseException] = TimeLimitExceeded) -> Iterator[None]:
    """Raise `error` (`TimeLimitExceeded`) in the block when it runs longer than `seconds`.

    Uses SIGALRM, so it works in the main thread of a process (corpus workers and notebook
    kernels included); elsewhere the block runs unbounded. An outer limit that would fire
    sooner is kept, and an outer limit is re-armed afterwards for the time it has left.
    """
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return
    outer_delay, _ = signal.getitimer(signal.ITIMER_REAL)
    if outer_delay and outer_delay <= seconds:
        yield
        return
    outer_handler = signal.getsignal(signal.SIGALRM)
    started = time.monotonic()
    active = [True]

    def ring(*_: object) -> None:
        if active[0]:
            raise error

    signal.signal(signal.SIGALRM, ring)
    # Keeps ringing every 50 ms: code with a bare `except:` may swallow one ring, not all.
    signal.setitimer(signal.ITIMER_REAL, seconds, 0.05)
    try:
        yield
    finally:
        try:
            active[0] = False
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, outer_handler)
            if outer_delay:
                signal.setitimer(signal.ITIMER_REAL, max(outer_delay - (time.monotonic() - started), 1e-3))
