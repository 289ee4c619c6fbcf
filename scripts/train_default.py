"""Train the default model on the folk corpus and write it into the package.

Three stages, each with fixed settings and seed:
1. scripts/default_model.toml: plain continuation from scratch (about 40 min on 2 CPU cores);
2. scripts/default_model_controls.toml: from the stage-1 model, widened with the
   fill-in-the-middle tokens and the control conditions (see `melodia.lm.model.MelodyLM.widened`),
   it learns infilling and the soft controls (about 40 min on one core);
3. scripts/default_model_polish.toml: 3 more epochs of the same, with more infilling (about 25 min).
`--from MODEL` skips stage 1 and starts stage 2 from MODEL: the shipped model was made from the
previous default (melodia 0.1's, stage 1 alone) this way. Builds the folk corpus first if it is
not cached. Each stage resumes from its checkpoint if a previous run was stopped, and a finished
stage 2 (OUTPUT.stage2.safetensors beside the output) is reused: delete it to train stage 2 again.
Usage: python scripts/train_default.py [-o melodia/data/default.safetensors] [--from STAGE1_MODEL]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

from melodia.corpus import build_corpus, find_recipe
from melodia.corpus.reader import Corpus
from melodia.lm.modelfile import load_model
from melodia.lm.train import Start, TrainConfig, condition_values, train, training_tokenizer

ROOT = Path(__file__).resolve().parent.parent


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", default=str(ROOT / "melodia" / "data" / "default.safetensors"))
    parser.add_argument("--config", default=str(ROOT / "scripts" / "default_model.toml"), help="stage 1's settings")
    parser.add_argument("--controls-config", default=str(ROOT / "scripts" / "default_model_controls.toml"),
                        help="stage 2's settings")
    parser.add_argument("--polish-config", default=str(ROOT / "scripts" / "default_model_polish.toml"),
                        help="stage 3's settings")
    parser.add_argument("--from", dest="stage1", help="a stage-1 model to start stage 2 from (skips stage 1)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    output = Path(args.output)
    stage1 = Path(args.stage1) if args.stage1 else output.with_name(output.stem + ".stage1.safetensors")
    if not args.stage1:
        _run(TrainConfig.from_file(Path(args.config)), stage1, None)
    config = TrainConfig.from_file(Path(args.controls_config))
    model, _, record = load_model(stage1)
    corpus = Corpus.open(config.corpus)
    wider = model.widened(len(training_tokenizer(corpus, config)), condition_values(corpus, config.conditions))
    # the start model's whole chain of stages, so that a model continued with --from reports every stage
    start = Start(corpus, wider, {"stage1": {k: record.get(k) for k in ("steps", "valid_loss", "config", "stage1",
                                                                        "stage2") if k in record}})
    stage2 = output.with_name(output.stem + ".stage2.safetensors")
    if not stage2.exists():
        _run(config, stage2, start)
    config = TrainConfig.from_file(Path(args.polish_config))
    model, _, record = load_model(stage2)
    summary = {k: record.get(k) for k in ("steps", "valid_loss", "config", "stage1")}
    _run(config, output, Start(Corpus.open(config.corpus), model, {"stage2": summary}))
    print(f"{(time.monotonic() - started) / 60:.1f} min in all")


def _run(config: TrainConfig, output: Path, start: Start | None) -> None:
    build_corpus(find_recipe(config.corpus), progress=False)
    checkpoint = output.with_name(output.name + ".ckpt")
    record = train(config, output, resume=checkpoint.exists(), start=start)
    checkpoint.unlink(missing_ok=True)
    print(f"wrote {output} ({output.stat().st_size / 1e6:.1f} MB): {record['steps']} steps, best valid "
          f"{record['valid_loss']:.4f} nats/token at epoch {record['best_epoch'] + 1}")


if __name__ == "__main__":
    main()
