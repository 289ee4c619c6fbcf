"""melodia: symbolic music generation with event tokens and an LSTM language model.

Data flows one way: file -> `Score` -> tokens -> model -> tokens -> `Score` -> file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from melodia.constraints import Constraints
    from melodia.generation import generate
    from melodia.harmony import harmonize
    from melodia.infill import infill
    from melodia.sampler import SamplingConfig
    from melodia.studio_panel import studio

__version__ = "0.1.0"
# imported when first asked for, so that `import melodia` stays light (the sampler and the harmonizer bring torch,
# the studio ipywidgets); each keeps its own signature and docstring
_LAZY = {"Constraints": "melodia.constraints", "SamplingConfig": "melodia.sampler", "generate": "melodia.generation",
         "harmonize": "melodia.harmony", "infill": "melodia.infill", "studio": "melodia.studio_panel"}


def __getattr__(name: str) -> Any:
    """`Constraints`, `SamplingConfig`, `generate`, `harmonize`, `infill` and `studio`, imported when first asked
    for."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'melodia' has no attribute {name!r}")


__all__ = [
    "TICKS_PER_QUARTER",
    "Constraints",
    "KeySignature",
    "MelodiaError",
    "MelodiaWarning",
    "Note",
    "ReadError",
    "SamplingConfig",
    "Score",
    "ScoreError",
    "TempoChange",
    "TimeSignature",
    "TokenizerError",
    "Track",
    "generate",
    "harmonize",
    "infill",
    "read_score",
    "studio",
    "write_score",
]
