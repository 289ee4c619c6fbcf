"""Personal models: fine-tune a trained model (the default one, say) on a small folder of your own.

    melodia finetune --from default --folder my_tunes/ -o mine.safetensors
    melodia finetune --from mine.safetensors --kept out/ -o mine2.safetensors

or `melodia.lm.finetune.finetune("default", Path("mine.safetensors"), folder=Path("my_tunes"))`.

The user's files (and the melodies kept in `--kept` folders, see `melodia.feedback`) are
tokenized with the base model's own tokenizer; a file it cannot encode (unreadable, no
notes, a meter outside its vocabulary) stops the run with its name and the reason, unless
`skip_unfit`. The files are split into train and valid by file (`VALID_SHARE` of them, by a
hash of their names, none below `MIN_FILES_FOR_VALID` files), and training starts from the
base weights with `train.train` itself: a low learning rate after a short warm-up, early
stopping on the user's valid split (on the training loss when there is none), progress bar,
checkpoints (in the cache, out of the user's folder) and `resume`. The length follows from
the data: `FINETUNE_SETTINGS`' epochs are passes over the user's files, but at least
`MIN_STEPS` steps, in epochs of at least `MIN_EPOCH_STEPS` (several passes each for a small
folder), so that early stopping, which waits `patience` epochs, never stops a run in its
warm-up. The loss of the base and of the result on the valid split (or, without one, on the
training files) is measured the same way before and after, and the model file is written in
the base's precision (half-precision weights for the default: the same size as the base).
The model file records the base model and the user's corpus (hash, file counts).

Then the memorization guard (`memorization_check`): melodies are sampled from the opening
bar of the user's training files and each continuation (the seed left out) is looked up in
the user's files with `melodia.metrics.originality`. When more than `GUARD_RATE` of them repeat a
run of `GUARD_NOTES` notes or more of one tune, a one-line warning says so and what to
change; the full figures go into `MODEL.memorization.txt` beside the model either way.
"""

from __future__ import annotations

import dataclasses
import glob
import hashlib
import json
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from melodia.errors import MelodiaError, MelodiaWarning
from melodia.io.atomic import atomic_write_text
from melodia.score import Score

VALID_SHARE = 0.15  # of the user's files, at least one, held out for early stopping
MIN_FILES_FOR_VALID = 5  # below this, every file trains and the training loss decides when to stop
KEPT_REPEATS = 3  # a kept melody counts this many times among the files of a folder
# One thread: a fine-tuning step is small matrix products, and more threads only wait on each other (on this
# project's 2-core machine, busy, 20 steps of 8 x 64 tokens ran at 117-124 tokens/s on 2 threads, 1460-1660 on 1).
FINETUNE_SETTINGS = ("lr=0.0005", "warmup_steps=20", "min_lr_ratio=0.1", "epochs=30", "patience=3", "batch_size=8",
                     "bptt=64", "valid_batch_size=8", "checkpoint_minutes=5", "threads=1")
MIN_STEPS = 60  # the shortest fine-tuning run: 6 files of 2/4 folk tunes make one step a pass
MIN_EPOCH_STEPS = 10  # the shortest epoch (validation, early stopping, a checkpoint), in passes over the files
GUARD_SAMPLES = 16
GUARD_BARS = 16
# Real tunes share runs with other tunes of their style: of held-out chorale lines, 20 % share 16 notes with 50
# others (of held-out folk tunes, 18 % with the folk corpus); a model over-trained on 4 chorale lines copies 16 notes
# in 69 % of its melodies, fine-tuned ones with early stopping in none (scripts/bench_finetune.py).
GUARD_NOTES = 16  # a continuation sharing this many notes in a row with one of the user's tunes copies it
GUARD_RATE = 0.4  # warn when more than this share of the sampled continuations copy: twice what real tunes share
UNFIT_MARKS = ("not in the vocabulary",)  # alterations that change the music too much to train on


class FinetuneError(MelodiaError):
    """Files the base model cannot learn from, or a fine-tuning setting that cannot work."""


