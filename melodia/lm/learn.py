"""Learn what one listener likes from what they kept, discarded and rated: a personal model.

    melodia learn --from default --feedback melodia-kept/ -o mine.safetensors
    melodia generate --model mine.safetensors --seed "D4 E4 F#4/8 G4/8 A4/2 key=D meter=6/8"

or `melodia.lm.learn.learn("default", [Path("melodia-kept")], Path("mine.safetensors"))`.

The marks come from the manifests of the feedback folders (`melodia.feedback`): each marked
melody gets a liking, 1 for kept, 0 for discarded, (rating - 1) / 4 for a rating (a rating wins
over a keep mark). A dozen marks are few, so they teach through a taste model (`melodia.lm.taste`: a
logistic model on what a listener hears, cautious while the marks are few), which judges 96
melodies drawn from the starting model with the seeds and constraints the marked melodies were
made with (their manifests record them; else their opening bar and length). Each drawn melody is
liked as much as the taste model says, and the objective (`objective="rwr"`, reward-weighted) raises
the per-token log-likelihood of each drawn melody by how much more than the mean it is liked (those
liked less are not pushed down: unbounded, that made tokens nearly impossible and held-out folk NLL
rose 57-fold). Beside it: a small supervised term (the per-token NLL of the kept
melodies and of the files of `--folder`), and an anchor, the per-token KL divergence from the
starting model on every melody of the batch and on 48 melodies the anchor model writes from one
note in six keys and meters (free of form and scale), so that the personal model keeps its ear and
variety beyond the user's seed.
`objective="dpo"` (or `"ipo"`) takes DPO's (IPO's) loss on pairs instead, every two melodies liked
0.2 or more apart, the starting model as the frozen reference: for a pair (w, l),
-log sigmoid(beta * ((log p(w) - log ref(w)) - (log p(l) - log ref(l)))) on whole-sequence
log-likelihoods. scripts/bench_feedback.py measures them with simulated listeners. Learnt again
from the personal model of the last round, the melodies are drawn where the user now is: each
round is a step of policy improvement. The anchor of every round is the model the first round
started from (the record's `learned.anchor`), so that the rounds cannot drift away from it one small
step at a time (in a first full benchmark run anchored to each round's own start, one listener's
share kept fell from 61 % to 11 % in the fifth round).

Only the output layer learns, by a low-rank change (rank 16 of the bottleneck from the LSTM to the
embedding width, with its bias and the output bias): the recurrent layers and the embedding stay the
starting model's, so the LSTM's states and the starting model's logits are computed once and each of
the 40 steps is a few small matrix products (a round's update, drawing included, takes seconds on one
CPU thread). The change is merged into the weights and written as a whole model file in the base's
precision (4.6 MB for the default), which every command reads; its record names the starting model
and counts the marks.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from melodia.errors import MelodiaError

OBJECTIVES = ("dpo", "ipo", "rwr")
MAX_TOKENS = 512  # a melody or a window of a user's file longer than this is cut (the LSTM's states are kept)
FOLDER_WINDOWS = 64  # at most this many windows of the user's own files enter the supervised term
FREE_SEEDS = ("C4 key=C meter=4/4", "G4 key=G meter=3/4", "D4 key=D meter=6/8", "A4 key=Am meter=4/4",
              "E4 key=Em meter=2/4", "F4 key=F meter=6/8")
MAX_REQUESTS = 4  # the latest distinct seeds (and constraints) of the marked melodies that melodies are drawn from


class LearnError(MelodiaError):
    """Feedback that cannot be learnt from, or a learning setting outside what is accepted."""


@dataclass(frozen=True)
class LearnSettings:
    """How a personal model learns.

    Attributes:
        objective: "dpo", "ipo" or "rwr" (see the module's docstring).
        steps: full-batch Adam steps.
        lr: Adam's learning rate.
        beta: DPO's inverse temperature on log-likelihood ratios (IPO: its margin is 1 / (2 beta)).
        supervised: weight of the per-token NLL of the liked melodies and the user's files.
        anchor: weight of the per-token KL divergence from the reference model.
        drawn: melodies drawn from the starting model and judged by the taste model fitted on the marks (0: none).
        top: 0 (graded): each drawn melody is liked as much as the taste model says; else the share of them it
            likes best that count as liked (the lower half as not liked, the rest only anchor).
        caution: the taste model's L2 penalty: the fewer the marks, the closer to indifferent it stays.
        strength: weight of the reward-weighted term ("rwr") against the anchor.
        marks_weighted: the reward-weighted term on the marked melodies too (by default only on the drawn ones,
            when there are).
        free: pieces the anchor model writes from nothing, held near it by the anchor beside the user's melodies.
        rank: rank of the change of the output layer's weights (0: only its biases change).
    """

    objective: str = "rwr"
    steps: int = 40
    lr: float = 0.01
    beta: float = 0.1
    supervised: float = 0.2
    anchor: float = 1.0
    drawn: int = 96
    top: float = 0.0
    caution: float = 4.0
    strength: float = 6.0
    marks_weighted: bool = False
    free: int = 48
    rank: int = 16

    def __post_init__(self) -> None:
        checks = [("objective", self.objective in OBJECTIVES, " or ".join(OBJECTIVES)),
                  ("steps", isinstance(self.steps, int) and 1 <= self.steps <= 10_000, "1..10000"),
                  ("lr", 0 < self.lr <= 1, "in (0, 1]"), ("beta", self.beta > 0, "> 0"),
                  ("supervised", self.supervised >= 0, ">= 0"), ("anchor", self.anchor >= 0, ">= 0"),
                  ("drawn", isinstance(self.drawn, int) and 0 <= self.drawn <= 1000, "0..1000"),
                  ("top", 0 <= self.top <= 0.5, "0..0.5"), ("caution", self.caution >= 0, ">= 0"),
                  ("strength", self.strength > 0, "> 0"),
                  ("free", isinstance(self.free, int) and 0 <= self.free <= 1000, "0..1000"),
                  ("rank", isinstance(self.rank, int) and 0 <= self.rank <= 256, "0..256")]
        for name, ok, accepted in checks:
            if not ok:
                raise LearnError(f"learn setting {name} = {getattr(self, name)!r}: expected {accepted}")

    def with_overrides(self, pairs: Sequence[str]) -> LearnSettings:
        """These settings with `name=value` pairs applied (`--set beta=0.2`)."""
        from dataclasses import fields

        kinds = {spec.name: type(getattr(self, spec.name)) for spec in fields(self)}
        values: dict[str, Any] = {}
        for pair in pairs:
            name, _, text = pair.partition("=")
            name = name.strip()
            if name not in kinds or not text.strip():
                raise LearnError(f"--set {pair!r}: expected NAME=VALUE with NAME one of {', '.join(kinds)}")
            try:
                values[name] = _boolean(text) if kinds[name] is bool else kinds[name](text.strip())
            except ValueError:
                raise LearnError(f"--set {pair!r}: {name} takes a {kinds[name].__name__}") from None
        return LearnSettings(**{**asdict(self), **values})


def _boolean(text: str) -> bool:
    if text.strip().lower() not in ("true", "false"):
        raise ValueError(text)
    return text.strip().lower() == "true"


@dataclass(frozen=True)
class Liked:
    """A melody (its tokens) and how much it was liked, 0 to 1 (None: a user's own file, liked as such, or a
    drawn melody the taste model was unsure of)."""

    name: str
    tokens: Any  # np.ndarray of token ids, BOS first
    liking: float | None
    score: Any = None  # the Score of a marked or drawn melody
    request: Any = None  # the `Request` that made it, or that would make its like
    kind: str = "marked"  # "marked", "own" (a file of the user's folder) or "drawn"


@dataclass(frozen=True)
class Request:
    """A seed, constraints and controls that the marked melodies came from: more melodies like them are drawn
    from it."""

    seed: Any  # note text or a Score
    constraints: Any
    seed_end_tick: int
    controls: Any = None


# ---------------------------------------------------------------- the marks


def liking(keep: bool | None, rating: int | None) -> float | None:
    """A mark as a liking in 0..1: a rating (1 -> 0, 5 -> 1) over a keep mark (kept 1, discarded 0)."""
    if rating is not None:
        return (rating - 1) / 4
    return None if keep is None else float(keep)


def marked_melodies(tokenizer: Any, feedback: Sequence[Path]) -> list[Liked]:
    """The marked melodies of the `feedback` folders, tokenized by the model's tokenizer.

    Raises:
        LearnError: a folder without marks, or a marked file that cannot be read or encoded.
    """
    from melodia.feedback import FeedbackError, marks

    melodies = []
    for folder in feedback:
        try:
            found = marks(folder)
        except FeedbackError as error:
            raise LearnError(str(error)) from None
        if not found:
            raise LearnError(f"{folder}: no melody is marked; mark some with: melodia keep {folder}/001.mid, "
                             f"melodia discard {folder}/002.mid or melodia rate {folder}/003.mid 4")
        for mark in found:
            score = _read(mark.path)
            melodies.append(Liked(str(mark.path), _encode(tokenizer, score, mark.path),
                                  liking(mark.keep, mark.rating), score, request_of(score, mark.settings)))
    return melodies


def request_of(score: Any, settings: dict[str, Any] | None) -> Request:
    """The seed, constraints and controls a melody was made with, as its manifest records them
    (`settings_record`); for a melody without them, its opening bar and its length in bars."""
    from melodia.lm.constraints import Constraints
    from melodia.lm.finetune import opening
    from melodia.lm.generation import read_record, read_seed

    if settings and isinstance(settings.get("seed"), str) and isinstance(settings.get("constraints"), dict):
        try:
            seed = settings["seed"]
            constraints, controls = read_record(settings)
            return Request(seed, constraints, read_seed(seed)[0].end_tick, controls)
        except MelodiaError:
            pass  # a seed file that has gone, say: the melody's own opening serves
    seed = opening(score)
    return Request(seed, Constraints(bars=max(2, score.bar_count())), seed.end_tick)


def own_files(tokenizer: Any, folder: Path) -> list[Liked]:
    """The user's own files (MIDI, ABC, MusicXML), tokenized, in windows of `MAX_TOKENS` (at most
    `FOLDER_WINDOWS` of them).

    Raises:
        LearnError: not a folder, no music files in it, or a file that cannot be read or encoded.
    """
    from melodia.io import music_files

    if not Path(folder).is_dir():
        raise LearnError(f"{folder}: not a folder; --folder takes a folder of MIDI / ABC / MusicXML files")
    files = music_files(folder)
    if not files:
        raise LearnError(f"{folder}: holds no MIDI, ABC, MusicXML or Humdrum files")
    windows = []
    for path in files:
        tokens = _encode(tokenizer, _read(path), path, cut=False)
        windows += [Liked(str(path), tokens[start:start + MAX_TOKENS], None, kind="own")
                    for start in range(0, max(len(tokens) - 1, 1), MAX_TOKENS)]
    return windows[:FOLDER_WINDOWS]


def _read(path: Path) -> Any:
    from melodia.io import read_score

    try:
        return read_score(path)
    except MelodiaError as error:
        raise LearnError(f"{path}: cannot be learnt from ({str(error)[:160]}); unmark it or remove it") from None


def _encode(tokenizer: Any, score: Any, path: Path, cut: bool = True) -> Any:
    try:
        tokens = tokenizer.encode(score)
    except MelodiaError as error:
        raise LearnError(f"{path}: cannot be learnt from ({str(error)[:160]}); unmark it or remove it") from None
    if len(tokens) < 3:
        raise LearnError(f"{path}: holds no notes; unmark it or remove it")
    return tokens[:MAX_TOKENS] if cut else tokens


def preference_pairs(melodies: Sequence[Liked], gap: float = 0.2) -> list[tuple[int, int]]:
    """(liked more, liked less) for every two melodies whose likings differ by `gap` or more."""
    marked = [(index, m.liking) for index, m in enumerate(melodies) if m.liking is not None]
    return [(better, worse) for better, high in marked for worse, low in marked if high >= low + gap]


# ---------------------------------------------------------------- learning


def learn(base: str | Path, feedback: Sequence[Path], output: Path, folder: Path | None = None, *,
          settings: LearnSettings | None = None, random_seed: int = 0) -> dict[str, Any]:
    """Learn a personal model from the marks of the `feedback` folders (and the user's own files in `folder`)
    with `base` ("default" or a model file) as the starting point and the reference; write it to `output`;
    return its record.

    Raises:
        LearnError: no marks, nothing liked more than something else and no file to learn from, or a
            marked file that cannot be encoded.
    """
    from melodia.lm.modelfile import load_model, model_path, save_model

    settings = settings or LearnSettings()
    if not feedback and folder is None:
        raise LearnError("nothing to learn from: give --feedback DIR (a folder of marked melodies), --folder DIR, "
                         "or both")
    model, tokenizer, base_record = load_model(base)
    melodies = marked_melodies(tokenizer, feedback)
    mine = own_files(tokenizer, folder) if folder is not None else []
    pairs = preference_pairs(melodies)
    liked = [m for m in melodies if m.liking is not None and m.liking >= 0.5]
    if not pairs and not liked and not mine:
        raise LearnError(f"{', '.join(map(str, feedback))}: every marked melody is discarded or rated low; keep "
                         "(or rate 4-5) at least one to learn what you like")
    started = time.process_time()
    torch.manual_seed(random_seed)
    drawn = judged_drawings(model, tokenizer, melodies, settings, random_seed)
    everything = [*melodies, *drawn, *mine]
    pairs = preference_pairs(everything)
    anchor, anchor_model = anchor_of(base, base_record, model)
    everything += free_melodies(anchor_model or model, tokenizer, settings.free, random_seed)
    losses = fit_output_layer(model, everything, pairs, settings, anchor_model)
    seconds = time.process_time() - started
    half = bool(base_record.get("config", {}).get("half_weights"))
    kept = sum(m.liking is not None and m.liking >= 0.5 for m in melodies)
    record = {**base_record, "learned": {
        "base_model": str(base), "base_file": str(model_path(base)), "anchor": anchor,
        "feedback": [str(f) for f in feedback],
        "folder": str(folder) if folder else None, "marks": len(melodies), "liked": kept,
        "disliked": len(melodies) - kept, "pairs": len(pairs), "own_windows": len(mine), "drawn": len(drawn),
        "settings": asdict(settings), "loss_first": losses[0], "loss_last": losses[-1], "cpu_seconds": seconds}}
    save_model(output, model, tokenizer, record, half=half)
    return record


def free_melodies(model: Any, tokenizer: Any, count: int, random_seed: int = 0) -> list[Liked]:
    """`count` melodies the anchor model writes from one note in each of `FREE_SEEDS`' keys and meters, free of
    form and scale: the anchor holds the personal model near it on music of every kind, not only near the
    user's seed."""
    from melodia.lm.constraints import Constraints
    from melodia.lm.generation import generate

    melodies: list[Liked] = []
    for number, seed in enumerate(FREE_SEEDS):
        wanted = count * (number + 1) // len(FREE_SEEDS) - len(melodies)
        if wanted < 1:
            continue
        try:
            scores = generate((model, tokenizer), seed, wanted, Constraints(bars=8, form="none", scale="off"),
                              random_seed=random_seed * 100 + number)
        except MelodiaError:
            continue  # a model that cannot write this meter: the other seeds anchor
        melodies += [Liked(f"free {seed}", tokenizer.encode(score)[:MAX_TOKENS], None, kind="free")
                     for score in scores]
    return melodies


def anchor_of(base: str | Path, record: dict[str, Any], model: Any) -> tuple[str, Any]:
    """The model the anchor holds the personal model near, and its name: for a personal model, the model its
    first round started from (so that the rounds do not drift away from it one small step at a time), else
    the starting model itself (None). Only an anchor whose LSTM and embedding are the starting model's serves."""
    from melodia.lm.modelfile import ModelFileError, load_model

    name = record.get("learned", {}).get("anchor")
    if not isinstance(name, str) or name == str(base):
        return str(base), None
    try:
        anchor = load_model(name)[0]
    except ModelFileError:
        return str(base), None  # moved or gone: the starting model anchors
    ours, theirs = model.state_dict(), anchor.state_dict()
    shared = [key for key in ours if key.startswith(("rnn.", "embedding.", "condition_embeddings."))]
    if ours.keys() != theirs.keys() or not all(torch.equal(ours[key], theirs[key]) for key in shared):
        return str(base), None
    return name, anchor


def judged_drawings(model: Any, tokenizer: Any, melodies: Sequence[Liked], settings: LearnSettings,
                    random_seed: int = 0) -> list[Liked]:
    """`settings.drawn` melodies drawn by `model` from the requests the marked melodies came from, judged by a
    `TasteModel` fitted on the marks: the best `settings.top` of them liked, the lower half not (none when the
    marks do not differ)."""
    import numpy as np

    from melodia.lm.generation import generate
    from melodia.lm.taste import TasteModel, features

    marked = [m for m in melodies if m.liking is not None and m.score is not None]
    likings = [float(m.liking) for m in marked if m.liking is not None]
    if not settings.drawn or not likings or min(likings) == max(likings):
        return []
    taste = TasteModel.fit(np.stack([features(m.score, m.request.seed_end_tick) for m in marked]), likings,
                           settings.caution)
    requests = list({repr((m.request.seed, m.request.constraints, m.request.controls)): m.request
                     for m in reversed(marked)}.values())
    requests = requests[:MAX_REQUESTS]
    per_request = math.ceil(settings.drawn / len(requests))
    drawings = []
    for index, request in enumerate(requests):
        try:
            scores = generate((model, tokenizer), request.seed, per_request, request.constraints,
                              random_seed=random_seed * 1000 + index, controls=request.controls)
        except MelodiaError:
            continue  # a request the constraints cannot meet now: the others still draw
        drawings += [(score, request) for score in scores]
    if not drawings:
        return []
    predicted = taste(np.stack([features(score, request.seed_end_tick) for score, request in drawings]))
    if settings.top == 0:  # graded: the taste model's own liking, as sure as the marks make it
        judged: list[float | None] = [float(p) for p in predicted]
    else:
        ranks = np.argsort(np.argsort(-predicted))
        liked_count, disliked_from = round(settings.top * len(drawings)), len(drawings) // 2
        judged = [1.0 if rank < liked_count else 0.0 if rank >= disliked_from else None for rank in ranks]
    return [Liked(f"drawn {number}", tokenizer.encode(score)[:MAX_TOKENS], liking, score, request, "drawn")
            for number, ((score, request), liking) in enumerate(zip(drawings, judged))]


def fit_output_layer(model: Any, melodies: Sequence[Liked], pairs: Sequence[tuple[int, int]],
                     settings: LearnSettings, anchor: Any = None) -> list[float]:
    """Train a low-rank change of `model`'s output layer on `melodies` against the model as it was (the
    reference of the pairs) and near `anchor` (a model with the same LSTM; None: the model as it was), and
    merge it into the model's weights; the loss of each step."""
    batch = Batch.of(model, melodies)
    adapter = Adapter(model, settings.rank)
    optimizer = torch.optim.Adam(adapter.parameters(), lr=settings.lr)
    held = batch.reference if anchor is None else torch.log_softmax(batch.output_logits(anchor), dim=-1)
    objective = Objective(settings, melodies, pairs, held, batch.sequence_sums(batch.reference))
    losses = []
    for _ in range(settings.steps):
        optimizer.zero_grad()
        loss = objective(batch, torch.log_softmax(batch.logits + adapter(batch.states), dim=-1))
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    adapter.merge(model)
    return losses


class Adapter(nn.Module):
    """A low-rank change of the output layer: the bottleneck's weights + A B^T (rank `rank`), its bias + b, and
    the output bias + c. Its logits are computed through the (tied) output weights without forming the sum."""

    def __init__(self, model: Any, rank: int) -> None:
        super().__init__()
        self.output_weight = model.decoder.weight.detach()  # vocabulary x output width
        width = self.output_weight.shape[1]
        self.low_rank = model.bottleneck is not None and rank > 0
        inner = model.bottleneck.weight.shape[1] if model.bottleneck is not None else width
        generator = torch.Generator().manual_seed(0)
        self.down = torch.nn.Parameter(torch.randn(inner, max(rank, 1), generator=generator) / math.sqrt(inner))
        self.up = torch.nn.Parameter(torch.zeros(width, max(rank, 1)))
        self.width_bias = torch.nn.Parameter(torch.zeros(width))
        self.output_bias = torch.nn.Parameter(torch.zeros(self.output_weight.shape[0]))
        self.down.requires_grad_(self.low_rank)
        self.up.requires_grad_(self.low_rank)
        self.width_bias.requires_grad_(model.bottleneck is not None)

    def forward(self, states: Any) -> Any:
        """The change of the logits for the LSTM's last-layer `states` (melodies, positions, hidden)."""
        change = self.output_weight @ self.width_bias + self.output_bias
        if self.low_rank:
            change = (states @ self.down) @ (self.output_weight @ self.up).T + change
        return change

    def merge(self, model: Any) -> None:
        """Add the change to `model`'s own weights."""
        with torch.no_grad():
            if model.bottleneck is not None:
                if self.low_rank:
                    model.bottleneck.weight += self.up @ self.down.T
                model.bottleneck.bias += self.width_bias
            model.decoder.bias += self.output_bias


class Batch:
    """Melodies padded into one batch, with the model's last-layer LSTM states, logits and log-probabilities
    for them (computed once: only the output layer changes)."""

    def __init__(self, tokens: Any, lengths: Any, states: Any, logits: Any) -> None:
        self.tokens, self.lengths, self.states, self.logits = tokens, lengths, states, logits
        self.reference = torch.log_softmax(logits, dim=-1) if logits.numel() else logits
        self.mask = (torch.arange(tokens.shape[1] - 1)[None, :] < (lengths[:, None] - 1)).float()

    @classmethod
    def of(cls, model: Any, melodies: Sequence[Liked]) -> Batch:
        lengths = torch.tensor([len(m.tokens) for m in melodies])
        tokens = torch.zeros((len(melodies), int(lengths.max())), dtype=torch.long)
        for row, melody in enumerate(melodies):
            tokens[row, :len(melody.tokens)] = torch.as_tensor(melody.tokens, dtype=torch.long)
        model.eval()
        with torch.no_grad():
            embedded = model.embedding(tokens[:, :-1])
            for table in model.condition_embeddings:  # every condition "unknown", as when sampling without controls
                embedded = embedded + table.weight[0]
            states, _ = model.rnn(embedded)
        batch = cls(tokens, lengths, states, torch.zeros(0))
        batch.logits = batch.output_logits(model)
        batch.reference = torch.log_softmax(batch.logits, dim=-1)
        return batch

    def output_logits(self, model: Any) -> Any:
        """The logits of `model`'s output layer on these LSTM states."""
        with torch.no_grad():
            output = self.states if model.bottleneck is None else model.bottleneck(self.states)
            return model.decoder(output)

    def sequence_sums(self, log_probabilities: Any) -> Any:
        """Each melody's log-likelihood (nats), the sum over its tokens."""
        chosen = log_probabilities.gather(2, self.tokens[:, 1:, None]).squeeze(2)
        return (chosen * self.mask).sum(1)


class Objective:
    """The preference loss, the supervised term and the anchor, over one `Batch`."""

    def __init__(self, settings: LearnSettings, melodies: Sequence[Liked], pairs: Sequence[tuple[int, int]],
                 anchor: Any, reference_sums: Any) -> None:
        self.settings, self.reference_sums = settings, reference_sums
        self.reference_probabilities = anchor.exp()
        self.reference_entropy = -(self.reference_probabilities * anchor).sum(-1)
        self.better = torch.tensor([p[0] for p in pairs], dtype=torch.long)
        self.worse = torch.tensor([p[1] for p in pairs], dtype=torch.long)
        self.supervised_rows = torch.tensor([m.kind == "own" or (m.kind == "marked" and m.liking is not None
                                                                 and m.liking >= 0.5) for m in melodies])
        # the reward-weighted term: on the drawn melodies when there are (drawn from the model as it is, they say
        # where it should go next; the marks spoke through the taste model), else on the marks
        weighted = [m.kind == "drawn" and m.liking is not None for m in melodies]
        if not any(weighted) or settings.marks_weighted:
            weighted = [m.liking is not None for m in melodies]
        likings = [float(m.liking) for m, w in zip(melodies, weighted) if w and m.liking is not None]
        mean = sum(likings) / len(likings) if likings else 0.0
        # only the melodies liked more than the mean are raised (a bounded objective): lowering the others
        # without bound made some tokens nearly impossible, and held-out folk NLL rose 57-fold in a bench run
        self.advantage = torch.tensor([max(float(m.liking) - mean, 0.0) if w and m.liking is not None else 0.0
                                       for m, w in zip(melodies, weighted)])

    def __call__(self, batch: Batch, log_probabilities: Any) -> Any:
        settings = self.settings
        sums = batch.sequence_sums(log_probabilities)
        tokens = batch.mask.sum(1)
        loss = settings.anchor * self.kl(batch, log_probabilities)
        if settings.supervised and bool(self.supervised_rows.any()):
            rows = self.supervised_rows
            loss = loss - settings.supervised * sums[rows].sum() / tokens[rows].sum()
        if settings.objective == "rwr":  # how much more than the mean each melody is liked, per token
            rated = max(1, int((self.advantage != 0).sum()))
            return loss - (self.advantage * sums / tokens).sum() / rated * settings.strength
        if len(self.better):
            ratio = sums - self.reference_sums
            margin = ratio[self.better] - ratio[self.worse]
            if settings.objective == "dpo":
                loss = loss - torch.nn.functional.logsigmoid(settings.beta * margin).mean()
            else:
                loss = loss + ((margin - 1 / (2 * settings.beta)) ** 2).mean() * settings.beta ** 2
        return loss

    def kl(self, batch: Batch, log_probabilities: Any) -> Any:
        """KL(anchor || model) per token, averaged over every token of the batch."""
        per_token = -(self.reference_probabilities * log_probabilities).sum(-1) - self.reference_entropy
        return (per_token * batch.mask).sum() / batch.mask.sum()


def summary(record: dict[str, Any], output: Path) -> str:
    """The closing line of `melodia learn`."""
    learned = record["learned"]
    return (f"wrote {output}: learnt from {learned['marks']} marked melodies ({learned['liked']} liked, "
            f"{learned['disliked']} not; {learned['pairs']} pairs)"
            + (f" and {learned['own_windows']} windows of your files" if learned["own_windows"] else "")
            + f" with {learned['settings']['objective']} from {learned['base_model']} in "
            f"{learned['cpu_seconds']:.1f} CPU-s; loss {learned['loss_first']:.3f} -> {learned['loss_last']:.3f}")
