"""New music from a seed phrase: the seed is tokenized, continued by the model, decoded.

    melodia.generate("folk.safetensors", "D4 E4 F#4/8 G4/8 A4/2 key=D meter=6/8", 10, Constraints(bars=8))

returns `Score`s, each the seed followed by what the model wrote, under the constraints
asked for (key or mode, pitch range, largest leap, length in bars), all enforced as
masks while sampling.
"""

from __future__ import annotations

import copy
import json
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from melodia.analysis import SCALES, estimate_key
from melodia.errors import MelodiaError
from melodia.gm import INSTRUMENT_RANGES
from melodia.io.atomic import atomic_write_bytes, atomic_write_text, refuse_overwrite
from melodia.sampler import Constraint, SamplingConfig, beam_search, sample
from melodia.score import Score
from melodia.seed import Mode, parse_key, parse_meter, parse_seed
from melodia.tokenizers import EOS, GrammarState, Tokenizer


class GenerateError(MelodiaError):
    """A generation request that cannot be met as asked."""


@dataclass(frozen=True)
class Constraints:
    """What every output must respect; None leaves a constraint off."""

    key: str | None = None  # "D dorian"; by default the seed's key, else one estimated from its notes
    pitch_range: tuple[int, int] | None = None
    max_leap: int | None = None
    bars: int | None = None  # length in bars, seed included
    notes: int | None = None  # length in notes, seed included
    meter: str | None = None  # "6/8"; by default the seed's
    end_on_tonic: bool = False
    instrument: str | None = None  # keep notes in this instrument's range (see gm.INSTRUMENT_RANGES)


def generate(model: Any, seed: Any, count: int = 1, constraints: Constraints = Constraints(),
             sampling: SamplingConfig | None = None, random_seed: int = 0) -> list[Score]:
    """`count` continuations of `seed` by `model`, sampled as one batch.

    `seed` is note text ("C4 D4 E4/8"), an ABC fragment, a `Score`, a music21 stream, or
    `SeedFile(path, bars, track)`; `model` is a model file path or a loaded
    (model, tokenizer) pair. The same `random_seed` gives the same output.
    """
    model, tokenizer = _load(model)
    seed_score, mode = read_seed(seed)
    if constraints.meter:
        seed_score.time_signatures = [parse_meter(constraints.meter, f"--meter {constraints.meter!r}")]
    if constraints.key:
        mode = parse_key(constraints.key, "--key")
    mode = mode or _estimated_mode(seed_score)
    prompt = tokenizer.encode(seed_score).tolist()
    if prompt[-1] == EOS:
        prompt = prompt[:-1]
    _check_room(seed_score, len(prompt), constraints, sampling or SamplingConfig())
    rules = _constraint_masks(tokenizer, mode, constraints)
    generator = torch.Generator().manual_seed(random_seed)
    torch.manual_seed(random_seed)
    sampling = sampling or SamplingConfig()
    if sampling.beam_size:
        sequences = beam_search(model, tokenizer, prompt, sampling.beam_size, sampling.branch_factor,
                                sampling.max_tokens, rules, count)
    else:
        sequences = sample(model, tokenizer, prompt, count, sampling, generator, rules)
    return [tokenizer.decode(tokens) for tokens in sequences]


def _check_room(seed: Score, prompt_tokens: int, constraints: Constraints, sampling: SamplingConfig) -> None:
    """Refuse, before sampling, a seed that leaves nothing to generate."""
    if prompt_tokens >= sampling.max_tokens - 16:
        raise GenerateError(f"the seed phrase is {prompt_tokens} tokens long, too close to the longest sequence "
                            f"the sampler makes ({sampling.max_tokens}); shorten it (--seed-bars)")
    seed_bars = len(seed.bar_starts(seed.end_tick - 1)) if seed.end_tick else 0
    if constraints.bars and seed_bars >= constraints.bars:
        raise GenerateError(f"the seed phrase already fills {seed_bars} bars; ask for more than that (--bars "
                            f"{seed_bars + 4}, say) or shorten the seed (--seed-bars)")
    if constraints.notes and seed.note_count >= constraints.notes:
        raise GenerateError(f"the seed phrase already has {seed.note_count} notes; ask for more than that (--notes)")


@dataclass(frozen=True)
class SeedFile:
    """A seed taken from a file: its first `bars` bars (all when None), of track `track` (all when None)."""

    path: Path
    bars: int | None = None
    track: int | None = None


