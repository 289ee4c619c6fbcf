"""Soft controls: the chord under each note, and each bar's note density and register.

    Controls(chords="D | G | A7 | D", density="rising", register="mid,mid,high,mid")

`Controls` is what a user asks the model to lean towards; `melodia.lm.constraints.Constraints` is what every
output must keep. The model is conditioned on the controls rather than held to them (a bar asked for 8 notes may
have 7), and only a model trained with the matching conditions reads them.

A model trained with these conditions (`melodia.lm.train`, conditions "chord", "density",
"register" and "fill") reads, beside each token, labels for the bar it is writing:

- chord: the chord sounding at the token's position, as a root and one of four kinds
  (major, minor, dominant seventh, diminished); sixths, sevenths and suspensions fold into
  the kind of their triad;
- density: how many notes start in the bar (0 to 15, or "16+");
- register: the mean pitch of the bar's notes: low (below F#4), mid (F#4 up to B4) or high (B4 and up);
- fill: while a gap is filled (`melodia.lm.infill`), how many of its bars are left, this one included.

Each label has an "unknown" value. Training gives "unknown" in place of a piece's chords,
densities or registers at random, so the model also writes without them, drawing them from
what the corpus does; at generation time every control not asked for is "unknown".

Training chords come from harmonic analysis (`melodia.harmony.chords.harmonize`, a chord per
bar or half bar chosen for the melody in its key): the folk corpus's sources carry no chord
symbols. The per-piece analysis is cached beside the corpus (`controls.npz`).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from melodia.errors import MelodiaError
from melodia.io.atomic import atomic_write_bytes
from melodia.lm.constraints import GenerateError
from melodia.theory.chord import CONTROL_KIND_OF_QUALITY, CONTROL_KINDS, parse_progression
from melodia.theory.pitch import SHARP_NAMES
from melodia.tokenizers import GrammarState, Tokenizer
from melodia.tokenizers.metrical import MetricalState

CONTROL_NAMES = ("chord", "density", "register", "fill")
DENSITY_TOP = 16  # bars with this many notes or more share one label
REGISTERS = ("low", "mid", "high")
REGISTER_FLOORS = (66.0, 71.0)  # mean pitch where mid (F#4) and high (B4) begin: a quarter of folk bars each
FILL_TOP = 4
VALUES: dict[str, list[str]] = {
    "chord": ["unknown", *[f"{root}{kind}" for root in SHARP_NAMES for kind in CONTROL_KINDS]],
    "density": ["unknown", *map(str, range(DENSITY_TOP)), f"{DENSITY_TOP}+"],
    "register": ["unknown", *REGISTERS],
    "fill": ["unknown", *map(str, range(1, FILL_TOP)), f"{FILL_TOP}+"],
}
CURVES = ("steady", "rising", "falling", "arch")
CACHE_VERSION = 1


class ControlError(MelodiaError):
    """A control value outside what is accepted."""


CONTROL_EXAMPLES = {"chords": "'D | G | A7 | D'", "density": "'2,4,4,8' or 'rising'",  # `Controls`' fields
                    "register": "'mid,mid,high,mid' or 'rising'"}


@dataclass(frozen=True)
class Controls:
    """What the model is steered towards, bar by bar, rather than held to; None leaves a control off."""

    chords: str | None = None  # "D | G | A7 | D": chords per bar (a bar's chords share it), repeated to the length
    density: str | None = None  # notes per bar, "2,4,4,8" (repeated), or a curve: steady, rising, falling, arch
    register: str | None = None  # low, mid, high or any per bar, "mid,mid,high,mid" (repeated), or a curve

    def __post_init__(self) -> None:
        """Refuse a control that cannot be read, naming it, the value and what is accepted (a `GenerateError`);
        a curve's length is checked where the length is known."""
        for name, example in CONTROL_EXAMPLES.items():
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise GenerateError(f"controls.{name} = {value!r}: expected text, such as {example}")
        try:
            if self.chords is not None:
                plan_chords(self.chords, 48, 12, 1)
            if self.density is not None:
                plan_density(self.density, 1, 8)
            if self.register is not None:
                plan_register(self.register, 1)
        except ControlError as error:
            raise GenerateError(str(error)) from None

    def __bool__(self) -> bool:
        """Whether any control is asked for."""
        return any(value is not None for value in asdict(self).values())

    @classmethod
    def parse(cls, values: Mapping[str, Any], source: str = "controls", where: str = "") -> Controls:
        """Controls from a table of text (a job file's [controls], the command line's options), read as
        `Constraints.parse` reads its table; None is "not given"."""
        from melodia.settings import from_dict

        return from_dict(cls, {name: value for name, value in values.items() if value is not None},
                         GenerateError, source, where)

    def as_text(self) -> dict[str, str | None]:
        """The controls as a user writes them, for manifests and job files; `Controls.parse` reads them back."""
        return asdict(self)


