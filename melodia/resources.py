"""Files shipped inside the package."""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).parent / "data"


def example_path() -> Path:
    """A four-voice Bach chorale (BWV 66.6, from music21's corpus) as a MIDI file."""
    return DATA / "bwv66.6.mid"


def default_model_path() -> Path:
    """The model shipped in the package (trained by scripts/train_default.py)."""
    return DATA / "default.safetensors"
