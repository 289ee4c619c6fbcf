"""Train the default model on the folk corpus and write it into the package.

Settings: scripts/default_model.toml (fixed seed). Builds the folk corpus first if it is
not cached. Resumes from its checkpoint if a previous run was stopped.
Usage: python scripts/train_default.py [-o melodia/data/default.safetensors]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

from melodia.corpus import build_corpus, find_recipe
from melodia.train import TrainConfig, train

ROOT = Path(__file__).resolve().parent.parent


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", default=str(ROOT / "melodia" / "data" / "default.safetensors"))
    parser.add_argument("--config", default=str(ROOT / "scripts" / "default_model.toml"))
    args = parser.parse_args(argv)
    started = time.monotonic()
    config = TrainConfig.from_file(Path(args.config))
    build_corpus(find_recipe(config.corpus), progress=False)
    output = Path(args.output)
    checkpoint = output.with_name(output.name + ".ckpt")
    record = train(config, output, resume=checkpoint.exists())
    checkpoint.unlink(missing_ok=True)
    print(f"wrote {output} ({output.stat().st_size / 1e6:.1f} MB): {record['steps']} steps, best valid "
          f"{record['valid_loss']:.4f} nats/token at epoch {record['best_epoch'] + 1}, "
          f"{(time.monotonic() - started) / 60:.1f} min in all")


if __name__ == "__main__":
    main()
