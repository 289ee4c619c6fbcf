"""Training: truncated back-propagation over token streams, resumable and distributed.

Each epoch lays the training pieces end to end in an order drawn from (seed, epoch),
each piece transposed by a draw from (seed, epoch, piece), and cuts the stream into
`batch_size` rows per process (`batch_size * world` in all). Chunks of `bptt` tokens are
taken in order and the recurrent state is carried, detached, from chunk to chunk.

A run trains a fixed number of steps (`epochs`, `max_steps`, early stopping on the valid
split) from a fixed seed, so its result does not depend on how fast or how busy the machine
is; the process's CPU time is recorded (`cpu_minutes`), never used to stop it.

Checkpoints (model, optimizer, schedule, position in the epoch and the losses of its steps so
far, carried state and random state of every process) are written atomically every
`checkpoint_minutes` (or `checkpoint_steps`) and at the end of every epoch, so `resume=True`
continues a killed run to the same final weights, whenever its last checkpoint was written.
Under `torchrun` the same code trains with DistributedDataParallel: gloo on CPU, NCCL on GPU,
with bf16 autocast on GPU.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import os
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from melodia import settings
from melodia.corpus.dataset import Augmentation, PitchMap, augment
from melodia.corpus.reader import Corpus
from melodia.errors import MelodiaError
from melodia.io.atomic import atomic_write_bytes, atomic_write_text
from melodia.lm.controls import CONTROL_NAMES, PieceControls, control_values, corpus_controls, fill_index
from melodia.lm.model import MelodyLM, ModelConfig, detach_state
from melodia.lm.modelfile import save_model
from melodia.tokenizers import EOS, Tokenizer, tokenizer_from_config
from melodia.tokenizers.metrical import fill_layout
from melodia.version import __version__

PIECE_CONDITIONS = ("meter", "mode", "collection")  # one label for a whole piece
CONDITION_NAMES = (*PIECE_CONDITIONS, *CONTROL_NAMES)  # the controls: a label for each token (melodia.lm.controls)


class TrainError(MelodiaError):
    """A bad training setting or a checkpoint that cannot be resumed."""


MODEL_ALIASES = ("embedding_size", "hidden_size", "layers", "cell", "dropout", "tie_weights")
# Settings older versions read and this one refuses, with why: a wall-clock stop made the result depend on the machine.
RETIRED = {"max_minutes": "a run trains a fixed number of steps (set epochs or max_steps) so that its result does "
                          "not depend on the machine's speed; remove it"}


@dataclass(frozen=True)
class TrainConfig:
    """Every training setting; `--config FILE` and `--set key=value` override the defaults.

    The model's settings are `model.NAME` and the augmentation's `augmentation.NAME`; their
    flat names (`hidden_size`, `transpose`, ...) are accepted as aliases in files and `--set`.
    The model's `vocab_size` and condition values come from the corpus when training starts.
    `infill` is the share of training pieces written fill-in-the-middle (a gap of 1 to 8 bars, see
    `melodia.tokenizers.metrical`), which adds the Gap and Middle tokens to the tokenizer;
    `control_dropout` the chance that a piece's chords, densities or registers (each on its own) are
    hidden as "unknown" (see `melodia.lm.controls`). `passes` is how many times an epoch goes over the training
    split (each pass in its own order and transpositions), so that the epochs of a small corpus, which end with
    validation, early stopping and a checkpoint, are long enough for them.
    """

    ALIASES: ClassVar[dict[str, str]] = {**{name: f"model.{name}" for name in MODEL_ALIASES},
                                         "transpose": "augmentation.transpose",
                                         "tempo_levels": "augmentation.tempo_levels"}
    RENAMED: ClassVar[dict[str, str]] = {"seed": "random_seed"}

    corpus: str = "folk"
    model: ModelConfig = field(default_factory=ModelConfig)
    augmentation: Augmentation = field(default_factory=lambda: Augmentation(transpose=5))
    conditions: tuple[str, ...] = ()
    infill: float = 0.0
    control_dropout: float = 0.5
    batch_size: int = 32
    bptt: int = 128
    passes: int = 1
    epochs: int = 20
    max_steps: int = 0
    lr: float = 3e-3
    weight_decay: float = 0.01
    warmup_steps: int = 100
    min_lr_ratio: float = 0.05
    clip: float = 1.0
    patience: int = 3
    random_seed: int = 0
    checkpoint_minutes: float = 10.0
    checkpoint_steps: int = 0
    valid_batch_size: int = 16
    half_weights: bool = False
    threads: int = 0

    def __post_init__(self) -> None:
        unknown = sorted(set(self.conditions) - set(CONDITION_NAMES))
        if unknown:
            raise TrainError(f"condition {unknown[0]!r}: expected some of {', '.join(CONDITION_NAMES)}")
        for name in ("infill", "control_dropout"):
            if not 0 <= getattr(self, name) <= 1:
                raise TrainError(f"training setting {name} = {getattr(self, name)}: expected a share in [0, 1]")
        for name in ("batch_size", "bptt", "passes", "epochs", "valid_batch_size"):
            if getattr(self, name) < 1:
                raise TrainError(f"training setting {name} = {getattr(self, name)}: must be at least 1")

    def with_overrides(self, pairs: list[str]) -> TrainConfig:
        """Apply `key=value` strings (`model.hidden_size=64` or `hidden_size=64`), converted to the fields' types."""
        _refuse_retired([pair.partition("=")[0].strip() for pair in pairs], "--set")
        return settings.with_overrides(self, pairs, TrainError)

    @classmethod
    def from_file(cls, path: Path) -> TrainConfig:
        """Settings from a TOML or JSON file: key = value pairs, [model] and [augmentation] tables."""
        table = settings.read_file(path, TrainError, "settings")
        _refuse_retired(list(table), str(path))
        return settings.from_dict(cls, table, TrainError, str(path))

    def flat(self) -> dict[str, Any]:
        """Every setting under its flat name, as model files record them."""
        return settings.flat_settings(self)


