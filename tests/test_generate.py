"""Seed phrases, grammar-safe sampling and constraints, with small untrained models."""

from __future__ import annotations

import itertools
import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from melodia.generation import SCALES, Constraints, GenerateError, generate
from melodia.io import read_score
from melodia.model import MelodyLM, ModelConfig
from melodia.modelfile import save_model
from melodia.sampler import SamplingConfig, sample
from melodia.seed import SeedError, parse_key, parse_seed
from melodia.tokenizers import BOS, Tokenizer, TokenizerConfig, tokenizer_from_config

MELODY = tokenizer_from_config(TokenizerConfig(melody=True, velocity_bins=1, pitch_range=(36, 96)))


def untrained(tokenizer: Tokenizer, seed: int = 0) -> MelodyLM:
    torch.manual_seed(seed)
    return MelodyLM(ModelConfig(len(tokenizer), 32, 48, 2))


def test_seed_phrase_notes_rests_ties_key_meter() -> None:
    score, mode = parse_seed("C4 D4 E4/8 E4/8 G4/2 r/4 F#/8. Bb/16 C5/8t~ C5/8t key=G meter=3/4 tempo=90")
    notes = [(n.pitch, n.onset_tick, n.duration_tick) for n in score.tracks[0].notes]
    assert notes == [(60, 0, 480), (62, 480, 480), (64, 960, 240), (64, 1200, 240), (67, 1440, 960),
                     (66, 2880, 360), (70, 3240, 120), (72, 3360, 320)]
    assert str(mode) == "G major" and str(score.time_signatures[0]) == "3/4" and score.tempos[0].bpm == 90
    assert str(parse_key("D dorian")) == "D dorian" and str(parse_key("Bbm")) == "Bb minor"


@pytest.mark.parametrize(("text", "message"), [
    ("C4 H4", "word 2 'H4': expected a note like C4"),
    ("C4/3", "duration /3 is not"),
    ("C4 key=X", "expected a tonic and a mode"),
    ("C4 key=D-bluesy", "mode 'bluesy' is not one of"),
    ("C4 meter=3", "expected a meter like meter=3/4"),
    ("r/4 r/2", "holds no notes"),
    ("A9", "outside MIDI's 0..127"),
])
def test_seed_errors_point_at_the_word(text: str, message: str) -> None:
    with pytest.raises(SeedError, match=message):
        parse_seed(text)


@pytest.mark.parametrize("config", [
    TokenizerConfig(melody=True, velocity_bins=1, pitch_range=(36, 96)),
    TokenizerConfig(),
    TokenizerConfig(scheme="performance"),
], ids=["metrical-melody", "metrical", "performance"])
def test_thousands_of_untrained_samples_all_decode_and_pass_check(config: TokenizerConfig) -> None:
    tokenizer = tokenizer_from_config(config)
    model = untrained(tokenizer)
    sequences = sample(model, tokenizer, [BOS], 1000, SamplingConfig(max_tokens=120),
                       torch.Generator().manual_seed(0))
    failures = [s for s in sequences if tokenizer.check(s, complete=False)]
    assert len(sequences) == 1000 and not failures
    for tokens in sequences:
        tokenizer.decode(tokens).validate()


def test_constraints_hold_on_every_output() -> None:
    model = untrained(MELODY, 1)
    outputs = generate((model, MELODY), "D4 E4 F#4/8 G4/8 A4/2 meter=6/8", count=300,
                       constraints=Constraints(key="D dorian", pitch_range=(60, 84), max_leap=5, bars=8),
                       sampling=SamplingConfig(temperature=1.3), random_seed=3)
    seed_notes = 5
    for score in outputs:
        notes = score.tracks[0].notes[seed_notes:]
        assert all((n.pitch - 2) % 12 in SCALES["dorian"] for n in notes)
        assert all(60 <= n.pitch <= 84 for n in notes)
        pitches = [n.pitch for n in score.tracks[0].notes[seed_notes - 1:]]
        assert all(abs(a - b) <= 5 for a, b in itertools.pairwise(pitches))
        assert len(score.bar_starts(score.end_tick - 1)) == 8 and score.end_tick <= 8 * 1440
        assert [str(s) for s in score.time_signatures] == ["6/8"]


