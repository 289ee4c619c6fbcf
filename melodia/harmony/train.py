"""Training the harmonizer on the Bach chorales: every key by transposition, fermatas sometimes hidden
so that melodies without them still get cadences, a fixed number of epochs from a fixed seed."""

from __future__ import annotations

import concurrent.futures
import math
import multiprocessing
import random
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import tomllib
import torch

from melodia.harmony.config import HIGHEST, LOWEST, HarmonizerConfig, pitch_token
from melodia.harmony.data import (
    STEPS_PER_QUARTER,
    Chorale,
    HarmonyError,
    load_chorales,
    lower_tokens,
    soprano_inputs,
    split_of,
)
from melodia.harmony.model import Harmonizer, HarmonizerMix, load_harmonizer, save_harmonizer
from melodia.settings import current_names


@dataclass(frozen=True)
class HarmonizerTraining:
    """What a training run does: sizes, steps and augmentation."""

    RENAMED: ClassVar[dict[str, str]] = {"seed": "random_seed"}  # former names, still read

    model: HarmonizerConfig = field(default_factory=HarmonizerConfig)
    epochs: int = 90
    batch_size: int = 16
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    clip: float = 1.0
    fermata_dropout: float = 0.2  # share of chorales shown without their fermatas
    chord_weight: float = 0.5  # weight of the chord head's loss, where the network has one
    random_seed: int = 17
    members: tuple[dict[str, Any], ...] = ()  # an ensemble: what each network changes of these settings

    @classmethod
    def from_toml(cls, path: str | Path) -> HarmonizerTraining:
        """Settings from a TOML file: top-level training fields, a [model] table, and for an ensemble a
        [[members]] table per network with the training or model fields it changes (its random_seed, say;
        `seed`, its former name, is still read)."""
        try:
            values = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise HarmonyError(f"{path}: cannot read harmonizer settings ({error})") from error
        values = _current(values, str(path))
        unknown = set(values) - set(cls.__dataclass_fields__)
        if unknown:
            raise HarmonyError(f"{path}: unknown fields {sorted(unknown)}; accepted: "
                               f"{', '.join(cls.__dataclass_fields__)}")
        model = HarmonizerConfig.from_dict(values.pop("model", {}))
        members = tuple(_current(member, str(path)) for member in values.pop("members", []))
        changeable = (set(cls.__dataclass_fields__) | set(HarmonizerConfig.__dataclass_fields__)) - {"model", "members"}
        for index, changes in enumerate(members):
            wrong = set(changes) - changeable
            if wrong:
                raise HarmonyError(f"{path}: member {index + 1} changes unknown fields {sorted(wrong)}; accepted: "
                                   f"{', '.join(sorted(changeable))}")
        return cls(model=model, members=members, **values)

    def member(self, index: int) -> HarmonizerTraining:
        """The settings of the ensemble's network `index` (from 0)."""
        changes = _current(self.members[index])
        sizes = {k: v for k, v in changes.items() if k in HarmonizerConfig.__dataclass_fields__}
        training = {k: v for k, v in changes.items() if k not in sizes}
        return replace(self, model=replace(self.model, **sizes), members=(), **training)


def transposed(chorale: Chorale, shift: int, drop_fermatas: bool = False) -> Chorale:
    """The chorale `shift` semitones up (rests stay rests), optionally without its fermatas."""
    pitches = np.where(chorale.pitches > 0, chorale.pitches + shift, 0)
    fermata = np.zeros_like(chorale.fermata) if drop_fermatas else chorale.fermata
    return Chorale(chorale.name, pitches, chorale.struck, fermata, chorale.bar_position, chorale.strength,
                   chorale.meter)


def shifts_that_fit(chorale: Chorale) -> list[int]:
    """Transpositions to every key (-6 to +5 semitones) that keep the lower voices in the vocabulary."""
    sounding = chorale.pitches[chorale.pitches > 0]
    low, high = int(sounding.min()), int(sounding.max())
    fits = [s for s in range(-6, 6) if low + s >= LOWEST and high + s <= HIGHEST]
    return fits or [0]