@dataclass(frozen=True)
class GuardReport:
    """What the memorization guard found: per sampled continuation, its longest run shared with a user's file."""

    samples: int
    runs: tuple[tuple[int, str], ...]  # (notes, the user's file) of each continuation
    shares: dict[int, float]  # run length -> share of continuations sharing at least that many notes
    copying: bool

    def warning(self, model: Path) -> str:
        longest = max(self.runs, default=(0, ""))
        return (f"{model}: {self.shares[GUARD_NOTES]:.0%} of {self.samples} sampled melodies copy a run of "
                f"{GUARD_NOTES}+ notes from your files (longest {longest[0]} notes, from {longest[1]}); "
                "fine-tune for fewer epochs (--set epochs=N) or on more files")

    def text(self, model: Path) -> str:
        lines = [f"memorization guard for {model}: {self.samples} melodies of {GUARD_BARS} bars, each seeded "
                 "with the opening bar of one of your training files, free of form and scale; the seed is left "
                 "out of the check",
                 "share of continuations repeating a run of N notes of one of your files:",
                 *(f"  {length:>3} notes: {share:6.1%}" for length, share in self.shares.items()),
                 f"verdict: {'COPYING' if self.copying else 'fine'} (warns above {GUARD_RATE:.0%} at {GUARD_NOTES} "
                 "notes)", "longest runs:"]
        runs = [(notes, name) for notes, name in sorted(self.runs, reverse=True) if notes][:8]
        lines += [f"  {notes:>3} notes from {name}" for notes, name in runs] or ["  none of 6 notes or more"]
        if self.copying:
            lines.append("to change: fewer epochs (--set epochs=N), a lower learning rate, or more files")
        return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- the user's corpus


def finetune_corpus(tokenizer: Any, folder: Path | None = None, kept: Sequence[Path] = (),
                    skip_unfit: bool = False, progress: bool = True) -> Any:
    """The user's files tokenized by the base model's `tokenizer`, split into train and valid by file.

    Raises:
        FinetuneError: no files, or files the tokenizer cannot encode (unless `skip_unfit`).
    """
    from melodia.corpus.build import build_corpus
    from melodia.corpus.reader import Corpus
    from melodia.corpus.recipe import Recipe, Source
    from melodia.feedback import kept_files
    from melodia.resources import cache_root

    sources = []
    if folder is not None:
        if not Path(folder).is_dir():
            raise FinetuneError(f"{folder}: not a folder; --folder takes a folder of MIDI / ABC / MusicXML files")
        sources.append(Source("mine", "folder", Path(folder).resolve()))
    for number, place in enumerate(kept):
        names = tuple(glob.escape(p.relative_to(place).as_posix()) for p in kept_files(place))
        if not names:
            raise FinetuneError(f"{place}: no melody is marked kept; mark some with: melodia keep {place}/001.mid")
        sources.append(Source(f"kept{number}", "folder", Path(place).resolve(), names))
    if not sources:
        raise FinetuneError("nothing to fine-tune on: give --folder DIR, --kept DIR, or both")
    if not any(source.files() for source in sources):
        raise FinetuneError(f"{folder}: holds no MIDI, ABC, MusicXML or Humdrum files")
    name = hashlib.sha256(json.dumps([tokenizer.config.to_json(), *(str(s.location) for s in sources),
                                      *(s.patterns for s in sources)]).encode()).hexdigest()[:16]
    recipe = Recipe(name=f"finetune-{name}", sources=tuple(sources), tokenizer=tokenizer.config, valid_share=0.0,
                    test_share=0.0, description="files to fine-tune on")
    result = build_corpus(recipe, workers=1, progress=progress, folder=cache_root() / "finetune" / name)
    corpus = Corpus(result.folder)
    if corpus.tokenizer.to_dict() != tokenizer.to_dict():
        raise FinetuneError(f"{result.folder}: the corpus tokenizer differs from the base model's; delete the folder")
    _check_fit(corpus, sources, skip_unfit)
    _split_by_file(corpus, repeat_kept=folder is not None)
    return corpus


