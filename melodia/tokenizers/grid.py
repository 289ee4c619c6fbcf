"""Quantization shared by every scheme: a `Score` onto the tokenizer's grid, as arrays.

`Grid.quantize` defines what a tokenization keeps; `decode(encode(s))` gives back
exactly `Grid.to_score(Grid.quantize(s))`, note for note.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from melodia.errors import MelodiaWarning
from melodia.gm import program_name
from melodia.score import DEFAULT_BPM, Note, Score, TempoChange, TimeSignature, Track
from melodia.tokenizers.config import TokenizerConfig

DRUM_KEY = 128  # the track key of the drum kit; pitched tracks use their program
METER_DENOMINATORS = (2, 4, 8, 16)


@dataclass
class QuantizedScore:
    """Notes as parallel arrays on the step grid, sorted by (onset, track key, pitch).

    Attributes:
        onset, duration: in grid steps.
        pitch: MIDI pitch.
        velocity_bin: index of the velocity level.
        track_key: General MIDI program, or `DRUM_KEY` for drums.
        meters: (step, numerator, denominator) changes, the first at step 0, each on a bar line.
        tempos: (step, tempo bin) changes, the first at step 0; empty when tempo is off.
    """

    onset: np.ndarray
    duration: np.ndarray
    pitch: np.ndarray
    velocity_bin: np.ndarray
    track_key: np.ndarray
    meters: list[tuple[int, int, int]]
    tempos: list[tuple[int, int]]


class Grid:
    """The time, pitch, velocity and tempo grid a `TokenizerConfig` describes."""

    def __init__(self, config: TokenizerConfig, cap_durations: bool = False) -> None:
        """`cap_durations`: cut a note longer than `config.max_duration_quarters` to it (a scheme with
        Duration tokens has a longest one)."""
        self.config = config
        self.cap_durations = cap_durations
        self.steps_per_quarter = config.steps_per_quarter
        self.ticks_per_step = config.ticks_per_step
        self.meters = [(n, d) for d in METER_DENOMINATORS
                       for n in range(1, config.max_bar_quarters * d // 4 + 1)
                       if (4 * config.steps_per_quarter * n) % d == 0]
        low, high = config.tempo_range
        ratio = (high / low) ** (1 / (config.tempo_bins - 1))
        middle = round(math.log(DEFAULT_BPM / low) / math.log(ratio))  # so that 120 BPM is a level
        self.tempo_values = [round(DEFAULT_BPM * ratio ** (i - middle), 2) for i in range(config.tempo_bins)]
        bins = config.velocity_bins
        self.velocity_values = [max(1, min(127, round((b + 0.5) * 128 / bins))) for b in range(bins)]

    def nearest_meter(self, numerator: int, denominator: int) -> tuple[int, int]:
        """A meter of the vocabulary for one outside it: a long bar split into equal shorter bars
        (4/1 to 4/2, 6/2 to 3/2, 12/4 to 6/4, 9/4 to 3/4), or 4/4 when no such split exists."""
        if denominator == 1:
            numerator, denominator = numerator * 2, 2
        while (numerator, denominator) not in self.meters:
            divisor = next((d for d in (2, 3, 5, 7) if numerator % d == 0), 0)
            if not divisor:
                return (4, 4)
            numerator //= divisor
        return numerator, denominator

    def bar_steps(self, numerator: int, denominator: int) -> int:
        return 4 * self.steps_per_quarter * numerator // denominator

    def tempo_bin(self, bpm: float) -> int:
        """The nearest tempo level, in log-tempo."""
        distances = [abs(math.log(bpm / value)) for value in self.tempo_values]
        return distances.index(min(distances))

    def quantize(self, score: Score) -> QuantizedScore:
        """Snap `score` onto the grid and make it canonical (see the module docstring)."""
        onset, end, pitch, velocity, key = self._gather(score)
        step = self.ticks_per_step
        onset_step = (onset + step // 2) // step
        duration = np.maximum(1, (end + step // 2) // step - onset_step)
        if self.cap_durations:
            longest = self.config.max_duration_quarters * self.steps_per_quarter
            if (duration > longest).any():
                warnings.warn(MelodiaWarning(f"cut {np.count_nonzero(duration > longest)} notes to the longest "
                                             f"duration, {self.config.max_duration_quarters} quarters"), stacklevel=3)
                duration = np.minimum(duration, longest)
        velocity_bin = np.minimum(self.config.velocity_bins - 1, velocity * self.config.velocity_bins // 128)
        columns: Columns = (onset_step, duration, pitch, velocity_bin, key)
        columns = _monophonic(columns) if self.config.melody else _no_overlaps(columns)
        onset_step, duration, pitch, velocity_bin, key = _take(
            columns, np.lexsort((columns[2], columns[4], columns[0])))
        last_onset = int(onset_step[-1]) if len(onset_step) else 0
        return QuantizedScore(onset_step, duration, pitch, velocity_bin, key,
                              self._meters(score, last_onset), self._tempos(score, last_onset))

    def _gather(self, score: Score) -> tuple[np.ndarray, ...]:
        """Onset, end, pitch, velocity and track key of every note this tokenizer keeps."""
        config = self.config
        tracks = list(enumerate(score.tracks))
        if config.melody:
            if config.melody_track is not None:
                tracks = [(i, t) for i, t in tracks if i == config.melody_track]
            tracks = [(i, t) for i, t in tracks if not t.is_drum]
        columns: list[list[int]] = [[], [], [], [], []]
        for _, track in tracks:
            if track.is_drum and not (config.drums and config.use_programs):
                continue
            if not track.is_drum and config.programs is not None and track.program not in config.programs:
                continue
            key = (DRUM_KEY if track.is_drum else track.program) if config.use_programs \
                else config.default_program
            notes = track.notes
            columns[0] += [n.onset_tick for n in notes]
            columns[1] += [n.onset_tick + n.duration_tick for n in notes]
            columns[2] += [n.pitch for n in notes]
            columns[3] += [n.velocity for n in notes]
            columns[4] += [key] * len(notes)
        onset, end, pitch, velocity, keys = (np.asarray(c, dtype=np.int64) for c in columns)
        low, high = config.pitch_range
        pitched = keys != DRUM_KEY
        outside = (pitch < low) | (pitch > high)
        if outside.any():
            warnings.warn(MelodiaWarning(f"{np.count_nonzero(outside & pitched)} pitched notes moved by octaves "
                                         f"and {np.count_nonzero(outside & ~pitched)} drum notes dropped: outside "
                                         f"the pitch range {low}..{high}"), stacklevel=4)
        pitch = np.where(pitched & (pitch < low), pitch + 12 * ((low - pitch + 11) // 12), pitch)
        pitch = np.where(pitched & (pitch > high), pitch - 12 * ((pitch - high + 11) // 12), pitch)
        keep = (pitch >= low) & (pitch <= high)
        return onset[keep], end[keep], pitch[keep], velocity[keep], keys[keep]

    def _meters(self, score: Score, last_onset: int) -> list[tuple[int, int, int]]:
        """Time-signature changes moved to the next bar line; unsupported ones replaced (see `nearest_meter`)."""
        changes = []
        for sig in score.time_signatures:
            meter = (sig.numerator, sig.denominator)
            if meter not in self.meters:
                meter = self.nearest_meter(*meter)
                warnings.warn(MelodiaWarning(f"time signature {sig} at tick {sig.tick} is not in the vocabulary "
                                             f"(bars up to {self.config.max_bar_quarters} quarters); using "
                                             f"{meter[0]}/{meter[1]}"), stacklevel=4)
            changes.append(((sig.tick + self.ticks_per_step // 2) // self.ticks_per_step, meter))
        result: list[tuple[int, tuple[int, int]]] = [(0, (4, 4))]
        for step, meter in changes:
            anchor, current = result[-1]
            bar = self.bar_steps(*current)
            bar_line = anchor + bar * max(0, -(-(step - anchor) // bar))
            if bar_line > last_onset:
                break
            _change(result, bar_line, meter)
        return [(step, n, d) for step, (n, d) in result]

    def _tempos(self, score: Score, last_onset: int) -> list[tuple[int, int]]:
        if not self.config.tempo:
            return []
        result = [(0, self.tempo_bin(DEFAULT_BPM))]
        for change in score.tempos:
            step = (change.tick + self.ticks_per_step // 2) // self.ticks_per_step
            if step > last_onset:
                break
            _change(result, step, self.tempo_bin(change.bpm))
        return result

    def to_score(self, quantized: QuantizedScore) -> Score:
        """The `Score` that a quantized score stands for: one track per track key."""
        step = self.ticks_per_step
        tracks = []
        for key in sorted(set(quantized.track_key.tolist())):
            rows = np.flatnonzero(quantized.track_key == key)
            notes = [Note(p, self.velocity_values[v], o * step, d * step) for p, v, o, d in zip(
                quantized.pitch[rows].tolist(), quantized.velocity_bin[rows].tolist(),
                quantized.onset[rows].tolist(), quantized.duration[rows].tolist())]
            is_drum = key == DRUM_KEY
            program = 0 if is_drum else key
            tracks.append(Track(program_name(program, is_drum), program, is_drum, notes))
        tempos = [TempoChange(s * step, self.tempo_values[b]) for s, b in quantized.tempos]
        meters = [TimeSignature(s * step, n, d) for s, n, d in quantized.meters]
        return Score(tracks, tempos, meters, [])


def _change(changes: list[tuple[int, Any]], step: int, value: Any) -> None:
    """Add a change to a list of (step, value) changes, keeping it canonical.

    A change at the step of the last one replaces it; a change to the value already
    in force is dropped.
    """
    if changes[-1][0] == step:
        changes[-1] = (step, value)
        if len(changes) > 1 and changes[-2][1] == value:
            changes.pop()
    elif changes[-1][1] != value:
        changes.append((step, value))


Columns = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _take(columns: Columns, rows: np.ndarray) -> Columns:
    onset, duration, pitch, velocity_bin, key = columns
    return onset[rows], duration[rows], pitch[rows], velocity_bin[rows], key[rows]


def _no_overlaps(columns: Columns) -> Columns:
    """One note per (track, pitch, onset), the longest; a held note ends where its pitch is struck again."""
    onset, duration, pitch, _, key = columns
    columns = _take(columns, np.lexsort((-duration, onset, pitch, key)))
    onset, _, pitch, _, key = columns
    keep = np.ones(len(onset), dtype=bool)
    keep[1:] = (key[1:] != key[:-1]) | (pitch[1:] != pitch[:-1]) | (onset[1:] != onset[:-1])
    onset, duration, pitch, velocity_bin, key = _take(columns, keep)
    same_voice = (key[1:] == key[:-1]) & (pitch[1:] == pitch[:-1])
    duration = duration.copy()
    duration[:-1] = np.where(same_voice, np.minimum(duration[:-1], onset[1:] - onset[:-1]), duration[:-1])
    return onset, duration, pitch, velocity_bin, key


def _monophonic(columns: Columns) -> Columns:
    """The top line: the highest note at each onset, cut where the next note begins."""
    onset, duration, pitch, _, _ = columns
    columns = _take(columns, np.lexsort((-duration, -pitch, onset)))
    onset = columns[0]
    keep = np.ones(len(onset), dtype=bool)
    keep[1:] = onset[1:] != onset[:-1]
    onset, duration, pitch, velocity_bin, key = _take(columns, keep)
    duration = duration.copy()
    duration[:-1] = np.minimum(duration[:-1], onset[1:] - onset[:-1])
    return onset, duration, pitch, velocity_bin, key
