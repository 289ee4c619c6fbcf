"""Fine-tuning on a small folder of real tunes, the tokenizer fit check, the memorization guard and keep marks."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from conftest import DATA, MUSIC21, REAL_MIDI

from melodia.apps.batch import load_job, run_batch
from melodia.apps.cli import main
from melodia.feedback import FeedbackError, keep, kept_files, kept_names
from melodia.io.music21 import abc_tunes
from melodia.lm.finetune import (
    FinetuneError,
    continuation,
    finetune,
    finetune_config,
    finetune_corpus,
    guard_report_path,
    memorization_check,
    opening,
    summary,
)
from melodia.lm.generation import Constraints, generate, write_outputs
from melodia.lm.modelfile import load_model
from melodia.lm.train import TrainError
from melodia.resources import default_model_path

ESSEN = MUSIC21 / "corpus" / "essenFolksong"
FEW_STEPS = ["epochs=2", "max_steps=3"]


def tunes(name: str, count: int, meter: str | None = None) -> list[str]:
    text = (ESSEN / name).read_text(encoding="latin-1")
    found = [tune for tune in abc_tunes(text) if meter is None or f"M: {meter}\n" in tune]
    return found[:count]


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MELODIA_CACHE", str(tmp_path / "cache"))
    torch.set_num_threads(1)
    return tmp_path / "cache"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Ten Lower Saxony folk tunes from the Essen collection, one ABC file each."""
    place = tmp_path / "my_tunes"
    place.mkdir()
    for number, tune in enumerate(tunes("han1.abc", 10, "2/4")):
        (place / f"tune{number:02d}.abc").write_text(tune, encoding="utf-8")
    return place


def test_finetune_starts_from_the_base_and_records_base_and_corpus(folder: Path, tmp_path: Path) -> None:
    output = tmp_path / "mine.safetensors"
    record = finetune("default", output, folder, overrides=FEW_STEPS, progress_bar=False, guard_samples=4)
    model, tokenizer, saved = load_model(output)
    base, base_tokenizer, _ = load_model("default")
    assert tokenizer.to_dict() == base_tokenizer.to_dict() and model.config == base.config
    assert saved["base_model"] == "default" and saved["base_corpus"] == "folk"
    files = saved["finetune"]
    assert (files["files"], files["train_files"], files["valid_files"], files["kept"]) == (10, 8, 2, 0)
    assert len(files["corpus_hash"]) == 16 and saved["steps"] == record["steps"] == 3
    changes = [float((a - b).abs().max()) for a, b in zip(model.state_dict().values(), base.state_dict().values(),
                                                          strict=True)]
    assert 0 < max(changes) < 0.05  # moved from the base weights, a little: a low learning rate
    assert saved["config"]["lr"] == 0.0005 and saved["config"]["warmup_steps"] == 1  # a quarter of the 3 steps
    report = guard_report_path(output).read_text()
    assert "4 melodies of 16 bars" in report and "16 notes" in report
    line = summary(record, output)
    assert re.search(r"3 steps in 1 epoch of \d+ steps, the weights of step 3 kept; held-out loss on 2 valid "
                     r"files \d\.\d{4} -> \d\.\d{4} nats/token", line), line


def test_resume_of_a_finished_run_writes_the_same_weights(folder: Path, tmp_path: Path) -> None:
    output = tmp_path / "mine.safetensors"
    finetune("default", output, folder, overrides=FEW_STEPS, progress_bar=False, guard=False)
    first = load_model(output)[0].state_dict()
    finetune("default", output, folder, overrides=FEW_STEPS, progress_bar=False, guard=False, resume=True)
    assert all(torch.equal(first[k], v) for k, v in load_model(output)[0].state_dict().items())
    with pytest.raises(TrainError, match="other settings"):
        finetune("default", output, folder, overrides=["epochs=3", "max_steps=3"], progress_bar=False, resume=True)