def read_seed(seed: Any) -> tuple[Score, Mode | None]:
    """The seed as a `Score`, and its key when the seed names one."""
    if isinstance(seed, Score):
        return copy.deepcopy(seed), None
    if isinstance(seed, SeedFile):
        return _seed_from_file(seed), None
    if isinstance(seed, str):
        if re.search(r"(?m)^\s*K:", seed):
            from melodia.io.music21 import score_from_text

            return score_from_text(seed, "abc", "ABC seed"), None
        return parse_seed(seed)
    if hasattr(seed, "flatten"):  # a music21 stream
        return Score.from_music21(seed), None
    raise GenerateError(f"seed of type {type(seed).__name__}: expected note text, an ABC fragment, a Score, "
                        "a music21 stream or a SeedFile")


def _seed_from_file(seed: SeedFile) -> Score:
    from melodia.io import read_score

    score = read_score(seed.path)
    if seed.track is not None:
        if not 0 <= seed.track < len(score.tracks):
            raise GenerateError(f"{seed.path}: track {seed.track} asked for; the file has tracks "
                                f"0..{len(score.tracks) - 1}")
        score.tracks = [score.tracks[seed.track]]
    if seed.bars is not None:
        starts = score.bar_starts()
        end = starts[seed.bars] if seed.bars < len(starts) else score.end_tick
        for track in score.tracks:
            track.notes = [n for n in track.notes if n.onset_tick < end]
            for note in track.notes:
                note.duration_tick = min(note.duration_tick, end - note.onset_tick)
    if not score.note_count:
        raise GenerateError(f"{seed.path}: the seed taken from it holds no notes")
    return score


def _load(model: Any) -> tuple[Any, Tokenizer]:
    """A model file path, "default" (the model shipped in the package), or a (model, tokenizer) pair."""
    if isinstance(model, (str, os.PathLike)):
        from melodia.io.modelfile import load_model
        from melodia.resources import default_model_path

        if str(model) == "default":
            model = default_model_path()
            if not model.is_file():
                raise GenerateError(f"{model}: this install has no default model yet; train one with "
                                    "scripts/train_default.py, or pass --model FILE")
        loaded, tokenizer, _ = load_model(model)
        return loaded, tokenizer
    return model[0], model[1]


def _estimated_mode(score: Score) -> Mode:
    pitches = np.asarray([n.pitch for n in score.notes])
    durations = np.asarray([n.duration_tick for n in score.notes])
    tonic, mode = estimate_key(pitches, durations)
    return Mode(tonic, mode)


