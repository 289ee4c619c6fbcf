"""Sampling token sequences from a model, masked by the tokenizer's grammar and by rules.

The sampler knows tokens and tensors, not files. Every step, each sequence's grammar
state gives the tokens that may come next, rules remove more, and only then are
temperature, top-k, top-p and the repetition control applied, so every sequence it
returns decodes and passes `check()`.
"""

from __future__ import annotations

import copy
import hashlib
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import ClassVar, TypeVar, cast

import numpy as np
import torch
from torch import nn

from melodia.errors import MelodiaError
from melodia.lm.model import MelodyLM, State
from melodia.tokenizers import EOS, GrammarState, Tokenizer

Rule = Callable[[GrammarState, np.ndarray], np.ndarray]  # a mask: (state, allowed mask) -> narrower mask
# a log-probability per token added to the logits: the same at every step, or one for the state reached
Bias = np.ndarray | Callable[[GrammarState], np.ndarray]
Progress = Callable[[int], None]  # called every step with how many sequences finished in it
Labels = Callable[[GrammarState], np.ndarray]  # the condition labels of the token just read, from the state
# the likeliest line is a monotone one, so beam search (only) discourages runs of one pitch:
MAX_RUN = 3  # a pitch sounds at most this many times in a row


class SamplingError(MelodiaError):
    """A sampling setting outside what is accepted."""


@dataclass(frozen=True)
class Biases:
    """The tuned nudges melodia adds to the model's log-probabilities (in nats) so that what was asked for is
    heard. Each was measured (docs/default-model.md, docs/folk-tunes.md, docs/controls.md); any may be overridden,
    as `SamplingConfig(biases=Biases(tonic_gravity=1.2))` or `--set tonic_gravity=1.2`, and 0 turns one off.

    Attributes:
        soft_outside: taken from a pitch outside the key's scale (the soft scale, `scale="soft"`).
        soft_raised: taken instead from a minor key's raised sixth and seventh, and the seed's own pitch classes.
        tonic_gravity: given to the tonic chord's pitches on a beat, so that the key is heard.
        chord_gravity: given to the pitches of the chord asked for (`Controls.chords`) on a strong beat.
        leading_pull: given to a minor key's leading note: the model, trained on folk tunes that are often
            modal, raises under 3 % of its sevenths, where real minor tunes of its corpus raise 16 %.
        approach_pull: taken per semitone beyond a step from the note after an infilled gap, near its end.
        running_pull: given to the running note's length of a dance tune asked for a steady density in a strict
            metre (an eighth for 8 notes a bar of 4/4, 6 of 6/8): reels run in eighths (86 % of their notes in
            Ryan's collection), where the model alone drew dotted pairs in bar after bar.
        stop_pull: given, in the closing bar of a strain whose form asks for a stop cadence (`FormPlan.stop`: a
            hornpipe's), to a note a beat long on each beat after the first, the closing note then free to fall on
            the last beat (`B2 d2 B2` after a dotted pair): it closes 80 % of the playings of Ryan's hornpipes and
            none of the model's alone.
        repeat_cost: lost in beam search by a repeated pitch, for each note of the run it extends.
    """

    soft_outside: float = 2.5
    soft_raised: float = 0.7
    tonic_gravity: float = 0.8
    chord_gravity: float = 2.6
    leading_pull: float = 2.6
    approach_pull: float = 0.6
    running_pull: float = 1.0
    stop_pull: float = 6.0
    repeat_cost: float = 1.0

    def __post_init__(self) -> None:
        for spec in fields(self):
            value = getattr(self, spec.name)
            if not (_number(value) and 0 <= value <= 20):
                raise SamplingError(f"bias {spec.name} = {value!r}: expected a number of nats from 0 to 20 "
                                    "(0 turns it off)")


