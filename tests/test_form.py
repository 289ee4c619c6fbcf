"""Form, cadences and key: the plan of a tune, and counts over batches of the shipped model's melodies."""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

from melodia.form import FormError, plan_form
from melodia.generation import SCALES, Constraints, GenerateError, generate, seed_key
from melodia.io import read_score
from melodia.metrics import key_agreement, phrase_parallelism, repetition, tonic_ending
from melodia.modelfile import load_model
from melodia.sampler import SamplingConfig
from melodia.score import PITCH_CLASS_NAMES, Score
from melodia.seed import parse_seed

README_SEED = "D4 E4 F#4/8 G4/8 A4/2 key=D meter=6/8"


@cache
def shipped() -> tuple[object, object]:
    model, tokenizer, _ = load_model("default")
    return model, tokenizer


def bars_of(score: Score) -> list[tuple[tuple[int, int, int], ...]]:
    """Each bar's notes as (position, pitch, length)."""
    starts = score.bar_starts()
    bars: list[list[tuple[int, int, int]]] = [[] for _ in starts]
    for note in score.tracks[0].notes:
        index = max(i for i, start in enumerate(starts) if start <= note.onset_tick)
        bars[index].append((note.onset_tick - starts[index], note.pitch, note.duration_tick))
    return [tuple(bar) for bar in bars]


def test_a_plan_returns_its_letters_and_ends_each_phrase_on_a_cadence() -> None:
    plan = plan_form("AABA", 4, 16)
    assert [p.first_bar for p in plan.phrases] == [1, 5, 9, 13]
    assert [plan.cadence_at(bar) for bar in (4, 8, 12, 16)] == ["half", "full", "half", "final"]
    assert plan.source_bar(5) == (1, True) and plan.source_bar(6) == (2, False)  # the first return
    assert plan.source_bar(13) == (1, False) and plan.source_bar(9) is None  # a later return; a new letter
    assert plan.source_bar(10) == (9, True)  # which states its opening bar twice
    assert plan_form(None, None, 8).form == "AA" and plan_form(None, None, 16).form == "AABA"
    assert plan_form(None, None, 12).phrase_bars == 4 and plan_form("AABB", 2, None).bars == 8


@pytest.mark.parametrize(("form", "phrase_bars", "bars", "message"), [
    ("AAXB", 4, 16, "expected letters A-H"),
    ("AABB", 4, 12, "makes 16 bars, but 12 are asked for"),
    ("AB", 0, 8, "phrase_bars 0: expected 1 to 64 bars"),
])
def test_a_form_that_cannot_be_made_is_named(form: str, phrase_bars: int, bars: int, message: str) -> None:
    with pytest.raises(FormError, match=message):
        plan_form(form, phrase_bars, bars)


def test_readme_defaults_give_tunes_with_form_endings_and_the_seed_key() -> None:
    scores = generate(shipped(), README_SEED, 20, Constraints(bars=16), random_seed=5)
    assert all(s.key_signatures and s.key_signatures[0].name == "D major" for s in scores)
    assert sum(bars_of(s)[4] == bars_of(s)[0] for s in scores) >= 16  # the A returns: bar 5 is bar 1
    assert sum(phrase_parallelism(s) > 0 for s in scores) >= 16
    assert sum(tonic_ending(s) for s in scores) >= 18
    assert sum(key_agreement(s) for s in scores) >= 16
    assert sum(repetition(s) for s in scores) / len(scores) < 0.3  # returns vary: not a loop of copies
    free = generate(shipped(), README_SEED, 20, Constraints(bars=16, form="none"), random_seed=5)
    assert sum(phrase_parallelism(s) for s in free) < sum(phrase_parallelism(s) for s in scores)


@pytest.mark.parametrize(("seed", "tonic", "mode"), [
    ("A4/8 B4/8 C5/8 A4/8 E5/4 key=Am meter=4/4", 9, "minor"),
    ("G4/8 Bb4/8 D5/8 G5/8 F5/4 key=Gm meter=2/4", 7, "minor"),
    ("F4 A4 C5 A4/2 key=F meter=3/4", 5, "major"),
], ids=["A-minor", "G-minor", "F-major"])
def test_outputs_are_heard_in_the_seed_key(seed: str, tonic: int, mode: str) -> None:
    scores = generate(shipped(), seed, 20, Constraints(bars=16), random_seed=1)
    assert sum(key_agreement(s, (tonic, mode)) for s in scores) >= 14  # 80 % over many seeds: see the report


