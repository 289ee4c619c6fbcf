"""The harmonizer network: a bidirectional LSTM reads the whole soprano, past and future; an LSTM
decoder writes the bass, tenor and alto step by step, each voice's choice seeing the voices chosen
below it at the same step (tokens: see `melodia.harmony.config`)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import nn

from melodia.harmony.config import FILE_FORMAT, FILE_VERSION, TOKENS, HarmonizerConfig
from melodia.harmony.data import MAX_BAR_POSITION, HarmonyError
from melodia.io.atomic import atomic_write_bytes


class Harmonizer(nn.Module):
    """Soprano features in, logits of the bass, tenor and alto tokens out."""

    def __init__(self, config: HarmonizerConfig) -> None:
        super().__init__()
        self.config = config
        p, f = config.pitch_size, config.feature_size
        self.pitch = nn.Embedding(128, p)  # a sounding MIDI pitch, 0 for none
        self.struck = nn.Embedding(2, f)
        self.fermata = nn.Embedding(2, f)
        self.position = nn.Embedding(MAX_BAR_POSITION + 1, f)
        self.strength = nn.Embedding(3, f)
        self.encoder = nn.LSTM(p + 4 * f, config.encoder_size, config.encoder_layers, batch_first=True,
                               bidirectional=True, dropout=config.dropout if config.encoder_layers > 1 else 0.0)
        self.lower_pitch = nn.Embedding(128, p)
        self.decoder = nn.LSTM(2 * config.encoder_size + 3 * p, config.decoder_size, batch_first=True)
        self.drop = nn.Dropout(config.dropout)
        context = config.decoder_size + 2 * config.encoder_size
        self.heads = nn.ModuleList([self._head(context + below * p) for below in range(3)])  # bass, tenor, alto

    def _head(self, inputs: int) -> nn.Sequential:
        return nn.Sequential(nn.Linear(inputs, self.config.head_size), nn.GELU(),
                             nn.Linear(self.config.head_size, TOKENS))

    def encode(self, soprano: torch.Tensor, struck: torch.Tensor, fermata: torch.Tensor, position: torch.Tensor,
               strength: torch.Tensor) -> torch.Tensor:
        """(batch, steps) soprano features -> (batch, steps, 2 x encoder_size)."""
        inputs = torch.cat([self.pitch(soprano), self.struck(struck), self.fermata(fermata),
                            self.position(position), self.strength(strength)], dim=-1)
        encoded, _ = self.encoder(self.drop(inputs))
        return self.drop(encoded)

    def step_inputs(self, encoded: torch.Tensor, previous: torch.Tensor) -> torch.Tensor:
        """Decoder inputs from the encoding and the sounding (alto, tenor, bass) pitches of the step before:
        previous is (batch, steps, 3)."""
        return torch.cat([encoded, self.lower_pitch(previous).flatten(-2)], dim=-1)

    def voice_logits(self, context: torch.Tensor, below: list[torch.Tensor]) -> torch.Tensor:
        """Logits of the next voice up (bass with no voices below, then tenor, then alto), given the
        decoder context and the pitches already chosen below it at this step."""
        inputs = torch.cat([context, *(self.lower_pitch(pitch) for pitch in below)], dim=-1)
        return self.heads[len(below)](inputs)

    def forward(self, soprano: torch.Tensor, struck: torch.Tensor, fermata: torch.Tensor, position: torch.Tensor,
                strength: torch.Tensor, lower: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits (batch, steps, 3 voices alto-tenor-bass, TOKENS) for sounding lower pitches
        `lower` (batch, steps, 3)."""
        encoded = self.encode(soprano, struck, fermata, position, strength)
        previous = torch.cat([torch.zeros_like(lower[:, :1]), lower[:, :-1]], dim=1)
        decoded, _ = self.decoder(self.step_inputs(encoded, previous))
        context = torch.cat([self.drop(decoded), encoded], dim=-1)
        bass = self.voice_logits(context, [])
        tenor = self.voice_logits(context, [lower[..., 2]])
        alto = self.voice_logits(context, [lower[..., 2], lower[..., 1]])
        return torch.stack([alto, tenor, bass], dim=2)


def save_harmonizer(path: str | os.PathLike[str], model: Harmonizer, training: dict[str, Any]) -> Path:
    """Write the weights (float16) with the network's sizes and the training record, atomically."""
    from safetensors.torch import save

    tensors = {name: t.detach().cpu().half().contiguous() for name, t in model.state_dict().items()}
    metadata = {"format": FILE_FORMAT, "version": FILE_VERSION, "config": json.dumps(asdict(model.config)),
                "training": json.dumps(training, sort_keys=True)}
    return atomic_write_bytes(path, save(tensors, metadata))


def load_harmonizer(path: str | os.PathLike[str]) -> tuple[Harmonizer, dict[str, Any]]:
    """The network and its training record from a harmonizer file.

    Raises:
        HarmonyError: no such file, or not a harmonizer file of this version.
    """
    from melodia.harmony.inference import read_harmonizer_file

    weights, metadata, config = read_harmonizer_file(path)
    try:
        model = Harmonizer(config)
        model.load_state_dict({name: torch.tensor(array, dtype=torch.float32) for name, array in weights.items()})
    except RuntimeError as error:
        raise HarmonyError(f"{path}: inconsistent harmonizer file ({str(error).splitlines()[0][:120]})") from error
    return model.eval(), json.loads(metadata.get("training", "{}"))
