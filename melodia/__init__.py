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
    from melodia.apps.batch import run_batch
    from melodia.apps.studio_panel import studio
    from melodia.corpus import build_corpus, corpus_names
    from melodia.corpus.reader import corpus_stats
    from melodia.feedback import discard, keep, rate
    from melodia.harmony import harmonize
    from melodia.io import inspect
    from melodia.lm.constraints import Constraints
    from melodia.lm.controls import Controls
    from melodia.lm.evaluate import evaluate
    from melodia.lm.finetune import finetune
    from melodia.lm.generation import generate
    from melodia.lm.infill import infill
    from melodia.lm.learn import learn
    from melodia.lm.modelfile import load_model
    from melodia.lm.sampler import Biases, SamplingConfig
    from melodia.lm.train import train
    from melodia.media.play import play
    from melodia.media.render import render
    from melodia.metrics import all_metrics
    from melodia.metrics.compare import compare
    from melodia.metrics.originality import originality
    from melodia.resources import example_path
    from melodia.style import stylize
    from melodia.tokenizers import tokenize

# imported when first asked for, so that `import melodia` stays light (the sampler and the harmonizer bring torch,
# the studio ipywidgets); each keeps its own signature and docstring
_LAZY = {"Constraints": "melodia.lm.constraints", "Controls": "melodia.lm.controls",
         "SamplingConfig": "melodia.lm.sampler", "Biases": "melodia.lm.sampler", "generate": "melodia.lm.generation",
         "infill": "melodia.lm.infill",
         "load_model": "melodia.lm.modelfile", "train": "melodia.lm.train", "finetune": "melodia.lm.finetune",
         "learn": "melodia.lm.learn", "evaluate": "melodia.lm.evaluate", "harmonize": "melodia.harmony",
         "stylize": "melodia.style", "studio": "melodia.apps.studio_panel", "run_batch": "melodia.apps.batch",
         "render": "melodia.media.render", "play": "melodia.media.play", "all_metrics": "melodia.metrics",
         "compare": "melodia.metrics.compare", "originality": "melodia.metrics.originality",
         "tokenize": "melodia.tokenizers", "build_corpus": "melodia.corpus", "corpus_names": "melodia.corpus",
         "corpus_stats": "melodia.corpus.reader", "keep": "melodia.feedback", "discard": "melodia.feedback",
         "rate": "melodia.feedback", "inspect": "melodia.io", "example_path": "melodia.resources"}


def __getattr__(name: str) -> Any:
    """The names of `_LAZY`, and melodia's modules (so that `melodia.style.stylize(...)` works after a bare
    `import melodia`), imported when first asked for."""
    import importlib

    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # asked once: later lookups find it without `__getattr__`
        return value
    if name in _modules():
        return importlib.import_module(f"melodia.{name}")
    raise AttributeError(f"module 'melodia' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The public names, lazy ones included, and the modules: what tab completion in a notebook offers."""
    return sorted({*__all__, *_modules(), *(name for name in globals() if name.startswith("__"))})


def _modules() -> set[str]:
    """The modules and subpackages of melodia, by their files (none is imported)."""
    import pkgutil

    return {module.name for module in pkgutil.iter_modules(__path__) if not module.name.startswith("_")}


__all__ = [
    "TICKS_PER_QUARTER",
    "Biases",
    "Constraints",
    "Controls",
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
    "all_metrics",
    "build_corpus",
    "compare",
    "corpus_names",
    "corpus_stats",
    "discard",
    "evaluate",
    "example_path",
    "finetune",
    "generate",
    "harmonize",
    "infill",
    "inspect",
    "keep",
    "learn",
    "load_model",
    "originality",
    "play",
    "rate",
    "read_score",
    "render",
    "run_batch",
    "studio",
    "stylize",
    "tokenize",
    "train",
    "write_score",
]
