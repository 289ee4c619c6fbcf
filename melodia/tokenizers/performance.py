"""The performance (MIDI-like) scheme: note-on, note-off, time-shift and velocity events.

    BOS TimeSig Tempo  events  EOS

At each moment, in this order: the notes that stop ([Program] NoteOff...), a meter
change (TimeSig, on a bar line), a tempo change (Tempo), the notes that start
([Program] [Velocity] NoteOn...); programs rise (drums last) and pitches rise within
a program. A Velocity appears only when it changes. TimeShifts move time on, the
longest first. The sequence ends when the last note has stopped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from melodia.tokenizers.base import EOS, PAD, GrammarState, Tokenizer, interleave
from melodia.tokenizers.grid import DRUM_KEY, QuantizedScore

SHIFT, OFF, META, ON = -1, 0, 1, 2


class PerformanceTokenizer(Tokenizer):
    """NoteOn / NoteOff / TimeShift / Velocity / Program tokens, plus TimeSig and Tempo."""

    scheme = "performance"
    pitch_kinds = ("NoteOn", "NoteOff")

    def _vocabulary_groups(self) -> list[tuple[str, Sequence[Any]]]:
        config, grid = self.config, self.grid
        low, high = config.pitch_range
        groups: list[tuple[str, Sequence[Any]]] = [
            ("TimeShift", range(1, config.max_shift_quarters * config.steps_per_quarter + 1)),
            ("TimeSig", [f"{n}/{d}" for n, d in grid.meters]),
        ]
        if config.tempo:
            groups.append(("Tempo", grid.tempo_values))
        if config.use_programs:
            groups.append(("Program", [*range(128), "Drums"]))
        if config.velocity_bins > 1:
            groups.append(("Velocity", grid.velocity_values))
        groups += [("NoteOn", range(low, high + 1)), ("NoteOff", range(low, high + 1))]
        return groups

    def new_state(self) -> PerformanceState:
        return PerformanceState(self)

    def encode_quantized(self, quantized: QuantizedScore) -> np.ndarray:
        vocab, config = self.vocab, self.config
        meter_ids = self.meter_ids
        header = self._header(quantized)
        low = config.pitch_range[0]
        notes = len(quantized.onset)
        meters, tempos = quantized.meters[1:], quantized.tempos[1:]
        no_meta = np.zeros(len(meters) + len(tempos), dtype=np.int64)
        time = np.concatenate([quantized.onset + quantized.duration, [m[0] for m in meters],
                               [t[0] for t in tempos], quantized.onset]).astype(np.int64)
        phase = np.concatenate([np.full(notes, OFF), np.full(len(no_meta), META), np.full(notes, ON)])
        key = np.concatenate([quantized.track_key, no_meta, quantized.track_key])
        sub = np.concatenate([quantized.pitch, np.zeros(len(meters)), np.ones(len(tempos)),
                              quantized.pitch]).astype(np.int64)
        main = np.concatenate([vocab.id("NoteOff", 0) + quantized.pitch - low,
                               [meter_ids[m[1:]] for m in meters],
                               [vocab.id("Tempo", t[1]) for t in tempos],
                               vocab.id("NoteOn", 0) + quantized.pitch - low]).astype(np.int64)
        velocity = np.concatenate([no_meta, no_meta[:0], quantized.velocity_bin, quantized.velocity_bin])
        shifts = self._shift_rows(time)
        time, phase, key, sub, main = (np.concatenate([a, b]) for a, b in zip(
            (time, phase, key, sub, main), shifts))
        velocity = np.concatenate([velocity, np.zeros(len(shifts[0]), dtype=np.int64)])
        order = np.lexsort((sub, key, phase, time))
        time, phase, key, main, velocity = time[order], phase[order], key[order], main[order], velocity[order]
        columns = []
        note_rows = np.flatnonzero((phase == OFF) | (phase == ON))
        if config.use_programs:
            new_group = np.zeros(len(time), dtype=bool)
            new_group[note_rows] = ((np.diff(time[note_rows], prepend=-1) != 0)
                                    | (np.diff(phase[note_rows], prepend=-1) != 0)
                                    | (np.diff(key[note_rows], prepend=-1) != 0))
            columns.append((new_group, vocab.id("Program", 0) + key))
        if config.velocity_bins > 1:
            on_rows = np.flatnonzero(phase == ON)
            changed = np.zeros(len(time), dtype=bool)
            changed[on_rows] = np.diff(velocity[on_rows], prepend=-1) != 0
            columns.append((changed, vocab.id("Velocity", 0) + velocity))
        columns.append((np.ones(len(time), dtype=bool), main))
        return np.concatenate([np.asarray(header, dtype=np.int32), interleave(columns),
                               np.asarray([EOS], dtype=np.int32)])

    def _shift_rows(self, time: np.ndarray) -> tuple[np.ndarray, ...]:
        """TimeShift rows (time, phase, key, sub, token) that lead to each moment, longest first."""
        longest = self.config.max_shift_quarters * self.config.steps_per_quarter
        moments = np.unique(time)
        gap = np.diff(moments, prepend=0)
        count = -(-gap // longest)
        shift_time = np.repeat(moments, count)
        first = np.cumsum(count) - count
        rank = np.arange(len(shift_time)) - np.repeat(first, count)
        size = np.full(len(shift_time), longest, dtype=np.int64)
        last = (np.cumsum(count) - 1)[count > 0]
        size[last] = gap[count > 0] - longest * (count[count > 0] - 1)
        token = self.vocab.id("TimeShift", 0) + size - 1
        zeros = np.zeros(len(shift_time), dtype=np.int64)
        return shift_time, zeros + SHIFT, zeros, rank, token


class PerformanceState(GrammarState):
    """The performance grammar, with the time, phase and sounding notes reached so far."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        super().__init__(tokenizer)
        config = tokenizer.config
        self.grid = tokenizer.grid
        self.use_programs = config.use_programs
        self.has_tempo = config.tempo
        self.velocity_bins = config.velocity_bins
        self.pitch_low = config.pitch_range[0]
        self.pitch_count = config.pitch_range[1] - config.pitch_range[0] + 1
        self.longest_shift = config.max_shift_quarters * config.steps_per_quarter
        self.header_kinds = ["BOS", "TimeSig", "Tempo"] if config.tempo else ["BOS", "TimeSig"]
        self.header_left = len(self.header_kinds)
        self.body_tokens = 0
        self.last_token = PAD
        self.time = 0
        self.phase = OFF  # of the last event at this moment: OFF, META or ON
        self.group = -1 if config.use_programs else config.default_program
        self.pending = False  # a Program was read; its next token says whether it stops or starts notes
        self.pending_can_stop = False
        self.pending_can_start = False
        self.pitch = -1
        self.meta_seen = -1  # 0 after a TimeSig, 1 after a Tempo at this moment
        self.velocity_bin = -1 if config.velocity_bins > 1 else 0
        self.sounding = np.zeros((DRUM_KEY + 1, self.pitch_count), dtype=bool)
        self.onsets: dict[tuple[int, int], tuple[int, int]] = {}
        self.meter_index = 0
        self.meter_start = 0
        self.tempo_bin = -1

    def allowed(self) -> np.ndarray:
        if self.ended:
            return self._mask()
        if self.header_left:
            return self._mask(self.header_kinds[-self.header_left])
        last = self.last_kind
        mask = self._mask()
        if last == "Velocity":
            return self._note_ons(mask)
        if self.pending:
            if self.pending_can_stop:
                self._note_offs(mask)
            if self.pending_can_start:
                self._velocities(mask)
                self._note_ons(mask)
            return mask
        if last != "TimeShift" or self.vocab.index_of[self.last_token] + 1 == self.longest_shift:
            mask[slice(*self.vocab.ranges["TimeShift"])] = True
        if self.phase == OFF:
            if self.use_programs:
                self._programs_that_stop(mask)
            if not self.use_programs or self.group >= 0:
                self._note_offs(mask)
        if self.phase != ON and self.time > 0:
            self._metas(mask)
        if self.use_programs:
            start, stop = self.vocab.ranges["Program"]
            first = self.group + 1 if self.phase == ON else 0
            mask[start + first:stop] |= ~self.sounding[first:].all(axis=1)
        if not self.use_programs or self.phase == ON:
            self._velocities(mask)
            self._note_ons(mask)
        mask[EOS] = self.body_tokens == 0 or (last == "NoteOff" and not self.onsets)
        return mask

    def _programs_that_stop(self, mask: np.ndarray) -> None:
        keys = np.flatnonzero(self.sounding.any(axis=1))
        start, _ = self.vocab.ranges["Program"]
        mask[start + keys[keys > self.group]] = True

    def _note_offs(self, mask: np.ndarray) -> None:
        start, _ = self.vocab.ranges["NoteOff"]
        sounding = self.sounding[self.group].copy()
        sounding[:max(0, self.pitch - self.pitch_low + 1)] = False
        mask[start:start + self.pitch_count] |= sounding

    def _metas(self, mask: np.ndarray) -> None:
        bar = self.grid.bar_steps(*self.grid.meters[self.meter_index])
        if self.meta_seen < 0 and (self.time - self.meter_start) % bar == 0:
            mask[slice(*self.vocab.ranges["TimeSig"])] = True
            mask[self.vocab.id("TimeSig", self.meter_index)] = False
        if self.has_tempo and self.meta_seen < 1:
            mask[slice(*self.vocab.ranges["Tempo"])] = True
            mask[self.vocab.id("Tempo", self.tempo_bin)] = False

    def _velocities(self, mask: np.ndarray) -> None:
        if self.velocity_bins > 1 and self._free_pitches().any():
            mask[slice(*self.vocab.ranges["Velocity"])] = True
            if self.velocity_bin >= 0:
                mask[self.vocab.id("Velocity", self.velocity_bin)] = False

    def _note_ons(self, mask: np.ndarray) -> np.ndarray:
        if self.velocity_bin < 0:
            return mask
        start, _ = self.vocab.ranges["NoteOn"]
        mask[start:start + self.pitch_count] |= self._free_pitches()
        return mask

    def _free_pitches(self) -> np.ndarray:
        """Pitches that may start now in the current program: silent, and above the last one started."""
        free = ~self.sounding[self.group]
        if self.phase == ON:
            free[:max(0, self.pitch - self.pitch_low + 1)] = False
        return free

    def advance(self, token: int) -> None:
        kind, index = self.vocab.kind_of[token], self.vocab.index_of[token]
        if self.header_left:
            self.header_left -= 1
            if kind == "TimeSig":
                self.meter_index = index
                self.meters.append((0, *self.grid.meters[index]))
            elif kind == "Tempo":
                self.tempo_bin = index
                self.tempos.append((0, index))
        else:
            self._advance_body(kind, index)
            self.body_tokens += 1
        self.last_kind, self.last_token = kind, token

    def _advance_body(self, kind: str, index: int) -> None:
        if kind == "EOS":
            self.ended = True
        elif kind == "TimeShift":
            self.time += index + 1
            self.phase, self.meta_seen, self.pitch = OFF, -1, -1
            if self.use_programs:
                self.group = -1
        elif kind == "TimeSig":
            self.meter_index, self.meter_start = index, self.time
            self.meters.append((self.time, *self.grid.meters[index]))
            self.phase, self.meta_seen = META, 0
        elif kind == "Tempo":
            self.tempo_bin = index
            self.tempos.append((self.time, index))
            self.phase, self.meta_seen = META, 1
        elif kind == "Program":
            self.pending_can_stop = self.phase == OFF and index > self.group and bool(self.sounding[index].any())
            self.pending_can_start = self.phase != ON or index > self.group
            self.group, self.pitch, self.pending = index, -1, True
        elif kind == "Velocity":
            self._start_phase()
            self.velocity_bin = index
        elif kind == "NoteOn":
            self._start_phase()
            self.pitch = self.pitch_low + index
            self.sounding[self.group, index] = True
            self.onsets[(self.group, self.pitch)] = (self.time, self.velocity_bin)
        elif kind == "NoteOff":
            self.pending = False
            self.pitch = self.pitch_low + index
            self.sounding[self.group, index] = False
            onset, velocity_bin = self.onsets.pop((self.group, self.pitch))
            self.notes.append((onset, self.time - onset, self.pitch, velocity_bin, self.group))

    def _start_phase(self) -> None:
        if self.phase != ON:
            self.phase, self.pitch = ON, -1
        self.pending = False

    def finish(self) -> QuantizedScore:
        for (key, pitch), (onset, velocity_bin) in self.onsets.items():
            if self.time > onset:
                self.notes.append((onset, self.time - onset, pitch, velocity_bin, key))
        return super().finish()
