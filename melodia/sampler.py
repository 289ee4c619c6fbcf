"""Sampling token sequences from a model, masked by the tokenizer's grammar and by constraints.

The sampler knows tokens and tensors, not files. Every step, each sequence's grammar
state gives the tokens that may come next, constraints remove more, and only then are
temperature, top-k, top-p and the repetition control applied, so every sequence it
returns decodes and passes `check()`.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from melodia.model import MelodyLM, State
from melodia.tokenizers import EOS, GrammarState, Tokenizer

Constraint = Callable[[GrammarState, np.ndarray], np.ndarray]  # (state, allowed mask) -> narrower mask


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
    """

    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    repetition_penalty: float = 1.0
    repetition_window: int = 8
    max_tokens: int = 2048
    beam_size: int = 0
    branch_factor: int = 4


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


@torch.no_grad()
def sample(model: MelodyLM, tokenizer: Tokenizer, prompt: Sequence[int], count: int, config: SamplingConfig,
           generator: torch.Generator, constraints: Sequence[Constraint] = (),
           conditions: torch.Tensor | None = None, bias: np.ndarray | None = None) -> list[list[int]]:
    """`count` sequences that continue `prompt` (which starts with BOS), sampled as one batch.

    `bias`, a log-probability per token, is added to the model's logits before the draws are shaped.
    """
    model.eval()
    device = next(model.parameters()).device
    states = [tokenizer.new_state() for _ in range(count)]
    for state in states:
        for token in prompt:
            state.advance(int(token))
    sequences = [list(map(int, prompt)) for _ in range(count)]
    labels = None if conditions is None else conditions.to(device).expand(count, -1)
    logits, carried = _run_prompt(model, prompt, count, labels, device)
    stepper = Stepper.of(model) if Stepper.fits(model, labels, count) else None
    pitch_tokens = _pitch_ids(tokenizer)
    shift = None if bias is None else torch.from_numpy(bias).to(device)
    while True:
        alive = [i for i, state in enumerate(states) if not state.ended and len(sequences[i]) < config.max_tokens]
        if not alive:
            break
        masks = np.stack([_allowed(states[i], constraints) for i in alive])
        scores = (logits if len(alive) == count else logits[alive]).float()
        if shift is not None:
            scores = scores + shift
        scores = scores.masked_fill(~torch.from_numpy(masks).to(device), float("-inf"))
        if config.repetition_penalty != 1.0:
            scores = _penalize(scores, [sequences[i] for i in alive], pitch_tokens, config)
        probabilities = torch.softmax(filter_logits(scores, config), dim=-1)
        drawn = torch.multinomial(probabilities.cpu(), 1, generator=generator).squeeze(1).tolist()
        next_tokens = [EOS] * count  # finished sequences are fed EOS; their output is never read
        for row, token in zip(alive, drawn):
            states[row].advance(token)
            sequences[row].append(token)
            next_tokens[row] = token
        step = torch.tensor(next_tokens, dtype=torch.long, device=device)
        if stepper is not None:
            logits, carried = stepper(step, carried)
        else:
            output, carried = model(step.unsqueeze(1), carried, None if labels is None else labels)
            logits = output[:, -1]
    return sequences


class Stepper:
    """One LSTM step for a batch of single tokens, with the weights laid out once.

    Stepping `nn.LSTM` one token at a time pays its call overhead every time; this does the
    same arithmetic in a few fused matrix products (dropout is off when sampling).
    """

    _made: ClassVar[weakref.WeakKeyDictionary[MelodyLM, tuple[int, Stepper]]] = weakref.WeakKeyDictionary()

    largest_batch = 8  # beyond it the cost is arithmetic, and nn.LSTM's fused kernels do that better

    @classmethod
    def fits(cls, model: MelodyLM, labels: torch.Tensor | None, batch: int) -> bool:
        return model.config.cell == "lstm" and labels is None and batch <= cls.largest_batch

    @classmethod
    def of(cls, model: MelodyLM) -> Stepper:
        """The stepper of `model`, made again only when its weights have changed since."""
        version = sum(p._version for p in model.parameters())
        made = cls._made.get(model)
        if made is None or made[0] != version:
            made = cls._made[model] = (version, cls(model))
        return made[1]

    def __init__(self, model: MelodyLM) -> None:
        rnn, hidden = model.rnn, model.config.hidden_size
        self.embedding = model.embedding.weight.detach()
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

    def __call__(self, tokens: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]
                 ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        hidden, cell = state
        x = self.embedding[tokens]
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


