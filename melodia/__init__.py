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
from melodia.version import __version__

if TYPE_CHECKING:
    from melodia.apps.studio_panel import studio
    from melodia.harmony import harmonize
    from melodia.lm.constraints import Constraints
    from melodia.lm.generation import generate
    from melodia.lm.infill import infill
    from melodia.lm.modelfile import load_model
    from melodia.lm.sampler import SamplingConfig
    from melodia.style import stylize

# imported when first asked for, so that `import melodia` stays light (the sampler and the harmonizer bring torch,
# the studio ipywidgets); each keeps its own signature and docstring
_LAZY = {"Constraints": "melodia.lm.constraints", "SamplingConfig": "melodia.lm.sampler",
         "generate": "melodia.lm.generation", "harmonize": "melodia.harmony", "infill": "melodia.lm.infill",
         "load_model": "melodia.lm.modelfile", "studio": "melodia.apps.studio_panel", "stylize": "melodia.style"}
def __getattr__(name: str) -> Any:
    """The names of `_LAZY`, and melodia's modules (so that `melodia.style.stylize(...)` works after a bare
    `import melodia`), imported when first asked for."""
    import importlib

    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # importing melodia.lm.infill made `melodia.lm.infill` the module: the function wins
        return value
    if name in _modules():
        return importlib.import_module(f"melodia.{name}")
    raise AttributeError(f"module 'melodia' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY, *_modules()})


def _modules() -> set[str]:
    """The modules and subpackages of melodia, by their files (none is imported)."""
    import pkgutil

    return {module.name for module in pkgutil.iter_modules(__path__) if not module.name.startswith("_")}


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
    "__version__",
    "generate",
    "harmonize",
    "infill",
    "load_model",
    "read_score",
    "studio",
    "stylize",
    "write_score",
]
