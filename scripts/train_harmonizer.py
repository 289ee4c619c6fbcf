"""Train the four-part harmonizer shipped in the package (melodia/data/harmonizer.safetensors).

    python scripts/train_harmonizer.py [--config scripts/harmonizer.toml] [-o melodia/data/harmonizer.safetensors]

A fixed seed and a fixed number of epochs: the same settings give the same model whatever the machine's speed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from melodia.harmony.train import HarmonizerTraining, train_ensemble
from melodia.resources import cache_root

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(HERE / "harmonizer.toml"))
    parser.add_argument("-o", "--output", default=str(HERE.parent / "melodia" / "data" / "harmonizer.safetensors"))
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the result does not depend on it)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="networks of an ensemble trained at once, one process and one thread each "
                             "(the result does not depend on it)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    settings = HarmonizerTraining.from_toml(args.config)
    record = train_ensemble(settings, args.output, cache_root() / "harmonizer-chorales.npz",
                            log=lambda line: print(line, flush=True), jobs=args.jobs)
    print(f"wrote {args.output}: valid NLL {record['valid_nll_per_step']:.4f} nats per step, "
          f"{record['cpu_minutes']:.1f} CPU-minutes of training")
    return 0


if __name__ == "__main__":
    sys.exit(main())
