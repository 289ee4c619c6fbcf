"""The one in-memory music type every step of melodia hands on.

A `Score` holds tracks of notes, tempo changes, time-signature changes and key
signatures, with every time in ticks at a fixed resolution (`TICKS_PER_QUARTER`).
It does no file I/O; readers and writers live in `melodia.io`.
"""

from __future__ import annotations

import itertools
import math
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from melodia.errors import ScoreError
from melodia.gm import program_name
from melodia.theory.key import MAJOR, MINOR, Key, estimate_key
from melodia.theory.meter import Meter
from melodia.theory.pitch import PITCH_CLASS_NAMES

if TYPE_CHECKING:
    import pretty_midi

TICKS_PER_QUARTER = 480
DEFAULT_BPM = 120.0


@dataclass(slots=True)
class Note:
    """One sounding note: MIDI pitch and velocity, onset and duration in ticks."""

    pitch: int
    velocity: int
    onset_tick: int
    duration_tick: int

    @property
    def end_tick(self) -> int:
        return self.onset_tick + self.duration_tick


@dataclass(slots=True)
class Track:
    """A named part played by one General MIDI program, or by the drum kit."""

    name: str = ""
    program: int = 0
    is_drum: bool = False
    notes: list[Note] = field(default_factory=list)

    @property
    def instrument_name(self) -> str:
        return program_name(self.program, self.is_drum)


@dataclass(frozen=True, slots=True)
class TempoChange:
    """From `tick` on, `bpm` quarter notes per minute."""

    tick: int
    bpm: float


@dataclass(frozen=True, slots=True)
class TimeSignature:
    """From `tick` on, bars of `numerator` beats of note value 1/`denominator`."""

    tick: int
    numerator: int
    denominator: int

    @property
    def bar_ticks(self) -> int:
        return self.numerator * TICKS_PER_QUARTER * 4 // self.denominator

    @property
    def meter(self) -> Meter:
        """Its beats (`melodia.theory.meter.Meter`)."""
        return Meter(self.numerator, self.denominator)

    @property
    def beat_ticks(self) -> int:
        """One beat in ticks: a dotted quarter in 6/8, 9/8 and 12/8, a dotted eighth in 6/16, else 1/denominator."""
        return self.meter.beat_in(TICKS_PER_QUARTER)

    def __str__(self) -> str:
        return f"{self.numerator}/{self.denominator}"


@dataclass(frozen=True, slots=True)
class KeySignature:
    """From `tick` on, the key of `tonic` (pitch class 0-11, C = 0) in `mode`."""

    tick: int
    tonic: int
    mode: str = MAJOR

    @property
    def name(self) -> str:
        return f"{PITCH_CLASS_NAMES[self.tonic]} {self.mode}"

    @property
    def key(self) -> Key:
        return Key(self.tonic, self.mode)


@dataclass(frozen=True, slots=True)
class ChordSymbol:
    """From `tick` on, the harmony a lead sheet names `symbol` ('Am', 'G7', 'C/E')."""

    tick: int
    symbol: str


@dataclass(frozen=True, slots=True)
class Strain:
    """A passage as written, played one or more times: its letter ('A', 'B'), its length in bars
    as played once (a pickup and the short bar that completes it count as one bar), and the
    numbers of its first, second ... endings (empty when it has none)."""

    label: str
    bars: int
    endings: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Playing:
    """One playing of strain number `strain` (an index into `Form.strains`), in played ticks from
    `start_tick` up to `end_tick`; when `ending` is not 0, its ending of that number is played from
    `ending_tick` on (else `ending_tick` is `end_tick`)."""

    strain: int
    start_tick: int
    end_tick: int
    ending: int = 0
    ending_tick: int = 0

    @property
    def ending_ticks(self) -> int:
        return self.end_tick - self.ending_tick if self.ending else 0