def _check_fit(corpus: Any, sources: list[Any], skip_unfit: bool) -> None:
    """Refuse (or, with `skip_unfit`, drop) the pieces the base tokenizer could not encode faithfully."""
    report = (corpus.folder / "report.txt").read_text(encoding="utf-8").splitlines()
    unfit = [line for line in report if line.startswith("skipped ")
             or (line.startswith("altered ") and any(mark in line for mark in UNFIT_MARKS))]
    if unfit and not skip_unfit:
        where = {s.collection: s.location for s in sources}
        piece, _, reason = unfit[0].split(" ", 1)[1].partition(": ")
        collection, _, rest = piece.partition("/")
        raise FinetuneError(f"{where.get(collection, collection)}/{rest}: does not fit the base model's tokenizer "
                            f"({reason}); {len(unfit)} piece(s) in all (see {corpus.folder / 'report.txt'}); "
                            "fix or remove them, or pass --skip-unfit")
    dropped = {line.split(" ", 2)[1].rstrip(":") for line in unfit}
    corpus.pieces = [piece for piece in corpus.pieces if piece["id"] not in dropped]
    if not corpus.pieces:
        raise FinetuneError(f"{sources[0].location}: none of its pieces fits the base model's tokenizer "
                            f"(see {corpus.folder / 'report.txt'})")


def _split_by_file(corpus: Any, repeat_kept: bool) -> None:
    """Train and valid by source file (a hash of its name), in place; kept melodies repeated beside a folder."""
    files = sorted({piece["source"] for piece in corpus.pieces},
                   key=lambda name: hashlib.sha256(name.encode()).hexdigest())
    valid = set(files[:max(1, round(VALID_SHARE * len(files)))]) if len(files) >= MIN_FILES_FOR_VALID else set()
    pieces = []
    for piece in corpus.pieces:
        piece = {**piece, "split": "valid" if piece["source"] in valid else "train"}
        kept = piece["collection"].startswith("kept") and piece["split"] == "train" and repeat_kept
        pieces += [piece] * (KEPT_REPEATS if kept else 1)
    corpus.pieces = pieces


def corpus_record(corpus: Any) -> dict[str, Any]:
    """The user's corpus as the model file records it: its hash and its counts."""
    files = {split: len({p["source"] for p in corpus.pieces if p["split"] == split}) for split in ("train", "valid")}
    contents = sorted({p["content"] for p in corpus.pieces})
    return {"corpus_hash": hashlib.sha256("".join(contents).encode()).hexdigest()[:16],
            "files": files["train"] + files["valid"], "train_files": files["train"], "valid_files": files["valid"],
            "pieces": len(contents), "kept": len({p["source"] for p in corpus.pieces
                                                  if p["collection"].startswith("kept")})}


# ---------------------------------------------------------------- fine-tuning