@dataclass(frozen=True)
class SamplingConfig:
    """How tokens are drawn.

    Attributes:
        temperature: divides the logits; below 1 is safer, above 1 wilder.
        top_k: keep only the k likeliest allowed tokens (0 keeps all).
        top_p: keep the smallest set of likeliest tokens whose probability reaches p.
        repetition_penalty: divides the probability of a pitch used in the last
            `repetition_window` notes (1 turns it off).
        repetition_window: how many recent notes the penalty looks at.
        max_tokens: the longest sequence, seed included.
        beam_size: search for the likeliest continuations with this many beams instead of
            drawing at random (0 draws).
        branch_factor: how many tokens each beam tries per step.
        biases: the tuned nudges that make a key, chords and cadences heard (`Biases`).
    """

    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    repetition_penalty: float = 1.0
    repetition_window: int = 8
    max_tokens: int = 2048
    beam_size: int = 0
    branch_factor: int = 4
    biases: Biases = field(default_factory=Biases)

    def __post_init__(self) -> None:
        checks = [
            ("temperature", _number(self.temperature) and self.temperature > 0,
             "a number > 0 (0 is not greedy decoding; for the likeliest melodies use beam search, beam_size >= 1)"),
            ("top_k", _whole(self.top_k) and self.top_k >= 0, "a whole number >= 0 (0 keeps every token)"),
            ("top_p", _number(self.top_p) and 0 < self.top_p <= 1, "a number in (0, 1]"),
            ("repetition_penalty", _number(self.repetition_penalty) and self.repetition_penalty > 0,
             "a number > 0 (1 turns it off)"),
            ("repetition_window", _whole(self.repetition_window) and self.repetition_window >= 1,
             "a whole number >= 1"),
            ("max_tokens", _whole(self.max_tokens) and self.max_tokens >= 16, "a whole number >= 16"),
            ("beam_size", _whole(self.beam_size) and self.beam_size >= 0, "a whole number >= 0 (0 samples)"),
            ("branch_factor", _whole(self.branch_factor) and self.branch_factor >= 1, "a whole number >= 1")]
        for name, ok, accepted in checks:
            if not ok:
                raise SamplingError(f"sampling setting {name} = {getattr(self, name)!r}: expected {accepted}")