@dataclass(frozen=True, slots=True)
class Form:
    """How a piece written with repeats is played: its strains as written, and each playing of
    them in the order played (a score holding a form holds its notes as played)."""

    strains: tuple[Strain, ...]
    playings: tuple[Playing, ...]

    @property
    def letters(self) -> str:
        """The strains in the order played, one letter each: 'AABB'."""
        return "".join(self.strains[playing.strain].label for playing in self.playings)

    @property
    def has_repeats(self) -> bool:
        return len(self.playings) > len(self.strains)

    @property
    def has_endings(self) -> bool:
        return any(playing.ending for playing in self.playings)

    def describe(self) -> str:
        """'AABB, 8 + 8 bars, endings 1-2' ('no repeats' for a form of strains each played once)."""
        if not self.has_repeats:
            return "no repeats"
        text = f"{self.letters}, {' + '.join(str(strain.bars) for strain in self.strains)} bars"
        numbers = sorted({number for strain in self.strains for number in strain.endings})
        if numbers:
            text += f", endings {numbers[0]}" + (f"-{numbers[-1]}" if len(numbers) > 1 else "")
        return text

    def problems(self, end_tick: int) -> list[str]:
        """Every broken invariant of a form over a score whose notes end at `end_tick` (a playing may
        hold only rests; a note after the last playing cannot be)."""
        found = []
        previous = 0
        for number, playing in enumerate(self.playings, start=1):
            where = f"form: playing {number}"
            if not 0 <= playing.strain < len(self.strains):
                found.append(f"{where} names strain {playing.strain}; the form has {len(self.strains)}")
            if not previous <= playing.start_tick < playing.end_tick:
                found.append(f"{where}: ticks {playing.start_tick}..{playing.end_tick} overlap or go back")
            if playing.ending and not playing.start_tick <= playing.ending_tick <= playing.end_tick:
                found.append(f"{where}: its ending at tick {playing.ending_tick} is outside it")
            previous = playing.end_tick
        if self.playings and end_tick > self.playings[-1].end_tick:
            found.append(f"form: its playings end at tick {self.playings[-1].end_tick}, before the notes ({end_tick})")
        return found


