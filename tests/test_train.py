"""Training (melodia/train.py) on a tiny corpus: reproducible, resumable after a kill, distributed; its settings."""

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
from helpers import TINY, cli, tiny_config

from melodia.corpus.reader import Corpus
from melodia.modelfile import load_model
from melodia.train import TrainConfig, TrainError, train


def test_training_is_reproducible_and_learns(tiny_cache: Path, tmp_path: Path) -> None:
    first = train(tiny_config(), tmp_path / "a.safetensors", progress_bar=False)
    train(tiny_config(), tmp_path / "b.safetensors", progress_bar=False)
    model_a, _, record_a = load_model(tmp_path / "a.safetensors")
    model_b, _, record_b = load_model(tmp_path / "b.safetensors")
    timing = "training_tokens_per_s"
    assert {k: v for k, v in record_a.items() if k != timing} == {k: v for k, v in record_b.items() if k != timing}
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
    process = subprocess.Popen([sys.executable, "-m", "melodia.cli", "train", "--corpus", "tiny", *settings,
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


def test_resume_refuses_other_settings(tiny_cache: Path, tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    train(tiny_config("epochs=1"), path, progress_bar=False)
    with pytest.raises(TrainError, match="other settings"):
        train(tiny_config("epochs=1", "hidden_size=40"), path, resume=True, progress_bar=False)


def test_torchrun_trains_two_cpu_processes(tiny_cache: Path, tmp_path: Path) -> None:
    target = tmp_path / "ddp.safetensors"
    env = {**os.environ, "MELODIA_CACHE": str(tiny_cache), "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
                             "--standalone", "-m", "melodia.cli", "train", "--corpus", "tiny",
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