def batch_tensors(chorales: list[Chorale]) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor]:
    """Padded soprano inputs, lower sounding pitches (batch, steps, 3), target tokens (-100 in padding)."""
    steps = max(c.steps for c in chorales)
    features = [soprano_inputs(chorale) for chorale in chorales]
    inputs = [np.zeros((len(chorales), steps), dtype=np.int64) for _ in features[0]]
    lower = np.zeros((len(chorales), steps, 3), dtype=np.int64)
    targets = np.full((len(chorales), steps, 3), -100, dtype=np.int64)
    for row, chorale in enumerate(chorales):
        for array, values in zip(inputs, features[row], strict=True):
            array[row, :chorale.steps] = values
        lower[row, :chorale.steps] = chorale.pitches[1:].T
        targets[row, :chorale.steps] = lower_tokens(chorale)
    return [torch.from_numpy(a) for a in inputs], torch.from_numpy(lower), torch.from_numpy(targets)


def chord_loss(model: Harmonizer, encoded: torch.Tensor, chorales: list[Chorale]) -> torch.Tensor:
    """Binary cross-entropy of the chord head's pitch classes against the four voices' at each beat
    (every second step) of each chorale."""
    targets = np.zeros((*encoded.shape[:2], 12), dtype=np.float32)
    where = np.zeros(encoded.shape[:2], dtype=bool)
    for row, chorale in enumerate(chorales):
        pitches = chorale.pitches[:, ::STEPS_PER_QUARTER]
        beats = np.arange(0, chorale.steps, STEPS_PER_QUARTER)
        for voice in pitches:
            sounding = voice > 0
            targets[row, beats[sounding], voice[sounding] % 12] = 1.0
        where[row, beats] = True
    mask = torch.from_numpy(where)
    logits = model.chord(encoded)[mask]
    return torch.nn.functional.binary_cross_entropy_with_logits(logits, torch.from_numpy(targets)[mask])


def nll_per_step(model: Harmonizer | HarmonizerMix, chorales: list[Chorale], batch_size: int = 16) -> float:
    """Mean negative log-likelihood (nats) of the three lower voices' tokens per grid step."""
    model.eval()
    total, steps = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(chorales), batch_size):
            inputs, lower, targets = batch_tensors(chorales[start:start + batch_size])
            logits = model(inputs, lower)
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                                                     ignore_index=-100, reduction="sum")
            total += float(loss)
            steps += int((targets[..., 0] != -100).sum())
    return total / max(1, steps)


def train_harmonizer(settings: HarmonizerTraining, out: str | Path, cache: str | Path | None = None,
                     log: Any = print, chorales: list[Chorale] | None = None) -> dict[str, Any]:
    """Train on the chorales' train split (music21's, read through `cache`, unless `chorales` are given),
    write the model to `out`, return the training record."""
    random.seed(settings.random_seed)
    np.random.seed(settings.random_seed)
    torch.manual_seed(settings.random_seed)
    chorales = load_chorales(cache) if chorales is None else chorales
    train = [c for c in chorales if split_of(c) == "train"]
    valid = [c for c in chorales if split_of(c) == "valid"]
    model = Harmonizer(settings.model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay)
    batches = math.ceil(len(train) / settings.batch_size)
    total_steps = settings.epochs * batches
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, (step + 1) / 100) * 0.5 * (1 + math.cos(math.pi * step / total_steps)))
    rng = random.Random(settings.random_seed)
    started, cpu_started = time.perf_counter(), time.process_time()
    history = []
    for epoch in range(settings.epochs):
        model.train()
        order = sorted(train, key=lambda c: c.steps + rng.random() * 40)  # similar lengths batch together
        groups = [order[i:i + settings.batch_size] for i in range(0, len(order), settings.batch_size)]
        rng.shuffle(groups)
        running = 0.0
        for group in groups:
            pieces = [transposed(c, rng.choice(shifts_that_fit(c)), rng.random() < settings.fermata_dropout)
                      for c in group]
            inputs, lower, targets = batch_tensors(pieces)
            encoded = model.encode(inputs)
            logits = model.decode(encoded, lower)
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                                                     ignore_index=-100)
            if settings.model.chord_head:
                loss = loss + settings.chord_weight * chord_loss(model, encoded, pieces)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), settings.clip)
            optimizer.step()
            schedule.step()
            running += loss.item()
        valid_nll = nll_per_step(model, valid) if epoch % 5 == 4 or epoch == settings.epochs - 1 else None
        history.append({"epoch": epoch + 1, "train_loss": running / len(groups), "valid_nll_per_step": valid_nll})
        log(f"epoch {epoch + 1}/{settings.epochs} train {running / len(groups):.4f} per voice-step"
            + (f", valid {valid_nll:.4f} nats per step (3 voices)" if valid_nll is not None else "")
            + f", {time.perf_counter() - started:.0f} s")
    record = {"settings": asdict(settings), "train_chorales": len(train), "valid_chorales": len(valid),
              "history": history, "valid_nll_per_step": history[-1]["valid_nll_per_step"],
              "wall_minutes": (time.perf_counter() - started) / 60,
              "cpu_minutes": (time.process_time() - cpu_started) / 60}
    save_harmonizer(out, model, record)
    return record


