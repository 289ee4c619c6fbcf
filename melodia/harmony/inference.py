"""The harmonizer network run with NumPy alone, for harmonizing: the same weights and the same
arithmetic as `melodia.harmony.model.Harmonizer` in evaluation mode, without importing torch (whose
import takes longer than a whole harmonization)."""

from __future__ import annotations

import ctypes
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from melodia.harmony.config import FILE_FORMAT, MAX_FILE_BYTES, MEMBER_PREFIX, READABLE_VERSIONS, HarmonizerConfig
from melodia.harmony.data import HarmonyError

Weights = dict[str, np.ndarray]


@lru_cache(maxsize=1)
def _blas_threads_setter() -> Callable[[int], int] | None:
    """OpenBLAS's `openblas_set_num_threads_local` (it sets this thread's count and returns the one before),
    from the library NumPy was built with, where there is one."""
    folder = Path(np.__file__).resolve().parent.parent / "numpy.libs"
    for library in sorted(folder.glob("*openblas*.so*")) if folder.is_dir() else []:
        try:
            setter = ctypes.CDLL(str(library)).openblas_set_num_threads_local
        except (OSError, AttributeError):
            continue
        setter.argtypes, setter.restype = [ctypes.c_int], ctypes.c_int
        return setter  # type: ignore[no-any-return]
    return None


def _dot(rows: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """rows @ matrix; for a few rows on one BLAS thread where NumPy's OpenBLAS allows (a threaded product of
    a handful of rows waits on its thread pool far longer than it computes, worst on a busy machine), else
    one row at a time."""
    if rows.ndim == 2 and len(rows) <= 256:
        setter = _blas_threads_setter()
        if setter is None:
            return np.stack([row @ matrix for row in rows])
        previous = setter(1)
        try:
            return rows @ matrix
        finally:
            setter(max(1, previous))
    return rows @ matrix


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _erf(x: np.ndarray) -> np.ndarray:
    """erf to within 1.5e-7 (Abramowitz and Stegun 7.1.26)."""
    sign = np.sign(x)
    x = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * x)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-x * x))


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + _erf(x / np.sqrt(2.0)))


@dataclass
class LSTMState:
    hidden: np.ndarray
    cell: np.ndarray


def lstm_step(weights: Weights, suffix: str, inputs: np.ndarray, state: LSTMState) -> LSTMState:
    """One step of a torch LSTM layer (gates in torch's order: input, forget, cell, output)."""
    gates = _dot(inputs, weights[f"weight_ih_{suffix}"]) + weights[f"bias_ih_{suffix}"] \
        + _dot(state.hidden, weights[f"weight_hh_{suffix}"]) + weights[f"bias_hh_{suffix}"]
    size = state.hidden.shape[-1]
    i, f = _sigmoid(gates[..., :size]), _sigmoid(gates[..., size:2 * size])
    g, o = np.tanh(gates[..., 2 * size:3 * size]), _sigmoid(gates[..., 3 * size:])
    cell = f * state.cell + i * g
    return LSTMState(o * np.tanh(cell), cell)


def lstm_layer(weights: Weights, suffix: str, inputs: np.ndarray, reverse: bool = False) -> np.ndarray:
    """A whole sequence (batch, steps, features) through one direction of one LSTM layer."""
    size = weights[f"weight_hh_{suffix}"].shape[0]
    batch, steps = inputs.shape[:2]
    projected = (inputs.reshape(batch * steps, -1) @ weights[f"weight_ih_{suffix}"]).reshape(batch, steps, -1) \
        + weights[f"bias_ih_{suffix}"] + weights[f"bias_hh_{suffix}"]
    recurrent = weights[f"weight_hh_{suffix}"]
    hidden = np.zeros((batch, size), dtype=inputs.dtype)
    cell = np.zeros_like(hidden)
    out = np.zeros((batch, steps, size), dtype=inputs.dtype)
    for step in (range(steps - 1, -1, -1) if reverse else range(steps)):
        gates = projected[:, step] + _dot(hidden, recurrent)
        i, f = _sigmoid(gates[:, :size]), _sigmoid(gates[:, size:2 * size])
        g, o = np.tanh(gates[:, 2 * size:3 * size]), _sigmoid(gates[:, 3 * size:])
        cell = f * cell + i * g
        hidden = o * np.tanh(cell)
        out[:, step] = hidden
    return out


def _is_table(name: str) -> bool:
    """Embedding tables are looked up by row, not multiplied."""
    return name.split(".")[0] in ("pitch", "struck", "fermata", "position", "strength", "lower_pitch", "degree",
                                  "mode", "to_fermata")


