"""melodia: symbolic music generation with event tokens and an LSTM language model.

Data flows one way: file -> `Score` -> tokens -> model -> tokens -> `Score` -> file.
"""

from __future__ import annotations

from typing import Any

from melodia.errors import MelodiaError, MelodiaWarning, ReadError, ScoreError, TokenizerError
from melodia.io import read_score, write_score
from melodia.score import (
    TICKS_PER_QUARTER,
    KeySignature,
    Note,
    Score,
    TempoChange,
    TimeSignature,
    Track,
)

__version__ = "0.1.0"


def generate(*args: Any, **kwargs: Any) -> list[Score]:
    """New music continuing a seed phrase; see `melodia.generation.generate` (imports torch when called)."""
    from melodia.generation import generate as run

    return run(*args, **kwargs)


__all__ = [
    "TICKS_PER_QUARTER",
    "KeySignature",
    "MelodiaError",
    "MelodiaWarning",
    "Note",
    "ReadError",
    "Score",
    "ScoreError",
    "TempoChange",
    "TimeSignature",
    "TokenizerError",
    "Track",
    "generate",
    "read_score",
    "write_score",
]
