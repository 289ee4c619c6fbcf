"""The language model: token embedding, a recurrent stack, a projection back to the vocabulary.

This module imports no data code: it knows token ids and tensors, nothing about files.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, cast

import torch
from torch import nn

from melodia import settings
from melodia.errors import MelodiaError

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}
State = Any  # (h, c) for an LSTM, h for a GRU or RNN


class ModelConfigError(MelodiaError):
    """A model setting outside what is accepted."""


@dataclass(frozen=True)
class ModelConfig:
    """Model settings; saved in every model file so the model rebuilds from the file alone.

    Attributes:
        vocab_size: tokens in the tokenizer's vocabulary; 0 until training fills it in.
        embedding_size: width of token embeddings.
        hidden_size: units per recurrent layer.
        layers: recurrent layers.
        cell: "lstm", "gru" or "rnn".
        dropout: dropout between layers and on embeddings and outputs.
        tie_weights: share the input embedding with the output projection.
        conditions: labels the model is conditioned on, name -> list of values: per piece (for
            example meter -> ["3/4", "4/4", "6/8"]) or per token (the controls of `melodia.lm.controls`);
            index 0 of each list is "unknown".
    """

    vocab_size: int = 0
    embedding_size: int = 256
    hidden_size: int = 512
    layers: int = 2
    cell: str = "lstm"
    dropout: float = 0.2
    tie_weights: bool = True
    conditions: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        checks = [("vocab_size", self.vocab_size == 0 or self.vocab_size >= 4, ">= 4 (0: the tokenizer's)"),
                  ("embedding_size", self.embedding_size >= 1, ">= 1"),
                  ("hidden_size", self.hidden_size >= 1, ">= 1"), ("layers", 1 <= self.layers <= 16, "1..16"),
                  ("cell", self.cell in CELLS, " or ".join(CELLS)), ("dropout", 0 <= self.dropout < 1, "[0, 1)")]
        for name, ok, accepted in checks:
            if not ok:
                raise ModelConfigError(f"model setting {name} = {getattr(self, name)!r}: expected {accepted}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "model settings") -> ModelConfig:
        """Build from a dict, naming any unknown field and the accepted ones."""
        return settings.from_dict(cls, data, ModelConfigError, source)


class MelodyLM(nn.Module):
    """An embedding, an LSTM (or GRU / RNN) stack and a tied projection to token logits."""

    def __init__(self, config: ModelConfig) -> None:
        if config.vocab_size < 4:
            raise ModelConfigError(f"model setting vocab_size = {config.vocab_size}: expected the tokenizer's, >= 4")
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embedding_size)
        self.condition_embeddings = nn.ModuleList(
            nn.Embedding(len(values), config.embedding_size) for values in config.conditions.values())
        self.dropout = nn.Dropout(config.dropout)
        self.rnn = CELLS[config.cell](config.embedding_size, config.hidden_size, config.layers, batch_first=True,
                                      dropout=config.dropout if config.layers > 1 else 0.0)
        # with tied weights the output passes through the embedding's width first
        self.bottleneck = (nn.Linear(config.hidden_size, config.embedding_size)
                           if config.tie_weights and config.hidden_size != config.embedding_size else None)
        out_width = config.embedding_size if config.tie_weights else config.hidden_size
        self.decoder = nn.Linear(out_width, config.vocab_size)
        if config.tie_weights:
            self.decoder.weight = self.embedding.weight
        nn.init.uniform_(self.embedding.weight, -0.05, 0.05)
        nn.init.zeros_(self.decoder.bias)

    def forward(self, tokens: torch.Tensor, state: State = None,
                conditions: torch.Tensor | None = None) -> tuple[torch.Tensor, State]:
        """Logits (batch, time, vocab) for `tokens` (batch, time), and the state after them.

        `conditions` holds one label index per condition, for each sequence (batch, conditions)
        or for each token (batch, time, conditions); None gives every condition its "unknown" label, 0.
        """
        embedded = self.embedding(tokens)
        if conditions is None and len(self.condition_embeddings):  # every condition "unknown"
            conditions = torch.zeros(tokens.shape[0], len(self.condition_embeddings), dtype=torch.long,
                                     device=tokens.device)
        if conditions is not None and len(self.condition_embeddings):
            if conditions.dim() == 2:
                conditions = conditions.unsqueeze(1).expand(-1, tokens.shape[1], -1)
            for index, table in enumerate(self.condition_embeddings):
                embedded = embedded + table(conditions[..., index])
        output, state = self.rnn(self.dropout(embedded), state)
        output = self.dropout(output)
        if self.bottleneck is not None:
            output = self.bottleneck(output)
        return self.decoder(output), state

    def widened(self, vocab_size: int, conditions: dict[str, list[str]]) -> MelodyLM:
        """A copy whose vocabulary grows to `vocab_size` (new tokens added at the end, their embeddings drawn
        small and their output bias at the lowest existing one) and which reads more `conditions` (new tables
        all zero, so until trained it predicts exactly as this model does)."""
        config = self.config
        if vocab_size < config.vocab_size or any(config.conditions.get(name, values) != values
                                                 for name, values in conditions.items()):
            raise ModelConfigError(f"a model can only be widened: vocab_size {config.vocab_size} -> {vocab_size}, "
                                   f"conditions {list(config.conditions)} -> {list(conditions)}")
        wider = MelodyLM(dataclasses.replace(config, vocab_size=vocab_size,
                                             conditions={**config.conditions, **conditions}))
        state = {name: value for name, value in self.state_dict().items()
                 if not name.startswith(("embedding.", "decoder.", "condition_embeddings."))}
        wider.load_state_dict(state, strict=False)
        with torch.no_grad():
            old = config.vocab_size
            wider.embedding.weight[:old] = self.embedding.weight
            wider.embedding.weight[old:].normal_(0.0, float(self.embedding.weight.std()))
            if not config.tie_weights:
                wider.decoder.weight[:old] = self.decoder.weight
            wider.decoder.bias[:old] = self.decoder.bias
            wider.decoder.bias[old:] = self.decoder.bias.min()
            names = list(wider.config.conditions)
            for index, name in enumerate(names):
                table = cast(nn.Embedding, wider.condition_embeddings[index])
                table.weight.zero_()
                if name in config.conditions:
                    table.weight.copy_(cast(nn.Embedding,
                                            self.condition_embeddings[list(config.conditions).index(name)]).weight)
        return wider

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameters())


def detach_state(state: State) -> State:
    """Cut the graph between chunks of truncated back-propagation, keeping the values."""
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()