class NumpyHarmonizer:
    """`Harmonizer`'s evaluation-mode forward pass over NumPy arrays."""

    def __init__(self, config: HarmonizerConfig, weights: Weights) -> None:
        self.config = config
        # matrices stored transposed (inputs @ matrix), contiguous, as the products want them
        self.weights = {name: np.ascontiguousarray(array.astype(np.float32).T if array.ndim == 2
                                                   and "weight" in name and not _is_table(name) else
                                                   array.astype(np.float32))
                        for name, array in weights.items()}
        self.encoder = {k.removeprefix("encoder."): v for k, v in self.weights.items() if k.startswith("encoder.")}
        self.decoder = {k.removeprefix("decoder."): v for k, v in self.weights.items() if k.startswith("decoder.")}

    @classmethod
    def from_torch(cls, model: Any) -> NumpyHarmonizer:
        """The NumPy twin of a torch `Harmonizer`."""
        return cls(model.config, {name: t.detach().cpu().float().numpy() for name, t in model.state_dict().items()})

    def encode(self, features: Sequence[np.ndarray]) -> np.ndarray:
        """(batch, steps) soprano features (`soprano_inputs`) -> (batch, steps, 2 x encoder_size)."""
        names = ["pitch", "struck", "fermata", "position", "strength"]
        if self.config.key_features:
            names += ["degree", "mode", "to_fermata"]
        layer = np.concatenate([self.weights[f"{name}.weight"][feature]
                                for name, feature in zip(names, features, strict=False)], axis=-1)
        for index in range(self.config.encoder_layers):
            layer = np.concatenate([lstm_layer(self.encoder, f"l{index}", layer),
                                    lstm_layer(self.encoder, f"l{index}_reverse", layer, reverse=True)], axis=-1)
        return layer

    def start(self, batch: int) -> LSTMState:
        zeros = np.zeros((batch, self.config.decoder_size), dtype=np.float32)
        return LSTMState(zeros, zeros.copy())

    def decode_step(self, encoded: np.ndarray, previous: np.ndarray, state: LSTMState) -> tuple[np.ndarray, LSTMState]:
        """The context for the voices at one step from its encoding (batch, features) and the sounding
        (alto, tenor, bass) pitches of the step before (batch, 3)."""
        inputs = np.concatenate([encoded, self.weights["lower_pitch.weight"][previous].reshape(len(previous), -1)],
                                axis=-1)
        state = lstm_step(self.decoder, "l0", inputs, state)
        return np.concatenate([state.hidden, encoded], axis=-1), state

    def voice_logits(self, context: np.ndarray, below: list[np.ndarray]) -> np.ndarray:
        w = self.weights
        head = f"heads.{len(below)}"
        inputs = np.concatenate([context, *(w["lower_pitch.weight"][pitch] for pitch in below)], axis=-1)
        hidden = _gelu(_dot(inputs, w[f"{head}.0.weight"]) + w[f"{head}.0.bias"])
        return _dot(hidden, w[f"{head}.2.weight"]) + w[f"{head}.2.bias"]


def _metadata(data: bytes) -> dict[str, str]:
    """The string metadata of a safetensors file (its JSON header's __metadata__)."""
    length = int.from_bytes(data[:8], "little")
    if not 2 <= length <= len(data) - 8:
        raise ValueError(f"header length {length} does not fit the file")
    metadata = json.loads(data[8:8 + length].decode("utf-8")).get("__metadata__") or {}
    if not isinstance(metadata, dict):
        raise ValueError("metadata is not an object")
    return {str(k): str(v) for k, v in metadata.items()}