def _allowed(state: GrammarState, constraints: Sequence[Constraint]) -> np.ndarray:
    """The grammar's mask narrowed by each constraint in turn.

    A constraint that would leave nothing gives way: to EOS when the grammar allows it
    (the piece ends rather than break a rule), else to the mask before it.
    """
    mask = state.allowed()
    for constraint in constraints:
        narrowed = constraint(state, mask)
        if narrowed.any():
            mask = narrowed
        elif mask[EOS]:
            mask = np.zeros_like(mask)
            mask[EOS] = True
    return mask


def _pitch_ids(tokenizer: Tokenizer) -> np.ndarray:
    kind = "NoteOn" if "NoteOn" in tokenizer.vocab.ranges else "Pitch"
    start, stop = tokenizer.vocab.ranges[kind]
    return np.arange(start, stop)


def _penalize(scores: torch.Tensor, sequences: list[list[int]], pitch_tokens: np.ndarray,
              config: SamplingConfig) -> torch.Tensor:
    low, high = int(pitch_tokens[0]), int(pitch_tokens[-1])
    penalty = float(np.log(config.repetition_penalty))
    for row, sequence in enumerate(sequences):
        recent = [t for t in sequence if low <= t <= high][-config.repetition_window:]
        if recent:
            scores[row, recent] -= penalty
    return scores


@torch.no_grad()
def beam_search(model: MelodyLM, tokenizer: Tokenizer, prompt: Sequence[int], beam_size: int, branch_factor: int,
                max_tokens: int, constraints: Sequence[Constraint] = (), count: int = 1,
                bias: np.ndarray | None = None) -> list[list[int]]:
    """The `count` likeliest continuations found by beam search under the grammar and constraints.

    Each step every live hypothesis is extended by its `branch_factor` likeliest allowed
    tokens, and the `beam_size` best by total log-probability live on. Finished hypotheses
    (EOS) are ranked by log-probability per token, so short ones are not favoured.
    """
    import copy

    model.eval()
    device = next(model.parameters()).device
    first = tokenizer.new_state()
    for token in prompt:
        first.advance(int(token))
    logits, carried = _run_prompt(model, prompt, 1, None, device)
    beams = [(0.0, list(map(int, prompt)), first)]
    finished: list[tuple[float, list[int]]] = []
    while beams and len(finished) < max(count, beam_size):
        log_probs = torch.log_softmax(logits.float() + (0 if bias is None else torch.from_numpy(bias).to(device)),
                                      dim=-1)
        candidates = []
        for row, (score, _, state) in enumerate(beams):
            mask = torch.from_numpy(_allowed(state, constraints)).to(device)
            allowed = log_probs[row].masked_fill(~mask, float("-inf"))
            top = torch.topk(allowed, min(branch_factor, int(mask.sum())))
            candidates += [(score + float(value), row, int(token)) for value, token in zip(top.values, top.indices)]
        candidates.sort(key=lambda c: -c[0])
        survivors: list[tuple[float, list[int], GrammarState]] = []
        rows: list[int] = []
        next_tokens: list[int] = []
        for score, row, token in candidates:
            tokens = [*beams[row][1], token]
            if token == EOS or len(tokens) >= max_tokens:
                finished.append((score / max(len(tokens) - len(prompt), 1), tokens))
                continue
            if len(survivors) < beam_size:
                state = copy.deepcopy(beams[row][2])
                state.advance(token)
                survivors.append((score, tokens, state))
                rows.append(row)
                next_tokens.append(token)
        if not survivors:
            break
        index = torch.tensor(rows, device=device)
        carried = tuple(part.index_select(1, index) for part in carried) if isinstance(carried, tuple) \
            else carried.index_select(1, index)
        output, carried = model(torch.tensor(next_tokens, device=device).unsqueeze(1), carried)
        logits, beams = output[:, -1], survivors
    finished.sort(key=lambda f: -f[0])
    return [tokens for _, tokens in finished[:count]]
