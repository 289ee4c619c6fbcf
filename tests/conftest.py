"""Shared test data: the fixtures under tests/data and the real MIDI files music21's wheel ships."""

from __future__ import annotations

from pathlib import Path

import music21
import pytest

DATA = Path(__file__).parent / "data"
MUSIC21 = Path(music21.__file__).parent
REAL_MIDI = sorted(MUSIC21.glob("midi/testPrimitive/*.mid")) + sorted(MUSIC21.glob("omr/*.mid"))
GOOD_FIXTURES = sorted(p for p in DATA.glob("*.mid") if not p.name.startswith(
    ("corrupt", "not_midi", "zero_division", "absurd")))
BAD_FIXTURES = sorted(set(DATA.glob("*.mid")) - set(GOOD_FIXTURES))
ALL_MIDI = REAL_MIDI + GOOD_FIXTURES


def ids(paths: list[Path]) -> list[str]:
    return [p.name for p in paths]


@pytest.fixture(autouse=True)
def _quiet_melodia_warnings() -> None:
    """Readers warn about mended oddities; tests that care catch them explicitly."""
    import warnings

    from melodia.errors import MelodiaWarning

    warnings.simplefilter("ignore", MelodiaWarning)
