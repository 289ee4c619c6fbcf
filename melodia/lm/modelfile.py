"""Model files: weights, model settings, tokenizer and training record in one safetensors file.

safetensors holds only tensors and string metadata, so loading a model file can never
run code, unlike a pickle. Everything needed to generate is in the one file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from melodia.errors import MelodiaError
from melodia.io.atomic import atomic_write_bytes
from melodia.lm.model import MelodyLM, ModelConfig
from melodia.tokenizers import Tokenizer, tokenizer_from_dict
from melodia.version import __version__

MODEL_FORMAT = "melodia-model"
MODEL_VERSION = 1
MAX_MODEL_BYTES = 2 * 1024**3
DEFAULT_MODEL = "default"  # names the model shipped in the package, wherever a model file is asked for


class ModelFileError(MelodiaError):
    """A model file that is not one, is damaged, or comes from an incompatible melodia."""


def save_model(path: str | os.PathLike[str], model: MelodyLM, tokenizer: Tokenizer, training: dict[str, Any],
               half: bool = False) -> Path:
    """Write `model` with everything needed to use it, atomically; `half` stores float16 weights."""
    from safetensors.torch import save

    state = model.state_dict()
    if model.config.tie_weights:
        state.pop("decoder.weight")  # the same tensor as embedding.weight
    tensors = {name: (t.half() if half and t.is_floating_point() else t).detach().cpu().contiguous()
               for name, t in state.items()}
    metadata = {"format": MODEL_FORMAT, "version": str(MODEL_VERSION), "melodia": __version__,
                "model": json.dumps(model.config.to_dict()), "tokenizer": json.dumps(tokenizer.to_dict()),
                "training": json.dumps(training, sort_keys=True)}
    return atomic_write_bytes(path, save(tensors, metadata))


def model_path(name: str | os.PathLike[str]) -> Path:
    """A model file's path from its name: `DEFAULT_MODEL` is the model shipped in the package.

    Raises:
        ModelFileError: `DEFAULT_MODEL` asked for, and this install ships none.
    """
    if str(name) != DEFAULT_MODEL:
        return Path(name)
    from melodia.resources import default_model_path

    path = default_model_path()
    if not path.is_file():
        raise ModelFileError(f"{path}: this install has no default model yet; train one with "
                             "scripts/train_default.py, or pass --model FILE")
    return path


def open_model(model: Any) -> tuple[MelodyLM, Tokenizer]:
    """The language model and its tokenizer from a model file, `DEFAULT_MODEL` ("default", the model shipped in
    the package), or a (model, tokenizer) pair already loaded, which is returned as it is: what generate, infill,
    whole tunes, batch jobs and the studio take as their `model`."""
    if isinstance(model, (str, os.PathLike)):
        loaded, tokenizer, _ = load_model(model)
        return loaded, tokenizer
    return model[0], model[1]


def load_model(path: str | os.PathLike[str], device: str = "cpu") -> tuple[MelodyLM, Tokenizer, dict[str, Any]]:
    """Rebuild the model, its tokenizer and its training record from a model file, or from
    the shipped model when `path` is `DEFAULT_MODEL` ("default").

    Raises:
        ModelFileError: not a melodia model file, damaged, truncated, or from another format version.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load

    path = model_path(path)
    source = str(path)
    try:
        size = os.path.getsize(path)
        if size > MAX_MODEL_BYTES:
            raise ModelFileError(f"{source}: {size} bytes, over the {MAX_MODEL_BYTES}-byte limit for a model file")
        data = Path(path).read_bytes()
    except OSError as error:
        raise ModelFileError(f"{source}: cannot open ({error.strerror or error})") from error
    try:
        tensors = load(data)
        metadata = _metadata(data)
    except (SafetensorError, ValueError, KeyError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelFileError(f"{source}: not a melodia model file, or a damaged or truncated one "
                             f"({str(error)[:120]})") from error
    if metadata.get("format") != MODEL_FORMAT:
        raise ModelFileError(f"{source}: a safetensors file, but not a melodia model (format "
                             f"{metadata.get('format')!r})")
    if metadata.get("version") != str(MODEL_VERSION):
        raise ModelFileError(f"{source}: model format version {metadata.get('version')!r} (written by melodia "
                             f"{metadata.get('melodia', '?')}); this melodia {__version__} reads version "
                             f"{MODEL_VERSION}")
    try:
        config = ModelConfig.from_dict(json.loads(metadata["model"]))
        tokenizer = tokenizer_from_dict(json.loads(metadata["tokenizer"]), f"{source}: tokenizer")
        training = json.loads(metadata.get("training", "{}"))
        model = MelodyLM(config)
        if config.tie_weights:
            tensors["decoder.weight"] = tensors["embedding.weight"]
        model.load_state_dict({name: t.float() for name, t in tensors.items()})
    except (KeyError, TypeError, RuntimeError, json.JSONDecodeError, MelodiaError) as error:
        raise ModelFileError(f"{source}: inconsistent model file ({str(error).splitlines()[0][:160]})") from error
    if config.vocab_size != len(tokenizer):
        raise ModelFileError(f"{source}: model vocabulary {config.vocab_size} != tokenizer vocabulary "
                             f"{len(tokenizer)}")
    return model.to(device).eval(), tokenizer, training


def _metadata(data: bytes) -> dict[str, str]:
    """The string metadata of a safetensors file (its JSON header's __metadata__)."""
    header_length = int.from_bytes(data[:8], "little")
    if not 2 <= header_length <= len(data) - 8:
        raise ValueError(f"header length {header_length} does not fit the file")
    header = json.loads(data[8:8 + header_length].decode("utf-8"))
    metadata = header.get("__metadata__") or {}
    if not isinstance(metadata, dict):
        raise ValueError("metadata is not an object")
    return {str(k): str(v) for k, v in metadata.items()}