def test_a_small_folder_trains_for_real_past_its_warm_up(tmp_path: Path) -> None:
    place = tmp_path / "six"
    place.mkdir()
    for number, tune in enumerate(tunes("han1.abc", 6, "2/4")):
        (place / f"tune{number}.abc").write_text(tune, encoding="utf-8")
    model, tokenizer, _ = load_model("default")
    corpus = finetune_corpus(tokenizer, place, progress=False)
    config = finetune_config(model, corpus)
    tokens = sum(piece["tokens"] for piece in corpus.split("train"))
    steps_per_epoch = (tokens * config.passes // config.batch_size - 1) // config.bptt
    # once: one step an epoch, so three epochs of patience ended the run at step 9, in its 20-step warm-up
    assert steps_per_epoch >= 10 and steps_per_epoch * config.epochs >= 60
    assert config.warmup_steps <= steps_per_epoch * config.epochs // 4 and config.threads == 1
    assert finetune_config(model, corpus, ["epochs=2", "passes=1"]).epochs == 2  # what is set stays set


def test_the_model_is_as_small_as_the_base_and_the_last_line_says_what_changed(
        tmp_path: Path, cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    place = tmp_path / "few"
    place.mkdir()
    for path in (REAL_MIDI[1], REAL_MIDI[5], REAL_MIDI[6]):  # three real MIDI files: none can be held out
        (place / path.name).write_bytes(path.read_bytes())
    output = tmp_path / "mine.safetensors"
    assert main(["finetune", "--folder", str(place), "-o", str(output), "--set", "max_steps=3", "--no-guard",
                 "--quiet", "--skip-unfit"]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith(f"wrote {output}: fine-tuned from default on 3 files (3 train, 0 valid, 0 kept): 3 steps")
    assert "no file held out (fewer than 5 files)" in line and "valid loss" not in line
    before, after = map(float, re.findall(r"training files (\d+\.\d+) -> (\d+\.\d+) nats/token", line)[0])
    assert after < before  # three steps at a low rate still move the loss on the files trained on
    base = load_model("default")[2]
    assert abs(output.stat().st_size - Path(default_model_path()).stat().st_size) < 0.01 * output.stat().st_size
    assert load_model(output)[2]["config"]["half_weights"] is base["config"]["half_weights"] is True
    assert sorted(p.name for p in tmp_path.glob("mine.safetensors*")) == ["mine.safetensors",
                                                                          "mine.safetensors.log.csv"]
    assert [p.suffix for p in (cache / "finetune" / "checkpoints").iterdir()] == [".ckpt"]  # --resume finds it


def test_a_file_the_base_tokenizer_cannot_encode_is_named(folder: Path) -> None:
    (folder / "long_bars.abc").write_text(tunes("altdeu20.abc", 1, "3/1")[0], encoding="utf-8")
    (folder / "empty.mid").write_bytes((DATA / "empty.mid").read_bytes())
    tokenizer = load_model("default")[1]
    with pytest.raises(FinetuneError, match=r"(long_bars\.abc|empty\.mid).*does not fit.*2 piece\(s\).*--skip-unfit"):
        finetune_corpus(tokenizer, folder, progress=False)
    corpus = finetune_corpus(tokenizer, folder, skip_unfit=True, progress=False)
    assert sorted({p["source"].split("/")[-1] for p in corpus.pieces}) == [f"tune{n:02d}.abc" for n in range(10)]


def test_the_split_is_by_file_and_the_same_every_time(tmp_path: Path) -> None:
    place = tmp_path / "books"
    place.mkdir()
    for number in range(6):  # three tunes a file
        (place / f"book{number}.abc").write_text("".join(tunes("han1.abc", 18, "2/4")[3 * number:3 * number + 3]))
    tokenizer = load_model("default")[1]
    corpus = finetune_corpus(tokenizer, place, progress=False)
    split_of = {}
    for piece in corpus.pieces:
        assert split_of.setdefault(piece["source"], piece["split"]) == piece["split"]
    assert sorted(split_of.values()) == ["train"] * 5 + ["valid"]
    again = finetune_corpus(tokenizer, place, progress=False)
    assert [p["split"] for p in again.pieces] == [p["split"] for p in corpus.pieces]


def test_the_base_models_shape_cannot_be_changed_but_its_dropout_can(folder: Path, tmp_path: Path) -> None:
    with pytest.raises(FinetuneError, match=r"model\.hidden_size = 64: fine-tuning keeps the base model's shape"):
        finetune("default", tmp_path / "m.safetensors", folder, overrides=["hidden_size=64"], progress_bar=False)
    finetune("default", tmp_path / "m.safetensors", folder, overrides=[*FEW_STEPS, "model.dropout=0.4"],
             progress_bar=False, guard=False)
    assert load_model(tmp_path / "m.safetensors")[0].config.dropout == 0.4


def test_no_files_and_no_folder_are_refused_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "nothing").mkdir()
    assert main(["finetune", "--folder", str(tmp_path / "nothing"), "-o", str(tmp_path / "m.safetensors")]) == 1
    assert main(["finetune", "-o", str(tmp_path / "m.safetensors")]) == 1
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 2 and "holds no MIDI" in errors[0] and "--folder DIR, --kept DIR" in errors[1]


def test_the_guard_finds_continuations_copied_from_the_references(folder: Path) -> None:
    model, tokenizer, _ = load_model("default")
    corpus = finetune_corpus(tokenizer, folder, progress=False)
    seeds = corpus.scores("train")[:2]
    honest = memorization_check(model, tokenizer, seeds, corpus.scores(), samples=4, bars=8)
    assert honest.samples == 4 and not honest.copying
    # the same draws again, this time with the melodies themselves among the references: every one copies
    free = Constraints(bars=8, form="none", scale="off")
    outputs = [(f"out{n}-{k}", continuation(score, opening(piece).end_tick)) for n, (_, piece) in enumerate(seeds)
               for k, score in enumerate(generate((model, tokenizer), opening(piece), 2, free, random_seed=n))]
    copied = memorization_check(model, tokenizer, seeds, [*corpus.scores(), *outputs], samples=4, bars=8)
    assert copied.copying and all(notes >= 12 and name.startswith("out") for notes, name in copied.runs)
    assert "fewer epochs" in copied.warning(Path("mine.safetensors"))


def test_keep_marks_the_manifest_and_finetune_learns_from_kept(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    scores = generate("default", "G4 A4 B4 D5 key=G meter=3/4", 4, Constraints(bars=8), random_seed=3)
    write_outputs(scores, out, {"seed": "G4 A4 B4 D5"})
    assert main(["keep", str(out / "002.mid"), str(out / "004.mid")]) == 0
    assert kept_names(out) == {"002.mid", "004.mid"} and "kept" in capsys.readouterr().out
    assert main(["keep", "--drop", str(out / "004.mid")]) == 0
    assert kept_files(out) == [out / "002.mid"]
    entries = json.loads((out / "manifest.json").read_text())["outputs"]
    assert [e.get("keep") for e in entries] == [None, True, None, None] and entries[0]["notes"] > 0  # mark taken off
    output = tmp_path / "kept.safetensors"
    record = finetune("default", output, kept=[out], overrides=FEW_STEPS, progress_bar=False, guard=False)
    assert record["finetune"]["kept"] == 1 and record["finetune"]["valid_files"] == 0


def test_keep_in_a_batch_manifest_survives_running_the_job_again(tmp_path: Path) -> None:
    job_file = tmp_path / "job.toml"
    job_file.write_text('seeds = ["D4 E4 F#4 key=D"]\ncount = 2\nbars = 2\n')
    job = load_job(job_file)
    run_batch(job, progress=False)
    keep(job.output / "01-t1-plain-002.mid")
    table = (job.output / "manifest.csv").read_text().splitlines()
    assert table[0].endswith(",keep") and table[1].endswith(",") and table[2].endswith(",True")
    again = run_batch(job, progress=False)
    assert again.made == 0 and kept_files(job.output) == [job.output / "01-t1-plain-002.mid"]
    assert (job.output / "manifest.csv").read_text().splitlines() == table


def test_keep_in_a_folder_collected_by_hand(tmp_path: Path) -> None:
    hand = tmp_path / "liked"
    hand.mkdir()
    (hand / "tune.mid").write_bytes((DATA / "jig_6_8.mid").read_bytes())
    assert keep(hand / "tune.mid") == [hand / "manifest.json"]
    assert kept_files(hand) == [hand / "tune.mid"]
    with pytest.raises(FeedbackError, match=r"no manifest\.json"):
        kept_files(tmp_path)
    with pytest.raises(FeedbackError, match="no such file"):
        keep(hand / "missing.mid")