@pytest.mark.parametrize("options", [
    {"notes": 30},
    {"bars": 8, "pitch_range": (62, 69), "max_leap": 3},
    {"bars": 8, "meter": "3/4", "instrument": "flute"},
    {"bars": 8, "form": "none"},
], ids=["notes", "range-and-leap", "meter-and-instrument", "no-form"])
def test_end_on_tonic_holds_in_every_output(options: dict[str, object]) -> None:
    scores = generate(shipped(), "D4 E4 F#4 key=D", 20, Constraints(end_on_tonic=True, **options),  # type: ignore
                      random_seed=2)
    assert all(tonic_ending(s) == 1.0 for s in scores)
    last = [sorted(s.tracks[0].notes, key=lambda n: n.onset_tick)[-1] for s in scores]
    assert all(n.duration_tick >= 480 for n in last)  # never a squeezed last note


def test_end_on_tonic_with_beam_search_and_a_repetition_penalty() -> None:
    scores = generate(shipped(), "C4 D4 E4 key=C", 2, Constraints(bars=8, end_on_tonic=True),
                      SamplingConfig(beam_size=4), random_seed=0)
    assert all(tonic_ending(s) == 1.0 for s in scores)


def test_constraints_that_cannot_all_hold_are_named_before_sampling() -> None:
    with pytest.raises(GenerateError, match=r"ends on D5, and the pitch range D4:A4.*largest leap of 3 leave no note"):
        generate(shipped(), "A4 B4 D5", 2, Constraints(bars=8, pitch_range=(62, 69), max_leap=3))
    with pytest.raises(GenerateError, match="ending on the tonic: the pitch range Eb4:C#5 and the key D major"):
        generate(shipped(), "A4 B4 C5 key=D", 2, Constraints(bars=8, pitch_range=(63, 73), end_on_tonic=True))
    with pytest.raises(FormError, match="makes 12 bars, but 8"):
        generate(shipped(), README_SEED, 2, Constraints(bars=8, form="AAB"))
    with pytest.raises(GenerateError, match="need a length in bars"):
        generate(shipped(), README_SEED, 2, Constraints(notes=20, form="AABB"))


def test_an_estimated_key_keeps_every_pitch_class_of_the_seed() -> None:
    seed = "E4/8 E4/8 B4/8 E4/8 D5/8 E4/8 B4/8 E4/8"  # once read as E major: no D natural ever again
    key = seed_key(parse_seed(seed)[0])
    assert {4, 11, 2} <= {(key.tonic + step) % 12 for step in SCALES[key.name]}
    scores = generate(shipped(), seed, 10, Constraints(bars=8), random_seed=0)
    pitch_classes = {n.pitch % 12 for s in scores for n in s.tracks[0].notes[8:]}
    assert 2 in pitch_classes and 3 not in pitch_classes  # D natural goes on, no D sharp
    assert {s.key_signatures[0].name for s in scores} == {f"{PITCH_CLASS_NAMES[key.tonic]} {key.name}"}


def test_scale_strict_soft_and_off_in_a_mode_and_in_minor() -> None:
    dorian = generate(shipped(), "D4 E4 F4 G4 A4/2 key=D-dorian", 20, Constraints(bars=8), random_seed=0)
    assert all((n.pitch - 2) % 12 in SCALES["dorian"] for s in dorian for n in s.tracks[0].notes)
    strict = generate(shipped(), "A4 B4 C5 E5 key=Am", 40, Constraints(bars=8), random_seed=0)
    soft = generate(shipped(), "A4 B4 C5 E5 key=Am", 40, Constraints(bars=8, scale="soft"), random_seed=0)
    free = generate(shipped(), "A4 B4 C5 E5 key=Am", 40, Constraints(bars=8, scale="off"), random_seed=0)

    def outside(scores: list[Score]) -> int:
        return sum((n.pitch - 9) % 12 not in SCALES["minor"] for s in scores for n in s.tracks[0].notes)

    assert outside(strict) == 0 < outside(soft) <= outside(free)
    assert sum(key_agreement(s, (9, "minor")) for s in soft) >= 30


def test_generate_command_takes_form_and_records_it(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "melodia.cli", "generate", "--seed", README_SEED, "--num", "3",
                             "--form", "AABB", "--phrase-bars", "2", "-o", str(tmp_path)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["settings"]["form"] == "AABB" and manifest["settings"]["phrase_bars"] == 2
    for output in manifest["outputs"]:
        score = read_score(tmp_path / output["file"])
        assert output["bars"] == 8 and output["key"] == "D major"
        assert [f"{PITCH_CLASS_NAMES[k.tonic]} {k.mode}" for k in score.key_signatures] == ["D major"]
