"""Training (melodia/lm/train.py) on a tiny corpus: reproducible, resumable after a kill, distributed; its settings."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from helpers import ROOT, TINY, cli, tiny_config

from melodia.corpus.reader import Corpus
from melodia.harmony.data import HarmonyError
from melodia.harmony.train import HarmonizerTraining
from melodia.lm import train as training
from melodia.lm.model import MelodyLM, ModelConfig
from melodia.lm.modelfile import load_model
from melodia.lm.train import Start, TrainConfig, TrainError, train
from melodia.settings import tomllib

TIMINGS = ("training_tokens_per_s", "cpu_minutes")  # what a record measures of the machine, not of the model


def test_training_is_reproducible_and_learns(tiny_cache: Path, tmp_path: Path) -> None:
    """Two runs with the same seed give the same weights bit for bit, the second one checkpointing mid-epoch every
    7 steps (as a clock could at any step)."""
    first = train(tiny_config(), tmp_path / "a.safetensors", progress_bar=False)
    train(tiny_config("checkpoint_steps=7"), tmp_path / "b.safetensors", progress_bar=False)
    model_a, _, record_a = load_model(tmp_path / "a.safetensors")
    model_b, _, record_b = load_model(tmp_path / "b.safetensors")
    assert untimed({**record_a, "config": None}) == untimed({**record_b, "config": None})
    assert record_a["cpu_minutes"] > 0
    for name, tensor in model_a.state_dict().items():
        assert torch.equal(tensor, model_b.state_dict()[name]), name
    log = (tmp_path / "a.safetensors.log.csv").read_text().splitlines()
    assert log[0] == "epoch,step,lr,train_loss,valid_loss,tokens_per_s" and len(log) == 3
    corpus = Corpus.open("tiny")
    assert first["corpus"] == "tiny" and first["corpus_hash"] == corpus.content_hash()
    assert first["valid_loss"] < math.log(len(corpus.tokenizer))  # better than guessing uniformly


def test_kill_and_resume_gives_the_same_weights(tiny_cache: Path, tmp_path: Path) -> None:
    settings = [f"--set={s}" for s in [*TINY, "epochs=3", "checkpoint_steps=7", "hidden_size=64"]]
    whole = cli("train", "--corpus", "tiny", *settings, "-o", str(tmp_path / "whole.safetensors"), "--quiet",
                cache=tiny_cache)
    assert whole.returncode == 0, whole.stderr
    target = tmp_path / "killed.safetensors"
    env = {**os.environ, "MELODIA_CACHE": str(tiny_cache)}
    process = subprocess.Popen([sys.executable, "-m", "melodia.apps.cli", "train", "--corpus", "tiny", *settings,
                                "-o", str(target), "--quiet"], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    checkpoint = tmp_path / "killed.safetensors.ckpt"
    deadline = time.monotonic() + 120
    while not checkpoint.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "training finished before it could be killed"
    assert not target.exists()
    resumed = cli("train", "--corpus", "tiny", *settings, "-o", str(target), "--resume", "--quiet", cache=tiny_cache)
    assert resumed.returncode == 0, resumed.stderr
    whole_model, _, whole_record = load_model(tmp_path / "whole.safetensors")
    resumed_model, _, resumed_record = load_model(target)
    for name, tensor in whole_model.state_dict().items():
        assert torch.equal(tensor, resumed_model.state_dict()[name]), name
    assert whole_record["steps"] == resumed_record["steps"]


def untimed(record: dict[str, object]) -> dict[str, object]:
    return {key: value for key, value in record.items() if key not in TIMINGS}


def logged_losses(model_path: Path) -> list[list[str]]:
    """The training log's columns but the last (tokens/s)."""
    log = model_path.with_name(model_path.name + ".log.csv").read_text().splitlines()
    return [line.split(",")[:-1] for line in log]


class Killed(Exception):
    """Stands for a kill at a chosen step."""