def _constraint_masks(tokenizer: Tokenizer, mode: Mode, constraints: Constraints) -> list[Constraint]:
    """Constraint functions over the grammar's mask (metrical tokenizers)."""
    vocab = tokenizer.vocab
    if "Pitch" not in vocab.ranges:
        raise GenerateError("generation with constraints needs a metrical tokenizer")
    start, stop = vocab.ranges["Pitch"]
    pitches = np.arange(tokenizer.config.pitch_range[0], tokenizer.config.pitch_range[1] + 1)
    allowed_pitch = np.isin((pitches - mode.tonic) % 12, SCALES[mode.name])
    if constraints.pitch_range:
        low, high = constraints.pitch_range
        allowed_pitch &= (pitches >= low) & (pitches <= high)
    if constraints.instrument:
        if constraints.instrument not in INSTRUMENT_RANGES:
            raise GenerateError(f"--instrument {constraints.instrument!r}: expected one of "
                                f"{', '.join(sorted(INSTRUMENT_RANGES))}")
        low, high = INSTRUMENT_RANGES[constraints.instrument]
        allowed_pitch &= (pitches >= low) & (pitches <= high)
    rules: list[Constraint] = []
    duration_start, duration_stop = vocab.ranges["Duration"]
    changes = [vocab.ranges[kind] for kind in ("TimeSig", "Tempo") if kind in vocab.ranges]

    position_start, _ = vocab.ranges["Position"]

    def steady(state: GrammarState, mask: np.ndarray) -> np.ndarray:
        """The seed's meter and tempo hold throughout (and a melody never offers a position
        inside a held note, which could only take a tempo change)."""
        if getattr(state, "bars", 0) == 0:
            return mask
        narrowed = mask.copy()
        for first, last in changes:
            narrowed[first:last] = False
        if tokenizer.config.melody:
            held = state.note_end - state.bar_start  # type: ignore[attr-defined]
            narrowed[position_start:position_start + max(0, held)] = False
        return narrowed

    rules.append(steady)

    def in_key(state: GrammarState, mask: np.ndarray) -> np.ndarray:
        narrowed = mask.copy()
        narrowed[start:stop] &= allowed_pitch
        return narrowed

    rules.append(in_key)
    if constraints.max_leap is not None:
        leap = constraints.max_leap

        def small_leaps(state: GrammarState, mask: np.ndarray) -> np.ndarray:
            if not state.notes or not mask[start:stop].any():
                return mask
            narrowed = mask.copy()
            narrowed[start:stop] &= np.abs(pitches - state.notes[-1][2]) <= leap
            return narrowed

        rules.append(small_leaps)
    if constraints.bars is not None:
        bars, bar_token = constraints.bars, vocab.id("Bar", 0)

        def length(state: GrammarState, mask: np.ndarray) -> np.ndarray:
            """Exactly `bars` bars, and no note held past the last one."""
            narrowed = mask.copy()
            count = getattr(state, "bars", 0)
            if count >= bars:
                narrowed[bar_token] = False
            else:
                narrowed[EOS] = False
            if count and mask[duration_start:duration_stop].any():
                end = state.bar_start + (bars - count + 1) * state.bar_length  # type: ignore[attr-defined]
                if count < bars:
                    end -= 1  # the last bar must keep a free step for a note, or it could not end
                longest = end - (state.bar_start + state.position)  # type: ignore[attr-defined]
                narrowed[duration_start + max(longest, 1):duration_stop] = False
            return narrowed

        rules.append(length)
    if constraints.notes is not None:
        most = constraints.notes

        def note_count(state: GrammarState, mask: np.ndarray) -> np.ndarray:
            narrowed = mask.copy()
            if len(state.notes) >= most:
                narrowed[:] = False
                narrowed[EOS] = mask[EOS]
            else:
                narrowed[EOS] = False
            return narrowed

        rules.append(note_count)
    if constraints.end_on_tonic:
        tonic = mode.tonic

        def end_on_tonic(state: GrammarState, mask: np.ndarray) -> np.ndarray:
            """EOS only after the tonic; in the last bar a note other than the tonic leaves room after it."""
            narrowed = mask.copy()
            if state.notes and state.notes[-1][2] % 12 != tonic:
                narrowed[EOS] = False
            last_bar = constraints.bars is not None and getattr(state, "bars", 0) >= constraints.bars
            if last_bar and mask[start:stop].any() and state.position >= state.bar_length - 1:  # type: ignore
                narrowed[start:stop] &= (pitches % 12) == tonic  # the last step: only the tonic fits
            if last_bar and mask[duration_start:duration_stop].any() and state.pitch % 12 != tonic:  # type: ignore
                room = state.bar_start + state.bar_length - 1 - (state.bar_start + state.position)  # type: ignore
                narrowed[duration_start + max(room, 1):duration_stop] = False
            return narrowed

        rules.append(end_on_tonic)
    return rules


def write_outputs(scores: list[Score], folder: Path, settings: dict[str, Any], force: bool = False) -> list[Path]:
    """MIDI files 001.mid ..., a piano roll of each (001.png ...) and manifest.json, each written
    atomically; nothing overwritten unless `force`."""
    from melodia.display import pianoroll_png
    from melodia.io.midi import write_midi

    names = [folder / f"{index + 1:03d}.mid" for index in range(len(scores))]
    if not force:
        for path in [*names, *(p.with_suffix(".png") for p in names), folder / "manifest.json"]:
            refuse_overwrite(path)
    outputs = []
    for path, score in zip(names, scores):
        write_midi(score, path)
        atomic_write_bytes(path.with_suffix(".png"), pianoroll_png(score))
        notes = score.notes
        pitches = [n.pitch for n in notes]
        key = _estimated_mode(score)
        outputs.append({"file": path.name, "notes": len(notes), "bars": len(score.bar_starts(score.end_tick - 1)),
                        "lowest": min(pitches, default=0), "highest": max(pitches, default=0),
                        "estimated_key": str(key)})
    atomic_write_text(folder / "manifest.json", json.dumps({"settings": settings, "outputs": outputs}, indent=2))
    return names


def settings_record(seed: str, constraints: Constraints, sampling: SamplingConfig, random_seed: int,
                    model: str, count: int) -> dict[str, Any]:
    return {"model": model, "seed": seed, "count": count, "random_seed": random_seed,
            "constraints": asdict(constraints), "sampling": asdict(sampling)}

