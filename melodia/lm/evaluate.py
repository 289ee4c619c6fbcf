"""Likelihood of pieces under a model: NLL in nats, nats per token, bits per note, perplexity.

A piece's NLL is the sum over its tokens after BOS of -ln p(token | all before it),
EOS included, so it is the log-probability of the whole sequence.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from melodia.errors import MelodiaError
from melodia.lm.model import MelodyLM
from melodia.lm.ngram import KneserNey
from melodia.score import Score
from melodia.tokenizers import Tokenizer
from melodia.tokenizers.grid import QuantizedScore


@dataclass(frozen=True)
class PieceScore:
    """How well a model predicts one piece."""

    name: str
    nll: float  # nats, the whole piece
    tokens: int  # tokens predicted (all after BOS)
    notes: int

    @property
    def nats_per_token(self) -> float:
        return self.nll / max(self.tokens, 1)

    @property
    def bits_per_note(self) -> float:
        return self.nll / math.log(2) / max(self.notes, 1)

    @property
    def perplexity(self) -> float:
        return math.exp(min(self.nats_per_token, 700.0))

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "nll": self.nll, "tokens": self.tokens, "notes": self.notes,
                "nats_per_token": self.nats_per_token, "bits_per_note": self.bits_per_note,
                "perplexity": self.perplexity}


def total(scores: Sequence[PieceScore], name: str = "total") -> PieceScore:
    return PieceScore(name, sum(s.nll for s in scores), sum(s.tokens for s in scores), sum(s.notes for s in scores))


def model_nll(model: MelodyLM, sequences: Sequence[np.ndarray], conditions: Sequence[np.ndarray] | None = None,
              batch_tokens: int = 65536) -> list[float]:
    """The NLL (nats) of each token sequence (BOS first) under `model`, in float64 sums.

    Pieces are run in padded batches of similar length; padding never touches a piece's score.
    """
    return [float(losses.sum()) for losses in token_nll(model, sequences, conditions, batch_tokens)]


@torch.no_grad()
def token_nll(model: MelodyLM, sequences: Sequence[np.ndarray], conditions: Sequence[np.ndarray] | None = None,
              batch_tokens: int = 65536) -> list[np.ndarray]:
    """-ln p(token | all before it) for every token of each sequence after BOS (float64 values of float32 losses)."""
    model.eval()
    device = next(model.parameters()).device
    order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
    result: list[np.ndarray] = [np.zeros(0)] * len(sequences)
    start = 0
    while start < len(order):
        end = start + 1  # the pieces are in rising length: the batch grows while its padded size fits
        while end < len(order) and (end - start + 1) * len(sequences[order[end]]) <= batch_tokens:
            end += 1
        batch = order[start:end]
        longest = len(sequences[batch[-1]])
        tokens = torch.zeros((len(batch), longest), dtype=torch.long)
        labels = None
        if conditions is not None and len(conditions[0]):
            labels = torch.stack([torch.as_tensor(conditions[i], dtype=torch.long) for i in batch])
        for row, index in enumerate(batch):
            tokens[row, :len(sequences[index])] = torch.as_tensor(sequences[index], dtype=torch.long)
        tokens = tokens.to(device)
        logits, _ = model(tokens[:, :-1], None, None if labels is None else labels.to(device))
        losses = nn.functional.cross_entropy(logits.float().transpose(1, 2), tokens[:, 1:], reduction="none")
        for row, index in enumerate(batch):
            result[index] = losses[row, :len(sequences[index]) - 1].double().cpu().numpy()
        start = end
    return result


def transposition_average_nll(model: MelodyLM | Sequence[MelodyLM], tokenizer: Tokenizer,
                              sequences: Sequence[np.ndarray], shifts: int,
                              conditions: Sequence[np.ndarray] | None = None, tempering: float = 1.0,
                              forgetting: float = 1.0, ngram: KneserNey | None = None,
                              ngram_weight: float = 0.0) -> list[float]:
    """NLL under a mixture of the model's readings of each piece transposed by s in -shifts..shifts
    (and, given several models, of every member's): see `component_log_probs` and `mixture_nll`.

    With `tempering` 1 this is q(x) = mean over s of p(x transposed by s); with shifts = 0 and one model
    it is the plain NLL. Given an `ngram` and an `ngram_weight` w > 0, the n-gram's reading of the piece
    is one more component, of prior weight w (the model's share 1 - w).
    """
    models = [model] if isinstance(model, MelodyLM) else list(model)
    rows = component_log_probs(models, tokenizer, sequences, shifts, conditions)
    if ngram is None or ngram_weight == 0.0:
        return [mixture_nll(piece_rows, tempering, forgetting) for piece_rows in rows]
    prior = ngram_prior(len(rows[0]), ngram_weight)
    return [mixture_nll(np.vstack([piece_rows, ngram.log_probs(tokens)]), tempering, forgetting, prior)
            for piece_rows, tokens in zip(rows, sequences)]


def ngram_prior(components: int, ngram_weight: float) -> list[float]:
    """The prior weights of `components` model components and an n-gram after them: `ngram_weight` for the
    n-gram, equal shares of the rest for the others."""
    return [(1.0 - ngram_weight) / components] * components + [ngram_weight]


def component_log_probs(models: Sequence[MelodyLM], tokenizer: Tokenizer, sequences: Sequence[np.ndarray],
                        shifts: int, conditions: Sequence[np.ndarray] | None = None) -> list[np.ndarray]:
    """For each piece, ln p(token | all before it) under every component, one row each (member by member,
    shifts -shifts..shifts in each), a column for every token after BOS.

    A transposition that takes a note out of the pitch range gives that note probability 0 (-inf), and the
    component takes no further part: its row is -inf from there on.
    """
    from melodia.corpus.dataset import PitchMap

    pitch_map = PitchMap(tokenizer)
    variants, labels, places = [], [], []
    for index, tokens in enumerate(sequences):
        tokens = np.asarray(tokens, dtype=np.int64)
        pitched = pitch_map.pitched(tokens)
        for shift in range(-shifts, shifts + 1):
            moved = pitch_map.transposed(tokens, pitched, shift)  # the tokens it can read
            variants.append(moved)
            places.append((index, shift + shifts, len(moved)))
            if conditions is not None:
                labels.append(conditions[index])
    width = 2 * shifts + 1
    rows = [np.full((len(models) * width, len(tokens) - 1), -np.inf) for tokens in sequences]
    for member, model in enumerate(models):
        nll = token_nll(model, variants, labels or None)
        for (index, row, end), values in zip(places, nll):
            rows[index][member * width + row, :end - 1] = -values[:end - 1]
    return rows


def mixture_nll(log_probs: np.ndarray, tempering: float = 1.0, forgetting: float = 1.0,
                prior: Sequence[float] | None = None) -> float:
    """The NLL of one piece under a mixture of components, from `component_log_probs`' rows.

    Each token's probability is a weighted mean of the components' probabilities for it, the weights
    proportional to each component's `prior` weight (equal by default) times its probability of the piece
    so far raised to `tempering`: 1 is the Bayesian mixture of whole pieces, 0 weighs every component still
    in range by its prior at every token. With `forgetting` g < 1 the piece so far counts token i, t - i
    tokens back, g ** (t - i - 1) times, so the weights follow the recent tokens. Every weight depends only
    on the tokens before, so the mixture is a proper distribution for any tempering and forgetting.
    """
    prior_log = (np.full(len(log_probs), -math.log(len(log_probs))) if prior is None
                 else np.log(np.asarray(prior, dtype=np.float64)))
    if tempering == 1.0 and forgetting == 1.0:  # the mixture of whole pieces, summed directly
        if prior is None:
            return float(-np.logaddexp.reduce(log_probs.sum(axis=1)) + math.log(len(log_probs)))
        return float(-np.logaddexp.reduce(prior_log + log_probs.sum(axis=1)))
    before = _evidence_before(log_probs, forgetting)
    alive = np.isfinite(before)
    scaled = np.where(alive, tempering * np.where(alive, before, 0.0) + prior_log[:, None], -np.inf)
    weights = scaled - np.logaddexp.reduce(scaled, axis=0)
    return float(-np.logaddexp.reduce(weights + log_probs, axis=0).sum())


def _evidence_before(log_probs: np.ndarray, forgetting: float) -> np.ndarray:
    """Each component's log-probability of the tokens before each token, older ones discounted by `forgetting`
    a token; -inf from the token after one it gave probability 0."""
    if forgetting == 1.0:
        running = np.cumsum(log_probs, axis=1)
    else:
        finite = np.where(np.isfinite(log_probs), log_probs, 0.0)
        running = np.empty_like(finite)
        carried = np.zeros(len(finite))
        for token in range(finite.shape[1]):
            carried = forgetting * carried + finite[:, token]
            running[:, token] = carried
        running = np.where(np.cumsum(~np.isfinite(log_probs), axis=1) > 0, -np.inf, running)
    return np.concatenate([np.zeros((len(log_probs), 1)), running[:, :-1]], axis=1)


# ---------------------------------------------------------------- the evaluate command


def evaluate(model_path: Path | Sequence[Path], inputs: Sequence[str], baseline: bool = False,
             transpositions: int = 0, tempering: float = 1.0, forgetting: float = 1.0,
             ngram_weight: float = 0.0, say: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Score every input piece with the model (and an n-gram baseline); a JSON-ready report.

    Given several model files (members trained alike, with the same tokens), the figure is that of
    their mixture. With `transpositions` k > 0 it is that of the mixture over transpositions by
    -k..k semitones, weighted by `tempering` and `forgetting` (see `mixture_nll`); with `ngram_weight`
    w > 0 the baseline n-gram is one more component of the mixture, of prior weight w. `say`, when given,
    is told in a line what takes long (fitting the n-gram) before it starts.
    """
    if not 0.0 <= tempering <= 1.0:
        raise EvaluateError(f"tempering {tempering}: expected a number from 0 to 1")
    if not 0.0 < forgetting <= 1.0:
        raise EvaluateError(f"forgetting {forgetting}: expected a number above 0, at most 1")
    if not 0.0 <= ngram_weight < 1.0:
        raise EvaluateError(f"n-gram weight {ngram_weight}: expected a number from 0 to below 1")
    paths = [model_path] if isinstance(model_path, (str, Path)) else list(model_path)
    members = _members(paths)
    model, tokenizer, training = members[0]
    pieces, skipped = _collect(inputs, tokenizer)
    if not pieces:
        raise EvaluateError(f"no piece to evaluate among {', '.join(inputs)}")
    names = list(model.config.conditions)
    labels = [np.asarray([_condition_id(model.config.conditions[n], piece[3].get(n, "")) for n in names],
                         dtype=np.int64) for piece in pieces] if names else None
    fitted = _training_ngram(training, tokenizer, say or (lambda line: None)) if baseline or ngram_weight else None
    # One torch thread, as sampling and fine-tuning: more only wait on each other on a busy machine (2 files under
    # the default model took 8.5-11.8 s on 2 threads of a busy 2-core machine, 0.5 s on 1).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        nll = transposition_average_nll([member[0] for member in members], tokenizer, [piece[1] for piece in pieces],
                                        transpositions, labels, tempering, forgetting,
                                        fitted[0] if fitted else None, ngram_weight)
    finally:
        torch.set_num_threads(threads)
    scores = [PieceScore(name, value, len(tokens) - 1, notes) for (name, tokens, notes, _), value in zip(pieces, nll)]
    report: dict[str, Any] = {"model": " + ".join(str(path) for path in paths), "corpus": training.get("corpus"),
                              "skipped": skipped, "transpositions": transpositions, "tempering": tempering,
                              "forgetting": forgetting, "ngram_weight": ngram_weight,
                              "pieces": [s.as_dict() for s in scores], "total": total(scores).as_dict()}
    if baseline and fitted:
        report["baseline"] = _baseline(fitted, training, pieces)
    return report


class EvaluateError(MelodiaError):
    """Nothing to evaluate, or a corpus that does not match the model."""


def _members(paths: Sequence[Path]) -> list[tuple[MelodyLM, Tokenizer, dict[str, Any]]]:
    """The model files of one mixture, which must read the same tokens with the same conditions."""
    from melodia.lm.modelfile import load_model

    members = [load_model(path) for path in paths]
    first, tokenizer, _ = members[0]
    for path, (model, other, _) in zip(paths[1:], members[1:]):
        if other.config != tokenizer.config or model.config.conditions != first.config.conditions:
            raise EvaluateError(f"{path}: its tokens or conditions differ from those of {paths[0]}; the members of "
                                "a mixture must share them")
    return members


def _condition_id(values: list[str], label: str) -> int:
    return values.index(label) if label in values else 0


def _collect(inputs: Sequence[str], tokenizer: Tokenizer) -> tuple[list[tuple[str, np.ndarray, int, dict[str, str]]],
                                                                   list[str]]:
    """(name, tokens, notes, condition labels) of every input piece, and the inputs that could not be read."""
    from melodia.io import music_files, read_score

    pieces, skipped = [], []
    for item in inputs:
        if item.startswith("corpus:"):
            pieces += _corpus_pieces(item, tokenizer)
            continue
        for file in music_files(item):
            try:
                score = read_score(file)
                quantized = tokenizer.grid.quantize(score)
                tokens = tokenizer.encode_quantized(quantized)
            except MelodiaError as error:
                skipped.append(str(error))
                continue
            pieces.append((str(file), tokens, len(quantized.onset), _labels(score, quantized)))
    return pieces, skipped


def _corpus_pieces(item: str, tokenizer: Tokenizer) -> list[tuple[str, np.ndarray, int, dict[str, str]]]:
    from melodia.corpus.reader import Corpus

    parts = item.split(":")
    if len(parts) != 3:
        raise EvaluateError(f"{item}: expected corpus:NAME:SPLIT, for example corpus:folk:test")
    corpus = Corpus.open(parts[1])
    if not corpus.tokenizer.config.encodes_like(tokenizer.config):
        raise EvaluateError(f"{item}: the corpus was tokenized with other settings than the model's tokenizer")
    return [(piece["id"], corpus.piece_tokens(piece).astype(np.int64), piece["notes"],
             {"meter": piece["meter"], "mode": piece["key"].split()[-1], "collection": piece["collection"]})
            for piece in corpus.split(parts[2])]


def _labels(score: Score, quantized: QuantizedScore) -> dict[str, str]:
    from melodia.analysis import estimate_key

    if score.key_signatures:
        mode = score.key_signatures[0].mode
    else:
        mode = estimate_key(quantized.pitch, quantized.duration)[1]
    numerator, denominator = quantized.meters[0][1:]
    return {"meter": f"{numerator}/{denominator}", "mode": mode, "collection": "unknown"}


def _training_ngram(training: dict[str, Any], tokenizer: Tokenizer,
                    say: Callable[[str], None]) -> tuple[KneserNey, dict[int, float], str, str]:
    """The n-gram fitted on the model's training split, its order chosen on the valid split (once: the order is
    kept in the cache by the corpus's content, so later runs fit that order alone); with the valid figures of
    each order, the corpus's name and its content hash."""
    from melodia.corpus.reader import Corpus
    from melodia.lm.ngram import choose_order

    name = training.get("corpus")
    if not name:
        raise EvaluateError("the model file does not name its training corpus; no n-gram possible")
    corpus = Corpus.open(name)
    if not corpus.tokenizer.config.encodes_like(tokenizer.config):
        raise EvaluateError(f"corpus {name} is now tokenized differently from the model; rebuild it as trained")
    train = [corpus.piece_tokens(p) for p in corpus.split("train")]
    valid = [corpus.piece_tokens(p) for p in corpus.split("valid")] or train[-max(1, len(train) // 20):]
    content = corpus.content_hash()
    kept = _kept_order(name, content, len(tokenizer))
    size = f"{len(train):,} pieces, {sum(len(t) for t in train):,} tokens"
    if kept:
        say(f"fitting the {kept[0]}-gram baseline on corpus {name}'s train split ({size}; the order chosen before)")
        return KneserNey(kept[0], len(tokenizer)).fit(train), kept[1], name, content
    say(f"fitting n-gram baselines on corpus {name}'s train split ({size}) to choose the order on its valid "
        f"split: once, the order is then kept in {_order_file(name, content, len(tokenizer)).parent}")
    ngram, by_order = choose_order(train, valid, len(tokenizer))
    _keep_order(name, content, len(tokenizer), ngram.order, by_order)
    return ngram, by_order, name, content


def _baseline(fitted: tuple[KneserNey, dict[int, float], str, str], training: dict[str, Any],
              pieces: list[tuple[str, np.ndarray, int, dict[str, str]]]) -> dict[str, Any]:
    """The report of the n-gram alone on every piece."""
    ngram, by_order, name, content = fitted
    scores = [PieceScore(piece, ngram.nll(tokens), len(tokens) - 1, notes) for piece, tokens, notes, _ in pieces]
    return {"kind": "interpolated Kneser-Ney", "order": ngram.order, "corpus": name,
            "corpus_matches_model": content == training.get("corpus_hash"),
            "valid_nats_per_token_by_order": by_order, "pieces": [s.as_dict() for s in scores],
            "total": total(scores).as_dict()}


def _order_file(corpus: str, content: str, vocab_size: int) -> Path:
    from melodia.resources import cache_root

    return cache_root() / "ngram" / f"{corpus}-{content[:16]}-{vocab_size}.json"


def _kept_order(corpus: str, content: str, vocab_size: int) -> tuple[int, dict[int, float]] | None:
    """The n-gram order chosen before for this corpus content and vocabulary, and the valid figures it was
    chosen by; None when there is none (or the file cannot be read: the order is chosen again)."""
    try:
        kept = json.loads(_order_file(corpus, content, vocab_size).read_text(encoding="utf-8"))
        return int(kept["order"]), {int(k): float(v) for k, v in kept["valid_nats_per_token_by_order"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _keep_order(corpus: str, content: str, vocab_size: int, order: int, by_order: dict[int, float]) -> None:
    from melodia.io.atomic import atomic_write_text

    path = _order_file(corpus, content, vocab_size)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps({"order": order, "valid_nats_per_token_by_order": by_order}))


def format_scores(report: dict[str, Any]) -> str:
    """The evaluate report as a table: one row per piece, then the total (and the baseline's)."""
    base = {p["name"]: p for p in report["baseline"]["pieces"]} if "baseline" in report else {}
    header = f"{'piece':40}{'tokens':>8}{'notes':>7}{'NLL nats':>12}{'nats/tok':>10}{'bits/note':>10}{'ppl':>8}"
    lines = [f"model {report['model']} (trained on {report['corpus']})", header + ("  n-gram NLL" if base else "")]
    for row in [*report["pieces"], report["total"]]:
        line = (f"{row['name'][-40:]:40}{row['tokens']:>8}{row['notes']:>7}{row['nll']:>12.2f}"
                f"{row['nats_per_token']:>10.4f}{row['bits_per_note']:>10.3f}{row['perplexity']:>8.3f}")
        if base:
            reference = report["baseline"]["total"] if row is report["total"] else base[row["name"]]
            line += f"{reference['nll']:>12.2f}"
        lines.append(line)
    if base:
        baseline = report["baseline"]
        ratio = report["total"]["nll"] / baseline["total"]["nll"]
        lines.append(f"baseline: {baseline['kind']} of order {baseline['order']} (chosen on {baseline['corpus']} "
                     f"valid), total NLL {baseline['total']['nll']:.2f} nats; """
                     f"{'mixture' if report.get('ngram_weight') else 'model'} / n-gram = {ratio:.3f}")
    forgetting = f", forgetting {report['forgetting']:g}" if report.get("forgetting", 1.0) != 1.0 else ""
    if report.get("transpositions"):
        lines.append(f"the model's figures are its mixture over transpositions by -{report['transpositions']}.."
                     f"{report['transpositions']} semitones (tempering {report['tempering']:g}{forgetting})")
    elif forgetting:
        lines.append(f"the mixture's weights: tempering {report['tempering']:g}{forgetting}")
    if report.get("ngram_weight"):
        lines.append(f"mixed with the n-gram fitted on the model's training split, of prior weight "
                     f"{report['ngram_weight']:g}")
    lines += [f"skipped: {reason}" for reason in report["skipped"]]
    return "\n".join(lines)