def train_ensemble(settings: HarmonizerTraining, out: str | Path, cache: str | Path | None = None,
                   log: Any = print, jobs: int = 1, chorales: list[Chorale] | None = None) -> dict[str, Any]:
    """Train each of the settings' `members` (one network where there are none) and write them to `out` as one
    ensemble file; `jobs` networks train at once, each in its own process on one thread (the networks do not
    depend on it). Returns the training record: each network's, and the ensemble's valid NLL."""
    if not settings.members:
        return train_harmonizer(settings, out, cache, log, chorales)
    chorales = load_chorales(cache) if chorales is None else chorales
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        paths = [Path(folder) / f"member{index}.safetensors" for index in range(len(settings.members))]
        work = [(settings.member(index), path, chorales, index) for index, path in enumerate(paths)]
        if jobs > 1:
            context = multiprocessing.get_context("spawn")
            with concurrent.futures.ProcessPoolExecutor(min(jobs, len(work)), mp_context=context) as pool:
                records = list(pool.map(_train_member, *zip(*work, strict=True)))
        else:
            records = [_train_member(*item, log=log) for item in work]
        networks = [network for network, _ in map(load_harmonizer, paths) if isinstance(network, Harmonizer)]
    valid = [c for c in chorales if split_of(c) == "valid"]
    record = {"settings": asdict(settings), "members": records,
              "valid_nll_per_step": nll_per_step(HarmonizerMix(networks), valid),
              "train_chorales": records[0]["train_chorales"], "valid_chorales": len(valid),
              "cpu_minutes": sum(r["cpu_minutes"] for r in records),
              "wall_minutes": (time.perf_counter() - started) / 60}
    save_harmonizer(out, networks, record)
    return record


def _train_member(settings: HarmonizerTraining, out: Path, chorales: list[Chorale], index: int,
                  log: Any = None) -> dict[str, Any]:
    """One network of an ensemble; without `log`, in a worker process on one thread, its log lines printed."""
    if log is None:
        torch.set_num_threads(1)
    say = log or (lambda line: print(line, flush=True))
    return train_harmonizer(settings, out, None, lambda line: say(f"network {index + 1}: {line}"), chorales)


__all__ = [
    "HarmonizerTraining",
    "batch_tensors",
    "lower_tokens",
    "nll_per_step",
    "pitch_token",
    "soprano_inputs",
    "train_ensemble",
    "train_harmonizer",
    "transposed",
]


def _current(table: dict[str, Any], source: str = "harmonizer settings") -> dict[str, Any]:
    """`table` with the former name `seed` read as `random_seed` (both given: refused)."""
    return current_names(HarmonizerTraining, table, HarmonyError, source)
