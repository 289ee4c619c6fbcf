"""Evaluation (melodia/lm/evaluate.py): likelihood of files and corpus splits, the transposition average."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from conftest import DATA
from helpers import cli, tiny_config

from melodia import Note, Score, Track
from melodia.corpus.reader import Corpus
from melodia.lm.evaluate import evaluate
from melodia.lm.modelfile import load_model
from melodia.lm.train import train


@pytest.fixture
def few_orders(monkeypatch: pytest.MonkeyPatch) -> None:
    """The n-gram baseline's order chosen among 2-6: the tiny corpus has no valid split, so every higher order
    scores better on the train tail that stands in for it and all 23 would be fitted (half a minute a test)."""
    import functools

    from melodia.lm import ngram

    monkeypatch.setattr(ngram, "choose_order", functools.partial(ngram.choose_order, orders=range(2, 7)))


@pytest.fixture(scope="module")
def tiny_model(tiny_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small model trained briefly on the tiny corpus, once for the tests that only score with it."""
    path = tmp_path_factory.mktemp("model") / "m.safetensors"
    train(tiny_config("epochs=1", "max_steps=40"), path, progress_bar=False)
    return path


def test_evaluate_files_equals_corpus_split(tiny_cache: Path, tiny_model: Path, few_orders: None) -> None:
    path = tiny_model
    report = evaluate(path, ["corpus:tiny:train"], baseline=True)
    total = report["total"]
    assert total["nll"] > 0 and total["tokens"] > 0
    assert total["nats_per_token"] == pytest.approx(total["nll"] / total["tokens"])
    assert total["bits_per_note"] == pytest.approx(total["nll"] / math.log(2) / total["notes"])
    assert report["baseline"]["order"] >= 2 and report["baseline"]["total"]["nll"] > 0
    one = Corpus.open("tiny").split("train")[0]
    result = cli("evaluate", "--model", str(path), str(DATA / "waltz_3_4.mid"), str(DATA / "not_midi.mid"), "--json",
                 cache=tiny_cache)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert len(data["pieces"]) == 1 and "not_midi.mid" in data["skipped"][0]
    assert one["tokens"] > 0


def test_transposition_average_is_a_proper_mixture(tiny_cache: Path, tiny_model: Path) -> None:
    from melodia.lm.evaluate import model_nll, transposition_average_nll

    model, tokenizer, _ = load_model(tiny_model)
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


def test_the_baseline_says_it_is_fitted_and_keeps_its_order_for_next_time(tiny_cache: Path, tmp_path: Path,
                                                                       few_orders: None) -> None:
    import shutil

    path = tmp_path / "m.safetensors"
    train(tiny_config("epochs=1"), path, progress_bar=False)
    shutil.rmtree(tiny_cache / "ngram", ignore_errors=True)
    said: list[str] = []
    first = evaluate(path, [str(DATA / "waltz_3_4.mid")], baseline=True, say=said.append)
    again = evaluate(path, [str(DATA / "waltz_3_4.mid")], baseline=True, say=said.append)
    assert len(said) == 2 and "to choose the order" in said[0] and "the order chosen before" in said[1]
    assert f"fitting the {first['baseline']['order']}-gram baseline on corpus tiny's train split" in said[1]
    assert len(list((tiny_cache / "ngram").glob("tiny-*.json"))) == 1
    assert again["baseline"] == first["baseline"]  # the same order, the same figures


def test_the_mixture_weighs_components_by_the_piece_so_far() -> None:
    from melodia.lm.evaluate import mixture_nll

    half, quarter = math.log(0.5), math.log(0.25)
    rows = np.array([[half] * 4, [quarter, quarter, -np.inf, -np.inf]])  # the second leaves the range at token 3
    # equal weights while both are in range (token 3 gets half of the first's 0.5), then only the first's
    assert mixture_nll(rows, 0.0) == pytest.approx(-2 * math.log(0.375) - math.log(0.25) - half)
    # tempering 1: the mean of the whole pieces' probabilities (the second's is 0)
    assert mixture_nll(rows, 1.0) == pytest.approx(-4 * half + math.log(2))
    # token by token, the posterior weights give the same as the whole pieces' mean
    assert mixture_nll(rows, 1.0 - 1e-12) == pytest.approx(mixture_nll(rows, 1.0))
    # in between, the weights follow the probabilities so far raised to the tempering
    b = 0.5
    second = np.array([0.5 ** b, 0.25 ** b]) / (0.5 ** b + 0.25 ** b)
    third = 0.25 ** b / (0.25 ** b + 0.0625 ** b)
    assert mixture_nll(rows, b) == pytest.approx(
        -math.log(0.375) - math.log(second @ [0.5, 0.25]) - math.log(third * 0.5) - half)


def test_forgetting_and_the_ngram_keep_the_mixture_a_proper_distribution(tiny_cache: Path, tiny_model: Path) -> None:
    from melodia.lm.evaluate import transposition_average_nll
    from melodia.lm.ngram import KneserNey

    model, tokenizer, _ = load_model(tiny_model)
    corpus = Corpus.open("tiny")
    pieces = [corpus.piece_tokens(p).astype(np.int64) for p in corpus.split("train")]
    ngram = KneserNey(3, len(tokenizer)).fit(pieces)
    prefix = pieces[0][:12]

    def nll(sequences: list[np.ndarray], shifts: int) -> list[float]:
        return transposition_average_nll(model, tokenizer, sequences, shifts, tempering=0.5, forgetting=0.9,
                                         ngram=ngram, ngram_weight=0.2)

    for shifts in (0, 2):
        before = nll([prefix], shifts)[0]
        after = np.array(nll([np.append(prefix, token) for token in range(len(tokenizer))], shifts))
        probabilities = np.exp(before - after)  # p(next token | prefix) for every token of the vocabulary
        assert (probabilities > 0).all()
        if shifts == 0:
            assert probabilities.sum() == pytest.approx(1.0, abs=1e-9)
        else:  # a transposed reading gives no probability to a note it would take out of range
            assert probabilities.sum() <= 1.0 + 1e-9
        assert nll([prefix], shifts)[0] == before  # a rerun gives the same figure to the last digit


def test_the_ngram_weight_mixes_the_baseline_into_the_model(tiny_cache: Path, tiny_model: Path) -> None:
    from melodia.lm.evaluate import EvaluateError

    inputs = [str(DATA / "waltz_3_4.mid"), str(DATA / "jig_6_8.mid")]
    alone = evaluate(tiny_model, inputs)
    mixed = evaluate(tiny_model, inputs, baseline=True, ngram_weight=0.2)
    assert mixed["ngram_weight"] == 0.2
    # tempering 1, no forgetting: each piece's probability is 0.8 p_model + 0.2 p_ngram
    for model_piece, ngram_piece, piece in zip(alone["pieces"], mixed["baseline"]["pieces"], mixed["pieces"]):
        assert piece["nll"] == pytest.approx(-np.logaddexp(math.log(0.8) - model_piece["nll"],
                                                           math.log(0.2) - ngram_piece["nll"]))
    with pytest.raises(EvaluateError, match=r"forgetting 0\.0: expected a number above 0, at most 1"):
        evaluate(tiny_model, inputs, forgetting=0.0)
    with pytest.raises(EvaluateError, match=r"n-gram weight 1\.0"):
        evaluate(tiny_model, inputs, ngram_weight=1.0)