def _number(value: object) -> bool:
    """A real number, not a bool and not NaN (NaN fails every comparison, so ranges refuse it)."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _whole(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def filter_logits(logits: torch.Tensor, config: SamplingConfig) -> torch.Tensor:
    """Temperature, then top-k, then top-p, on (batch, vocab) logits (masked ones at -inf)."""
    logits = logits / max(config.temperature, 1e-6)
    if config.top_k > 0:
        kth = torch.topk(logits, min(config.top_k, logits.shape[-1]), dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if config.top_p < 1.0:
        ordered, order = torch.sort(logits, descending=True, dim=-1)
        cumulative = torch.softmax(ordered, dim=-1).cumsum(dim=-1)
        drop = cumulative - torch.softmax(ordered, dim=-1) > config.top_p  # keep the token that crosses p
        logits = logits.masked_fill(torch.zeros_like(drop).scatter(-1, order, drop), float("-inf"))
    return logits


@dataclass(frozen=True)
class Row:
    """One sequence to draw: its prompt (starting with BOS), the rules it keeps, the log-probability added
    to its logits (`Bias`), and its labels (`Labels`: every condition "unknown" when None)."""

    prompt: Sequence[int]
    rules: Sequence[Rule] = ()
    bias: Bias | None = None
    labels_of: Labels | None = None


@torch.no_grad()
def sample(model: MelodyLM, tokenizer: Tokenizer, prompt: Sequence[int], count: int, config: SamplingConfig,
           generator: torch.Generator, rules: Sequence[Rule] = (), bias: Bias | None = None,
           progress: Progress | None = None, labels_of: Labels | None = None) -> list[list[int]]:
    """`count` sequences that continue `prompt` (which starts with BOS), sampled as one batch.

    `bias`, a log-probability per token (or a function of the grammar state giving one), is added to
    the model's logits before the draws are shaped.
    `progress`, when given, is called every step with how many sequences finished in it.
    `labels_of`, when given, gives each token's condition labels from the grammar's state after it
    (see `melodia.lm.controls.Labeler`).
    """
    return sample_rows(model, tokenizer, [Row(prompt, rules, bias, labels_of)] * count, config, generator,
                       progress)


@torch.no_grad()
def sample_rows(model: MelodyLM, tokenizer: Tokenizer, rows: Sequence[Row], config: SamplingConfig,
                generator: torch.Generator, progress: Progress | None = None) -> list[list[int]]:
    """One sequence for each of `rows`, each continuing its own prompt under its own rules, sampled as one
    batch (rows with the same prompt and labels read it once)."""
    model.eval()
    device = next(model.parameters()).device
    count = len(rows)
    states = [tokenizer.new_state() for _ in rows]
    for state, row in zip(states, rows):
        for token in row.prompt:
            state.advance(int(token))
    sequences = [list(map(int, row.prompt)) for row in rows]
    reader = PromptReader.of(model)
    logits, carried = _run_prompts(reader, tokenizer, rows, device)
    labelled = any(row.labels_of is not None for row in rows)
    unknown = np.zeros(len(model.config.conditions), dtype=np.int64)
    labels = None
    stepper = Stepper.of(model) if Stepper.fits(model, count) else None
    pitch_tokens = tokenizer.pitch_ids()
    while True:
        alive = [i for i, state in enumerate(states) if not state.ended and len(sequences[i]) < config.max_tokens]
        if not alive:
            break
        masks = np.stack([_allowed(states[i], rows[i].rules) for i in alive])
        scores = (logits if len(alive) == count else logits[alive]).float()
        bias = _bias_of([rows[i] for i in alive], [states[i] for i in alive], len(tokenizer.vocab))
        if bias is not None:
            scores = scores + torch.from_numpy(bias).to(device)
        scores = scores.masked_fill(~torch.from_numpy(masks).to(device), float("-inf"))
        if config.repetition_penalty != 1.0:
            scores = _penalize(scores, [sequences[i] for i in alive], pitch_tokens, config)
        probabilities = torch.softmax(filter_logits(scores, config), dim=-1)
        drawn = torch.multinomial(probabilities.cpu(), 1, generator=generator).squeeze(1).tolist()
        next_tokens = [EOS] * count  # finished sequences are fed EOS; their output is never read
        for index, token in zip(alive, drawn):
            if token == EOS:  # a later prompt may go on from here
                _remember(reader, tokenizer, sequences[index], rows[index], logits[index:index + 1], carried, index)
            states[index].advance(token)
            sequences[index].append(token)
            next_tokens[index] = token
        if progress is not None:
            progress(sum(states[i].ended or len(sequences[i]) >= config.max_tokens for i in alive))
        step = torch.tensor(next_tokens, dtype=torch.long, device=device)
        if labelled:
            labels = torch.from_numpy(np.stack([
                row.labels_of(state) if row.labels_of is not None and not state.ended else unknown
                for row, state in zip(rows, states)])).to(device)
        if stepper is not None:
            logits, carried = stepper(step, carried, labels)
        else:
            output, carried = model(step.unsqueeze(1), carried, labels)
            logits = output[:, -1]
    return sequences


def _run_prompts(reader: PromptReader, tokenizer: Tokenizer, rows: Sequence[Row],
                 device: torch.device) -> tuple[torch.Tensor, State]:
    """The logits after each row's prompt and the state it leaves, each distinct prompt read once, from where
    it parts from a prompt read or drawn before (see `PromptReader`)."""
    read: dict[tuple[tuple[int, ...], int], tuple[torch.Tensor, State]] = {}
    for row in rows:
        key = (tuple(map(int, row.prompt)), id(row.labels_of))
        if key not in read:
            labels = None if row.labels_of is None else _prompt_labels(tokenizer, row.prompt, row.labels_of)
            read[key] = reader.read(key[0], labels, device)
    each = [read[tuple(map(int, row.prompt)), id(row.labels_of)] for row in rows]
    logits = torch.cat([row_logits for row_logits, _ in each])
    if isinstance(each[0][1], tuple):
        parts = zip(*(state for _, state in each))
        return logits, tuple(torch.cat(list(part), dim=1) for part in parts)
    return logits, torch.cat([state for _, state in each], dim=1)


class PromptReader:
    """Reads prompts through a model and keeps the state where each ends (and at the last multiple of `CHUNK`
    tokens before), and where each sampled sequence ended, so that a prompt that continues one read or drawn
    before (the same tokens with the same labels) is read only from there: a tune's later strains are drawn
    after the strains before them."""

    CHUNK = 64
    KEPT = 2048  # states kept, the least recently used dropped first (about 8 kB each for the default model)
    _made: ClassVar[weakref.WeakKeyDictionary[MelodyLM, tuple[int, PromptReader]]] = weakref.WeakKeyDictionary()

    @classmethod
    def of(cls, model: MelodyLM) -> PromptReader:
        """The reader of `model`, made anew (its states forgotten) when the weights have changed since."""
        return _kept_for(cls._made, model, cls)

    def __init__(self, model: MelodyLM) -> None:
        self.model = weakref.proxy(model)
        self.states: OrderedDict[bytes, tuple[torch.Tensor, State]] = OrderedDict()

    @staticmethod
    def keys(tokens: Sequence[int], labels: torch.Tensor | None) -> list[bytes]:
        """The key of each prefix of `tokens` with its `labels` (1, tokens, conditions): [k] for the first k + 1."""
        rows = np.asarray(tokens, dtype=np.int64)[:, None]
        if labels is not None:
            rows = np.concatenate([rows, labels[0].cpu().numpy().astype(np.int64)], axis=1)
        digest = hashlib.sha1(b"labelled" if labels is not None else b"unknown")
        keys = []
        for row in rows:
            digest.update(row.tobytes())
            keys.append(digest.copy().digest())
        return keys

    def remember(self, key: bytes, logits: torch.Tensor, state: State) -> None:
        """Keep the logits (1, vocab) and the state after the tokens of `key`."""
        self.states[key] = (logits, state)
        self.states.move_to_end(key)
        while len(self.states) > self.KEPT:
            self.states.popitem(last=False)

    def read(self, tokens: Sequence[int], labels: torch.Tensor | None,
             device: torch.device) -> tuple[torch.Tensor, State]:
        """The logits (1, vocab) after `tokens` with their `labels` (1, tokens, conditions) and the state they
        leave."""
        keys = self.keys(tokens, labels)
        begin = next((end for end in range(len(keys), 0, -1) if keys[end - 1] in self.states), 0)
        logits, state = self.states[keys[begin - 1]] if begin else (None, None)
        # at most two calls (each call has a cost of its own): to the last chunk's start, then to the end
        for end in sorted({len(tokens) - 1 - (len(tokens) - 1) % self.CHUNK, len(tokens)}):
            if end <= begin:
                continue
            chunk = torch.tensor([list(map(int, tokens[begin:end]))], dtype=torch.long, device=device)
            output, state = self.model(chunk, state, None if labels is None else labels[:, begin:end].to(device))
            logits, begin = output[:, -1].clone(), end  # not a view that would keep the whole chunk's output
            self.remember(keys[end - 1], logits, state)
        assert logits is not None
        return logits, state


def _remember(reader: PromptReader, tokenizer: Tokenizer, sequence: list[int], row: Row, logits: torch.Tensor,
              carried: State, index: int) -> None:
    """Keep, for a later prompt, the state after a drawn `sequence` (row `index` of the batch's state)."""
    labels = None if row.labels_of is None else _prompt_labels(tokenizer, sequence, row.labels_of)
    # copies, not views that would keep the whole batch's state alive
    state = tuple(part[:, index:index + 1].clone() for part in carried) if isinstance(carried, tuple) \
        else carried[:, index:index + 1].clone()
    reader.remember(PromptReader.keys(sequence, labels)[-1], logits.clone(), state)


def _bias_of(rows: Sequence[Row], states: Sequence[GrammarState], vocab: int) -> np.ndarray | None:
    """The rows' biases as a (1, vocab) or (rows, vocab) array, None when no row has one."""
    first = rows[0].bias
    if all(row.bias is first for row in rows):
        return None if first is None else np.atleast_2d(first if isinstance(first, np.ndarray) else
                                                         np.stack([first(state) for state in states]))
    none = np.zeros(vocab, dtype=np.float32)
    return np.stack([none if row.bias is None else np.broadcast_to(
        row.bias if isinstance(row.bias, np.ndarray) else row.bias(state), (vocab,))
        for row, state in zip(rows, states)])


def _prompt_labels(tokenizer: Tokenizer, prompt: Sequence[int], labels_of: Labels) -> torch.Tensor:
    """The labels of each prompt token, (1, tokens, conditions)."""
    state = tokenizer.new_state()
    rows = []
    for token in prompt:
        state.advance(int(token))
        rows.append(labels_of(state))
    return torch.from_numpy(np.stack(rows)).unsqueeze(0)


Kept = TypeVar("Kept")


def _kept_for(kept: weakref.WeakKeyDictionary[MelodyLM, tuple[int, Kept]], model: MelodyLM,
              make: Callable[[MelodyLM], Kept]) -> Kept:
    """`make(model)`, kept for `model` in `kept` and made again only when its weights have changed since."""
    version = sum(p._version for p in model.parameters())
    made = kept.get(model)
    if made is None or made[0] != version:
        made = kept[model] = (version, make(model))
    return made[1]


class Stepper:
    """One LSTM step for a batch of single tokens, with the weights laid out once.

    Stepping `nn.LSTM` one token at a time pays its call overhead every time; this does the
    same arithmetic in a few fused matrix products (dropout is off when sampling).
    """

    _made: ClassVar[weakref.WeakKeyDictionary[MelodyLM, tuple[int, Stepper]]] = weakref.WeakKeyDictionary()

    largest_batch = 128  # beyond it the cost is arithmetic, and nn.LSTM's fused kernels do as well

    @classmethod
    def fits(cls, model: MelodyLM, batch: int) -> bool:
        return model.config.cell == "lstm" and batch <= cls.largest_batch

    @classmethod
    def of(cls, model: MelodyLM) -> Stepper:
        """The stepper of `model`, made again only when its weights have changed since."""
        return _kept_for(cls._made, model, cls)

    def __init__(self, model: MelodyLM) -> None:
        rnn, hidden = model.rnn, model.config.hidden_size
        self.embedding = model.embedding.weight.detach()
        self.conditions = [cast(nn.Embedding, table).weight.detach() for table in model.condition_embeddings]
        self.layers = []
        for layer in range(model.config.layers):
            weight_ih = getattr(rnn, f"weight_ih_l{layer}").detach()
            weight_hh = getattr(rnn, f"weight_hh_l{layer}").detach()
            bias = (getattr(rnn, f"bias_ih_l{layer}") + getattr(rnn, f"bias_hh_l{layer}")).detach()
            self.layers.append((torch.cat([weight_ih, weight_hh], dim=1).t().contiguous(), bias))
        self.hidden = hidden
        self.bottleneck = None if model.bottleneck is None else (
            model.bottleneck.weight.detach().t().contiguous(), model.bottleneck.bias.detach())
        self.decoder = (model.decoder.weight.detach().t().contiguous(), model.decoder.bias.detach())

    def __call__(self, tokens: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor],
                 labels: torch.Tensor | None = None) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        hidden, cell = state
        x = self.embedding[tokens]
        for index, table in enumerate(self.conditions):  # without labels, every condition "unknown"
            x = x + (table[labels[:, index]] if labels is not None else table[0])
        new_hidden, new_cell = [], []
        for layer, (weight, bias) in enumerate(self.layers):
            gates = torch.addmm(bias, torch.cat([x, hidden[layer]], dim=1), weight)
            gate_in, gate_forget, gate_cell, gate_out = gates.chunk(4, dim=1)
            c = torch.sigmoid(gate_forget) * cell[layer] + torch.sigmoid(gate_in) * torch.tanh(gate_cell)
            x = torch.sigmoid(gate_out) * torch.tanh(c)
            new_hidden.append(x)
            new_cell.append(c)
        if self.bottleneck is not None:
            x = torch.addmm(self.bottleneck[1], x, self.bottleneck[0])
        logits = torch.addmm(self.decoder[1], x, self.decoder[0])
        return logits, (torch.stack(new_hidden), torch.stack(new_cell))


