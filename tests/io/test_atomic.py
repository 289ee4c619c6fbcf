"""Atomic writes (melodia/io/atomic.py): a kill cannot tear a file, and every file melodia writes goes through them."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from helpers import ROOT

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
    allowed = {"melodia/io/atomic.py", "melodia/media/synth.py"}  # synth: scratch in mkdtemp
    pattern = re.compile(r"\.write_(bytes|text)\(|open\([^)]*['\"][wax]b?['\"]|np\.save\w*\((?!buffer)"
                         r"|torch\.save\(.*,\s*['\"/]")
    offenders = [f"{path.relative_to(ROOT)}:{number}" for path in sorted((ROOT / "melodia").rglob("*.py"))
                 if str(path.relative_to(ROOT)) not in allowed
                 for number, line in enumerate(path.read_text().splitlines(), start=1) if pattern.search(line)]
    assert offenders == []
