"""The metrical (REMI-like) scheme: bars, positions in the bar, and notes at each position.

    BOS TimeSig Tempo  (Bar [TimeSig] (Position [Tempo] ([Program] Pitch [Velocity] Duration)*)*)*  EOS

(without Duration tokens when `durations` is off: every note then lasts one grid step).

Canonical order: positions rise within a bar; at one position programs rise
(drums last) and pitches rise within a program. A TimeSig after a Bar changes
the meter from that bar on; a Tempo after a Position changes the tempo there.
Either appears only when it changes something. The sequence ends after a note.

With `infill` on, a melody may also be written out of order, to fill a gap between kept bars
(fill-in-the-middle):

    prefix  Gap_N  suffix  Middle  bridge  (Bar ...)xN  EOS

The prefix ends at a bar line; `Gap_N` says N bars are left out there; the suffix is the tune from
the bar after the gap (its bars numbered as in the tune; `fill_prompt` gives the next 4); after `Middle`
the bridge repeats the prefix's last 2 bars (so the gap's first notes follow the notes just before it,
as in plain continuation, while the suffix is still near), then come exactly the N missing bars, in the
meter and tempo of the bar before the gap, none of whose notes may run into the suffix's first note.
It decodes to the whole tune, in time order.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from melodia.tokenizers.base import EOS, GrammarState, Tokenizer, interleave
from melodia.tokenizers.grid import DRUM_KEY, QuantizedScore

MAX_GAP_BARS = 16  # the longest gap a fill-in-the-middle sequence may leave
SUFFIX_BARS = 4  # bars after the gap that a fill-in-the-middle prompt gives (so the bars before stay near)
BRIDGE_BARS = 2  # bars before the gap that a fill-in-the-middle prompt repeats after `Middle`


@dataclass(frozen=True)
class FillLayout:
    """Where the parts of a fill-in-the-middle sequence lie in the in-order tokens of a tune: the gap's tokens
    from `start` to `stop`, the suffix up to `suffix_stop`, the bridge from `bridge_start` to `start`."""

    start: int
    stop: int
    suffix_stop: int
    bridge_start: int

    def order(self) -> np.ndarray:
        """Rows of the in-order tokens, fill-in-the-middle: prefix, -1 (Gap), suffix, -2 (Middle), bridge, gap."""
        return np.concatenate([np.arange(self.start), [-1], np.arange(self.stop, self.suffix_stop), [-2],
                               np.arange(self.bridge_start, self.stop)]).astype(np.int64)


def fill_layout(tokenizer: Tokenizer, tokens: np.ndarray, first: int, bars: int) -> FillLayout:
    """The layout of a gap of `bars` bars from bar `first` (from 0) in an in-order sequence."""
    rows = np.flatnonzero(np.asarray(tokens) == tokenizer.vocab.id("Bar", 0))
    end = len(tokens) - 1 if len(tokens) and tokens[-1] == EOS else len(tokens)
    stop = int(rows[first + bars]) if first + bars < len(rows) else end
    suffix_stop = int(rows[first + bars + SUFFIX_BARS]) if first + bars + SUFFIX_BARS < len(rows) else end
    bridge_start = int(rows[max(first - BRIDGE_BARS, 0)]) if first else int(rows[first])
    return FillLayout(int(rows[first]), stop, suffix_stop, bridge_start)


def fill_prompt(tokenizer: Tokenizer, tokens: np.ndarray, first: int, bars: int) -> tuple[list[int], int, int]:
    """The fill-in-the-middle prompt of an in-order sequence whose bars `first` to `first + bars - 1` (from 0)
    are the gap: the tokens before them, `Gap_N`, up to `SUFFIX_BARS` bars after them, `Middle`, the bridge; and
    where the gap's own tokens start and stop in `tokens` (they follow the prompt, then EOS, in training)."""
    layout = fill_layout(tokenizer, tokens, first, bars)
    order = layout.order()
    order = order[:len(order) - (layout.stop - layout.start)]
    marks = {-1: tokenizer.vocab.id("Gap", bars - 1), -2: tokenizer.vocab.ranges["Middle"][0]}
    prompt = [marks[row] if row < 0 else int(tokens[row]) for row in order]
    return prompt, layout.start, layout.stop


