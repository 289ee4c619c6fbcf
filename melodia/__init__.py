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
    from melodia.sampler import SamplingConfig

__version__ = "0.1.0"
_LAZY = {"Constraints": "melodia.constraints", "SamplingConfig": "melodia.sampler"}  # torch for the sampler


def __getattr__(name: str) -> Any:
    """`Constraints` and `SamplingConfig`, imported when first asked for (the sampler imports torch)."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'melodia' has no attribute {name!r}")


def generate(*args: Any, **kwargs: Any) -> list[Score]:
    """New music continuing a seed phrase; see `melodia.generation.generate` (imports torch when called)."""
    from melodia.generation import generate as run

    return run(*args, **kwargs)


def harmonize(*args: Any, **kwargs: Any) -> Score:
    """A melody in four parts, as Bach's chorales; see `melodia.harmony.harmonize`."""
    from melodia.harmony import harmonize as run

    return run(*args, **kwargs)


def studio(model: Any = "default", folder: str = "melodia-kept") -> Any:
    """A panel in Jupyter to try seeds and settings, listen, and keep melodies in `folder`; see
    `melodia.studio_panel` (needs ipywidgets: pip install 'melodia[notebook]')."""
    from melodia.studio_panel import studio as panel

    return panel(model, folder)


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
    "read_score",
    "studio",
    "write_score",
]
