"""Hostile input: a bounded fuzz run over every reader, the failures it found kept as
regression tests, and writes that a kill cannot tear."""

from __future__ import annotations

import os
import re
import resource
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import pytest

from melodia.errors import ReadError
from melodia.fuzz import TARGETS, run_target
from melodia.io.music21 import score_from_text
from melodia.limits import TimeLimitExceeded, time_limit

ROOT = Path(__file__).resolve().parent.parent
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
        tally = run_target(TARGETS[name](), inputs=INPUTS[name], seed=2026)
    assert tally.tried == INPUTS[name] and tally.refused > 0
    assert not tally.failures, "\n".join(f"{f.kind}: {f.detail}\n{f.data!r:.300}" for f in tally.failures[:3])
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 1_000_000, f"peak memory grew by {grown_kib // 1024} MiB"


# --- what the fuzzer found ----------------------------------------------------------------------

def test_a_triplet_in_an_overfull_bar_does_not_hang_music21() -> None:
    """music21 gave such a bar a meter like 4879784/1125899906842624 and ran for minutes."""
    started = time.monotonic()
    score = score_from_text("X:1\nM:4/4\nL:1/8\nK:D\n(3ABc d2 e2fe d2|d8|\n", "abc", "odd bar")
    assert score.note_count == 9 and time.monotonic() - started < 2


@pytest.mark.parametrize(("text", "kind", "message"), [
    ("X:1\nM:4/4\nL:999999999/8\nK:G\nGAB d2e|\n", "abc", "numbers over 1024"),
    ("X:1\nM:99999/8\nL:1/8\nK:G\nGAB d2e|\n", "abc", "numbers over 128"),
    ("X:1\nM:4/4\nL:1/8\nK:G\nG99999999 AB|\n", "abc", "over the limits of"),
    ('<score-partwise version="4.0"><part-list><score-part id="P1"><part-name>x</part-name></score-part>'
     '</part-list><part id="P1"><measure number="1"><attributes><divisions>1</divisions><key><fifths>4294967296'
     '</fifths></key></attributes></measure></part></score-partwise>', "musicxml", "numbers over 14"),
    ('<score-partwise version="4.0"><part-list><score-part id="P1"><part-name>x</part-name></score-part>'
     '</part-list><part id="P1"><measure number="1"><attributes><divisions>1</divisions><time><beats>999999999'
     '</beats><beat-type>4</beat-type></time></attributes></measure></part></score-partwise>', "musicxml",
     "numbers over 128"),
])
def test_absurd_fields_are_refused_before_music21_starts(text: str, kind: str, message: str) -> None:
    started = time.monotonic()
    with pytest.raises(ReadError, match=message):
        score_from_text(text, kind, "hostile")
    assert time.monotonic() - started < 2


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


# --- writes ---------------------------------------------------------------------------------------

WRITER = textwrap.dedent("""
    import sys
    from melodia.io.atomic import atomic_write_bytes
    path, size = sys.argv[1], int(sys.argv[2])
    old, new = b"O" * size, b"N" * size
    atomic_write_bytes(path, old)
    print("ready", flush=True)
    while True:
        atomic_write_bytes(path, new)
        atomic_write_bytes(path, old)
""")


def test_a_killed_writer_leaves_the_old_file_or_the_new_never_a_torn_one(tmp_path: Path) -> None:
    target, size = tmp_path / "music.mid", 8 * 1024 * 1024
    seen: set[bytes] = set()
    for delay in (0.05, 0.13, 0.21, 0.34, 0.55, 0.89):
        process = subprocess.Popen([sys.executable, "-c", WRITER, str(target), str(size)], stdout=subprocess.PIPE)
        assert process.stdout is not None and process.stdout.readline().strip() == b"ready"
        time.sleep(delay)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        data = target.read_bytes()
        assert len(data) == size and data in (b"O" * size, b"N" * size)
        seen.add(data[:1])
    assert seen  # the file was always whole; which one depended on when the kill came


def test_every_file_melodia_writes_goes_through_the_atomic_helper() -> None:
    """Only the helper opens files for writing; the exceptions are scratch files in temp folders."""
    allowed = {"melodia/io/atomic.py", "melodia/synth.py", "melodia/fuzz.py"}  # synth/fuzz: scratch in mkdtemp
    pattern = re.compile(r"\.write_(bytes|text)\(|open\([^)]*['\"][wax]b?['\"]|np\.save\w*\((?!buffer)"
                         r"|torch\.save\(.*,\s*['\"/]")
    offenders = [f"{path.relative_to(ROOT)}:{number}" for path in sorted((ROOT / "melodia").rglob("*.py"))
                 if str(path.relative_to(ROOT)) not in allowed
                 for number, line in enumerate(path.read_text().splitlines(), start=1) if pattern.search(line)]
    assert offenders == []
