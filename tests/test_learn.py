"""Learning from keep and discard: a step moves the kept melodies' likelihood over the discarded ones', the taste
model, the personal model file, and the learn command's refusals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import MELODY, line, untrained

from melodia.apps.cli import main
from melodia.feedback import discard, keep
from melodia.io.midi import write_midi
from melodia.lm.learn import LearnError, LearnSettings, learn, marked_melodies, preference_pairs
from melodia.lm.modelfile import load_model, save_model
from melodia.lm.taste import TasteModel, features
from melodia.score import Score

STEPWISE = [[60, 62, 64, 65, 67, 65, 64, 62], [67, 65, 64, 62, 60, 62, 64, 65], [62, 64, 65, 67, 69, 67, 65, 64]]
LEAPING = [[60, 67, 60, 72, 64, 55, 69, 60], [72, 60, 67, 55, 71, 62, 74, 59], [55, 67, 57, 72, 60, 65, 53, 70]]


def _marked_folder(folder: Path, kept: list[Score], discarded: list[Score]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for number, melody in enumerate([*kept, *discarded], start=1):
        path = folder / f"{number:03d}.mid"
        write_midi(melody, path)
        (keep if number <= len(kept) else discard)(path)
    return folder


@pytest.fixture
def tiny_model(tmp_path: Path) -> Path:
    return save_model(tmp_path / "tiny.safetensors", untrained(MELODY), MELODY, {"corpus": "none"})


def _margin(model_path: Path, folder: Path) -> float:
    """Mean log-likelihood (nats) of the kept melodies minus that of the discarded ones."""
    from melodia.lm.evaluate import model_nll

    model, tokenizer, _ = load_model(model_path)
    melodies = marked_melodies(tokenizer, [folder])
    nll = model_nll(model, [m.tokens for m in melodies])
    kept = [-value for value, m in zip(nll, melodies) if m.liking == 1.0]
    discarded = [-value for value, m in zip(nll, melodies) if m.liking == 0.0]
    return float(np.mean(kept) - np.mean(discarded))


@pytest.mark.parametrize("objective", ["rwr", "dpo", "ipo"])
def test_learning_moves_kept_over_discarded(tmp_path: Path, tiny_model: Path, objective: str) -> None:
    folder = _marked_folder(tmp_path / "marks", [line(p) for p in STEPWISE], [line(p) for p in LEAPING])
    settings = LearnSettings(objective=objective, drawn=0, steps=30, lr=0.03)
    record = learn(tiny_model, [folder], tmp_path / "mine.safetensors", settings=settings)
    assert record["learned"]["marks"] == 6 and record["learned"]["pairs"] == 9
    assert _margin(tmp_path / "mine.safetensors", folder) > _margin(tiny_model, folder) + 0.5
    assert record["learned"]["loss_last"] < record["learned"]["loss_first"]
    before, after = load_model(tiny_model)[0].state_dict(), load_model(tmp_path / "mine.safetensors")[0].state_dict()
    changed = sorted(name for name in before if not np.array_equal(before[name].numpy(), after[name].numpy()))
    assert changed == ["bottleneck.bias", "bottleneck.weight", "decoder.bias"]  # the LSTM and embedding stay


def test_a_rating_wins_over_the_keep_mark_and_makes_pairs(tmp_path: Path) -> None:
    from melodia.feedback import rate

    folder = _marked_folder(tmp_path, [line(STEPWISE[0])], [line(LEAPING[0]), line(LEAPING[1])])
    rate(folder / "002.mid", 5)
    melodies = marked_melodies(MELODY, [folder])
    assert [m.liking for m in melodies] == [1.0, 1.0, 0.0]
    assert preference_pairs(melodies) == [(0, 2), (1, 2)]


def test_the_taste_model_learns_stepwise_from_real_tunes() -> None:
    stepwise = [line(p) for p in STEPWISE]
    leaping = [line(p) for p in LEAPING]
    taste = TasteModel.fit(np.stack([features(s) for s in [*stepwise, *leaping]]), [1, 1, 1, 0, 0, 0])
    fresh = [line([64, 65, 67, 69, 67, 65, 64, 62]), line([60, 72, 59, 71, 57, 69, 55, 67])]
    liked, disliked = taste(np.stack([features(s) for s in fresh]))
    assert liked > 0.7 > 0.3 > disliked


def test_the_default_model_learns_into_a_small_file_that_generates(tmp_path: Path) -> None:
    from melodia.apps.studio_session import StudioSettings
    from melodia.lm.generation import generate

    settings = StudioSettings(count=4, bars=4)
    melodies = generate("default", settings.seed, 4, settings.constraints(), random_seed=3)
    folder = _marked_folder(tmp_path / "marks", melodies[:1], melodies[1:])
    record = learn("default", [folder], tmp_path / "mine.safetensors",
                   settings=LearnSettings(drawn=8, steps=3))
    assert record["learned"]["drawn"] == 8 and record["learned"]["base_model"] == "default"
    assert (tmp_path / "mine.safetensors").stat().st_size <= 5_000_000
    again = generate(str(tmp_path / "mine.safetensors"), settings.seed, 2, settings.constraints())
    assert all(m.note_count > 4 for m in again)


@pytest.mark.parametrize(("words", "message"), [
    (["--feedback", "{tmp}/missing"], "missing: not a folder; --feedback takes a folder of melodies"),
    (["--feedback", "{tmp}/empty"], "empty: no manifest.json here; mark melodies with: melodia keep"),
    (["--feedback", "{tmp}/unmarked"], "unmarked: no melody is marked; mark some with: melodia keep"),
    (["--feedback", "{tmp}/discarded"], "every marked melody is discarded or rated low; keep (or rate 4-5)"),
    (["--feedback", "{tmp}/discarded", "--set", "beta=-1"], "learn setting beta = -1.0: expected > 0"),
    (["--feedback", "{tmp}/discarded", "--set", "speed=2"], "--set 'speed=2': expected NAME=VALUE with NAME one"),
    ([], "nothing to learn from: give --feedback DIR"),
], ids=["no-folder", "no-manifest", "no-marks", "only-discarded", "bad-value", "bad-name", "nothing"])
def test_learn_refuses_bad_input_in_one_line(tmp_path: Path, tiny_model: Path, capsys: pytest.CaptureFixture[str],
                                             words: list[str], message: str) -> None:
    (tmp_path / "empty").mkdir()
    unmarked = _marked_folder(tmp_path / "unmarked", [], [])
    write_midi(line(STEPWISE[0]), unmarked / "001.mid")
    (unmarked / "manifest.json").write_text(json.dumps({"outputs": [{"file": "001.mid"}]}))
    _marked_folder(tmp_path / "discarded", [], [line(LEAPING[0])])
    words = [word.replace("{tmp}", str(tmp_path)) for word in words]
    assert main(["learn", "--from", str(tiny_model), *words, "-o", str(tmp_path / "out.safetensors")]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and message in error, error
    assert not (tmp_path / "out.safetensors").exists()


def test_learn_refuses_to_overwrite_a_model(tmp_path: Path, tiny_model: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    folder = _marked_folder(tmp_path / "marks", [line(STEPWISE[0])], [line(LEAPING[0])])
    assert main(["learn", "--from", str(tiny_model), "--feedback", str(folder), "-o", str(tiny_model)]) == 1
    assert "tiny.safetensors: already exists (pass --force to overwrite)" in capsys.readouterr().err
    assert main(["learn", "--from", str(tiny_model), "--feedback", str(folder), "-o", str(tiny_model), "--force",
                 "--set", "drawn=0"]) == 0
    assert "learnt from 2 marked melodies (1 liked, 1 not; 1 pairs)" in capsys.readouterr().out


def test_later_rounds_stay_anchored_to_the_first_rounds_start(tmp_path: Path, tiny_model: Path) -> None:
    folder = _marked_folder(tmp_path / "marks", [line(p) for p in STEPWISE], [line(p) for p in LEAPING])
    settings = LearnSettings(drawn=0, steps=10, lr=0.03)
    first = learn(tiny_model, [folder], tmp_path / "round-1.safetensors", settings=settings)
    second = learn(tmp_path / "round-1.safetensors", [folder], tmp_path / "round-2.safetensors", settings=settings)
    assert first["learned"]["anchor"] == second["learned"]["anchor"] == str(tiny_model)
    assert second["learned"]["base_model"] == str(tmp_path / "round-1.safetensors")


def test_a_folder_of_the_users_own_files_learns_beside_the_marks(tmp_path: Path, tiny_model: Path) -> None:
    from conftest import REAL_MIDI

    folder = _marked_folder(tmp_path / "marks", [line(STEPWISE[0])], [line(LEAPING[0])])
    mine = tmp_path / "mine"
    mine.mkdir()
    for path in REAL_MIDI[:3]:
        (mine / path.name).write_bytes(path.read_bytes())
    record = learn(tiny_model, [folder], tmp_path / "out.safetensors", mine, settings=LearnSettings(drawn=0, steps=2,
                                                                                                     free=0))
    assert record["learned"]["own_windows"] >= 3 and record["learned"]["folder"] == str(mine)
    with pytest.raises(LearnError, match=r"nowhere: not a folder; --folder takes a folder of MIDI"):
        learn(tiny_model, [folder], tmp_path / "out.safetensors", tmp_path / "nowhere")
