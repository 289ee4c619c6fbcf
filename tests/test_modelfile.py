"""Model files (melodia/lm/modelfile.py): everything a model needs in one file, hostile and damaged files refused."""

from __future__ import annotations

import json
import os
import pickle
import shutil
from pathlib import Path

import pytest
import torch
from conftest import DATA
from helpers import cli, tiny_config

from melodia.corpus.reader import Corpus
from melodia.lm.modelfile import ModelFileError, load_model, save_model
from melodia.lm.train import train


def test_model_file_holds_everything_needed(tiny_cache: Path, tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    train(tiny_config("conditions=meter,mode", "half_weights=true"), path, progress_bar=False)
    model, tokenizer, record = load_model(path)
    corpus = Corpus.open("tiny")
    assert tokenizer.config == corpus.tokenizer.config and len(tokenizer) == model.config.vocab_size
    assert list(model.config.conditions) == ["meter", "mode"] and "unknown" in model.config.conditions["mode"]
    assert record["steps"] > 0 and record["melodia"] and record["config"]["hidden_size"] == 32


def test_crafted_pickle_is_refused_without_running(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (os.system, (f"touch {marker}",))

    hostile = tmp_path / "hostile.safetensors"
    hostile.write_bytes(pickle.dumps(Exploit()))
    with pytest.raises(ModelFileError, match="not a melodia model file"):
        load_model(hostile)
    torch.save({"model": Exploit()}, tmp_path / "hostile.pt")
    shutil.copy(tmp_path / "hostile.pt", hostile)
    with pytest.raises(ModelFileError):
        load_model(hostile)
    assert not marker.exists()


def test_truncated_and_foreign_model_files(tiny_cache: Path, tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    train(tiny_config("epochs=1"), path, progress_bar=False)
    data = path.read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="damaged or truncated"):
        load_model(tmp_path / "cut.safetensors")
    from safetensors.torch import save

    model, tokenizer, _ = load_model(path)
    save_model(tmp_path / "ok.safetensors", model, tokenizer, {"note": "resaved"})
    header_length = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + header_length])
    header["__metadata__"]["version"] = "99"
    tensors = {k: torch.zeros(v["shape"]) for k, v in header.items() if k != "__metadata__"}
    (tmp_path / "future.safetensors").write_bytes(save(tensors, header["__metadata__"]))
    with pytest.raises(ModelFileError, match="model format version '99'"):
        load_model(tmp_path / "future.safetensors")
    (tmp_path / "other.safetensors").write_bytes(save({"w": torch.zeros(2)}, {"format": "something-else"}))
    with pytest.raises(ModelFileError, match="not a melodia model"):
        load_model(tmp_path / "other.safetensors")
    assert load_model(tmp_path / "ok.safetensors")[2] == {"note": "resaved"}


def test_default_names_the_shipped_model_everywhere(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from melodia.apps.cli import main
    from melodia.resources import default_model_path

    shipped = load_model(default_model_path())
    by_name = load_model("default")
    assert by_name[2] == shipped[2] and by_name[0].config == shipped[0].config
    result = cli("evaluate", "--model", "default", str(DATA / "waltz_3_4.mid"), "--json", cache=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["pieces"][0]["tokens"] > 0
    capsys.readouterr()
    assert main(["evaluate", str(DATA / "waltz_3_4.mid"), "--json"]) == 0  # in this process: one start is enough
    assert capsys.readouterr().out == result.stdout
