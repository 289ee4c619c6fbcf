"""melodia: symbolic music generation with event tokens and an LSTM language model.

Data flows one way: file -> `Score` -> tokens -> model -> tokens -> `Score` -> file.
"""

from __future__ import annotations

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
    "read_score",
    "write_score",
]