class MetricalTokenizer(Tokenizer):
    """Bar / Position / Program / Pitch / Velocity / Duration tokens, plus TimeSig and Tempo."""

    scheme = "metrical"
    pitch_kinds = ("Pitch",)
    supports_constraints = True
    caps_durations = True

    def _vocabulary_groups(self) -> list[tuple[str, Sequence[Any]]]:
        config, grid = self.config, self.grid
        low, high = config.pitch_range
        groups: list[tuple[str, Sequence[Any]]] = [
            ("Bar", [None]),
            ("TimeSig", [f"{n}/{d}" for n, d in grid.meters]),
            ("Position", range(config.max_bar_quarters * config.steps_per_quarter)),
        ]
        if config.tempo:
            groups.append(("Tempo", grid.tempo_values))
        if config.use_programs:
            groups.append(("Program", [*range(128), "Drums"]))
        groups.append(("Pitch", range(low, high + 1)))
        if config.velocity_bins > 1:
            groups.append(("Velocity", grid.velocity_values))
        if config.durations:
            groups.append(("Duration", range(1, config.max_duration_quarters * config.steps_per_quarter + 1)))
        if config.infill:
            groups += [("Gap", range(1, MAX_GAP_BARS + 1)), ("Middle", [None])]
        return groups

    def new_state(self) -> MetricalState:
        return MetricalState(self)

    def encode_quantized(self, quantized: QuantizedScore) -> np.ndarray:
        vocab, config = self.vocab, self.config
        meter_ids = self.meter_ids
        header = self._header(quantized)
        if len(quantized.onset) == 0:
            return np.asarray([*header, EOS], dtype=np.int32)
        bar_starts = self._bar_starts(quantized.meters, int(quantized.onset[-1]))
        meter_steps = np.asarray([m[0] for m in quantized.meters[1:]], dtype=np.int64)
        tempo_steps = np.asarray([t[0] for t in quantized.tempos[1:]], dtype=np.int64)
        notes = len(quantized.onset)
        kind = np.concatenate([np.zeros(len(bar_starts)), np.ones(len(meter_steps)),
                               np.full(len(tempo_steps), 2), np.full(notes, 3)]).astype(np.int64)
        time = np.concatenate([bar_starts, meter_steps, tempo_steps, quantized.onset])
        key = np.concatenate([np.zeros(len(kind) - notes, dtype=np.int64), quantized.track_key])
        pitch = np.concatenate([np.zeros(len(kind) - notes, dtype=np.int64), quantized.pitch])
        main = np.concatenate([
            np.full(len(bar_starts), vocab.id("Bar", 0)),
            [meter_ids[m[1:]] for m in quantized.meters[1:]],
            [vocab.id("Tempo", t[1]) for t in quantized.tempos[1:]],
            vocab.id("Pitch", 0) + quantized.pitch - config.pitch_range[0],
        ]).astype(np.int64)
        order = np.lexsort((pitch, key, kind, time))
        kind, time, key, main = kind[order], time[order], key[order], main[order]
        is_note = kind == 3
        is_event = kind >= 2
        event_rows = np.flatnonzero(is_event)
        new_position = np.zeros(len(kind), dtype=bool)
        new_position[event_rows] = np.diff(time[event_rows], prepend=-1) != 0
        bar = np.searchsorted(bar_starts, time, side="right") - 1
        position = vocab.id("Position", 0) + time - bar_starts[bar]
        note_rows = np.flatnonzero(is_note)
        columns = [(new_position, position)]
        if config.use_programs:
            new_program = np.zeros(len(kind), dtype=bool)
            new_program[note_rows] = (np.diff(time[note_rows], prepend=-1) != 0) | (
                np.diff(key[note_rows], prepend=-1) != 0)
            columns.append((new_program, vocab.id("Program", 0) + key))
        columns.append((np.ones(len(kind), dtype=bool), main))
        note_order = order[note_rows] - (len(kind) - notes)  # where each note row came from
        if config.velocity_bins > 1:
            velocity = np.zeros(len(kind), dtype=np.int64)
            velocity[note_rows] = vocab.id("Velocity", 0) + quantized.velocity_bin[note_order]
            columns.append((is_note, velocity))
        if config.durations:
            duration = np.zeros(len(kind), dtype=np.int64)
            duration[note_rows] = vocab.id("Duration", 0) + quantized.duration[note_order] - 1
            columns.append((is_note, duration))
        return np.concatenate([np.asarray(header, dtype=np.int32), interleave(columns),
                               np.asarray([EOS], dtype=np.int32)])

    def _bar_starts(self, meters: list[tuple[int, int, int]], last_step: int) -> np.ndarray:
        starts, step, index = [], 0, 0
        while step <= last_step:
            while index + 1 < len(meters) and meters[index + 1][0] <= step:
                index += 1
            starts.append(step)
            step += self.grid.bar_steps(*meters[index][1:])
        return np.asarray(starts, dtype=np.int64)