def _run_prompt(model: MelodyLM, prompt: Sequence[int], count: int, labels: torch.Tensor | None,
                device: torch.device) -> tuple[torch.Tensor, State]:
    """Run the shared prompt once and copy its state to every sequence of the batch."""
    tokens = torch.tensor([list(map(int, prompt))], dtype=torch.long, device=device)
    output, state = model(tokens, None, None if labels is None else labels[:1])
    def expand(part: torch.Tensor) -> torch.Tensor:
        return part.expand(-1, count, -1).contiguous()

    state = tuple(expand(s) for s in state) if isinstance(state, tuple) else expand(state)
    return output[:, -1].expand(count, -1), state


def _bias_rows(bias: Bias, states: Sequence[GrammarState], device: torch.device) -> torch.Tensor:
    """The bias as a (1, vocab) or (states, vocab) tensor of log-probabilities."""
    rows = bias if isinstance(bias, np.ndarray) else np.stack([bias(state) for state in states])
    return torch.from_numpy(np.atleast_2d(rows)).to(device)


def _allowed(state: GrammarState, rules: Sequence[Rule]) -> np.ndarray:
    """The grammar's mask narrowed by each rule in turn.

    A rule that would leave nothing gives way: to EOS when the grammar allows it
    (the piece ends rather than break a rule), else to the mask before it.
    """
    mask = state.allowed()
    for rule in rules:
        narrowed = rule(state, mask)
        if narrowed.any():
            mask = narrowed
        elif mask[EOS]:
            mask = np.zeros_like(mask)
            mask[EOS] = True
    return mask