def _refuse_retired(keys: list[str], source: str) -> None:
    for key in keys:
        if key in RETIRED:
            raise TrainError(f"{source}: {key} is no longer a training setting: {RETIRED[key]}")


# ---------------------------------------------------------------- data


class EpochStreams:
    """The training stream of each epoch, as rows of tokens (and condition labels)."""

    def __init__(self, corpus: Corpus, split: str, config: TrainConfig, conditions: dict[str, list[str]],
                 tokenizer: Tokenizer | None = None) -> None:
        tokenizer = tokenizer or corpus.tokenizer
        self.pieces = corpus.split(split)
        if not self.pieces:
            raise TrainError(f"corpus {corpus.name} has no pieces in its {split} split")
        self.tokens = [corpus.piece_tokens(piece).astype(np.int64) for piece in self.pieces]
        self.pitch_map = PitchMap(corpus.tokenizer)
        self.pitched = [self.pitch_map.pitched(tokens) for tokens in self.tokens]
        self.labels = np.asarray([[values.index(_label(piece, name)) if name in PIECE_CONDITIONS
                                   and _label(piece, name) in values else 0
                                   for name, values in conditions.items()] for piece in self.pieces],
                                 dtype=np.int64).reshape(len(self.pieces), len(conditions))
        self.config = config
        self.names = tuple(conditions)
        self.controls: list[PieceControls] = corpus_controls(corpus, self.pieces) \
            if set(self.names) & set(CONTROL_NAMES) else []
        self.tokenizer = tokenizer
        self.total = sum(len(t) for t in self.tokens) * (config.passes if split == "train" else 1)
        if config.infill:  # a filled piece gives only 4 bars after its gap: count the tokens an epoch really has
            self.total = len(self.rows(0, 1, shuffle=split == "train")[0][0])

    def rows(self, epoch: int, rows: int, shuffle: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """(tokens, conditions) cut into `rows` equal rows: (rows, length) and (rows, length, conditions); shuffled,
        the epoch's `passes` over the pieces, one after another."""
        if not shuffle:
            return self._cut(*self._pass(0, shuffle), rows)
        passes = self.config.passes
        drawn = [self._pass(epoch * passes + number, shuffle) for number in range(passes)]
        return self._cut(np.concatenate([d[0] for d in drawn]), np.concatenate([d[1] for d in drawn]), rows)

    def _pass(self, epoch: int, shuffle: bool) -> tuple[np.ndarray, np.ndarray]:
        """One pass over the pieces as one stream of tokens and one of their labels, drawn as for `epoch` (pass p of
        epoch e of `passes` draws as epoch e * passes + p: with one pass, as it always did)."""
        order = np.random.default_rng((self.config.random_seed, epoch)).permutation(len(self.tokens)) if shuffle \
            else np.arange(len(self.tokens))
        augmentation = self.config.augmentation if shuffle else Augmentation()
        pieces, labels = [], []
        for index in order:
            tokens = written = self.tokens[index]
            if augmentation.transpose or augmentation.tempo_levels:
                rng = np.random.default_rng((self.config.random_seed, epoch, int(index)))
                tokens = augment(tokens, self.pitched[index], self.pitch_map, augmentation, rng)
            piece_labels = np.broadcast_to(self.labels[index], (len(tokens), self.labels.shape[1]))
            if self.controls or self.config.infill:
                rng = np.random.default_rng((self.config.random_seed, epoch, int(index), 1))
                shift = int(tokens[self.pitched[index]][0] - written[self.pitched[index]][0]) \
                    if self.pitched[index].any() else 0
                tokens, piece_labels = self._controlled(int(index), tokens, piece_labels, shift, rng)
            pieces.append(tokens)
            labels.append(piece_labels)
        return np.concatenate(pieces), np.concatenate(labels)

    @staticmethod
    def _cut(stream: np.ndarray, label_stream: np.ndarray, rows: int) -> tuple[torch.Tensor, torch.Tensor]:
        length = len(stream) // rows
        if length < 2:
            raise TrainError(f"{len(stream)} tokens cannot fill {rows} rows; lower batch_size")
        return (torch.from_numpy(stream[:rows * length].reshape(rows, length).copy()),
                torch.from_numpy(label_stream[:rows * length].reshape(rows, length, -1).copy()))


    def _controlled(self, index: int, tokens: np.ndarray, labels: np.ndarray, shift: int,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """The piece's tokens and labels with its control labels filled in (each control hidden at random),
        then, for a share `infill` of pieces, rearranged fill-in-the-middle."""
        labels = labels.copy()
        columns = [i for i, name in enumerate(self.names) if name in CONTROL_NAMES and name != "fill"]
        if columns:
            keep = rng.random(len(columns)) >= self.config.control_dropout
            names = [self.names[i] for i in columns]
            labels[:, columns] = self.controls[index].labels(names, shift, keep.tolist())
        if self.config.infill and rng.random() < self.config.infill:
            return self._fill_in_the_middle(index, tokens, labels, rng)
        return tokens, labels

    def _fill_in_the_middle(self, index: int, tokens: np.ndarray, labels: np.ndarray,
                            rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """prefix, Gap_N, suffix (up to 4 bars), Middle, bridge (the 2 bars before the gap again), the N bars of
        the gap, EOS (`metrical.fill_layout`; a piece that changes meter or tempo stays in order); the gap's tokens
        get the "fill" label of the bars left, the two marks none."""
        vocab = self.tokenizer.vocab
        bars = np.flatnonzero(tokens == vocab.id("Bar", 0))
        changes = sum(int(((tokens >= a) & (tokens < b)).sum()) for kind in ("TimeSig", "Tempo")
                      if kind in vocab.ranges for a, b in [vocab.ranges[kind]])
        if len(bars) < 2 or changes > 1 + ("Tempo" in vocab.ranges) or tokens[-1] != EOS:
            return tokens, labels
        first = int(rng.integers(0, len(bars)))
        length = int(rng.integers(1, min(MAX_FILL_BARS, len(bars) - first) + 1))
        layout = fill_layout(self.tokenizer, tokens, first, length)
        order = np.append(layout.order(), len(tokens) - 1)  # the EOS
        arranged = tokens[order]
        arranged[order == -1], arranged[order == -2] = vocab.id("Gap", length - 1), vocab.ranges["Middle"][0]
        arranged_labels = labels[order]
        arranged_labels[order < 0] = 0
        if "fill" in self.names:
            gap = slice(len(order) - 1 - (layout.stop - layout.start), len(order) - 1)
            bar = np.cumsum(arranged[gap] == vocab.id("Bar", 0)) - 1
            arranged_labels[gap, self.names.index("fill")] = [fill_index(length - b) for b in bar]
        return arranged, arranged_labels


MAX_FILL_BARS = 8  # the longest gap training leaves


def _label(piece: dict[str, Any], name: str) -> str:
    if name == "mode":
        return str(piece["key"]).split()[-1]
    return str(piece[name])


def condition_values(corpus: Corpus, names: tuple[str, ...]) -> dict[str, list[str]]:
    """For each condition, "unknown" and then every label the training split uses, sorted."""
    train = corpus.split("train")
    return {name: control_values([name])[name] if name in CONTROL_NAMES
            else ["unknown", *sorted({_label(piece, name) for piece in train})] for name in names}


def training_tokenizer(corpus: Corpus, config: TrainConfig) -> Tokenizer:
    """The corpus's tokenizer, with the fill-in-the-middle tokens added when `config.infill` asks for them."""
    tokenizer = corpus.tokenizer
    if config.infill and not tokenizer.config.infill:
        if not (tokenizer.config.melody and tokenizer.config.scheme == "metrical"):
            raise TrainError(f"infill = {config.infill}: fill-in-the-middle needs a corpus of melodies in the "
                             f"metrical scheme (tokenizer melody = true); corpus {corpus.name} has "
                             f"{tokenizer.config.scheme}, melody = {str(tokenizer.config.melody).lower()}")
        tokenizer = tokenizer_from_config(dataclasses.replace(tokenizer.config, infill=True))
    return tokenizer


# ---------------------------------------------------------------- the loop


@dataclass
class Progress:
    """Where a run stands; all of it goes into checkpoints."""

    epoch: int = 0
    chunk: int = 0
    step: int = 0
    best_valid: float = math.inf
    best_epoch: int = -1
    bad_epochs: int = 0
    tokens_seen: int = 0
    log: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    done: bool = False
    epoch_losses: list[float] = dataclasses.field(default_factory=list)  # the current epoch's steps so far
    cpu_seconds: float = 0.0  # this run's CPU time, all its processes, up to the last checkpoint


@dataclass
class Run:
    """Everything one training run works with: made by `_set_up`, then handed to the loop,
    the checkpoints and the validation."""

    config: TrainConfig
    output: Path
    rank: int
    world: int
    device: torch.device
    tokenizer: Tokenizer
    model: MelodyLM
    network: nn.Module  # the model, or its DistributedDataParallel wrapper
    optimizer: torch.optim.Optimizer
    schedule: Any
    train_data: EpochStreams
    valid_data: EpochStreams | None
    steps_per_epoch: int
    total_steps: int
    record: dict[str, Any] = dataclasses.field(default_factory=dict)
    state: Progress = dataclasses.field(default_factory=Progress)
    carried: Any = None
    best_weights: dict[str, torch.Tensor] | None = None
    started: float = dataclasses.field(default_factory=time.monotonic)
    last_checkpoint: float = dataclasses.field(default_factory=time.monotonic)
    cpu_counted: float = dataclasses.field(default_factory=time.process_time)  # CPU time already in cpu_seconds
    tokens_at_start: int = 0
    training_seconds: float = 0.0  # data and steps, not validation
    checkpoint_at: Path | None = None  # where checkpoints go; None: beside the model, MODEL.ckpt

    @property
    def checkpoint(self) -> Path:
        return self.checkpoint_at or self.output.with_name(self.output.name + ".ckpt")

    def tokens_per_second(self, seconds: float) -> float:
        return (self.state.tokens_seen - self.tokens_at_start) / max(seconds, 1e-9)


@dataclass(frozen=True)
class Start:
    """A run that starts from a model already trained (fine-tuning) on a corpus already open.

    Attributes:
        corpus: the corpus to train on, its splits as the caller set them (`config.corpus` names it).
        model: the base model, whose settings, conditions and weights the run starts from.
        record: what the model file should say besides the training's own figures.
        checkpoint: where the run's checkpoints go (None: beside the model, as MODEL.ckpt).
    """

    corpus: Corpus
    model: MelodyLM
    record: dict[str, Any] = field(default_factory=dict)
    checkpoint: Path | None = None


def train(config: TrainConfig, output: Path, resume: bool = False, progress_bar: bool = True,
          start: Start | None = None, description: str = "training") -> dict[str, Any]:
    """Train a model on `config.corpus` (or from `start`) and write it to `output`; return the training record.
    `config.threads`, when set, holds for the run only."""
    threads = torch.get_num_threads()
    try:
        return _train(config, output, resume, progress_bar, start, description)
    finally:
        torch.set_num_threads(threads)


def _train(config: TrainConfig, output: Path, resume: bool, progress_bar: bool, start: Start | None,
           description: str) -> dict[str, Any]:
    run = _set_up(config, output, resume, start)
    from tqdm import tqdm

    bar = tqdm(total=run.total_steps, initial=run.state.step, desc=description, unit="step",
               disable=not progress_bar or run.rank != 0, file=sys.stderr)
    run.started, run.last_checkpoint, run.tokens_at_start = time.monotonic(), time.monotonic(), run.state.tokens_seen
    run.cpu_counted = time.process_time()
    while not run.state.done and run.state.epoch < config.epochs:
        epoch_started = time.monotonic()
        losses = _train_epoch(run, bar)
        run.training_seconds += time.monotonic() - epoch_started
        _end_epoch(run, losses, bar)
    bar.close()
    return _finish(run)


def _set_up(config: TrainConfig, output: Path, resume: bool, start: Start | None = None) -> Run:
    """The model, data, optimizer and schedule of a run, fresh or as its checkpoint left them."""
    rank, world, device = _distributed_setup()
    if config.threads:
        torch.set_num_threads(config.threads)
    corpus = start.corpus if start else Corpus.open(config.corpus)
    torch.manual_seed(config.random_seed)
    tokenizer = training_tokenizer(corpus, config)
    if start:
        conditions = start.model.config.conditions
        model = MelodyLM(start.model.config)
        model.load_state_dict(start.model.state_dict())
        model = model.to(device)
    else:
        conditions = condition_values(corpus, config.conditions)
        model_config = dataclasses.replace(config.model, vocab_size=len(tokenizer), conditions=conditions)
        model = MelodyLM(model_config).to(device)
    train_data = EpochStreams(corpus, "train", config, conditions, tokenizer)
    valid_data = EpochStreams(corpus, "valid", config, conditions, tokenizer) if corpus.split("valid") else None
    steps_per_epoch, total_steps = _steps(config, train_data.total, world)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(config, total_steps))
    run = Run(config=config, output=output, rank=rank, world=world, device=device, tokenizer=tokenizer,
              model=model, network=model, optimizer=optimizer, schedule=schedule, train_data=train_data,
              valid_data=valid_data, steps_per_epoch=steps_per_epoch, total_steps=total_steps,
              checkpoint_at=start.checkpoint if start else None)
    if resume:
        _resume(run)
    else:
        torch.manual_seed(config.random_seed * 1000 + rank)  # dropout draws differ between processes
    if world > 1:
        run.network = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda"
                                                          else None)
    run.record = {**_record(run, corpus), **(start.record if start else {})}
    return run


def _record(run: Run, corpus: Corpus) -> dict[str, Any]:
    """What the model file says of its training, before the training's own figures."""
    return {"corpus": corpus.name, "corpus_hash": corpus.content_hash(), "melodia": __version__,
            "config": run.config.flat(), "world_size": run.world, "device": run.device.type,
            "parameters": run.model.parameter_count(), "steps_per_epoch": run.steps_per_epoch}


def _steps(config: TrainConfig, tokens: int, world: int) -> tuple[int, int]:
    """(steps per epoch, steps in all) for `tokens` training tokens."""
    steps_per_epoch = (tokens // (config.batch_size * world) - 1) // config.bptt
    if steps_per_epoch < 1:
        raise TrainError(f"the train split ({tokens} tokens) is too small for batch_size "
                         f"{config.batch_size} x bptt {config.bptt}")
    total_steps = config.epochs * steps_per_epoch
    return steps_per_epoch, min(total_steps, config.max_steps) if config.max_steps else total_steps


def _train_epoch(run: Run, bar: Any) -> list[float]:
    """Steps through the rest of the current epoch (or until told to stop); the losses of its steps (those
    before a resume included)."""
    config, state = run.config, run.state
    rows, labels = run.train_data.rows(state.epoch, config.batch_size * run.world, shuffle=True)
    rows, labels = rows[run.rank::run.world].to(run.device), labels[run.rank::run.world].to(run.device)
    run.network.train()
    losses = state.epoch_losses
    chunks = min(run.steps_per_epoch, (rows.shape[1] - 1) // config.bptt)  # filled pieces vary an epoch's length
    while state.chunk < chunks and not state.done:
        start = state.chunk * config.bptt
        losses.append(_step(run, rows[:, start:start + config.bptt + 1], labels[:, start:start + config.bptt]))
        rate = run.tokens_per_second(time.monotonic() - run.started)
        bar.set_postfix(loss=f"{losses[-1]:.3f}", tok_s=f"{rate:,.0f}", refresh=False)
        bar.update()
        if _checkpoint_due(run) and not state.done and state.chunk < chunks:
            _save_checkpoint(run)
            run.last_checkpoint = time.monotonic()
    return losses


def _step(run: Run, window: torch.Tensor, labels: torch.Tensor) -> float:
    """One optimizer step on the `bptt` tokens of `window` predicting the token after each; its loss."""
    inputs, targets = window[:, :-1], window[:, 1:]
    with torch.autocast("cuda", dtype=torch.bfloat16) if run.device.type == "cuda" else nullcontext():
        logits, carried = run.network(inputs, run.carried, labels)
        loss = nn.functional.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1))
    run.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    nn.utils.clip_grad_norm_(run.model.parameters(), run.config.clip)
    run.optimizer.step()
    run.schedule.step()
    run.carried = detach_state(carried)
    run.state.chunk += 1
    run.state.step += 1
    run.state.tokens_seen += inputs.numel() * run.world
    return float(loss.item())


def _checkpoint_due(run: Run) -> bool:
    """Whether a checkpoint is due after this step; marks the run done when it is out of steps. A checkpoint
    may fall due by the clock: it holds all a resumed run needs to go on as if never stopped."""
    config, state = run.config, run.state
    if config.max_steps and state.step >= config.max_steps:
        state.done = True
    due = bool(config.checkpoint_steps and state.step % config.checkpoint_steps == 0) or (
        time.monotonic() - run.last_checkpoint > config.checkpoint_minutes * 60)
    if run.world > 1:  # clocks differ between processes: all must agree, or the collectives hang
        flags = torch.tensor([int(due)], device=run.device)
        dist.all_reduce(flags, op=dist.ReduceOp.MAX)
        due = bool(flags[0])
    return due


def _end_epoch(run: Run, losses: list[float], bar: Any) -> None:
    """Validate, log, keep the best weights, stop when out of patience, and checkpoint."""
    state = run.state
    valid_loss = _validate(run.model, run.valid_data, run.config, run.device) if run.valid_data \
        else float(np.mean(losses))
    state.log.append({"epoch": state.epoch, "step": state.step, "lr": run.schedule.get_last_lr()[0],
                      "train_loss": float(np.mean(losses)) if losses else math.nan, "valid_loss": valid_loss,
                      "tokens_per_s": run.tokens_per_second(time.monotonic() - run.started)})
    if valid_loss < state.best_valid:
        state.best_valid, state.best_epoch, state.bad_epochs = valid_loss, state.epoch, 0
        run.best_weights = {k: v.detach().cpu().clone() for k, v in run.model.state_dict().items()}
    else:
        state.bad_epochs += 1
        if state.bad_epochs >= run.config.patience:
            state.done = True
    state.epoch += 1
    state.chunk = 0
    state.epoch_losses = []
    run.carried = None
    if run.rank == 0:
        _write_log(run.output, state.log)
        bar.write(f"epoch {state.epoch}: train {state.log[-1]['train_loss']:.4f}, valid {valid_loss:.4f} nats/token"
                  if run.valid_data else f"epoch {state.epoch}: train {valid_loss:.4f} nats/token (no valid split: "
                  "the training loss decides when to stop)")
    _save_checkpoint(run)
    run.last_checkpoint = time.monotonic()


def _finish(run: Run) -> dict[str, Any]:
    """Write the best weights with the training record; return the record."""
    state = run.state
    if run.best_weights is not None:
        run.model.load_state_dict(run.best_weights)
    _count_cpu(run)
    run.record.update({"training_tokens_per_s": run.tokens_per_second(run.training_seconds), "steps": state.step,
                       "cpu_minutes": state.cpu_seconds / 60,
                       "epochs": state.epoch, "best_epoch": state.best_epoch, "valid_loss": state.best_valid,
                       "best_step": state.log[state.best_epoch]["step"] if 0 <= state.best_epoch < len(state.log)
                       else state.step, "stopped_on": "valid" if run.valid_data else "train",
                       "tokens_seen": state.tokens_seen})
    if run.rank == 0:
        save_model(run.output, run.model, run.tokenizer, run.record, half=run.config.half_weights)
    if run.world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return run.record


def _lr_lambda(config: TrainConfig, total_steps: int) -> Any:
    def factor(step: int) -> float:
        if step < config.warmup_steps:
            return (step + 1) / config.warmup_steps
        progress = min(1.0, (step - config.warmup_steps) / max(1, total_steps - config.warmup_steps))
        return config.min_lr_ratio + (1 - config.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
    return factor


def split_loss(model: MelodyLM, corpus: Corpus, split: str, config: TrainConfig) -> float:
    """Mean NLL per token (nats) of `model` over a split of `corpus`, measured as validation measures it (one
    pass, in order, untransposed), so that a model before and after training can be compared."""
    config = dataclasses.replace(config, passes=1)
    data = EpochStreams(corpus, split, config, model.config.conditions, training_tokenizer(corpus, config))
    return _validate(model, data, config, next(model.parameters()).device)


@torch.no_grad()
def _validate(model: MelodyLM, data: EpochStreams, config: TrainConfig, device: torch.device) -> float:
    """Mean NLL per token (nats) over the valid split, streamed with carried state."""
    model.eval()
    rows, labels = data.rows(0, min(config.valid_batch_size, max(1, data.total // (config.bptt + 1))), shuffle=False)
    rows, labels = rows.to(device), labels.to(device)
    total, count, state = 0.0, 0, None
    for start in range(0, rows.shape[1] - 1, config.bptt):
        inputs, targets = rows[:, start:start + config.bptt], rows[:, start + 1:start + config.bptt + 1]
        inputs = inputs[:, :targets.shape[1]]
        logits, state = model(inputs, state, labels[:, start:start + inputs.shape[1]])
        total += float(nn.functional.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1),
                                                   reduction="sum"))
        count += targets.numel()
    return total / max(count, 1)


def _write_log(output: Path, log: list[dict[str, Any]]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(log[0]))
    writer.writeheader()
    writer.writerows(log)
    atomic_write_text(output.with_name(output.name + ".log.csv"), buffer.getvalue())
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return
    with SummaryWriter(str(output.with_name(output.name + ".tensorboard"))) as board:
        for name in ("train_loss", "valid_loss", "lr", "tokens_per_s"):
            board.add_scalar(name, log[-1][name], log[-1]["step"])


# ---------------------------------------------------------------- checkpoints and processes


def _gathered(tensor: torch.Tensor, world: int) -> list[torch.Tensor]:
    if world == 1:
        return [tensor.cpu()]
    parts = [torch.empty_like(tensor) for _ in range(world)]
    dist.all_gather(parts, tensor)
    return [p.cpu() for p in parts]


def _count_cpu(run: Run) -> None:
    """Add the CPU time of every process since the last count to `run.state.cpu_seconds`."""
    now = time.process_time()
    spent = now - run.cpu_counted
    if run.world > 1:
        total = torch.tensor([spent], dtype=torch.float64, device=run.device)
        dist.all_reduce(total)
        spent = float(total[0])
    run.state.cpu_seconds += spent
    run.cpu_counted = now


def _save_checkpoint(run: Run) -> None:
    """Every process hands in its carried state and random state (the GPU's too); the first one writes."""
    device, world, carried = next(run.model.parameters()).device, run.world, run.carried
    carried_parts = [] if carried is None else [
        _gathered(part.contiguous(), world) for part in (carried if isinstance(carried, tuple) else (carried,))]
    rng = _gathered(torch.get_rng_state().to(device) if device.type == "cuda" else torch.get_rng_state(), world)
    gpu_rng = _gathered(torch.cuda.get_rng_state(device).to(device), world) if device.type == "cuda" else []
    _count_cpu(run)
    if run.rank != 0:
        return
    payload = {"config": json.dumps(dataclasses.asdict(run.config)),
               "progress": json.dumps(dataclasses.asdict(run.state)), "model": run.model.state_dict(),
               "optimizer": run.optimizer.state_dict(), "schedule": run.schedule.state_dict(),
               "carried": carried_parts, "rng": rng, "gpu_rng": gpu_rng, "best": run.best_weights or {},
               "melodia": __version__}
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write_bytes(run.checkpoint, buffer.getvalue())


def _resume(run: Run) -> None:
    """Put `run` where its checkpoint left it: weights, optimizer, schedule, progress, carried and random state."""
    path = run.checkpoint
    if not path.is_file():
        raise TrainError(f"{path}: no checkpoint to resume from")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many kinds on a damaged or hostile file
        raise TrainError(f"{path}: not a usable checkpoint ({str(error).splitlines()[0][:160]})") from error
    saved = {name: value for name, value in settings.current_names(TrainConfig, json.loads(payload["config"]),
                                                                   TrainError).items() if name not in RETIRED}
    changed = _changed_settings(saved, json.loads(json.dumps(dataclasses.asdict(run.config))))
    if changed:
        raise TrainError(f"{path}: the checkpoint was made with other settings ({', '.join(changed)}); "
                         "resume with the same ones")
    if len(payload["rng"]) != run.world:
        raise TrainError(f"{path}: made by {len(payload['rng'])} processes, resumed with {run.world}")
    run.model.load_state_dict(payload["model"])
    run.optimizer.load_state_dict(payload["optimizer"])
    run.schedule.load_state_dict(payload["schedule"])
    torch.set_rng_state(payload["rng"][run.rank].cpu().to(torch.uint8))
    if run.device.type == "cuda" and payload.get("gpu_rng"):  # dropout on a GPU draws from the GPU's generator
        torch.cuda.set_rng_state(payload["gpu_rng"][run.rank].cpu().to(torch.uint8), run.device)
    parts = [part[run.rank].to(run.device) for part in payload["carried"]]
    run.carried = None if not parts else (tuple(parts) if len(parts) > 1 else parts[0])
    run.state, run.best_weights = Progress(**json.loads(payload["progress"])), payload["best"] or None


def _changed_settings(saved: dict[str, Any], current: dict[str, Any], where: str = "") -> list[str]:
    """The dotted names of the settings that differ between two dicts of settings."""
    changed = []
    for name in sorted(set(saved) | set(current)):
        old, new = saved.get(name), current.get(name)
        if isinstance(old, dict) and isinstance(new, dict):
            changed.extend(_changed_settings(old, new, f"{where}{name}."))
        elif old != new:
            changed.append(f"{where}{name}")
    return changed


def _distributed_setup() -> tuple[int, int, torch.device]:
    """(rank, world size, device): one process, or one of torchrun's."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1, torch.device("cuda" if torch.cuda.is_available() else "cpu")
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank)
        device, backend = torch.device("cuda", local_rank), "nccl"
    else:
        device, backend = torch.device("cpu"), "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend)
    return dist.get_rank(), dist.get_world_size(), device