def finetune_config(base: Any, corpus: Any, overrides: Sequence[str] = (), half_weights: bool = False) -> Any:
    """The training settings of a fine-tuning run: the base model's own, `FINETUNE_SETTINGS`, then `overrides`;
    the batch made smaller when the user's files are too few to fill it, and the length, the epochs and the
    warm-up fitted to the data (see `fitted_length`) unless `overrides` set them. `half_weights`: the base's
    precision, which the result keeps."""
    from melodia.lm.train import TrainConfig

    config = TrainConfig(corpus=str(corpus.folder), model=base.config, conditions=tuple(base.config.conditions),
                         infill=0.3 if corpus.tokenizer.config.infill else 0.0,  # a base that infills still does
                         half_weights=half_weights)
    config = config.with_overrides([*FINETUNE_SETTINGS, *overrides])
    reshaped = [name for name, value in dataclasses.asdict(config.model).items()
                if name != "dropout" and value != getattr(base.config, name)]
    if reshaped:
        raise FinetuneError(f"model.{reshaped[0]} = {getattr(config.model, reshaped[0])!r}: fine-tuning keeps the "
                            "base model's shape; of its settings only model.dropout may change")
    tokens = sum(piece["tokens"] for piece in corpus.split("train"))
    rows = tokens // (config.bptt + 1)
    if rows < 1:
        raise FinetuneError(f"{corpus.folder}: the training files hold {tokens} tokens, fewer than one window of "
                            f"bptt = {config.bptt}; add files or lower bptt (--set bptt=16)")
    if rows < config.batch_size:
        config = dataclasses.replace(config, batch_size=rows)
    given = {pair.partition("=")[0].strip().rpartition(".")[2] for pair in overrides}
    config = config.with_overrides([f"{name}={value}" for name, value in fitted_length(config, tokens).items()
                                    if name not in given])
    if "warmup_steps" not in given:  # at most a quarter of the run, so that it ends well before the run does
        warmup = min(config.warmup_steps, max(1, run_steps(config, tokens) // 4))
        config = config.with_overrides([f"warmup_steps={warmup}"])
    return config


def fitted_length(config: Any, tokens: int) -> dict[str, int]:
    """Passes per epoch and epochs for `tokens` training tokens: `config.epochs` passes over them, but at least
    `MIN_STEPS` steps, in epochs of at least `MIN_EPOCH_STEPS` steps (on 6 short files an epoch was once one step,
    and early stopping ended the run in its warm-up)."""
    steps_per_pass = _steps_per_pass(config, tokens)
    passes = math.ceil(MIN_EPOCH_STEPS / steps_per_pass)
    return {"passes": passes,
            "epochs": math.ceil(max(config.epochs * steps_per_pass, MIN_STEPS) / (passes * steps_per_pass))}


def run_steps(config: Any, tokens: int) -> int:
    """The steps a run of `config` on `tokens` training tokens takes, at most (early stopping may end it sooner)."""
    steps = config.epochs * config.passes * _steps_per_pass(config, tokens)
    return min(steps, config.max_steps) if config.max_steps else steps


def _steps_per_pass(config: Any, tokens: int) -> int:
    return max(1, (tokens // config.batch_size - 1) // config.bptt)


def finetune(base: str | Path, output: Path, folder: Path | None = None, kept: Sequence[Path] = (), *,
             overrides: Sequence[str] = (), resume: bool = False, progress_bar: bool = True,
             skip_unfit: bool = False, guard: bool = True, guard_samples: int = GUARD_SAMPLES) -> dict[str, Any]:
    """Fine-tune the model `base` ("default" or a model file) on `folder` and the kept melodies of `kept`
    folders, write it to `output`, run the memorization guard on `guard_samples` melodies; return the training
    record.

    Raises:
        FinetuneError: no files, files the base tokenizer cannot encode, or too few notes to train on.
    """
    from melodia.lm.modelfile import load_model
    from melodia.lm.train import Start, split_loss, train

    model, tokenizer, base_record = load_model(base)
    corpus = finetune_corpus(tokenizer, folder, kept, skip_unfit, progress_bar)
    config = finetune_config(model, corpus, overrides, bool(base_record.get("config", {}).get("half_weights")))
    if config.model != model.config:  # another dropout: the same weights in a model that drops differently
        from melodia.lm.model import MelodyLM

        weights, model = model.state_dict(), MelodyLM(config.model)
        model.load_state_dict(weights)
    measured = "valid" if corpus.split("valid") else "train"
    record = {"base_model": str(base), "base_corpus": base_record.get("corpus"),
              "base_corpus_hash": base_record.get("corpus_hash"),
              "finetune": {**corpus_record(corpus), "folder": str(folder) if folder else None,
                           "kept_folders": [str(k) for k in kept], "loss_measured_on": measured,
                           "loss_before": split_loss(model, corpus, measured, config)}}
    record = train(config, output, resume=resume, progress_bar=progress_bar, description="fine-tuning",
                   start=Start(corpus, model, record, checkpoint_path(output)))
    record["finetune"]["loss_after"] = split_loss(load_model(output)[0], corpus, measured, config)
    if guard:
        tuned, _, _ = load_model(output)
        report = memorization_check(tuned, tokenizer, corpus.scores("train"), corpus.scores(), guard_samples)
        atomic_write_text(guard_report_path(output), report.text(output))
        if report.copying:
            warnings.warn(MelodiaWarning(report.warning(output)), stacklevel=2)
        record["memorization"] = {str(k): v for k, v in report.shares.items()}
    return record


def guard_report_path(model: Path) -> Path:
    return model.with_name(model.name + ".memorization.txt")


def checkpoint_path(model: Path) -> Path:
    """Where the checkpoints of a fine-tuning run that writes `model` go: in the cache (`MELODIA_CACHE`), by the
    model's full path, so that they are out of the user's folder and `resume` finds them."""
    from melodia.resources import cache_root

    where = hashlib.sha256(str(Path(model).resolve()).encode()).hexdigest()[:16]
    return cache_root() / "finetune" / "checkpoints" / f"{Path(model).name}-{where}.ckpt"


def summary(record: dict[str, Any], output: Path) -> str:
    """The closing line of a run: the files, the steps, which weights were kept, and the loss before and after."""
    files, steps = record["finetune"], record["steps"]
    before, after = files["loss_before"], files["loss_after"]
    change = f"{before:.4f} -> {after:.4f} nats/token" + (" (no better than the base)" if after >= before else "")
    if files["loss_measured_on"] == "valid":
        loss = f"held-out loss on {files['valid_files']} valid file{'s' * (files['valid_files'] != 1)} {change}"
    else:
        loss = (f"no file held out (fewer than {MIN_FILES_FOR_VALID} files), so the training loss decided when to "
                f"stop; loss on the training files {change}")
    return (f"wrote {output}: fine-tuned from {record['base_model']} on {files['files']} files "
            f"({files['train_files']} train, {files['valid_files']} valid, {files['kept']} kept): {steps} steps in "
            f"{record['epochs']} epoch{'s' * (record['epochs'] != 1)} of {record['steps_per_epoch']} steps, the "
            f"weights of step {record['best_step']} kept; {loss}")


# ---------------------------------------------------------------- the memorization guard


def opening(score: Score, bars: int = 1) -> Score:
    """The first `bars` bars of `score`, notes cut at the bar line."""
    import copy

    starts = score.bar_starts()
    end = starts[bars] if bars < len(starts) else score.end_tick
    cut = copy.deepcopy(score)
    for track in cut.tracks:
        track.notes = [n for n in track.notes if n.onset_tick < end]
        for note in track.notes:
            note.duration_tick = min(note.duration_tick, end - note.onset_tick)
    return cut


def continuation(score: Score, after_tick: int) -> Score:
    """The notes of `score` that start at or after `after_tick` (what the model wrote after its seed)."""
    import copy

    rest = copy.deepcopy(score)
    for track in rest.tracks:
        track.notes = [n for n in track.notes if n.onset_tick >= after_tick]
    return rest


def memorization_check(model: Any, tokenizer: Any, seeds: Sequence[tuple[str, Score]],
                       references: Sequence[tuple[str, Score]], samples: int = GUARD_SAMPLES,
                       bars: int = GUARD_BARS, random_seed: int = 0,
                       lengths: Sequence[int] = (8, 12, GUARD_NOTES, 24)) -> GuardReport:
    """Sample `samples` melodies of `bars` bars from the opening bars of `seeds`' pieces and find the longest run
    each continuation shares with one of `references` (the user's files).

    The melodies are drawn free of form and scale (what the model learnt, not what the form rules make of it):
    a form's returns and cadences break up a copied tune, so with them an over-trained model looks innocent.
    """
    from melodia.lm.generation import Constraints, generate
    from melodia.metrics.originality import Match, ReferenceIndex, share_with_runs

    index = ReferenceIndex(list(references))
    chosen = list(seeds)[:samples] or list(references)[:samples]
    per_seed = math.ceil(samples / max(len(chosen), 1))
    matches: list[Match] = []
    for number, (_, piece) in enumerate(chosen):
        seed = opening(piece)
        if not seed.note_count or len(matches) >= samples:
            continue
        try:
            outputs = generate((model, tokenizer), seed, min(per_seed, samples - len(matches)),
                               Constraints(bars=bars, form="none", scale="off"), random_seed=random_seed + number)
        except MelodiaError:
            continue  # a seed the constraints cannot continue: the others still sample
        matches += [index.longest_match(continuation(output, seed.end_tick)) for output in outputs]
    shares = share_with_runs(matches, lengths)
    runs = tuple((m.notes, m.reference) for m in matches)
    return GuardReport(len(matches), runs, shares, bool(matches) and shares[GUARD_NOTES] > GUARD_RATE)
