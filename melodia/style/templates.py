"""Style templates as TOML files: instrumentation, rhythm, and presets that combine the two.

The presets ship in `melodia/style/presets/{instrumentation,rhythm,styles}/NAME.toml`; a user
passes a preset name or the path of a file of their own. Every field is checked: an unknown
field, program, role, pattern or articulation is a `StyleError` naming the file and the field.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from melodia.errors import StyleError
from melodia.gm import program_name, program_number, program_range
from melodia.settings import Fields, beside, read_file

PRESETS = Path(__file__).parent / "presets"
INTROS = ("none", "vamp", "phrase")
ENDINGS = ("none", "held")
KINDS = ("instrumentation", "rhythm", "styles")
TEXTURES = ("parts", "piano")  # how an instrumentation writes: a line per part, or one pianist's two hands
ROLES = ("melody", "counter_melody", "harmony", "bass", "drums")
ARTICULATIONS = {"normal": 1.0, "legato": 1.0, "portato": 0.75, "staccato": 0.5, "staccatissimo": 0.25}
PATTERNS = {
    "melody": ("none",),
    "counter_melody": ("none", "thirds", "sixths", "unison"),
    "harmony": ("none", "sustained", "block", "offbeat", "alberti", "arpeggio", "power", "comping"),
    "bass": ("none", "root", "root_fifth", "oom", "walking"),
    "drums": ("none", "rock", "swing", "waltz", "march", "bossa_nova", "compound", "bodhran"),
}
DEFAULT_PATTERNS = {"melody": "none", "counter_melody": "thirds", "harmony": "block", "bass": "root",
                    "drums": "rock"}


@dataclass(frozen=True)
class Part:
    """One instrument of an instrumentation: the role it plays and how."""

    role: str
    program: int = 0
    name: str = ""
    low: int = 21
    high: int = 108
    velocity: int = 80
    articulation: str = "normal"
    pattern: str = "none"

    @property
    def is_drum(self) -> bool:
        return self.role == "drums"


@dataclass(frozen=True)
class Instrumentation:
    """Roles mapped to instruments; parts sharing a role split its notes from the top down."""

    name: str
    description: str
    parts: tuple[Part, ...]
    texture: str = "parts"

    def parts_for(self, role: str) -> tuple[Part, ...]:
        return tuple(part for part in self.parts if part.role == role)


@dataclass(frozen=True)
class MeterMap:
    """Bars of meter `source` become bars of meter `target`; `points` maps beat positions
    (quarter notes from the bar's start) piecewise linearly, first (0, 0), last (bar, n bars):
    one source bar may become several target bars."""

    source: tuple[int, int]
    target: tuple[int, int]
    points: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Groove:
    """Velocity and length factors by position (quarters) in a cycle of `cycle` quarters
    (0: one bar); notes elsewhere get `other_accent` and `other_length`."""

    cycle: float = 0.0
    accents: tuple[tuple[float, float], ...] = ()
    lengths: tuple[tuple[float, float], ...] = ()
    other_accent: float = 1.0
    other_length: float = 1.0


@dataclass(frozen=True)
class Rhythm:
    """A re-timing of onsets and durations, applied in the order of the fields."""

    name: str
    description: str
    meters: tuple[MeterMap, ...] = ()
    time_scale: float = 1.0
    groove: Groove = field(default_factory=Groove)
    swing_ratio: float = 1.0  # long:short of each pair of `swing_unit` notes; 1 is straight
    swing_unit: float = 0.5  # quarters
    humanize_timing: float = 0.0  # standard deviation, in quarters
    humanize_velocity: float = 0.0  # standard deviation, in velocity steps
    humanize_seed: int = 0
    accompaniment: dict[str, str] = field(default_factory=dict)  # role -> pattern this groove prefers


@dataclass(frozen=True)
class Style:
    """A combined preset: an instrumentation, a rhythm and a tempo, the arrangement's form
    (intro, ending, ritardando), and optionally a named harmonizer that writes the parts of a
    bare melody instead of the rule-based accompaniment."""

    name: str
    description: str
    instrumentation: Instrumentation | None
    rhythm: Rhythm | None
    tempo: float | None
    intro: str = "none"
    ending: str = "none"
    ritardando: bool = False
    harmonizer: str = ""


def preset_names(kind: str) -> list[str]:
    """The names of the shipped presets of `kind` ('instrumentation', 'rhythm' or 'styles')."""
    return sorted(path.stem for path in (PRESETS / kind).glob("*.toml"))


def load_instrumentation(name_or_path: str | Path) -> Instrumentation:
    path, table = _read("instrumentation", name_or_path)
    fields = Fields(path, table, StyleError)
    parts_table = fields.take("parts", list)
    fields.take("description", str, "")
    texture = fields.take("texture", str, "parts")
    fields.done()
    if not parts_table:
        raise StyleError(f"{path}: 'parts' must list at least one [[parts]] table")
    parts = tuple(_part(path, index, entry) for index, entry in enumerate(parts_table))
    if all(part.is_drum for part in parts):
        raise StyleError(f"{path}: 'parts' needs at least one pitched part (role melody, counter_melody, harmony "
                         "or bass) to play the notes")
    if texture not in TEXTURES:
        raise StyleError(f"{path}: texture = {texture!r} is not one of {', '.join(TEXTURES)}")
    pitched = [part for part in parts if not part.is_drum]
    if texture == "piano" and (len(pitched) != 2 or pitched[0].role != "melody"):
        raise StyleError(f"{path}: texture = 'piano' needs two pitched parts, the right hand (role melody) "
                         "first, then the left hand")
    return Instrumentation(path.stem, str(table.get("description", "")), parts, texture)


def load_rhythm(name_or_path: str | Path) -> Rhythm:
    path, table = _read("rhythm", name_or_path)
    fields = Fields(path, table, StyleError)
    description = fields.take("description", str, "")
    meters = tuple(_meter_map(path, i, entry) for i, entry in enumerate(fields.take("meter", list, [])))
    time_scale = fields.number("time_scale", 1.0, low=0.125, high=8.0)
    groove = _groove(path, fields.take("groove", dict, {}))
    swing = Fields(path, fields.take("swing", dict, {}), StyleError, "swing")
    ratio, unit = swing.number("ratio", 1.0, low=0.25, high=4.0), swing.number("unit", 0.5, low=0.0625, high=4.0)
    swing.done()
    humanize = Fields(path, fields.take("humanize", dict, {}), StyleError, "humanize")
    timing = humanize.number("timing", 0.0, low=0.0, high=0.25)
    velocity = humanize.number("velocity", 0.0, low=0.0, high=40.0)
    seed = int(humanize.number("seed", 0, low=0, high=2**31))
    humanize.done()
    accompaniment = fields.take("accompaniment", dict, {})
    for role, pattern in accompaniment.items():
        _check_pattern(path, f"accompaniment.{role}", role, pattern)
    fields.done()
    return Rhythm(name=path.stem, description=description, meters=meters, time_scale=time_scale, groove=groove,
                  swing_ratio=ratio, swing_unit=unit, humanize_timing=timing, humanize_velocity=velocity,
                  humanize_seed=seed, accompaniment=dict(accompaniment))


def load_style(name_or_path: str | Path) -> Style:
    path, table = _read("styles", name_or_path)
    fields = Fields(path, table, StyleError)
    description = fields.take("description", str, "")
    instrumentation = fields.take("instrumentation", str, "")
    rhythm = fields.take("rhythm", str, "")
    tempo = fields.number("tempo", 0.0, low=0.0, high=400.0) or None
    intro, ending = fields.take("intro", str, "none"), fields.take("ending", str, "none")
    ritardando = fields.take("ritardando", bool, False)
    harmonizer = fields.take("harmonizer", str, "")
    fields.done()
    for what, value, allowed in (("intro", intro, INTROS), ("ending", ending, ENDINGS)):
        if value not in allowed:
            raise StyleError(f"{path}: {what} = {value!r} is not one of {', '.join(allowed)}")
    return Style(path.stem, description, load_instrumentation(beside(path, instrumentation))
                 if instrumentation else None,
                 load_rhythm(beside(path, rhythm)) if rhythm else None, tempo, intro, ending, ritardando, harmonizer)


def _read(kind: str, name_or_path: str | Path) -> tuple[Path, dict[str, Any]]:
    text = str(name_or_path)
    path = Path(text) if text.endswith(".toml") or Path(text).is_file() else PRESETS / kind / f"{text}.toml"
    if not path.is_file():
        what = "style" if kind == "styles" else kind
        raise StyleError(f"{what} {text!r}: no such preset or file; presets: {', '.join(preset_names(kind))}")
    return path, read_file(path, StyleError)


def _part(path: Path, index: int, entry: Any) -> Part:
    fields = Fields(path, entry, StyleError, f"parts[{index}]")
    role = fields.take("role", str)
    if role not in ROLES:
        raise StyleError(f"{path}: parts[{index}].role = {role!r} is not one of {', '.join(ROLES)}")
    program = _program(path, index, fields.take("program", int | str, 0))
    low, high = program_range(program) if role != "drums" else (27, 87)
    if "range" in entry:
        low, high = _range(path, index, fields.take("range", list))
    name = fields.take("name", str, "") or program_name(program, role == "drums")
    velocity = int(fields.number("velocity", 80, low=1, high=127))
    articulation = fields.take("articulation", str, "normal")
    if articulation not in ARTICULATIONS:
        raise StyleError(f"{path}: parts[{index}].articulation = {articulation!r} is not one of "
                         f"{', '.join(ARTICULATIONS)}")
    pattern = _check_pattern(path, f"parts[{index}].pattern", role,
                             fields.take("pattern", str, DEFAULT_PATTERNS[role]))
    fields.done()
    return Part(role=role, program=program, name=name, low=low, high=high, velocity=velocity,
                articulation=articulation, pattern=pattern)


def _program(path: Path, index: int, value: int | str) -> int:
    number = program_number(value) if isinstance(value, str) else value
    if number is None or not 0 <= number <= 127:
        raise StyleError(f"{path}: parts[{index}].program = {value!r} is not a General MIDI program "
                         "(a number 0-127 or a name such as 'Violin')")
    return number


def _range(path: Path, index: int, value: list[Any]) -> tuple[int, int]:
    from melodia.seed import SeedError, parse_seed

    pitches: list[int] = []
    for item in value:
        try:
            pitches.append(item if isinstance(item, int) else parse_seed(str(item))[0].tracks[0].notes[0].pitch)
        except (SeedError, IndexError):
            break
    if len(value) != 2 or len(pitches) != 2 or not (pitches[0] >= 0 and pitches[0] + 11 <= pitches[1] <= 127):
        raise StyleError(f"{path}: parts[{index}].range = {value!r} should be [LOW, HIGH] (MIDI numbers or note "
                         "names such as 'G3'), spanning at least an octave")
    return pitches[0], pitches[1]


def _check_pattern(path: Path, where: str, role: str, pattern: Any) -> str:
    if role not in PATTERNS:
        raise StyleError(f"{path}: {where}: {role!r} is not a role ({', '.join(ROLES)})")
    if pattern not in PATTERNS[role]:
        raise StyleError(f"{path}: {where} = {pattern!r} is not a {role} pattern ({', '.join(PATTERNS[role])})")
    return str(pattern)


def _meter_map(path: Path, index: int, entry: Any) -> MeterMap:
    fields = Fields(path, entry, StyleError, f"meter[{index}]")
    source = _time_signature(path, f"meter[{index}].from", fields.take("from", str))
    target = _time_signature(path, f"meter[{index}].to", fields.take("to", str))
    points = fields.take("map", list)
    fields.done()
    source_bar, target_bar = 4 * source[0] / source[1], 4 * target[0] / target[1]
    pairs = [tuple(p) for p in points if isinstance(p, list) and len(p) == 2
             and all(isinstance(x, int | float) and not isinstance(x, bool) for x in p)]
    ordered = all(a[0] < b[0] and a[1] < b[1] for a, b in itertools.pairwise(pairs))
    whole_bars = bool(pairs) and pairs[-1][1] / target_bar >= 1 and (pairs[-1][1] / target_bar).is_integer()
    if len(pairs) != len(points) or len(pairs) < 2 or not ordered or pairs[0] != (0, 0) \
            or pairs[-1][0] != source_bar or not whole_bars:
        raise StyleError(f"{path}: meter[{index}].map = {points!r} should be rising [from, to] positions in "
                         f"quarters, from [0, 0] to [{source_bar:g}, {target_bar:g}] (or to a whole number of "
                         f"{target_bar:g}-quarter bars)")
    return MeterMap(source, target, tuple((float(a), float(b)) for a, b in pairs))


def _time_signature(path: Path, where: str, text: str) -> tuple[int, int]:
    from melodia.seed import SeedError, parse_meter

    try:
        meter = parse_meter(text, f"{path}: {where} = {text!r}", "4/4 or 6/8")
    except SeedError as error:
        raise StyleError(str(error)) from None
    return meter.numerator, meter.denominator


def _groove(path: Path, table: dict[str, Any]) -> Groove:
    fields = Fields(path, table, StyleError, "groove")
    cycle = fields.number("cycle", 0.0, low=0.0, high=64.0)
    accents = _positions(path, "groove.accents", fields.take("accents", list, []), 0.0, 2.0)
    lengths = _positions(path, "groove.lengths", fields.take("lengths", list, []), 0.05, 2.0)
    other_accent = fields.number("other_accent", 1.0, low=0.0, high=2.0)
    other_length = fields.number("other_length", 1.0, low=0.05, high=2.0)
    fields.done()
    return Groove(cycle=cycle, accents=accents, lengths=lengths, other_accent=other_accent,
                  other_length=other_length)


def _positions(path: Path, where: str, value: list[Any], low: float, high: float) -> tuple[tuple[float, float], ...]:
    pairs = []
    for item in value:
        if not (isinstance(item, list) and len(item) == 2 and all(isinstance(x, int | float) for x in item)
                and item[0] >= 0 and low <= item[1] <= high):
            raise StyleError(f"{path}: {where} entry {item!r} should be [position in quarters, factor "
                             f"{low:g}-{high:g}]")
        pairs.append((float(item[0]), float(item[1])))
    return tuple(pairs)