def test_a_run_resumed_mid_epoch_without_a_valid_split_ends_the_same(tiny_cache: Path, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """With no valid split, an epoch's mean training loss picks the best epoch: the checkpoint keeps the losses of
    the epoch's steps so far, so the moment the last checkpoint was written changes nothing."""
    def start() -> Start:
        corpus = Corpus.open("tiny")
        for piece in corpus.pieces:
            piece["split"] = "train"
        torch.manual_seed(0)
        return Start(corpus, MelodyLM(ModelConfig(len(corpus.tokenizer), 16, 32, 2)))

    config = tiny_config("batch_size=16", "bptt=64", "checkpoint_steps=4")
    whole = train(config, tmp_path / "whole.safetensors", progress_bar=False, start=start())
    step = training._step

    def step_until_killed(run: training.Run, window: torch.Tensor, labels: torch.Tensor) -> float:
        if run.state.step == whole["steps_per_epoch"] + 6:  # in the second epoch, after one of its checkpoints
            raise Killed
        return step(run, window, labels)

    monkeypatch.setattr(training, "_step", step_until_killed)
    target = tmp_path / "resumed.safetensors"
    with pytest.raises(Killed):
        train(config, target, progress_bar=False, start=start())
    monkeypatch.undo()
    resumed = train(config, target, resume=True, progress_bar=False, start=start())
    assert untimed(resumed) == untimed(whole)
    assert logged_losses(target) == logged_losses(tmp_path / "whole.safetensors")
    whole_model, resumed_model = load_model(tmp_path / "whole.safetensors")[0], load_model(target)[0]
    for name, tensor in whole_model.state_dict().items():
        assert torch.equal(tensor, resumed_model.state_dict()[name]), name


def test_resume_refuses_other_settings(tiny_cache: Path, tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    train(tiny_config("epochs=1"), path, progress_bar=False)
    with pytest.raises(TrainError, match="other settings"):
        train(tiny_config("epochs=1", "hidden_size=40"), path, resume=True, progress_bar=False)


def test_torchrun_trains_two_cpu_processes(tiny_cache: Path, tmp_path: Path) -> None:
    target = tmp_path / "ddp.safetensors"
    env = {**os.environ, "MELODIA_CACHE": str(tiny_cache), "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
                             "--standalone", "-m", "melodia.apps.cli", "train", "--corpus", "tiny",
                             *[f"--set={s}" for s in [*TINY, "epochs=1", "batch_size=2"]], "-o", str(target),
                             "--quiet"], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    _, _, record = load_model(target)
    assert record["world_size"] == 2 and record["steps"] > 0


def test_training_settings_hold_model_and_augmentation_settings_under_flat_aliases(tmp_path: Path) -> None:
    flat = TrainConfig().with_overrides(["hidden_size=64", "transpose=3", "layers=1"])
    nested = TrainConfig().with_overrides(["model.hidden_size=64", "augmentation.transpose=3", "model.layers=1"])
    assert flat == nested and flat.model.hidden_size == 64 and flat.augmentation.transpose == 3
    (tmp_path / "flat.toml").write_text("hidden_size = 64\ntranspose = 3\nlayers = 1\n")
    (tmp_path / "nested.toml").write_text("[model]\nhidden_size = 64\nlayers = 1\n[augmentation]\ntranspose = 3\n")
    assert TrainConfig.from_file(tmp_path / "flat.toml") == TrainConfig.from_file(tmp_path / "nested.toml") == flat
    assert flat.flat()["hidden_size"] == 64 and flat.flat()["transpose"] == 3 and "model" not in flat.flat()
    (tmp_path / "bad.toml").write_text("[model]\ncell = 'transformer'\n")
    with pytest.raises(TrainError, match=r"bad\.toml: model setting cell = 'transformer'"):
        TrainConfig.from_file(tmp_path / "bad.toml")


@pytest.mark.parametrize("name", ["default_model", "bench_jsb"])
def test_shipped_training_settings_load(name: str) -> None:
    config = TrainConfig.from_file(Path(__file__).resolve().parent.parent / "scripts" / f"{name}.toml")
    assert config.model.layers == 2 and config.augmentation.transpose >= 5


# A key that could stop a run by the clock; checkpoint_minutes cannot change a result (the tests above).
CLOCK_WORDS = ("minutes", "seconds", "hours", "time_limit", "timeout", "deadline", "budget")
NOT_SHIPPED = {"build", "dist", "melodia-output", "node_modules"}


def _keys(table: object) -> list[str]:
    if isinstance(table, dict):
        return [key for key, value in table.items() for key in (key, *_keys(value))]
    return [key for value in table for key in _keys(value)] if isinstance(table, list) else []


def test_no_shipped_configuration_stops_on_the_clock() -> None:
    """Every TOML file in the repository (training settings, recipes, presets, jobs): no key sets a wall-clock
    limit, and every training configuration among them loads and trains a fixed number of epochs."""
    files = [path for path in sorted(ROOT.rglob("*.toml")) if path.name != "pyproject.toml"
             and not any(part.startswith(".") or part in NOT_SHIPPED or part.endswith(".egg-info")
                         for part in path.relative_to(ROOT).parts)]
    clocked, training_files = [], []
    for path in files:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
        keys = _keys(table)
        clocked += [f"{path.relative_to(ROOT)}: {key}" for key in keys
                    if key != "checkpoint_minutes" and any(word in key for word in CLOCK_WORDS)]
        if "epochs" in keys:
            loaded = TrainConfig.from_file(path) if "corpus" in table else HarmonizerTraining.from_toml(path)
            assert loaded.epochs > 0, path
            training_files.append(path.name)
    assert not clocked
    assert {"bench_jsb.toml", "default_model.toml", "default_model_controls.toml", "default_model_polish.toml",
            "harmonizer.toml"} <= set(training_files)


def test_a_wall_clock_limit_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "old.toml"
    path.write_text("corpus = 'jsb'\nepochs = 3\nmax_minutes = 45\n")
    with pytest.raises(TrainError, match=r"^[^\n]*old\.toml: max_minutes is no longer a training setting: a run "
                                         r"trains a fixed number of steps \(set epochs or max_steps\)[^\n]*$"):
        TrainConfig.from_file(path)
    with pytest.raises(TrainError, match="--set: max_minutes is no longer a training setting"):
        TrainConfig().with_overrides(["max_minutes=1"])


def test_the_random_seed_is_random_seed_and_its_former_name_seed_still_reads(tmp_path: Path) -> None:
    """A random seed is `random_seed` everywhere (issue 31); training files, overrides and model records written
    before, with `seed`, still read, and nothing writes `seed` again."""
    old = tmp_path / "old.toml"
    old.write_text('corpus = "folk"\nseed = 5\n')
    config = TrainConfig.from_file(old)
    assert config.random_seed == 5 and "seed" not in config.flat() and config.flat()["random_seed"] == 5
    assert config.with_overrides(["seed=7"]).random_seed == 7 == config.with_overrides(["random_seed=7"]).random_seed
    both = tmp_path / "both.toml"
    both.write_text("seed = 1\nrandom_seed = 2\n")
    with pytest.raises(TrainError, match="random_seed is set twice"):
        TrainConfig.from_file(both)
    harmonizer = tmp_path / "harmonizer.toml"
    harmonizer.write_text("seed = 3\n[[members]]\nseed = 4\n")
    settings = HarmonizerTraining.from_toml(harmonizer)
    assert settings.random_seed == 3 and settings.member(0).random_seed == 4
    harmonizer.write_text("random_seed = 2\nseed = 1\n")
    with pytest.raises(HarmonyError, match="random_seed is set twice"):
        HarmonizerTraining.from_toml(harmonizer)
