"""Shared test data: the fixtures under tests/data and the real MIDI files music21's wheel ships; the tiny
corpus the training tests share. Helpers that are not fixtures are in helpers.py."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import music21
import pytest
from hypothesis import settings

# CI draws the same property-test examples every run (a failure there is the code's, reproducible); elsewhere
# Hypothesis draws new ones each run and keeps what fails in .hypothesis/ to try first next time
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

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


@pytest.fixture(scope="module")
def tiny_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """MELODIA_CACHE with a corpus 'tiny' built from real MIDI files and the fixtures (once per test module)."""
    from melodia.corpus import build_corpus, find_recipe

    root = tmp_path_factory.mktemp("cache")
    folder = tmp_path_factory.mktemp("music") / "tiny"
    folder.mkdir()
    for path in [*REAL_MIDI[:10], *REAL_MIDI[16:21], DATA / "jig_6_8.mid", DATA / "waltz_3_4.mid", DATA / "tune.abc"]:
        shutil.copy(path, folder / path.name)
    old = os.environ.get("MELODIA_CACHE")
    os.environ["MELODIA_CACHE"] = str(root)
    build_corpus(find_recipe(str(folder)), workers=1, progress=False)
    yield root
    if old is None:
        os.environ.pop("MELODIA_CACHE", None)
    else:
        os.environ["MELODIA_CACHE"] = old