def moved_controls(constraints: Mapping[str, Any], controls: Mapping[str, Any]
                   ) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """A [constraints] table as job files and manifests wrote it before the controls had a table of their own
    (with chords, density or register among its fields) beside a [controls] table: the constraints alone, the
    controls together (the [controls] table's where both give one) and the names both give."""
    names = CONTROL_EXAMPLES.keys()
    moved = {name: value for name, value in constraints.items() if name in names}
    return ({name: value for name, value in constraints.items() if name not in names}, {**moved, **controls},
            sorted(set(moved) & set(controls)))


def control_values(names: Sequence[str]) -> dict[str, list[str]]:
    """The label values of each control condition (index 0 is "unknown")."""
    return {name: list(VALUES[name]) for name in names}


def chord_index(root: int, quality: str) -> int:
    """The "chord" label of a root pitch class and a quality of `melodia.theory.chord.QUALITIES`."""
    return 1 + (root % 12) * len(CONTROL_KINDS) + CONTROL_KINDS.index(CONTROL_KIND_OF_QUALITY.get(quality, ""))


def density_index(notes: int) -> int:
    return 1 + min(max(notes, 0), DENSITY_TOP)


def register_index(mean_pitch: float) -> int:
    """The "register" label of a bar whose notes average `mean_pitch` (NaN, an empty bar: unknown)."""
    if np.isnan(mean_pitch):
        return 0
    return 1 + int(np.searchsorted(REGISTER_FLOORS, mean_pitch, side="right"))


def fill_index(bars_left: int) -> int:
    return 0 if bars_left < 1 else min(bars_left, FILL_TOP)


# --------------------------------------------------------------- where each token is


