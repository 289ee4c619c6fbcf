"""Regenerate chosen bars of a melody in place, keeping everything else exactly.

    melodia.infill("default", "tune.mid", "5-8", count=4)

returns 4 copies of the tune whose bars 5 to 8 (counted from 1) are new. The model reads the
bars before the gap and the bars after it (fill-in-the-middle: prefix, `Gap_N`, suffix,
`Middle`, the 2 bars before the gap again, then it writes the N bars; see
`melodia.tokenizers.metrical`), so the new bars lead into what follows; near the gap's end,
pitches far from the next kept note lose a little likelihood (`Biases.approach_pull`), and the grammar
makes the new bars fill the gap exactly, in its meter, with no note running into the next kept one;
bars that end a tune which ended on its tonic end on the tonic too, and a bar where the tune returns to an
earlier bar (bar 5 playing bar 1 again, as a strain's second half restates its opening) is restated.
Of a file with several tracks one track is rewritten (the gap as a single line) and every other note,
track, tempo and signature is kept as it was.

The constraints of `melodia.lm.constraints` apply to the new bars: key and scale (by default the
tune's own key, estimated from all of it, with the tune's own chromatic notes allowed), pitch
range, largest leap, instrument; the controls of `melodia.lm.controls` (chords, density and register, bars
counted from the tune's first) steer them.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import torch

from melodia.lm.constraints import Constraints, GenerateError, check_count
from melodia.lm.controls import Controls, Labeler
from melodia.lm.draw import (
    RETRIES,
    allowed_pitches,
    chord_bias,
    controls_asked,
    draw_sequences,
    key_bias,
    redraw,
    resolving,
)
from melodia.lm.form import FormCadence, FormPlan, Phrase, Restatement, cadence_pitch_classes
from melodia.lm.modelfile import open_model
from melodia.lm.sampler import Progress, Rule, SamplingConfig
from melodia.metrics import ends_on_tonic, melody
from melodia.metrics.tunes import bar_notes
from melodia.score import KeySignature, Note, Score, Track
from melodia.seed import Mode, read_seed, seed_key
from melodia.tokenizers import Tokenizer
from melodia.tokenizers.metrical import MAX_GAP_BARS, MetricalState, fill_prompt
from melodia.tokenizers.rules import ApproachBias, BarCount, LeapLimit, PitchSet, SteadyMeter

__all__ = ["BarSpan", "InfillError", "infill", "read_source"]


class InfillError(GenerateError):
    """An infill request that cannot be met: bars outside the tune, a model without infilling, ..."""


@dataclass(frozen=True)
class BarSpan:
    """Bars `first` to `last` of a tune, counted from 1, both included."""

    first: int
    last: int

    @classmethod
    def read_setting(cls, value: object, where: str = "bars") -> BarSpan:
        """'5-8', '5' or (5, 8) as a `BarSpan`."""
        if isinstance(value, BarSpan):
            return value
        text = f"{value[0]}-{value[1]}" if isinstance(value, list | tuple) and len(value) == 2 else value
        match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+))?\s*", str(text)) if isinstance(text, str | int) else None
        if not match or int(match.group(1)) < 1 or int(match.group(2) or match.group(1)) < int(match.group(1)):
            raise InfillError(f"{where} = {value!r}: expected bars FIRST-LAST counted from 1, such as 5-8 (or one "
                              "bar, such as 5)")
        return cls(int(match.group(1)), int(match.group(2) or match.group(1)))

    @property
    def count(self) -> int:
        return self.last - self.first + 1

    def __str__(self) -> str:
        return f"{self.first}-{self.last}"


def infill(model: Any, source: Any, bars: BarSpan | str, count: int = 1, track: int | str | None = None,
           constraints: Constraints | None = None, sampling: SamplingConfig | None = None, random_seed: int = 0,
           *, controls: Controls | None = None, progress: Progress | None = None) -> list[Score]:
    """`count` versions of `source` with `bars` written anew, sampled as one batch.

    `source` is a music file path, a `Score` or note text; `track` picks the track to rewrite (an index from 0
    or a name; needed when the source has more than one pitched track). `model` is a model file, "default" or a
    (model, tokenizer) pair, trained with infilling. The new bars keep the `constraints` and lean towards the
    `controls` (chords, notes per bar, register: bars counted from the source's first). The same `random_seed`
    gives the same output.
    """
    check_count(count, "versions", InfillError)
    span = BarSpan.read_setting(bars)
    constraints = constraints or Constraints()
    controls = controls or Controls()
    sampling = sampling or SamplingConfig()
    network, tokenizer = open_model(model)
    if not tokenizer.config.infill:
        raise InfillError("this model was trained without infilling; use the default model, or train one with "
                          "infill = 0.3")
    score = read_source(source)
    index = _track_index(score, track)
    line = copy.deepcopy(score)
    line.tracks = [line.tracks[index]]
    prompt, gap = _prompt(tokenizer, line, span)
    mode = constraints.key or seed_key(line)
    closing = gap.limit is None and _ends_home(line, mode.tonic)  # the gap ends a tune that closes
    rules = _rules(tokenizer, line, span, mode, constraints, closing)
    approach, labels_of = _steering(network, tokenizer, line, mode, constraints, controls, sampling)
    generator = torch.Generator().manual_seed(random_seed)
    torch.manual_seed(random_seed)

    def draw(how_many: int) -> list[list[Note]]:
        sequences = draw_sequences(network, tokenizer, prompt, how_many, sampling, generator, rules, approach,
                                   progress, labels_of)
        return [_gap_notes(tokenizer, tokens, gap) for tokens in sequences]

    def trouble(_: int, notes: list[Note]) -> int:
        """2 for a broken constraint, 1 for a tune's closing bars that no longer close, else 0."""
        if _fault(notes, line, gap, constraints):
            return 2
        return int(closing and not ends_on_tonic(_with_gap(line, 0, notes, gap), mode.tonic))

    fillings = redraw(draw(count), lambda failing: draw(len(failing)), trouble, 0 if sampling.beam_size else RETRIES)
    broken = [fault for notes in fillings if (fault := _fault(notes, line, gap, constraints))]
    if broken:
        raise InfillError(f"{len(broken)} of {count} infills could not keep every constraint ({broken[0]}); "
                          "loosen the pitch range or the largest leap")
    return [_with_gap(score, index, notes, gap) for notes in fillings]


def _rules(tokenizer: Tokenizer, line: Score, span: BarSpan, mode: Mode, constraints: Constraints,
           closing: bool) -> list[Rule]:
    """The masks an infill keeps: the meter, the pitches allowed, the largest leap, the closing cadence of a tune
    whose gap ends it (`closing`), and the restatements of the opening where the original has them."""
    allowed = allowed_pitches(tokenizer, line if constraints.key is None else None, mode, constraints)
    if not allowed.any():
        raise InfillError("the pitch range, the instrument and the key leave no pitch to play; widen the range")
    rules: list[Rule] = [SteadyMeter(tokenizer), PitchSet(tokenizer, allowed)]
    if constraints.max_leap is not None:
        rules.append(LeapLimit(tokenizer, constraints.max_leap))
    if closing:
        rules += [BarCount(tokenizer, span.last), _final_cadence(tokenizer, span, mode)]
    returns = _returns(tokenizer, line, span)
    if returns:
        rules.append(Restatement(tokenizer, returns))
    return rules


def _steering(network: Any, tokenizer: Tokenizer, line: Score, mode: Mode, constraints: Constraints,
              controls: Controls, sampling: SamplingConfig) -> tuple[ApproachBias, Any]:
    """The biases of an infill (the key's, the chords' asked for, the approach to the note after the gap) and its
    labels (the controls asked for; every control unknown for a model trained with them when none is)."""
    bias = key_bias(tokenizer, mode, line, constraints.scale, sampling.biases)
    labels_of, chords = controls_asked(network, tokenizer, line, controls, constraints.bars)
    if chords:
        bias = chord_bias(tokenizer, bias, chords, sampling.biases)
    resolved = resolving(tokenizer, bias, mode, sampling.biases)
    if labels_of is None and network.config.conditions:
        labels_of = Labeler(tuple(network.config.conditions))  # the gap's bars left, with every control unknown
    return ApproachBias(tokenizer, resolved, sampling.biases.approach_pull), labels_of


def _ends_home(line: Score, tonic: int) -> bool:
    """Whether the line's last note is the tonic (`tonic`, a pitch class), wherever in its bar it falls."""
    notes = melody(line)
    return bool(notes) and notes[-1].pitch % 12 == tonic


def _returns(tokenizer: Tokenizer, line: Score, span: BarSpan) -> dict[int, list[tuple[int, int, int]]]:
    """The bars of the gap where the tune's form returns to a bar before the gap (the original plays that bar
    again, note for note), with that bar's notes in steps: an infill restates them."""
    bars = bar_notes(line)
    step = tokenizer.config.ticks_per_step
    returns = {}
    for number in range(span.first, min(span.last, len(bars)) + 1):
        bar = bars[number - 1]
        if bar and bar in bars[:span.first - 1] and all(p % step == 0 and d % step == 0 for p, _, d in bar):
            returns[number] = [(p // step, pitch, d // step) for p, pitch, d in bar]
    return returns


def _final_cadence(tokenizer: Tokenizer, span: BarSpan, mode: Mode) -> FormCadence:
    """For a gap that ends a tune that ended on the tonic: its last bar closes on the tonic too (on a strong beat,
    held to the end of the bar), as `generate` ends a tune (a draw that could not is drawn again)."""
    plan = FormPlan("A", span.last, (Phrase("A", 1, span.last, (), "final"),))
    return FormCadence(tokenizer, plan, span.first, {"final": cadence_pitch_classes("final", mode.tonic, mode.mode)})


def read_source(source: Any) -> Score:
    """A music file path, a `Score` or note text, as a `Score` (a copy)."""
    if isinstance(source, Score):
        return copy.deepcopy(source)
    if isinstance(source, (str, os.PathLike)) and Path(source).suffix and Path(source).is_file():
        from melodia.io import read_score

        return read_score(Path(source))
    if isinstance(source, str):  # note text ("key=D" becomes its key signature) or ABC
        score, mode = read_seed(source)
        if mode is not None and not score.key_signatures:
            score.key_signatures = [KeySignature(0, mode.tonic, mode.quality)]
        return score
    raise InfillError(f"source of type {type(source).__name__}: expected a music file, a Score, note text or ABC")


def _track_index(score: Score, track: int | str | None) -> int:
    """The track to rewrite: `track` (an index from 0 or a name), else the only pitched one."""
    names = ", ".join(f"{i} {t.name!r}" if t.name else str(i) for i, t in enumerate(score.tracks))
    if track is not None:
        for index, candidate in enumerate(score.tracks):
            if str(track) in (str(index), candidate.name):
                if candidate.is_drum or not candidate.notes:
                    raise InfillError(f"{score.title or 'the tune'}: track {track!r} holds no pitched notes to "
                                      f"rewrite; tracks: {names}")
                return index
        raise InfillError(f"{score.title or 'the tune'}: no track {track!r}; tracks: {names}")
    pitched = [i for i, t in enumerate(score.tracks) if t.notes and not t.is_drum]
    if len(pitched) != 1:
        raise InfillError(f"{score.title or 'the tune'}: {len(pitched)} pitched tracks; choose the one to rewrite "
                          f"with track (tracks: {names})" if pitched else
                          f"{score.title or 'the tune'}: no pitched notes to rewrite")
    return pitched[0]


@dataclass(frozen=True)
class Gap:
    """Where the new bars go, in ticks: from `start` to `end`, and no new note past `limit`."""

    start: int
    end: int
    limit: int | None


def _prompt(tokenizer: Tokenizer, line: Score, span: BarSpan) -> tuple[list[int], Gap]:
    """prefix, Gap_N, suffix, Middle, bridge: the tokens the model continues, and the gap they leave."""
    tokens = tokenizer.encode(line).astype(np.int64)
    vocab = tokenizer.vocab
    bar_rows = np.flatnonzero(tokens == vocab.id("Bar", 0))
    if span.last > len(bar_rows):
        raise InfillError(f"bars = {span}: the tune has {len(bar_rows)} bar{'s' if len(bar_rows) != 1 else ''}; "
                          f"choose bars within 1-{len(bar_rows)}")
    if span.count > MAX_GAP_BARS:
        raise InfillError(f"bars = {span}: {span.count} bars; at most {MAX_GAP_BARS} can be filled at once")
    prompt, start, stop = fill_prompt(tokenizer, tokens, span.first - 1, span.count)
    meters = slice(*vocab.ranges["TimeSig"])
    changes = [row for row in range(start, stop + 1) if meters.start <= tokens[row] < meters.stop]
    if changes:
        raise InfillError(f"bars = {span}: the meter changes there; a gap keeps one meter, so choose bars "
                          "within one meter")
    state = tokenizer.new_state()
    for token in prompt:
        state.advance(token)
    assert isinstance(state, MetricalState)
    ticks = tokenizer.config.ticks_per_step
    limit = None if state.gap.limit is None else state.gap.limit * ticks
    return prompt, Gap(state.gap.start * ticks, state.gap.end * ticks, limit)


def _gap_notes(tokenizer: Tokenizer, tokens: Sequence[int], gap: Gap) -> list[Note]:
    """The notes an infill wrote: those of the decoded tune that start inside the gap."""
    return [n for n in tokenizer.decode(tokens).notes if gap.start <= n.onset_tick < gap.end]


def _fault(notes: list[Note], line: Score, gap: Gap, constraints: Constraints) -> str:
    """The first hard constraint the new notes break, or ''."""
    if constraints.pitch_range and any(not constraints.pitch_range[0] <= n.pitch <= constraints.pitch_range[1]
                                       for n in notes):
        return f"a note outside the pitch range {constraints.pitch_range}"
    if constraints.max_leap is not None and notes:
        before = [n for n in line.notes if n.onset_tick < gap.start]
        melody = [*sorted(before, key=lambda n: n.onset_tick)[-1:], *notes]
        if any(abs(b.pitch - a.pitch) > constraints.max_leap for a, b in pairwise(melody)):
            return f"a leap wider than the largest leap, {constraints.max_leap} semitones"
    return ""


def _with_gap(score: Score, index: int, notes: list[Note], gap: Gap) -> Score:
    """A copy of `score` whose track `index` has `notes` in place of the notes that started inside the gap."""
    out = copy.deepcopy(score)
    track: Track = out.tracks[index]
    kept = [n for n in track.notes if not gap.start <= n.onset_tick < gap.end]
    velocity = int(np.median([n.velocity for n in track.notes])) if track.notes else 80
    after = min((n.onset_tick for n in kept if n.onset_tick >= gap.end), default=None)
    new = [replace(n, velocity=velocity, duration_tick=min(n.duration_tick, after - n.onset_tick) if after
                   else n.duration_tick) for n in notes]  # none rings into a kept note past the prompt's bars
    track.notes = sorted([*kept, *new], key=lambda n: (n.onset_tick, n.pitch))
    return out