def read_harmonizer_file(path: str | os.PathLike[str]) -> tuple[list[tuple[HarmonizerConfig, Weights]],
                                                             dict[str, str]]:
    """Each network's sizes and weights (as NumPy arrays; more than one for an ensemble) and the metadata of
    a harmonizer file, checked.

    Raises:
        HarmonyError: no such file, too big, not a harmonizer file of a version this melodia reads, or one that
            lacks weights.
    """
    from safetensors import SafetensorError
    from safetensors.numpy import load

    source = str(path)
    try:
        if os.path.getsize(path) > MAX_FILE_BYTES:
            raise HarmonyError(f"{source}: over {MAX_FILE_BYTES} bytes, too big for a harmonizer file")
        data = Path(path).read_bytes()
        weights, metadata = load(data), _metadata(data)
    except OSError as error:
        raise HarmonyError(f"{source}: cannot open ({error.strerror or error})") from error
    except (SafetensorError, ValueError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise HarmonyError(f"{source}: not a harmonizer file, or a damaged one ({str(error)[:100]})") from error
    if metadata.get("format") != FILE_FORMAT or metadata.get("version") not in READABLE_VERSIONS:
        raise HarmonyError(f"{source}: format {metadata.get('format')!r} version {metadata.get('version')!r}; "
                           f"expected a {FILE_FORMAT} file of version {' or '.join(READABLE_VERSIONS)}")
    try:
        if metadata["version"] == "1":
            members = [(HarmonizerConfig.from_dict(json.loads(metadata["config"])), weights)]
        else:
            configs = json.loads(metadata["members"])
            members = [(HarmonizerConfig.from_dict(values), _member_weights(weights, MEMBER_PREFIX.format(index)))
                       for index, values in enumerate(configs)]
    except (KeyError, TypeError, AttributeError, json.JSONDecodeError) as error:
        raise HarmonyError(f"{source}: inconsistent harmonizer file ({error})") from error
    if not members:
        raise HarmonyError(f"{source}: inconsistent harmonizer file (no networks)")
    for index, (config, member) in enumerate(members):
        expected = {"pitch.weight", "lower_pitch.weight", "heads.2.2.weight", "decoder.weight_ih_l0",
                    *(f"encoder.weight_ih_l{i}_reverse" for i in range(config.encoder_layers))}
        missing = sorted(expected - set(member))
        if missing:
            which = f"network {index}: " if len(members) > 1 else ""
            raise HarmonyError(f"{source}: inconsistent harmonizer file ({which}no {', '.join(missing)})")
    return members, metadata


def _member_weights(weights: Weights, prefix: str) -> Weights:
    return {name.removeprefix(prefix): array for name, array in weights.items() if name.startswith(prefix)}


def load_numpy_harmonizer(path: str | os.PathLike[str]) -> Network:
    """A harmonizer file's network for NumPy (an ensemble where the file holds several)."""
    members, _ = read_harmonizer_file(path)
    networks = [NumpyHarmonizer(config, weights) for config, weights in members]
    return networks[0] if len(networks) == 1 else HarmonizerEnsemble(networks)


class HarmonizerEnsemble:
    """Several harmonizer networks as one: the same interface as `NumpyHarmonizer`, their encodings, decoder
    states and contexts side by side, and as logits the log of their mean probabilities (equal weights)."""

    def __init__(self, members: list[NumpyHarmonizer]) -> None:
        if not members:
            raise HarmonyError("an ensemble needs at least one harmonizer network")
        self.members = members
        self.encoded_sizes = [2 * m.config.encoder_size for m in members]
        self.decoder_sizes = [m.config.decoder_size for m in members]
        # where one member's part ends in the side-by-side encodings, decoder states and contexts
        self.encoded_cuts = np.cumsum(self.encoded_sizes)[:-1]
        self.decoder_cuts = np.cumsum(self.decoder_sizes)[:-1]
        self.context_cuts = np.cumsum([d + e for d, e in zip(self.decoder_sizes, self.encoded_sizes, strict=True)])[:-1]

    def encode(self, features: Sequence[np.ndarray]) -> np.ndarray:
        return np.concatenate([m.encode(features) for m in self.members], axis=-1)

    def start(self, batch: int) -> LSTMState:
        zeros = np.zeros((batch, sum(self.decoder_sizes)), dtype=np.float32)
        return LSTMState(zeros, zeros.copy())

    def decode_step(self, encoded: np.ndarray, previous: np.ndarray, state: LSTMState) -> tuple[np.ndarray, LSTMState]:
        encodings = np.split(encoded, self.encoded_cuts, axis=-1)
        states = [LSTMState(h, c) for h, c in zip(np.split(state.hidden, self.decoder_cuts, axis=-1),
                                                  np.split(state.cell, self.decoder_cuts, axis=-1), strict=True)]
        stepped = [m.decode_step(e, previous, s) for m, e, s in zip(self.members, encodings, states, strict=True)]
        hidden = np.concatenate([s.hidden for _, s in stepped], axis=-1)
        cell = np.concatenate([s.cell for _, s in stepped], axis=-1)
        return np.concatenate([context for context, _ in stepped], axis=-1), LSTMState(hidden, cell)

    def voice_logits(self, context: np.ndarray, below: list[np.ndarray]) -> np.ndarray:
        contexts = np.split(context, self.context_cuts, axis=-1)
        logits = [m.voice_logits(c, below).astype(np.float64) for m, c in zip(self.members, contexts, strict=True)]
        log_probabilities = np.stack([x - log_sum_exp(x) for x in logits], axis=-1)
        return log_sum_exp(log_probabilities)[..., 0] - np.log(len(logits))


def log_sum_exp(values: np.ndarray) -> np.ndarray:
    """log(sum(exp(values))) over the last axis, kept as an axis of 1, without overflow."""
    top = values.max(axis=-1, keepdims=True)
    return top + np.log(np.exp(values - top).sum(axis=-1, keepdims=True))


Network = NumpyHarmonizer | HarmonizerEnsemble