class MetricalState(GrammarState):
    """The metrical grammar, with the bar, position, program and pitch reached so far."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        super().__init__(tokenizer)
        config = tokenizer.config
        self.grid = tokenizer.grid
        self.use_programs = config.use_programs
        self.melody = config.melody
        self.pitch_low = config.pitch_range[0]
        self.key = -1 if config.use_programs else config.default_program
        self.velocity_bins = config.velocity_bins
        self.durations = config.durations
        self.closing = "Duration" if config.durations else "Pitch"  # the token that ends a note
        self.bars = 0
        self.bar_start = 0
        self.bar_length = 0
        self.meter_changed = False  # a TimeSig was read in this bar
        self.position = -1
        self.pitch = -1
        self.velocity_bin = 0
        self.note_end = 0
        self.meter_index = 0
        self.tempo_bin = -1
        pitch_count = config.pitch_range[1] - config.pitch_range[0] + 1
        self.held_until = np.zeros((DRUM_KEY + 1, pitch_count), dtype=np.int64)  # end step, by track and pitch
        self.infill = config.infill
        self.gap = Gap()  # the gap of a fill-in-the-middle sequence, once its Gap token is read
        self.bar_marks: deque[tuple[Any, ...]] = deque(maxlen=BRIDGE_BARS)  # the state before each recent Bar

    def allowed(self) -> np.ndarray:
        last, vocab = self.last_kind, self.vocab
        if self.ended:
            return self._mask()
        if last == "PAD":
            return self._mask("BOS")
        if last == "BOS":
            return self._mask("TimeSig")
        if last == "TimeSig" and self.bars == 0:
            return self._mask("Tempo") if self.tokenizer.config.tempo else self._opening()
        if last == "Tempo" and self.bars == 0:
            return self._opening()
        if last == "Pitch" and self.durations:
            return self._durations(self._mask("Velocity")) if self.velocity_bins > 1 else self._durations()
        if last == "Velocity":
            return self._durations()
        if last == "Program":
            return self._pitches(self._mask())
        if last == "Gap":
            return self._mask("Bar", "Middle")
        if last == "Middle":
            return self._mask("Bar")
        if last in ("Bar", "TimeSig"):
            mask = self._positions(self._mask())
            self._bar_end(mask, last)
            if last == "Bar" and self.bars > 1 and not self.gap.filling:
                mask[slice(*vocab.ranges["TimeSig"])] = True
                mask[vocab.id("TimeSig", self.meter_index)] = False
            return mask
        mask = self._mask()
        if last == "Position":
            if "Tempo" in vocab.ranges and self.bar_start + self.position > 0 and not self.gap.filling:
                mask[slice(*vocab.ranges["Tempo"])] = True
                mask[vocab.id("Tempo", self.tempo_bin)] = False
            return self._notes(mask)
        # after a Tempo or a note's last token: more notes here, a later position, a new bar or the end
        mask = self._positions(self._notes(mask))
        self._bar_end(mask, last)
        return mask

    def _opening(self) -> np.ndarray:
        """After the header: the first bar, the end of an empty piece, or (with infill) a gap at the start."""
        mask = self._mask("Bar", "EOS")
        if self.infill and not self.gap.bars:
            mask[slice(*self.vocab.ranges["Gap"])] = True
        return mask

    def _durations(self, mask: np.ndarray | None = None) -> np.ndarray:
        """Every duration; filling a gap, none that would run into the first note after it."""
        mask = self._mask("Duration") if mask is None else mask
        if self.gap.filling and self.gap.limit is not None:
            start, stop = self.vocab.ranges["Duration"]
            longest = self.gap.limit - (self.bar_start + self.position)
            mask[start + max(longest, 0):stop] = False
        return mask

    def _bar_end(self, mask: np.ndarray, last: str) -> None:
        """What may close the bar: a new bar; the end, after a note (or, filling a gap, after its last bar;
        in the suffix, the Middle that starts the filling); with infill on, a Gap, once."""
        gap = self.gap
        if gap.filling:
            last_bar = self.bars - gap.first_bar >= gap.bars
            mask[self.vocab.id("Bar", 0)] = not last_bar
            mask[EOS] = last_bar and last in ("Bar", self.closing)
            return
        mask[self.vocab.id("Bar", 0)] = True
        if gap.bridging:
            return
        if gap.bars:  # the suffix: it ends where the gap's bars come
            mask[self.vocab.ranges["Middle"][0]] = last in ("Bar", self.closing)
            return
        mask[EOS] = last == self.closing
        if self.infill and last in ("Bar", self.closing):
            start = self.vocab.ranges["Gap"][0]
            mask[start:start + MAX_GAP_BARS] = True

    def _read_gap(self, bars: int) -> None:
        """A Gap of `bars` bars: remember where it starts, then count its bars as passed, so that the suffix's
        bars fall where they are in the tune."""
        bar_length = self.grid.bar_steps(*self.grid.meters[self.meter_index])
        start = self.bar_start + self.bar_length if self.bars else 0
        self.gap = Gap(bars=bars, first_bar=self.bars, start=start, end=start + bars * bar_length,
                       resume=self.bar_marks[0] if self.bars else self._mark(), kept=len(self.notes))
        self.bars += bars
        self.bar_start, self.bar_length = start + (bars - 1) * bar_length, bar_length
        self.position = bar_length

    def _mark(self) -> tuple[Any, ...]:
        """What the grammar needs to read the tokens from here again."""
        return (self.bars, self.bar_start, self.bar_length, self.note_end, self.meter_index, self.tempo_bin,
                len(self.notes), len(self.meters), len(self.tempos), self.held_until.copy())

    def _read_middle(self) -> None:
        """Back to the bridge's start (the gap's, without bars before it), with the suffix's notes set aside
        until the end."""
        gap = self.gap
        (self.bars, self.bar_start, self.bar_length, self.note_end, self.meter_index, self.tempo_bin, notes,
         meters, tempos, held_until) = gap.resume
        self.held_until = held_until.copy()
        gap.suffix, self.notes = self.notes[gap.kept:], self.notes[:notes]
        del self.meters[meters:], self.tempos[tempos:]
        gap.limit = min((note[0] for note in gap.suffix), default=None)  # None: its last note may ring on
        gap.bridging = self.bars < gap.first_bar
        gap.filling = not gap.bridging
        self.position, self.pitch = -1, -1

    def finish(self) -> QuantizedScore:
        if self.gap.suffix:
            self.notes, self.gap.suffix = self.notes + self.gap.suffix, []
        return super().finish()

    def _notes(self, mask: np.ndarray) -> np.ndarray:
        if self.use_programs:
            start, stop = self.vocab.ranges["Program"]
            mask[start + self.key + 1:stop] = True
            if self.key >= 0:
                self._pitches(mask)
        elif not self.melody or (self.pitch < 0 and self.bar_start + self.position >= self.note_end):
            self._pitches(mask)
        return mask

    def _pitches(self, mask: np.ndarray) -> np.ndarray:
        """Pitches above the last one here, except those still held in this track."""
        start, stop = self.vocab.ranges["Pitch"]
        free = self.held_until[self.key] <= self.bar_start + self.position
        free[:max(0, self.pitch - self.pitch_low + 1)] = False
        mask[start:stop] = free
        return mask

    def _positions(self, mask: np.ndarray) -> np.ndarray:
        start, _ = self.vocab.ranges["Position"]
        first = self.position + 1
        if self.melody and "Tempo" not in self.vocab.ranges:  # else a Tempo may come mid-note
            first = max(first, self.note_end - self.bar_start)
        if first < self.bar_length:
            mask[start + first:start + self.bar_length] = True
        return mask

    def advance(self, token: int) -> None:
        kind, index = self.vocab.kind_of[token], self.vocab.index_of[token]
        self.last_kind = kind
        if kind == "EOS":
            self.ended = True
        elif kind == "Gap":
            self._read_gap(index + 1)
        elif kind == "Middle":
            self._read_middle()
        elif kind == "TimeSig":
            self.meter_index = index
            numerator, denominator = self.grid.meters[index]
            self.bar_length = self.grid.bar_steps(numerator, denominator)
            if self.meters and self.meters[-1][0] == self.bar_start:
                self.meters.pop()
            self.meters.append((self.bar_start, numerator, denominator))
        elif kind == "Tempo":
            self.tempo_bin = index
            self.tempos.append((self.bar_start + max(self.position, 0), index))
        elif kind == "Bar":
            if self.infill and not self.gap.bars:
                self.bar_marks.append(self._mark())
            if self.bars:
                self.bar_start += self.bar_length
            self.bar_length = self.grid.bar_steps(*self.grid.meters[self.meter_index])
            self.bars += 1
            if self.gap.bridging and self.bars > self.gap.first_bar:
                self.gap.bridging, self.gap.filling = False, True
            self.position = -1
            self._new_position()
        elif kind == "Position":
            self.position = index
            self._new_position()
        elif kind == "Program":
            self.key = index
            self.pitch = -1
        elif kind == "Pitch":
            self.pitch = self.pitch_low + index
            if not self.durations:
                self._close_note(1)
        elif kind == "Velocity":
            self.velocity_bin = index
        elif kind == "Duration":
            self._close_note(index + 1)

    def _close_note(self, steps: int) -> None:
        onset = self.bar_start + self.position
        self.notes.append((onset, steps, self.pitch, self.velocity_bin, self.key))
        self.held_until[self.key, self.pitch - self.pitch_low] = onset + steps
        self.note_end = onset + steps

    def _new_position(self) -> None:
        self.pitch = -1
        if self.use_programs:
            self.key = -1


@dataclass
class Gap:
    """The gap of a fill-in-the-middle sequence: `bars` bars from bar `first_bar` (step `start` to `end`);
    `resume` is the grammar's state where the bridge starts (the bars before the gap, read again after
    `Middle`), `kept` the notes before the gap, `suffix` the notes after it (set aside while the gap is filled),
    `limit` the step no note of the gap may reach past (the suffix's first onset; None without one)."""

    bars: int = 0
    first_bar: int = 0
    start: int = 0
    end: int = 0
    resume: tuple[Any, ...] = ()
    kept: int = 0
    suffix: list[tuple[int, int, int, int, int]] = field(default_factory=list)
    limit: int | None = None
    bridging: bool = False
    filling: bool = False
