"""Fuzz every reader for a while: MIDI bytes, ABC and MusicXML text, seed phrases, token
sequences, style templates, batch job files, model files.

Prints, per target, the inputs tried, how many were refused with a clear error, the slowest
answer, and every failure (anything but a MelodiaError escaping, or an input taking more
than the time bound). Failing inputs are saved under --save for replay. Exits 1 on any failure.

Usage: python scripts/fuzz.py [--minutes 1] [--targets midi,abc,...] [--seed 0] [--save DIR]
"""

from __future__ import annotations

import argparse
import resource
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

from melodia.fuzz import TARGETS, run_target

MEMORY_LIMIT = 8 << 30  # bytes of data segment: a reader that tries to eat all memory fails here


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=1.0, help="per target")
    parser.add_argument("--targets", default=",".join(TARGETS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", default="fuzz-failures", help="folder for failing inputs")
    args = parser.parse_args(argv)
    resource.setrlimit(resource.RLIMIT_DATA, (MEMORY_LIMIT, MEMORY_LIMIT))
    warnings.simplefilter("ignore")  # mended oddities are expected here; failures are what count
    failed = 0
    print(f"{'target':10} {'tried':>8} {'refused':>8} {'slowest s':>10} {'bound s':>8} {'failures':>9}")
    for name in args.targets.split(","):
        target = TARGETS[name]()
        tally = run_target(target, seconds=args.minutes * 60, seed=args.seed)
        print(f"{name:10} {tally.tried:8d} {tally.refused:8d} {tally.slowest:10.3f} {target.bound:8.1f} "
              f"{len(tally.failures):9d}", flush=True)
        for number, failure in enumerate(tally.failures):
            failed += 1
            print(f"  {failure.kind}: {failure.detail.strip().splitlines()[-1]}")
            folder = Path(args.save)
            folder.mkdir(parents=True, exist_ok=True)
            data = failure.data if isinstance(failure.data, bytes) else repr(failure.data).encode()
            (folder / f"{name}-{number}.bin").write_bytes(data)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
