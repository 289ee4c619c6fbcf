"""Files shipped inside the package, and the folder where melodia caches what it builds."""

from __future__ import annotations

import os
from pathlib import Path

DATA = Path(__file__).parent / "data"


def example_path() -> Path:
    """A four-voice Bach chorale (BWV 66.6, from music21's corpus) as a MIDI file."""
    return DATA / "bwv66.6.mid"


def default_model_path() -> Path:
    """The model shipped in the package (trained by scripts/train_default.py)."""
    return DATA / "default.safetensors"


def cache_root() -> Path:
    """Where melodia keeps what it can build again (corpora, n-gram baselines, scratch audio): `$MELODIA_CACHE`,
    else ~/.cache/melodia."""
    configured = os.environ.get("MELODIA_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "melodia"
