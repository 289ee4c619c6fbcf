"""The harmonizer network: a bidirectional LSTM reads the whole soprano, past and future (with key features,
also its scale degree and mode in the key estimated from it, and the steps to the next fermata); an LSTM
decoder writes the bass, tenor and alto step by step, each voice's choice seeing the voices chosen below it
at the same step (tokens: see `melodia.harmony.config`). With a chord head, training also asks the encoding
alone for the pitch classes of each beat's chord, so that the encoder learns harmony from the soprano; the
head is not used to harmonize. An ensemble (`HarmonizerMix`) averages its networks' probabilities."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import nn

from melodia.harmony.config import FILE_FORMAT, FILE_VERSION, MEMBER_PREFIX, TOKENS, HarmonizerConfig
from melodia.harmony.data import MAX_BAR_POSITION, MAX_TO_FERMATA, REST_DEGREE, HarmonyError
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
        key_inputs = 0
        if config.key_features:
            self.degree = nn.Embedding(REST_DEGREE + 1, p // 2)
            self.mode = nn.Embedding(2, f)
            self.to_fermata = nn.Embedding(MAX_TO_FERMATA + 1, f)
            key_inputs = p // 2 + 2 * f
        self.encoder = nn.LSTM(p + 4 * f + key_inputs, config.encoder_size, config.encoder_layers, batch_first=True,
                               bidirectional=True, dropout=config.dropout if config.encoder_layers > 1 else 0.0)
        self.lower_pitch = nn.Embedding(128, p)
        self.decoder = nn.LSTM(2 * config.encoder_size + 3 * p, config.decoder_size, batch_first=True)
        self.drop = nn.Dropout(config.dropout)
        context = config.decoder_size + 2 * config.encoder_size
        self.heads = nn.ModuleList([self._head(context + below * p) for below in range(3)])  # bass, tenor, alto
        if config.chord_head:  # each beat's pitch classes from the encoding alone: a training signal only
            self.chord = nn.Linear(2 * config.encoder_size, 12)

    def _head(self, inputs: int) -> nn.Sequential:
        return nn.Sequential(nn.Linear(inputs, self.config.head_size), nn.GELU(),
                             nn.Linear(self.config.head_size, TOKENS))

    def encode(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        """(batch, steps) soprano features (`soprano_inputs`) -> (batch, steps, 2 x encoder_size)."""
        tables = [self.pitch, self.struck, self.fermata, self.position, self.strength]
        if self.config.key_features:
            tables += [self.degree, self.mode, self.to_fermata]
        inputs = torch.cat([table(feature) for table, feature in zip(tables, features, strict=False)], dim=-1)
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

    def forward(self, features: Sequence[torch.Tensor], lower: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits (batch, steps, 3 voices alto-tenor-bass, TOKENS) for soprano `features` and
        sounding lower pitches `lower` (batch, steps, 3)."""
        return self.decode(self.encode(features), lower)

    def decode(self, encoded: torch.Tensor, lower: torch.Tensor) -> torch.Tensor:
        """`forward` from the soprano's encoding."""
        previous = torch.cat([torch.zeros_like(lower[:, :1]), lower[:, :-1]], dim=1)
        decoded, _ = self.decoder(self.step_inputs(encoded, previous))
        context = torch.cat([self.drop(decoded), encoded], dim=-1)
        bass = self.voice_logits(context, [])
        tenor = self.voice_logits(context, [lower[..., 2]])
        alto = self.voice_logits(context, [lower[..., 2], lower[..., 1]])
        return torch.stack([alto, tenor, bass], dim=2)


class HarmonizerMix(nn.Module):
    """Several harmonizer networks as one (an ensemble): their forward pass gives the log of their mean
    probabilities, which cross-entropy reads as logits."""

    def __init__(self, members: list[Harmonizer]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, features: Sequence[torch.Tensor], lower: torch.Tensor) -> torch.Tensor:
        log_probabilities = torch.stack([torch.log_softmax(m(features, lower), dim=-1) for m in self.members])
        return torch.logsumexp(log_probabilities, dim=0) - math.log(len(self.members))


def save_harmonizer(path: str | os.PathLike[str], model: Harmonizer | list[Harmonizer],
                    training: dict[str, Any]) -> Path:
    """Write the weights (float16) of one network or of an ensemble's members, with their sizes and the
    training record, atomically."""
    from safetensors.torch import save

    members = model if isinstance(model, list) else [model]
    tensors = {f"{MEMBER_PREFIX.format(index)}{name}": t.detach().cpu().half().contiguous()
               for index, member in enumerate(members) for name, t in member.state_dict().items()}
    metadata = {"format": FILE_FORMAT, "version": FILE_VERSION,
                "members": json.dumps([asdict(member.config) for member in members]),
                "training": json.dumps(training, sort_keys=True)}
    return atomic_write_bytes(path, save(tensors, metadata))


def load_harmonizer(path: str | os.PathLike[str]) -> tuple[Harmonizer | HarmonizerMix, dict[str, Any]]:
    """The network (or the ensemble of networks) and its training record from a harmonizer file.

    Raises:
        HarmonyError: no such file, or not a harmonizer file of a version this melodia reads.
    """
    from melodia.harmony.inference import read_harmonizer_file

    members, metadata = read_harmonizer_file(path)
    networks = []
    for config, weights in members:
        try:
            network = Harmonizer(config)
            network.load_state_dict({name: torch.tensor(array, dtype=torch.float32)
                                     for name, array in weights.items()})
        except RuntimeError as error:
            raise HarmonyError(f"{path}: inconsistent harmonizer file ({str(error).splitlines()[0][:120]})") \
                from error
        networks.append(network.eval())
    model = networks[0] if len(networks) == 1 else HarmonizerMix(networks).eval()
    return model, json.loads(metadata.get("training", "{}"))