def test_same_random_seed_same_output() -> None:
    model = untrained(MELODY, 2)
    first = generate((model, MELODY), "C4 E4 G4", count=5, random_seed=7, constraints=Constraints(bars=4))
    again = generate((model, MELODY), "C4 E4 G4", count=5, random_seed=7, constraints=Constraints(bars=4))
    other = generate((model, MELODY), "C4 E4 G4", count=5, random_seed=8, constraints=Constraints(bars=4))
    assert first == again and first != other


def test_generate_command_writes_files_and_manifest(tmp_path: Path) -> None:
    model_path = save_model(tmp_path / "m.safetensors", untrained(MELODY), MELODY, {"corpus": "none"})
    out = tmp_path / "out"
    command = [sys.executable, "-m", "melodia.cli", "generate", "--model", str(model_path), "--seed",
               "D4 E4 F#4/8 G4/8 A4/2 key=D meter=6/8", "--num", "4", "--bars", "4", "--range", "C4:C6",
               "--max-leap", "7", "--random-seed", "5", "-o", str(out)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert [o["file"] for o in manifest["outputs"]] == ["001.mid", "002.mid", "003.mid", "004.mid"]
    assert manifest["settings"]["random_seed"] == 5 and manifest["settings"]["constraints"]["max_leap"] == 7
    again = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert again.returncode == 1 and "already exists (pass --force" in again.stderr
    bad = subprocess.run([*command[:7], "C4 X9", "-o", str(tmp_path / "x")], capture_output=True, text=True)
    assert bad.returncode == 1 and "word 2 'X9'" in bad.stderr


def test_end_on_tonic_meter_and_note_count() -> None:
    model = untrained(MELODY, 4)
    tonic_ended = generate((model, MELODY), "A4 B4 C5 key=Am", count=200, random_seed=1,
                           constraints=Constraints(bars=4, meter="3/4", end_on_tonic=True, pitch_range=(57, 81)))
    for score in tonic_ended:
        assert score.tracks[0].notes[-1].pitch % 12 == 9
        assert [str(s) for s in score.time_signatures] == ["3/4"]
        assert len(score.bar_starts(score.end_tick - 1)) == 4
    counted = generate((model, MELODY), "A4 B4 C5", count=50, random_seed=2, constraints=Constraints(notes=12))
    assert all(score.note_count == 12 for score in counted)


def test_seed_from_abc_file_track_and_bars(tmp_path: Path) -> None:
    from conftest import DATA

    from melodia.generation import SeedFile, read_seed

    abc, _ = read_seed("X:1\nM:6/8\nL:1/8\nK:D\nA|d2e fef|g2f e2d|\n")
    assert str(abc.time_signatures[0]) == "6/8" and abc.note_count == 10
    first_bar, _ = read_seed(SeedFile(DATA / "drums.mid", bars=1, track=0))
    assert len(first_bar.tracks) == 1 and [n.pitch for n in first_bar.tracks[0].notes] == [36, 43]
    with pytest.raises(Exception, match="track 5 asked for"):
        read_seed(SeedFile(DATA / "drums.mid", track=5))
    stream = first_bar.to_music21()
    assert read_seed(stream)[0].note_count == 2


def test_fast_stepper_matches_the_model() -> None:
    from melodia.sampler import Stepper

    torch.manual_seed(0)
    model = MelodyLM(ModelConfig(len(MELODY), 32, 48, 2)).eval()
    tokens = torch.randint(3, len(MELODY), (5, 7))
    with torch.no_grad():
        expected, _ = model(tokens)
        _, state = model(tokens[:, :6])
        logits, _ = Stepper(model)(tokens[:, 6], state)
    assert torch.allclose(logits, expected[:, 6], atol=1e-5)


def test_beam_search_and_instrument_range() -> None:
    from melodia.gm import INSTRUMENT_RANGES

    model = untrained(MELODY, 5)
    constraints = Constraints(bars=4, instrument="flute", max_leap=9)
    beams = generate((model, MELODY), "G4 A4 B4 key=G", count=3, constraints=constraints,
                     sampling=SamplingConfig(beam_size=4, branch_factor=3))
    again = generate((model, MELODY), "G4 A4 B4 key=G", count=3, constraints=constraints,
                     sampling=SamplingConfig(beam_size=4, branch_factor=3), random_seed=99)
    assert beams == again and len(beams) == 3  # beam search draws nothing at random
    low, high = INSTRUMENT_RANGES["flute"]
    for score in beams:
        assert all(low <= n.pitch <= high for n in score.tracks[0].notes[3:])
        assert len(score.bar_starts(score.end_tick - 1)) == 4
    with pytest.raises(Exception, match=r"constraints\.instrument = 'kazoo': expected one of accordion"):
        generate((model, MELODY), "G4", constraints=Constraints(instrument="kazoo"))


def test_readme_first_command_generates_with_the_shipped_model(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    first_command = readme.split("\n\n    ")[1].split("\n")[0]
    words = shlex.split(first_command.split("&& .venv/bin/melodia ")[1])
    result = subprocess.run([sys.executable, "-m", "melodia.cli", *words], capture_output=True, text=True,
                            timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "wrote 10 MIDI files, a piano roll of each (.png) and manifest.json to melodia-output" in result.stdout
    assert len(list((tmp_path / "melodia-output").glob("*.png"))) == 10
    written = sorted((tmp_path / "melodia-output").glob("*.mid"))
    assert len(written) == 10
    for path in written:
        score = read_score(path)
        assert str(score.time_signatures[0]) == "6/8" and len(score.bar_starts(score.end_tick - 1)) == 8
        assert [n.pitch for n in score.tracks[0].notes[:5]] == [62, 64, 66, 67, 69]  # the seed, then new notes


def test_generate_with_a_style(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "melodia.cli", "generate", "--seed", "G4 A4 B4 key=G", "--num",
                             "2", "--bars", "4", "--style", "celtic-jig", "-o", str(tmp_path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    score = read_score(tmp_path / "001.mid")
    assert {t.name for t in score.tracks} >= {"Fiddle", "Guitar"} and any(t.is_drum for t in score.tracks)
    assert str(score.time_signatures[0]) == "6/8" and round(score.initial_bpm()) == 180
    assert json.loads((tmp_path / "manifest.json").read_text())["settings"]["style"] == "celtic-jig"
    bad = subprocess.run([sys.executable, "-m", "melodia.cli", "generate", "--seed", "G4", "--style", "polka",
                          "-o", str(tmp_path / "x")], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and "style 'polka': no such preset" in bad.stderr


def test_a_seed_that_leaves_nothing_to_generate_is_refused() -> None:
    from melodia.generation import GenerateError

    model = untrained(MELODY)
    with pytest.raises(GenerateError, match=r"already fills 9 bars; ask for more bars than that \(13, say\)"):
        generate((model, MELODY), "C4/1 " * 9, constraints=Constraints(bars=8))
    with pytest.raises(GenerateError, match="already has 3 notes"):
        generate((model, MELODY), "C4 D4 E4", constraints=Constraints(notes=3))
    with pytest.raises(GenerateError, match="tokens long, too close to the longest sequence"):
        generate((model, MELODY), "C4/16 " * 3000, constraints=Constraints(bars=400))


def test_readme_python_generate_example_runs_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import re

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    code = next(b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "Constraints(" in b)
    assert "from melodia import Constraints, SamplingConfig" in code  # says where they come from
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert sorted(p.name for p in tmp_path.glob("*.mid")) == [f"melody-{n}.mid" for n in range(1, 5)]
    for path in tmp_path.glob("*.mid"):
        notes = read_score(path).tracks[0].notes
        assert all(60 <= n.pitch <= 84 for n in notes) and read_score(path).bar_count() == 8


BAD_SAMPLING = [
    ({"temperature": 0}, "temperature = 0: expected a number > 0 (0 is not greedy decoding; for the likeliest"),
    ({"temperature": -1.0}, "temperature = -1.0: expected a number > 0"),
    ({"temperature": float("nan")}, "temperature = nan: expected a number > 0"),
    ({"top_p": 2}, "top_p = 2: expected a number in (0, 1]"),
    ({"top_p": 0.0}, "top_p = 0.0: expected a number in (0, 1]"),
    ({"top_k": -1}, "top_k = -1: expected a whole number >= 0"),
    ({"top_k": 2.5}, "top_k = 2.5: expected a whole number >= 0"),
    ({"repetition_penalty": 0}, "repetition_penalty = 0: expected a number > 0"),
    ({"repetition_window": 0}, "repetition_window = 0: expected a whole number >= 1"),
    ({"max_tokens": 15}, "max_tokens = 15: expected a whole number >= 16"),
    ({"beam_size": -1}, "beam_size = -1: expected a whole number >= 0"),
    ({"branch_factor": 0}, "branch_factor = 0: expected a whole number >= 1"),
]


@pytest.mark.parametrize(("settings", "message"), BAD_SAMPLING, ids=[str(s) for s, _ in BAD_SAMPLING])
def test_sampling_settings_outside_their_range_are_refused(settings: dict[str, object], message: str) -> None:
    from melodia.errors import MelodiaError

    with pytest.raises(MelodiaError) as error:
        SamplingConfig(**settings)  # type: ignore[arg-type]
    assert str(error.value).startswith(f"sampling setting {message}") and "\n" not in str(error.value)


def test_sampling_and_beam_search_report_progress_every_step() -> None:
    model = untrained(MELODY)
    calls: list[int] = []
    sequences = sample(model, MELODY, [BOS], 5, SamplingConfig(max_tokens=60), torch.Generator().manual_seed(0),
                       progress=calls.append)
    assert sum(calls) == 5 and len(calls) == max(len(s) for s in sequences) - 1
    calls.clear()
    generate((model, MELODY), "G4 A4 B4 key=G", 2, Constraints(bars=4), SamplingConfig(beam_size=3),
             progress=calls.append)
    assert sum(calls) == 2 and len(calls) > 10


def longest_run(pitches: list[int]) -> int:
    return max(len(list(run)) for _, run in itertools.groupby(pitches))


def test_beam_search_on_the_shipped_model_makes_a_tune_and_heeds_the_repetition_penalty() -> None:
    def lines(sampling: SamplingConfig) -> list[list[int]]:
        scores = generate("default", "C4 D4 E4 key=C", 2, Constraints(bars=8), sampling)
        return [[n.pitch for n in sorted(s.notes, key=lambda n: (n.onset_tick, n.pitch))] for s in scores]

    plain = lines(SamplingConfig(beam_size=4))
    for pitches in plain:  # it used to be G4 over and over
        assert len(set(pitches[3:])) >= 4 and longest_run(pitches) <= 4, pitches
    assert lines(SamplingConfig(beam_size=4, repetition_penalty=1.3)) != plain


@pytest.mark.parametrize("count", [0, -2, 1.5, True])
def test_a_count_that_is_not_a_number_of_melodies_is_refused(count: object) -> None:
    with pytest.raises(GenerateError, match="expected a whole number of melodies"):
        generate((untrained(MELODY), MELODY), "C4 D4", count=count)  # type: ignore[arg-type]
