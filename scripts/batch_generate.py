"""A worked example of batch generation from Python, the same run as `melodia batch`.

It reads a job file (by default scripts/batch_example.toml), makes whatever the chosen
shard still lacks with several processes, and prints the report and the best-scoring
outputs from the manifest. Kill it at any point and run it again: it makes only what is
missing. Spread a big job over machines with `--shard 1/4` ... `--shard 4/4`.

Usage: python scripts/batch_generate.py [--job FILE] [--shard I/N] [--workers N]
"""

from __future__ import annotations

import argparse
import csv
from collections.abc import Sequence
from pathlib import Path

from melodia.apps.batch import load_job, parse_shard, run_batch

HERE = Path(__file__).resolve().parent


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--job", default=str(HERE / "batch_example.toml"))
    parser.add_argument("--shard", default="1/1", metavar="I/N")
    parser.add_argument("--workers", type=int)
    args = parser.parse_args(argv)
    job = load_job(args.job)  # every field checked before any work starts
    report = run_batch(job, parse_shard(args.shard), args.workers)
    print(f"made {report.made}, already there {report.existing}, failed cells {len(report.failed)}")
    for cell, error in report.failed:
        print(f"  failed: {cell}: {error}")
    assert report.manifest is not None
    with report.manifest.open(newline="") as table:
        rows = [row for row in csv.DictReader(table) if row.get("scale_consistency")]
    # The manifest holds settings and metrics per output: pick, say, the most tonal ones.
    rows.sort(key=lambda row: float(row["scale_consistency"]), reverse=True)
    print(f"manifest: {report.manifest}; most scale-consistent outputs:")
    for row in rows[:5]:
        print(f"  {row['file']}: scale consistency {row['scale_consistency']}, {row['notes']} notes, "
              f"temperature {row['temperature']}, style {row['style']}")


if __name__ == "__main__":
    main()
