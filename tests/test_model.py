"""Model, training, model files, evaluation and the n-gram baseline, on a tiny corpus."""

from __future__ import annotations

import json
import math
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import DATA, REAL_MIDI

from melodia import Note, Score, Track
from melodia.corpus import build_corpus, find_recipe
from melodia.corpus.reader import Corpus
from melodia.evaluate import evaluate_inputs
from melodia.model import MelodyLM, ModelConfig, ModelConfigError
from melodia.modelfile import ModelFileError, load_model, save_model
from melodia.ngram import KneserNey, choose_order
from melodia.train import TrainConfig, TrainError, train

TINY = ["hidden_size=32", "embedding_size=16", "layers=2", "batch_size=4", "bptt=32", "epochs=2", "warmup_steps=5",
        "transpose=4", "checkpoint_minutes=100"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """MELODIA_CACHE with a corpus 'tiny' built from real MIDI files and the fixtures."""
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


def tiny_config(*extra: str) -> TrainConfig:
    return TrainConfig(corpus="tiny").with_overrides([*TINY, *extra])


def cli(*args: str, cache: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MELODIA_CACHE": str(cache)}
    return subprocess.run([sys.executable, "-m", "melodia.cli", *args], capture_output=True, text=True, env=env,
                          timeout=300)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_model_shapes_and_tied_weights(cell: str) -> None:
    config = ModelConfig(100, embedding_size=16, hidden_size=24, layers=2, cell=cell,
                         conditions={"meter": ["unknown", "3/4", "4/4"]})
    model = MelodyLM(config)
    logits, state = model(torch.randint(0, 100, (3, 7)), None, torch.tensor([[1], [2], [0]]))
    assert logits.shape == (3, 7, 100)
    assert model.decoder.weight is model.embedding.weight
    logits, _ = model(torch.randint(0, 100, (3, 5)), state, torch.ones((3, 5, 1), dtype=torch.long))
    assert logits.shape == (3, 5, 100)
    with pytest.raises(ModelConfigError, match="cell = 'transformer'"):
        ModelConfig(100, cell="transformer")


def test_training_is_reproducible_and_learns(cache: Path, tmp_path: Path) -> None:
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


def test_model_file_holds_everything_needed(cache: Path, tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    train(tiny_config("conditions=meter,mode", "half_weights=true"), path, progress_bar=False)
    model, tokenizer, record = load_model(path)
    corpus = Corpus.open("tiny")
    assert tokenizer.config == corpus.tokenizer.config and len(tokenizer) == model.config.vocab_size
    assert list(model.config.conditions) == ["meter", "mode"] and "unknown" in model.config.conditions["mode"]
    assert record["steps"] > 0 and record["melodia"] and record["config"]["hidden_size"] == 32


def test_kill_and_resume_gives_the_same_weights(cache: Path, tmp_path: Path) -> None:
    settings = [f"--set={s}" for s in [*TINY, "epochs=3", "checkpoint_steps=7", "hidden_size=64"]]
    whole = cli("train", "--corpus", "tiny", *settings, "-o", str(tmp_path / "whole.safetensors"), "--quiet",
                cache=cache)
    assert whole.returncode == 0, whole.stderr
    target = tmp_path / "killed.safetensors"
    env = {**os.environ, "MELODIA_CACHE": str(cache)}
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
    resumed = cli("train", "--corpus", "tiny", *settings, "-o", str(target), "--resume", "--quiet", cache=cache)
    assert resumed.returncode == 0, resumed.stderr
    whole_model, _, whole_record = load_model(tmp_path / "whole.safetensors")
    resumed_model, _, resumed_record = load_model(target)
    for name, tensor in whole_model.state_dict().items():
        assert torch.equal(tensor, resumed_model.state_dict()[name]), name
    assert whole_record["steps"] == resumed_record["steps"]


def test_resume_refuses_other_settings(cache: Path, tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    train(tiny_config("epochs=1"), path, progress_bar=False)
    with pytest.raises(TrainError, match="other settings"):
        train(tiny_config("epochs=1", "hidden_size=40"), path, resume=True, progress_bar=False)


def test_torchrun_trains_two_cpu_processes(cache: Path, tmp_path: Path) -> None:
    target = tmp_path / "ddp.safetensors"
    env = {**os.environ, "MELODIA_CACHE": str(cache), "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
                             "--standalone", "-m", "melodia.cli", "train", "--corpus", "tiny",
                             *[f"--set={s}" for s in [*TINY, "epochs=1", "batch_size=2"]], "-o", str(target),
                             "--quiet"], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    _, _, record = load_model(target)
    assert record["world_size"] == 2 and record["steps"] > 0


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


def test_truncated_and_foreign_model_files(cache: Path, tmp_path: Path) -> None:
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


def test_evaluate_files_equals_corpus_split(cache: Path, tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    train(tiny_config("epochs=1"), path, progress_bar=False)
    report = evaluate_inputs(path, ["corpus:tiny:train"], baseline=True)
    total = report["total"]
    assert total["nll"] > 0 and total["tokens"] > 0
    assert total["nats_per_token"] == pytest.approx(total["nll"] / total["tokens"])
    assert total["bits_per_note"] == pytest.approx(total["nll"] / math.log(2) / total["notes"])
    assert report["baseline"]["order"] >= 2 and report["baseline"]["total"]["nll"] > 0
    one = Corpus.open("tiny").split("train")[0]
    result = cli("evaluate", "--model", str(path), str(DATA / "waltz_3_4.mid"), str(DATA / "not_midi.mid"), "--json",
                 cache=cache)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert len(data["pieces"]) == 1 and "not_midi.mid" in data["skipped"][0]
    assert one["tokens"] > 0


def test_ngram_is_a_distribution_and_prefers_its_data() -> None:
    rng = np.random.default_rng(0)
    sequences = [np.concatenate([[1], rng.integers(3, 9, size=40) // 2 * 2, [2]]) for _ in range(30)]
    model = KneserNey(3, 10).fit(sequences)
    for context in ([1], [1, 4], [6, 6], [9, 9]):
        assert sum(model.probability(context, token) for token in range(10)) == pytest.approx(1.0)
    seen = np.asarray([1, 4, 4, 6, 2])
    odd = np.asarray([1, 5, 7, 3, 2])
    assert model.nll(seen) < model.nll(odd)
    best, by_order = choose_order(sequences[:25], sequences[25:], 10, orders=(1, 2, 3))
    assert set(by_order) <= {1, 2, 3} and best.order in by_order


def test_transposition_average_is_a_proper_mixture(cache: Path, tmp_path: Path) -> None:
    from melodia.evaluate import model_nll, transposition_average_nll

    path = tmp_path / "m.safetensors"
    train(tiny_config("epochs=1"), path, progress_bar=False)
    model, tokenizer, _ = load_model(path)
    pieces = [Corpus.open("tiny").piece_tokens(p).astype(np.int64) for p in Corpus.open("tiny").split("train")[:3]]
    plain = model_nll(model, pieces)
    assert transposition_average_nll(model, tokenizer, pieces, 0) == pytest.approx(plain)
    averaged = transposition_average_nll(model, tokenizer, pieces, 2)
    # a mixture of 5 is never worse than log 5 nats above the untransposed sequence's own NLL
    assert all(a <= p + math.log(5) + 1e-6 for a, p in zip(averaged, plain))
    # a piece that touches both ends of the pitch range cannot move: only its own term counts
    low, high = tokenizer.config.pitch_range
    edge = tokenizer.encode(Score([Track(notes=[Note(low, 80, 0, 480), Note(high, 80, 480, 480)])]))
    alone = transposition_average_nll(model, tokenizer, [edge], 2)[0]
    assert alone == pytest.approx(model_nll(model, [edge])[0] + math.log(5))


def test_default_names_the_shipped_model_everywhere(tmp_path: Path) -> None:
    from melodia.resources import default_model_path

    shipped = load_model(default_model_path())
    by_name = load_model("default")
    assert by_name[2] == shipped[2] and by_name[0].config == shipped[0].config
    result = cli("evaluate", "--model", "default", str(DATA / "waltz_3_4.mid"), "--json", cache=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["pieces"][0]["tokens"] > 0
    assert cli("evaluate", str(DATA / "waltz_3_4.mid"), "--json", cache=tmp_path).stdout == result.stdout