def _penalize(scores: torch.Tensor, sequences: list[list[int]], pitch_tokens: np.ndarray,
              config: SamplingConfig) -> torch.Tensor:
    low, high = int(pitch_tokens[0]), int(pitch_tokens[-1])
    penalty = float(np.log(config.repetition_penalty))
    for row, sequence in enumerate(sequences):
        recent = [t for t in sequence if low <= t <= high][-config.repetition_window:]
        if recent:
            scores[row, recent] -= penalty
    return scores


Beam = tuple[float, list[int], GrammarState]  # (total log-probability, tokens, grammar state)


@torch.no_grad()
def beam_search(model: MelodyLM, tokenizer: Tokenizer, prompt: Sequence[int], config: SamplingConfig,
                rules: Sequence[Rule] = (), count: int = 1, bias: Bias | None = None,
                progress: Progress | None = None, labels_of: Labels | None = None) -> list[list[int]]:
    """The `count` likeliest continuations found by beam search under the grammar and rules.

    Each step every live hypothesis is extended by its `config.branch_factor` likeliest allowed
    tokens, and the `config.beam_size` best by total log-probability live on. Finished hypotheses
    (EOS) are ranked by log-probability per token, so short ones are not favoured. The likeliest
    line is a monotone one, so `bias` and the repetition penalty count as in `sample`, and runs of one
    pitch are discouraged (see `_extend`). Temperature, top-k and top-p only shape random draws, so they
    are not used. `progress`, when given, is called every step with how many of the `count` results
    were found in it.
    """
    model.eval()
    device = next(model.parameters()).device
    first = tokenizer.new_state()
    for token in prompt:
        first.advance(int(token))
    prompt_labels = None if labels_of is None else _prompt_labels(tokenizer, prompt, labels_of)
    logits, carried = _run_prompt(model, prompt, 1, prompt_labels, device)
    pitch_tokens = tokenizer.pitch_ids()
    beams: list[Beam] = [(0.0, list(map(int, prompt)), first)]
    finished: list[tuple[float, list[int]]] = []
    while beams and len(finished) < max(count, config.beam_size):
        shifted = logits if bias is None else logits + _bias_rows(bias, [state for _, _, state in beams], device)
        candidates = _extend(beams, shifted, rules, pitch_tokens, config)
        found = min(len(finished), count)
        beams, rows, ended = _survivors(candidates, beams, config, len(prompt))
        finished += ended
        if progress is not None:
            progress(min(len(finished), count) - found)
        if not beams:
            break
        index = torch.tensor(rows, device=device)
        carried = tuple(part.index_select(1, index) for part in carried) if isinstance(carried, tuple) \
            else carried.index_select(1, index)
        labels = None if labels_of is None else torch.from_numpy(np.stack([labels_of(state) for _, _, state in beams]))
        output, carried = model(torch.tensor([tokens[-1] for _, tokens, _ in beams], device=device).unsqueeze(1),
                                carried, None if labels is None else labels.to(device))
        logits = output[:, -1]
    finished.sort(key=lambda f: -f[0])
    return [tokens for _, tokens in finished[:count]]