@dataclass(slots=True)
class Score:
    """A piece of music: tracks, tempo map, meter and keys, all in ticks.

    Times are ticks at `TICKS_PER_QUARTER` per quarter note. Where no tempo or
    time signature is given at tick 0, 120 BPM and 4/4 apply.
    """

    tracks: list[Track] = field(default_factory=list)
    tempos: list[TempoChange] = field(default_factory=list)
    time_signatures: list[TimeSignature] = field(default_factory=list)
    key_signatures: list[KeySignature] = field(default_factory=list)
    title: str = ""
    chord_symbols: list[ChordSymbol] = field(default_factory=list)
    form: Form | None = None  # the strains of a piece read with repeats; its notes are as played

    @property
    def notes(self) -> list[Note]:
        """Every note of every track (a new list)."""
        return [note for track in self.tracks for note in track.notes]

    @property
    def note_count(self) -> int:
        return sum(len(track.notes) for track in self.tracks)

    @property
    def end_tick(self) -> int:
        """The tick at which the last note ends (0 for a score without notes)."""
        return max((n.end_tick for t in self.tracks for n in t.notes), default=0)

    def initial_time_signature(self) -> TimeSignature:
        first = self.time_signatures[0] if self.time_signatures else None
        return first if first is not None and first.tick == 0 else TimeSignature(0, 4, 4)

    def time_signature_at(self, tick: int) -> TimeSignature:
        """The time signature in force at `tick` (4/4 before the first one)."""
        current = self.initial_time_signature()
        for ts in self.time_signatures:
            if ts.tick <= tick:
                current = ts
        return current

    def initial_bpm(self) -> float:
        first = self.tempos[0] if self.tempos else None
        return first.bpm if first is not None and first.tick == 0 else DEFAULT_BPM

    def bar_starts(self, end_tick: int | None = None) -> list[int]:
        """Ticks at which bars begin, up to and including the bar holding `end_tick`.

        A time signature that falls inside a bar starts a new bar there, as a MIDI
        sequencer would count it.
        """
        end = self.end_tick if end_tick is None else end_tick
        changes = [s for s in self.time_signatures if s.tick > 0]
        meter = self.initial_time_signature()
        starts, tick = [], 0
        while True:
            starts.append(tick)
            next_tick = tick + meter.bar_ticks
            while changes and changes[0].tick <= next_tick:
                meter = changes.pop(0)
                next_tick = min(next_tick, meter.tick)
            if next_tick > end:
                return starts
            tick = next_tick

    def bar_count(self) -> int:
        """How many bars the notes take: a piece that ends exactly on a bar line does not
        start another (0 for a score without notes)."""
        return len(self.bar_starts(self.end_tick - 1)) if self.end_tick else 0

    def bars(self, end_tick: int | None = None) -> list[tuple[int, int, TimeSignature]]:
        """(start tick, length in ticks, time signature) of each bar of `bar_starts`; the last
        bar is given its full length."""
        starts = self.bar_starts(end_tick)
        out = []
        for index, start in enumerate(starts):
            meter = self.time_signature_at(start)
            stop = starts[index + 1] if index + 1 < len(starts) else start + meter.bar_ticks
            out.append((start, stop - start, meter))
        return out

    def seconds_at(self, ticks: Sequence[int]) -> list[float]:
        """The time in seconds of each tick, through the tempo map."""
        changes = [(0, self.initial_bpm())] + [(t.tick, t.bpm) for t in self.tempos if t.tick > 0]
        starts, seconds = [0], [0.0]
        for (tick, bpm), (next_tick, _) in itertools.pairwise(changes):
            starts.append(next_tick)
            seconds.append(seconds[-1] + (next_tick - tick) / TICKS_PER_QUARTER * 60.0 / bpm)
        out = []
        for tick in ticks:
            index = bisect_right(starts, tick) - 1
            out.append(seconds[index] + (tick - starts[index]) / TICKS_PER_QUARTER * 60.0 / changes[index][1])
        return out

    def duration_seconds(self) -> float:
        """How long the score sounds, from tick 0 to the end of its last note."""
        return self.seconds_at([self.end_tick])[0]

    def problems(self) -> list[str]:
        """Every broken invariant, one readable line each (empty when valid)."""
        found: list[str] = []
        for index, track in enumerate(self.tracks):
            where = f"track {index} ({track.name or track.instrument_name})"
            if not 0 <= track.program <= 127:
                found.append(f"{where}: program {track.program} is not in 0..127")
            for note in track.notes:
                found.extend(_note_problems(note, where))
        found.extend(_ordered_problems("tempo change", [t.tick for t in self.tempos]))
        for tempo in self.tempos:
            if not (math.isfinite(tempo.bpm) and 0 < tempo.bpm <= 10_000):
                found.append(f"tempo at tick {tempo.tick}: {tempo.bpm} BPM is not in (0, 10000]")
        found.extend(_ordered_problems("time signature", [s.tick for s in self.time_signatures]))
        for sig in self.time_signatures:
            if not 1 <= sig.numerator <= 255 or sig.denominator not in (1, 2, 4, 8, 16, 32, 64):
                found.append(f"time signature at tick {sig.tick}: {sig} is not n/d with "
                             "n in 1..255 and d a power of two up to 64")
        found.extend(_ordered_problems("key signature", [k.tick for k in self.key_signatures]))
        for key in self.key_signatures:
            if not 0 <= key.tonic <= 11 or key.mode not in (MAJOR, MINOR):
                found.append(f"key at tick {key.tick}: tonic {key.tonic} / mode {key.mode!r} "
                             "is not a pitch class 0..11 in 'major' or 'minor'")
        if self.form is not None:
            found.extend(self.form.problems(self.end_tick))
        return found

    def validate(self) -> Score:
        """Raise `ScoreError` naming every broken invariant; return the score if none."""
        found = self.problems()
        if found:
            more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
            raise ScoreError(f"invalid score: {found[0]}{more}")
        return self

    def summary(self) -> str:
        """A few lines describing the score, for `melodia inspect` and notebooks."""
        lines = [f"{self.title or 'untitled'}: {len(self.tracks)} tracks, {self.note_count} notes, "
                 f"{self.bar_count()} bars, {self.duration_seconds():.1f} s"]
        tempos = _tempo_summary(self.tempos)
        meters = ", ".join(f"{s} at {s.tick}" for s in self.time_signatures) or "4/4 (default)"
        keys = ", ".join(f"{k.name} at {k.tick}" for k in self.key_signatures) or self._heard_key()
        form = self.form.describe() if self.form is not None else "no repeats"
        lines += [f"  tempo: {tempos}", f"  meter: {meters}", f"  key: {keys}", f"  form: {form}"]
        for number, track in enumerate(self.tracks, start=1):
            pitches = [n.pitch for n in track.notes]
            span = f"pitches {min(pitches)}..{max(pitches)}" if pitches else "no notes"
            lines.append(f"  track {repr(track.name) if track.name else f'{number} (no name)'}: {track.instrument_name}"
                         f"{' (channel 10)' if track.is_drum else ''}, {len(track.notes)} notes, {span}")
        return "\n".join(lines)

    def _heard_key(self) -> str:
        """'none given', and the key the notes are heard in (as music21 hears it) when there are notes."""
        notes = sorted((n for t in self.tracks if not t.is_drum for n in t.notes), key=lambda n: n.onset_tick)
        if not notes:
            return "none given"
        heard = estimate_key([n.pitch for n in notes], [n.duration_tick for n in notes])
        return f"none given; the notes sound in {heard}"

    def _repr_html_(self) -> str:
        from melodia.media.display import summary_html

        return summary_html(self)

    def show_pianoroll(self, **options: Any) -> Any:
        """A piano roll (matplotlib Figure); see `melodia.media.display.show_pianoroll`."""
        from melodia.media.display import show_pianoroll

        return show_pianoroll(self, **options)

    def play(self, **options: Any) -> Any:
        """An audio player for a notebook; see `melodia.media.display.listen`."""
        from melodia.media.display import listen

        return listen(self, **options)

    def show_score(self, **options: Any) -> Any:
        """Notation, engraved inline; see `melodia.media.display.show_score`."""
        from melodia.media.display import show_score

        return show_score(self, **options)

    def to_pretty_midi(self) -> pretty_midi.PrettyMIDI:
        from melodia.io.midi import score_to_pretty_midi

        return score_to_pretty_midi(self)

    @staticmethod
    def from_pretty_midi(midi: pretty_midi.PrettyMIDI) -> Score:
        from melodia.io.midi import score_from_pretty_midi

        return score_from_pretty_midi(midi)

    def to_music21(self) -> Any:
        """A `music21.stream.Score` with one part per track."""
        from melodia.io.music21 import score_to_music21

        return score_to_music21(self)

    @staticmethod
    def from_music21(stream: Any) -> Score:
        from melodia.io.music21 import score_from_music21

        return score_from_music21(stream)


