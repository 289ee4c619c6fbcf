"""Tokenizer settings: one frozen dataclass, saved inside every vocabulary and model file."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from melodia import settings
from melodia.errors import TokenizerError
from melodia.score import TICKS_PER_QUARTER

SCHEMES = ("metrical", "performance")


@dataclass(frozen=True)
class TokenizerConfig:
    """How a `Score` becomes tokens.

    Attributes:
        scheme: "metrical" (REMI-like: bar, position, pitch, velocity, duration) or
            "performance" (MIDI-like: note-on, note-off, time-shift, velocity).
        steps_per_quarter: the time grid; 12 holds sixteenths and eighth triplets,
            24 adds thirty-seconds and sixteenth triplets. Must divide 480.
        velocity_bins: loudness levels; 1 drops velocity tokens (every note at 64).
        max_duration_quarters: longest note of the metrical scheme; longer ones are cut.
        max_shift_quarters: longest single time-shift of the performance scheme.
        max_bar_quarters: longest bar a time signature may make.
        pitch_range: lowest and highest pitch; pitched notes outside are moved by octaves.
        programs: General MIDI programs to keep (None keeps all).
        drums: keep drum tracks.
        use_programs: one track per program with Program tokens; when false every note
            is merged into one track played by `default_program`.
        default_program: the program of the merged track.
        melody: keep one monophonic line: the top line of every pitched track, or of
            track `melody_track` when given. Implies `use_programs = False`.
        melody_track: index of the track that holds the melody.
        tempo: emit tempo tokens.
        tempo_bins: number of tempo levels, spaced evenly in log-tempo.
        tempo_range: slowest and fastest tempo in quarter notes per minute.
        durations: emit a Duration token after each note of the metrical scheme; False makes every
            note one grid step long and drops the token (a chord of every step spelled out, as the
            JSB benchmark's, needs no lengths). Needs velocity_bins = 1.
        infill: add the fill-in-the-middle tokens of the metrical scheme (`Gap_N`, `Middle`), so a
            model can regenerate bars between kept ones (see `melodia.lm.infill`). Needs `melody`.
    """

    scheme: str = "metrical"
    steps_per_quarter: int = 12
    velocity_bins: int = 8
    max_duration_quarters: int = 8
    max_shift_quarters: int = 4
    max_bar_quarters: int = 8
    pitch_range: tuple[int, int] = (0, 127)
    programs: tuple[int, ...] | None = None
    drums: bool = True
    use_programs: bool = True
    default_program: int = 0
    melody: bool = False
    melody_track: int | None = None
    tempo: bool = True
    tempo_bins: int = 32
    tempo_range: tuple[float, float] = (40.0, 250.0)
    durations: bool = True
    infill: bool = False

    def __post_init__(self) -> None:
        problem = self.problem()
        if problem:
            raise TokenizerError(f"tokenizer setting {problem}")
        if self.melody and self.use_programs:
            object.__setattr__(self, "use_programs", False)

    def problem(self) -> str:
        """The first bad setting, as 'name = value: what is accepted', or ''."""
        checks = [
            ("scheme", self.scheme in SCHEMES, f"one of {', '.join(SCHEMES)}"),
            ("steps_per_quarter", self.steps_per_quarter >= 1
             and TICKS_PER_QUARTER % self.steps_per_quarter == 0, f"a divisor of {TICKS_PER_QUARTER}"),
            ("velocity_bins", 1 <= self.velocity_bins <= 127, "1..127"),
            ("max_duration_quarters", 1 <= self.max_duration_quarters <= 64, "1..64"),
            ("max_shift_quarters", 1 <= self.max_shift_quarters <= 64, "1..64"),
            ("max_bar_quarters", 1 <= self.max_bar_quarters <= 32, "1..32"),
            ("pitch_range", len(self.pitch_range) == 2 and self.pitch_range[0] >= 0
             and self.pitch_range[0] + 11 <= self.pitch_range[1] <= 127,
             "(low, high) within 0..127, at least an octave apart"),
            ("programs", self.programs is None or all(0 <= p <= 127 for p in self.programs),
             "None or programs in 0..127"),
            ("default_program", 0 <= self.default_program <= 127, "0..127"),
            ("melody_track", self.melody_track is None or self.melody_track >= 0, "None or >= 0"),
            ("tempo_bins", 2 <= self.tempo_bins <= 256, "2..256"),
            ("tempo_range", len(self.tempo_range) == 2 and 0 < self.tempo_range[0] < self.tempo_range[1],
             "(slowest, fastest) with 0 < slowest < fastest"),
            ("durations", self.durations or (self.scheme == "metrical" and self.velocity_bins == 1
                                             and not self.infill),
             "True, or False with the metrical scheme, velocity_bins = 1 and no infill"),
            ("infill", not self.infill or (self.melody and self.scheme == "metrical"),
             "False, or True with melody = True and the metrical scheme"),
        ]
        for name, ok, accepted in checks:
            if not ok:
                return f"{name} = {getattr(self, name)!r}: expected {accepted}"
        return ""

    def encodes_like(self, other: TokenizerConfig) -> bool:
        """Whether a score encodes to the same tokens under both (they differ at most in `infill`, which only adds
        tokens after the others)."""
        return dataclasses.replace(self, infill=False) == dataclasses.replace(other, infill=False)

    @property
    def ticks_per_step(self) -> int:
        return TICKS_PER_QUARTER // self.steps_per_quarter

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "tokenizer config") -> TokenizerConfig:
        """Build from a dict, naming any unknown field and the accepted ones."""
        return settings.from_dict(cls, data, TokenizerError, source)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)