def token_bars(tokenizer: Tokenizer, tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(bar, step) of each token of an in-order metrical sequence: the bar it is written in (-1 before the first
    Bar) and the grid step it stands at (a Bar's: its start; a note's: its onset)."""
    vocab = tokenizer.vocab
    tokens = np.asarray(tokens, dtype=np.int64)
    is_bar = tokens == vocab.id("Bar", 0)
    bar = np.cumsum(is_bar) - 1
    bars = int(is_bar.sum())
    meters = tokenizer.grid.meters
    time_start, time_stop = vocab.ranges["TimeSig"]
    lengths = np.zeros(max(bars, 1), dtype=np.int64)
    for index in np.flatnonzero((tokens >= time_start) & (tokens < time_stop)):
        lengths[max(int(bar[index]), 0):] = tokenizer.grid.bar_steps(*meters[int(tokens[index]) - time_start])
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    position_start, position_stop = vocab.ranges["Position"]
    is_position = (tokens >= position_start) & (tokens < position_stop)
    marks = np.where(is_position | is_bar, np.arange(len(tokens)), -1)
    last_mark = np.maximum.accumulate(marks)
    position = np.where(is_position[np.maximum(last_mark, 0)], tokens[np.maximum(last_mark, 0)] - position_start, 0)
    step = np.where(bar >= 0, starts[np.maximum(bar, 0)] + position, 0)
    return bar, step


@dataclass
class PieceControls:
    """What the controls read of one piece in its written key: for each token its bar and the chord at its
    step (root -1: none); for each bar its note count and mean pitch (NaN when empty)."""

    bar: np.ndarray
    root: np.ndarray
    kind: np.ndarray
    notes: np.ndarray
    mean_pitch: np.ndarray

    def labels(self, names: Sequence[str], shift: int = 0, keep: Sequence[bool] | None = None) -> np.ndarray:
        """(tokens, conditions) label indices for conditions `names`, the piece transposed by `shift`
        semitones; a condition whose `keep` flag is False is "unknown" throughout ("fill" is always 0 here)."""
        out = np.zeros((len(self.bar), len(names)), dtype=np.int64)
        has_bar = self.bar >= 0
        bar = np.maximum(self.bar, 0)
        for column, name in enumerate(names):
            if keep is not None and not keep[column]:
                continue
            if name == "chord":
                known = self.root >= 0
                out[known, column] = 1 + ((self.root[known] + shift) % 12) * len(CONTROL_KINDS) + self.kind[known]
            elif name == "density":
                out[has_bar, column] = 1 + np.minimum(self.notes[bar[has_bar]], DENSITY_TOP)
            elif name == "register":
                means = self.mean_pitch[bar] + shift
                index = 1 + np.searchsorted(REGISTER_FLOORS, np.nan_to_num(means, nan=0.0), side="right")
                out[:, column] = np.where(has_bar & ~np.isnan(means), index, 0)
        return out


def piece_controls(tokenizer: Tokenizer, tokens: np.ndarray) -> PieceControls:
    """Bars, per-bar note counts and mean pitches, and the analysed chord at each token of a piece."""
    from melodia.harmony.chords import harmonize, tune_key

    tokens = np.asarray(tokens, dtype=np.int64)
    bar, step = token_bars(tokenizer, tokens)
    bars = int(bar.max()) + 1 if len(bar) else 0
    pitch_start, pitch_stop = tokenizer.vocab.ranges["Pitch"]
    is_pitch = (tokens >= pitch_start) & (tokens < pitch_stop)
    pitches = tokens[is_pitch] - pitch_start + tokenizer.config.pitch_range[0]
    notes = np.bincount(bar[is_pitch], minlength=bars)[:bars] if bars else np.zeros(0, dtype=np.int64)
    sums = np.bincount(bar[is_pitch], weights=pitches, minlength=bars)[:bars] if bars else np.zeros(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_pitch = np.where(notes > 0, sums / np.maximum(notes, 1), np.nan)
    root = np.full(len(tokens), -1, dtype=np.int64)
    kind = np.zeros(len(tokens), dtype=np.int64)
    score = tokenizer.decode(tokens)
    melody = score.notes
    if melody:
        spans = harmonize(score, melody, tune_key(score, melody))
        ticks = tokenizer.config.ticks_per_step
        starts = np.asarray([span.start // ticks for span in spans], dtype=np.int64)
        roots = np.asarray([span.chord.root for span in spans], dtype=np.int64)
        kinds = np.asarray([CONTROL_KINDS.index(CONTROL_KIND_OF_QUALITY.get(span.chord.quality, "")) for span in spans])
        which = np.searchsorted(starts, step, side="right") - 1
        inside = (bar >= 0) & (which >= 0)
        root[inside], kind[inside] = roots[which[inside]], kinds[which[inside]]
    return PieceControls(bar, root, kind, notes.astype(np.int64), mean_pitch.astype(np.float64))


def corpus_controls(corpus: Any, pieces: Sequence[dict[str, Any]]) -> list[PieceControls]:
    """`piece_controls` of each piece, cached in the corpus folder (the analysis takes about 5 ms a piece)."""
    path = Path(corpus.folder) / "controls.npz"
    key = f"{CACHE_VERSION}:{corpus.content_hash()}"
    cached: dict[str, PieceControls] = {}
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as data:
                if str(data["key"]) == key:
                    cached = _unpack(data)
        except (OSError, ValueError, KeyError):
            cached = {}
    missing = [piece for piece in pieces if piece["id"] not in cached]
    for piece in missing:
        cached[piece["id"]] = piece_controls(corpus.tokenizer, corpus.piece_tokens(piece))
    if missing:
        with contextlib.suppress(OSError):  # a read-only corpus folder: analyse again next time
            atomic_write_bytes(path, _pack(cached, key))
    return [cached[piece["id"]] for piece in pieces]


def _pack(controls: dict[str, PieceControls], key: str) -> bytes:
    import io

    ids = list(controls)
    items = [controls[i] for i in ids]
    buffer = io.BytesIO()
    np.savez(buffer, key=np.asarray(key), ids=np.asarray(ids),
             tokens=np.asarray([len(c.bar) for c in items]), bars=np.asarray([len(c.notes) for c in items]),
             bar=np.concatenate([c.bar for c in items]).astype(np.int32),
             root=np.concatenate([c.root for c in items]).astype(np.int8),
             kind=np.concatenate([c.kind for c in items]).astype(np.int8),
             notes=np.concatenate([c.notes for c in items]).astype(np.int32),
             mean_pitch=np.concatenate([c.mean_pitch for c in items]).astype(np.float32))
    return buffer.getvalue()


def _unpack(data: Any) -> dict[str, PieceControls]:
    token_ends, bar_ends = np.cumsum(data["tokens"]), np.cumsum(data["bars"])
    bar, root, kind = (data[name].astype(np.int64) for name in ("bar", "root", "kind"))
    notes, mean_pitch = data["notes"].astype(np.int64), data["mean_pitch"].astype(np.float64)
    out = {}
    for index, piece in enumerate(data["ids"]):
        a, b = (token_ends[index - 1] if index else 0), token_ends[index]
        c, d = (bar_ends[index - 1] if index else 0), bar_ends[index]
        out[str(piece)] = PieceControls(bar[a:b], root[a:b], kind[a:b], notes[c:d], mean_pitch[c:d])
    return out


# --------------------------------------------------------------- controls asked for at generation time


@dataclass(frozen=True)
class ControlPlan:
    """The controls asked for: chords in time (grid step, chord label) from the tune's first bar, and per bar
    (the tune's bar 1 first) a density and a register label; None leaves a control to the model."""

    chords: tuple[tuple[int, int], ...] | None = None
    density: tuple[int, ...] | None = None
    register: tuple[int, ...] | None = None


@dataclass
class Labeler:
    """The condition labels of the token just read, from the grammar's state and a `ControlPlan`
    (a sampler's `labels` callback)."""

    names: tuple[str, ...]
    plan: ControlPlan = field(default_factory=ControlPlan)
    chord_starts: list[int] = field(init=False)

    def __post_init__(self) -> None:
        self.chord_starts = [start for start, _ in self.plan.chords or ()]

    def __call__(self, state: GrammarState) -> np.ndarray:
        out = np.zeros(len(self.names), dtype=np.int64)
        if not isinstance(state, MetricalState) or state.last_kind in ("Gap", "Middle", "EOS", "PAD", "BOS"):
            return out
        bar = state.bars - 1
        if bar < 0:
            return out
        step = state.bar_start + max(state.position, 0)
        plan = self.plan
        for column, name in enumerate(self.names):
            if name == "chord" and plan.chords:
                which = int(np.searchsorted(self.chord_starts, step, side="right")) - 1
                out[column] = plan.chords[which][1] if which >= 0 else 0
            elif name == "density" and plan.density:
                out[column] = plan.density[bar % len(plan.density)]
            elif name == "register" and plan.register:
                out[column] = plan.register[bar % len(plan.register)]
            elif name == "fill" and state.gap.filling:
                out[column] = fill_index(state.gap.first_bar + state.gap.bars - bar)
        return out


def chord_changes(progression: str, bar_steps: int, beat_steps: int, bars: int) -> list[tuple[int, Any, str]]:
    """'D | G | A7 | D' (a bar's chords share it by beats) as (grid step, `Chord`, the symbol as written) changes
    over `bars` bars, the progression repeated to the length."""
    from melodia.harmony.chords import beat_shares

    try:
        chords = parse_progression(progression)
    except MelodiaError as error:
        raise ControlError(f"controls.chords = {progression!r}: {error}") from error
    words = [bar.split() for bar in progression.split("|")]
    beats = max(bar_steps // max(beat_steps, 1), 1)
    out: list[tuple[int, Any, str]] = []
    for number in range(bars):
        group, written = chords[number % len(chords)], words[number % len(chords)]
        onset = number * bar_steps
        for chord, word, share in zip(group, written, beat_shares(beats, len(group)), strict=True):
            if onset < (number + 1) * bar_steps and (not out or out[-1][1] != chord):
                out.append((onset, chord, word))
            onset += share * beat_steps
    return out


def chord_labels(changes: Sequence[tuple[int, Any, str]]) -> tuple[tuple[int, int], ...]:
    """`chord_changes` as (grid step, "chord" label)."""
    return tuple((step, chord_index(chord.root, chord.quality)) for step, chord, _ in changes)


def plan_chords(progression: str, bar_steps: int, beat_steps: int, bars: int) -> tuple[tuple[int, int], ...]:
    """`chord_labels` of `chord_changes`."""
    return chord_labels(chord_changes(progression, bar_steps, beat_steps, bars))


NUMBER_LIST = re.compile(r"^\s*\d+(\s*,\s*\d+)*\s*$")


def plan_density(text: str, bars: int | None, eighths: int) -> tuple[int, ...]:
    """'2,4,4,8' (notes per bar, repeated to the length) or a curve (steady, rising, falling, arch) from half
    a note per eighth to one per eighth of the bar (4 to 8 in 4/4)."""
    if NUMBER_LIST.match(text):
        counts = [int(part) for part in text.split(",")]
        if not any(counts):
            raise ControlError(f"controls.density = {text!r}: no bar with a note; expected notes per bar with "
                               "at least one above 0, such as 2,4,4,8 (a 0 is a bar held over from the last)")
        return tuple(density_index(count) for count in counts)
    low, high = max(eighths // 2, 1), max(eighths, 2)
    return tuple(density_index(round(low + (high - low) * level)) for level in _curve(text, bars, "density"))


def plan_register(text: str, bars: int | None) -> tuple[int, ...]:
    """'mid,mid,high,mid' (low, mid or high per bar, or any: none asked, repeated to the length) or a curve
    (steady, rising, falling, arch) from low to high."""
    words = [word.strip().lower() for word in text.split(",")]
    if all(word in (*REGISTERS, "any") for word in words):  # "any": none asked of that bar
        return tuple(1 + REGISTERS.index(word) if word != "any" else 0 for word in words)
    if len(words) > 1:
        bad = next(word for word in words if word not in REGISTERS)
        raise ControlError(f"controls.register = {text!r}: {bad!r} is not a register; expected low, mid, high "
                           f"or any per bar, or one of the curves {', '.join(CURVES)}")
    return tuple(1 + min(int(level * len(REGISTERS)), len(REGISTERS) - 1)
                 for level in _curve(text, bars, "register"))


def _curve(text: str, bars: int | None, name: str) -> list[float]:
    """The levels 0..1 of a named curve over `bars` bars."""
    curve = text.strip().lower()
    accepted = f"numbers per bar such as 2,4,4,8, or one of the curves {', '.join(CURVES)}" if name == "density" \
        else f"low, mid, high or any per bar, or one of the curves {', '.join(CURVES)}"
    if curve not in CURVES:
        raise ControlError(f"controls.{name} = {text!r}: expected {accepted}")
    if not bars:
        raise ControlError(f"controls.{name} = {text!r}: a curve needs the length in bars; give bars as well")
    if bars == 1 or curve == "steady":
        return [0.5] * bars
    ramp = [i / (bars - 1) for i in range(bars)]
    if curve == "rising":
        return ramp
    if curve == "falling":
        return [1 - level for level in ramp]
    return [1 - abs(2 * level - 1) for level in ramp]
