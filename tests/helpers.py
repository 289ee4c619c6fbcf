"""What several test modules share (the shared fixtures are in conftest.py): small untrained models, tiny
training settings, hand-made lines of notes, the shipped model and batch job files. Torch is imported only
by the helpers that need it."""

from __future__ import annotations

import os
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from melodia import Note, Score, TimeSignature, Track
from melodia.tokenizers import Tokenizer, TokenizerConfig, tokenizer_from_config

if TYPE_CHECKING:
    from melodia.lm.model import MelodyLM
    from melodia.lm.train import TrainConfig

ROOT = Path(__file__).resolve().parent.parent

# ---------------------------------------------------------------- small untrained models

MELODY = tokenizer_from_config(TokenizerConfig(melody=True, velocity_bins=1, pitch_range=(36, 96)))


def untrained(tokenizer: Tokenizer, seed: int = 0) -> MelodyLM:
    import torch

    from melodia.lm.model import MelodyLM, ModelConfig

    torch.manual_seed(seed)
    return MelodyLM(ModelConfig(len(tokenizer), 32, 48, 2))


# ---------------------------------------------------------------- training on the tiny corpus (conftest.tiny_cache)

TINY = ["hidden_size=32", "embedding_size=16", "layers=2", "batch_size=4", "bptt=32", "epochs=2", "warmup_steps=5",
        "transpose=4", "checkpoint_minutes=100"]


def tiny_config(*extra: str) -> TrainConfig:
    from melodia.lm.train import TrainConfig

    return TrainConfig(corpus="tiny").with_overrides([*TINY, *extra])


def cli(*args: str, cache: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MELODIA_CACHE": str(cache)}
    return subprocess.run([sys.executable, "-m", "melodia.apps.cli", *args], capture_output=True, text=True, env=env,
                          timeout=300)


# ---------------------------------------------------------------- hand-made lines of notes

Q = 480  # a quarter note


def line(pitches: list[int], length: int = Q, meter: tuple[int, int] = (4, 4)) -> Score:
    notes = [Note(p, 80, i * length, length) for i, p in enumerate(pitches)]
    return Score([Track(notes=notes)], time_signatures=[TimeSignature(0, *meter)])


C_MAJOR_SCALE = [60, 62, 64, 65, 67, 69, 71, 72]

# ---------------------------------------------------------------- the shipped model

README_SEED = "D4 E4 F#4/8 G4/8 A4/2 key=D meter=6/8"


@cache
def shipped() -> tuple[object, object]:
    from melodia.lm.modelfile import load_model

    model, tokenizer, _ = load_model("default")
    return model, tokenizer


# ---------------------------------------------------------------- batch jobs


def job_file(folder: Path, text: str) -> Path:
    path = folder / "job.toml"
    path.write_text(text)
    return path
