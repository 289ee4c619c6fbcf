"""The harmonizer's vocabulary, its network sizes and its file format: what both the torch network
(`melodia.harmony.model`) and the NumPy one (`melodia.harmony.inference`) need, without torch.

Each lower voice has one token per step: `HOLD` (the note sounding goes on), `REST`, or a pitch from
`LOWEST` to `HIGHEST` struck at that step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

HOLD, REST = 0, 1
LOWEST, HIGHEST = 28, 84
TOKENS = 2 + HIGHEST - LOWEST + 1
LOWER_VOICES = ("alto", "tenor", "bass")
FILE_FORMAT = "melodia-harmonizer"
FILE_VERSION = "2"  # one network or an ensemble: "members" lists each one's sizes, its tensors under "m0." ...
READABLE_VERSIONS = ("1", "2")  # version 1: one network, its sizes in "config", its tensors unprefixed
MEMBER_PREFIX = "m{}."
MAX_FILE_BYTES = 64 * 1024**2


def pitch_token(pitch: int) -> int:
    return 2 + pitch - LOWEST


def token_pitch(token: int) -> int:
    return token - 2 + LOWEST


@dataclass(frozen=True)
class HarmonizerConfig:
    """Sizes of the harmonizer network."""

    pitch_size: int = 32
    feature_size: int = 8
    encoder_size: int = 128
    encoder_layers: int = 2
    decoder_size: int = 256
    head_size: int = 192
    dropout: float = 0.2
    key_features: bool = False  # the soprano's scale degree, mode and steps to the next fermata
    chord_head: bool = False  # the encoder also learns each beat's chord (training only)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> HarmonizerConfig:
        return cls(**{k: v for k, v in values.items() if k in cls.__dataclass_fields__})