def _extend(beams: list[Beam], logits: torch.Tensor, rules: Sequence[Rule], pitch_tokens: np.ndarray,
            config: SamplingConfig) -> list[tuple[float, int, int]]:
    """(total log-probability, beam row, token) for each beam's `branch_factor` best allowed next tokens.

    A pitch that would extend a run of the same pitch loses `biases.repeat_cost` for each note of the run,
    and cannot make it longer than MAX_RUN while another pitch is allowed.
    """
    log_probs = torch.log_softmax(logits.float(), dim=-1)
    if config.repetition_penalty != 1.0:
        log_probs = _penalize(log_probs, [tokens for _, tokens, _ in beams], pitch_tokens, config)
    low, high = int(pitch_tokens[0]), int(pitch_tokens[-1])
    candidates = []
    for row, (score, tokens, state) in enumerate(beams):
        mask = _allowed(state, rules).copy()
        last, run = _last_run(tokens, low, high)
        if run:
            log_probs[row, last] -= config.biases.repeat_cost * run
            if run >= MAX_RUN and mask[low:high + 1].sum() > 1:
                mask[last] = False
        allowed = log_probs[row].masked_fill(~torch.from_numpy(mask).to(log_probs.device), float("-inf"))
        top = torch.topk(allowed, min(config.branch_factor, int(mask.sum())))
        candidates += [(score + float(value), row, int(token)) for value, token in zip(top.values, top.indices)]
    return candidates


def _survivors(candidates: list[tuple[float, int, int]], beams: list[Beam], config: SamplingConfig,
               prompt_length: int) -> tuple[list[Beam], list[int], list[tuple[float, list[int]]]]:
    """The `beam_size` best unfinished extensions (and the rows they extend), and the finished ones
    scored per token."""
    survivors: list[Beam] = []
    rows: list[int] = []
    finished: list[tuple[float, list[int]]] = []
    for score, row, token in sorted(candidates, key=lambda c: -c[0]):
        tokens = [*beams[row][1], token]
        if token == EOS or len(tokens) >= config.max_tokens:
            finished.append((score / max(len(tokens) - prompt_length, 1), tokens))
        elif len(survivors) < config.beam_size:
            state = copy.deepcopy(beams[row][2])
            state.advance(token)
            survivors.append((score, tokens, state))
            rows.append(row)
    return survivors, rows, finished


def _last_run(sequence: list[int], low: int, high: int) -> tuple[int, int]:
    """The last pitch token (`low` to `high`) of `sequence` and how many times in a row it came; (0, 0) if none."""
    last, run = 0, 0
    for token in reversed(sequence):
        if low <= token <= high:
            if run and token != last:
                break
            last, run = token, run + 1
    return last, run