def _note_problems(note: Note, where: str) -> list[str]:
    found = []
    if not 0 <= note.pitch <= 127:
        found.append(f"{where}: pitch {note.pitch} is not in 0..127")
    if not 1 <= note.velocity <= 127:
        found.append(f"{where}: velocity {note.velocity} is not in 1..127")
    if note.onset_tick < 0:
        found.append(f"{where}: onset tick {note.onset_tick} is negative")
    if note.duration_tick < 1:
        found.append(f"{where}: note at tick {note.onset_tick} has duration "
                     f"{note.duration_tick}, needs at least 1 tick")
    return found


def _ordered_problems(what: str, ticks: list[int]) -> list[str]:
    found = [f"{what} at tick {t}: negative tick" for t in ticks if t < 0]
    if any(b <= a for a, b in itertools.pairwise(ticks)):
        found.append(f"{what}s are not in strictly increasing tick order: {ticks[:8]}")
    return found


def _tempo_summary(tempos: list[TempoChange], listed: int = 4) -> str:
    """A few tempo changes listed; more summed up as the first, the range and the count."""
    if not tempos:
        return "120 BPM (default)"
    if len(tempos) <= listed:
        return ", ".join(f"{round(t.bpm, 1):g} BPM at {t.tick}" for t in tempos)
    slowest, fastest = min(t.bpm for t in tempos), max(t.bpm for t in tempos)
    return (f"{round(tempos[0].bpm, 1):g} BPM at {tempos[0].tick}, then {len(tempos) - 1} changes between "
            f"{round(slowest, 1):g} and {round(fastest, 1):g} BPM")
