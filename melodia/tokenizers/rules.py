"""Rules over the metrical grammar: masks that narrow which token may come next, read off its state.

A rule is called with the grammar's state and the mask of tokens the grammar allows, and returns
a narrower mask. The sampler applies the rules in turn; one that would leave no token gives way
(see `melodia.lm.sampler`), and generation then draws the melody again. Every rule reads the typed
`MetricalState` (bar count, bar start and length, position, the notes so far), so the rules hold
in sampling and in beam search alike and every melody they let through decodes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

import numpy as np

from melodia.errors import TokenizerError
from melodia.theory.meter import Meter, strong_beats
from melodia.tokenizers.base import EOS, GrammarState, Tokenizer
from melodia.tokenizers.metrical import MetricalState


def beat_steps(tokenizer: Tokenizer, numerator: int, denominator: int) -> int:
    """The meter's beat in grid steps (`melodia.theory.meter.Meter`: a dotted quarter in 6/8, 9/8, 12/8)."""
    return Meter(numerator, denominator).beat_in(tokenizer.grid.steps_per_quarter)


def strong_positions(bar_length: int, beat: int, every_beat: bool = False) -> list[int]:
    """The strong beats of a bar (`melodia.theory.meter.strong_beats`; with `every_beat`, each beat), in grid
    steps, where a note of a beat fits."""
    beats = bar_length // max(beat, 1)
    positions = range(beats) if every_beat else strong_beats(beats)
    return [p * beat for p in positions if (p + 1) * beat <= bar_length]


class MetricalRule(ABC):
    """A rule over the metrical grammar; subclasses write `narrow` against `MetricalState`."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        if not tokenizer.supports_constraints:
            raise TokenizerError(f"the {tokenizer.scheme} scheme has no bars to constrain; constraints, forms and "
                                 "key rules need a model with the metrical scheme")
        vocab = tokenizer.vocab
        if "Duration" not in vocab.ranges:
            raise TokenizerError("this model's tokens give notes no lengths (durations = false); constraints, forms "
                                 "and key rules need a model with Duration tokens")
        self.tokenizer = tokenizer
        self.pitch_start, self.pitch_stop = vocab.ranges["Pitch"]
        self.duration_start, self.duration_stop = vocab.ranges["Duration"]
        self.position_start = vocab.ranges["Position"][0]
        self.bar_token = vocab.id("Bar", 0)
        self.low = tokenizer.config.pitch_range[0]
        self.pitches = np.arange(self.low, tokenizer.config.pitch_range[1] + 1)

    def __call__(self, state: GrammarState, mask: np.ndarray) -> np.ndarray:
        if not isinstance(state, MetricalState):
            raise TokenizerError(f"{type(self).__name__} reads the metrical grammar, not {type(state).__name__}")
        return self.narrow(state, mask)

    @abstractmethod
    def narrow(self, state: MetricalState, mask: np.ndarray) -> np.ndarray:
        """The tokens of `mask` this rule lets through in `state`."""

    def beat(self, state: MetricalState) -> int:
        """The beat of the current meter, in grid steps."""
        return beat_steps(self.tokenizer, *state.meters[-1][1:])


class SteadyMeter(MetricalRule):
    """The seed's meter and tempo hold throughout (and a melody never offers a position inside a held note,
    which could only take a tempo change)."""

    def narrow(self, state: MetricalState, mask: np.ndarray) -> np.ndarray:
        if state.bars == 0:
            return mask
        narrowed = mask.copy()
        for kind in ("TimeSig", "Tempo"):
            if kind in self.tokenizer.vocab.ranges:
                first, last = self.tokenizer.vocab.ranges[kind]
                narrowed[first:last] = False
        if self.tokenizer.config.melody:
            held = state.note_end - state.bar_start
            narrowed[self.position_start:self.position_start + max(0, held)] = False
        return narrowed


class DanceMetre(MetricalRule):
    """A dance tune's metre: no note held over a bar line, a note struck off the beat over by the next beat, and
    every onset and length on the sixteenth-note grid (no triplets), as jigs, reels and hornpipes keep it."""

    def narrow(self, state: MetricalState, mask: np.ndarray) -> np.ndarray:
        if not state.meters or state.bars == 0:
            return mask
        narrowed = mask.copy()
        sixteenth = max(self.tokenizer.grid.steps_per_quarter // 4, 1)
        length = state.bar_length
        narrowed[self.position_start:self.position_start + length] &= np.arange(length) % sixteenth == 0
        if mask[self.duration_start:self.duration_stop].any() and state.position >= 0:
            beat, position = self.beat(state), state.position
            room = length - position if position % beat == 0 else min(length - position, beat - position % beat)
            lengths = np.arange(1, self.duration_stop - self.duration_start + 1)
            narrowed[self.duration_start:self.duration_stop] &= (lengths <= room) & (lengths % sixteenth == 0)
        return narrowed


class SingableLine(MetricalRule):
    """A line a player learns by ear: no more than `longest_run` notes in a row on one pitch, and a leap of
    `turning_leap` semitones or more (a minor sixth) turns back the other way."""

    def __init__(self, tokenizer: Tokenizer, longest_run: int = 4, turning_leap: int = 8) -> None:
        super().__init__(tokenizer)
        self.longest_run, self.turning_leap = longest_run, turning_leap

    def narrow(self, state: MetricalState, mask: np.ndarray) -> np.ndarray:
        if not state.notes or not mask[self.pitch_start:self.pitch_stop].any():
            return mask
        pitches = [note[2] for note in state.notes[-self.longest_run:]]
        narrowed = mask.copy()
        if len(pitches) == self.longest_run and len(set(pitches)) == 1:
            narrowed[self.pitch_start + pitches[-1] - self.low] = False
        if len(pitches) >= 2 and abs(pitches[-1] - pitches[-2]) >= self.turning_leap:
            back = self.pitches < pitches[-1] if pitches[-1] > pitches[-2] else self.pitches > pitches[-1]
            narrowed[self.pitch_start:self.pitch_stop] &= back
        return narrowed


class InOrder(MetricalRule):
    """The melody is written in time order: no fill-in-the-middle Gap (see `melodia.lm.infill` for filling one)."""

    def narrow(self, state: MetricalState, mask: np.ndarray) -> np.ndarray:
        if "Gap" not in self.tokenizer.vocab.ranges:
            return mask
        narrowed = mask.copy()
        narrowed[slice(*self.tokenizer.vocab.ranges["Gap"])] = False
        return narrowed


class PitchSet(MetricalRule):
    """Only the pitches of `allowed` (a flag for each pitch of the tokenizer's range)."""

    def __init__(self, tokenizer: Tokenizer, allowed: np.ndarray) -> None:
        super().__init__(tokenizer)
        self.allowed = allowed

    def narrow(self, state: MetricalState, mask: np.ndarray) -> np.ndarray:
        narrowed = mask.copy()
        narrowed[self.pitch_start:self.pitch_stop] &= self.allowed
        return narrowed


class LeapLimit(MetricalRule):
    """No leap wider than `semitones` from the previous note."""

    def __init__(self, tokenizer: Tokenizer, semitones: int) -> None:
        super().__init__(tokenizer)
        self.semitones = semitones

    def narrow(self, state: MetricalState, mask: np.ndarray) -> np.ndarray:
        if not state.notes or not mask[self.pitch_start:self.pitch_stop].any():
            return mask
        narrowed = mask.copy()
        narrowed[self.pitch_start:self.pitch_stop] &= np.abs(self.pitches - state.notes[-1][2]) <= self.semitones
        return narrowed


class BarCount(MetricalRule):
    """Exactly `bars` bars, and no note held past the last one."""

    def __init__(self, tokenizer: Tokenizer, bars: int) -> None:
        super().__init__(tokenizer)
        self.bars = bars

    def narrow(self, state: MetricalState, mask: np.ndarray) -> np.ndarray:
        narrowed = mask.copy()
        if state.bars >= self.bars:
            narrowed[self.bar_token] = False
        else:
            narrowed[EOS] = False
        if state.bars and mask[self.duration_start:self.duration_stop].any():
            end = state.bar_start + (self.bars - state.bars + 1) * state.bar_length
            if state.bars < self.bars:
                end -= 1  # the last bar must keep a free step for a note, or it could not end
            longest = end - (state.bar_start + state.position)
            narrowed[self.duration_start + max(longest, 1):self.duration_stop] = False
        return narrowed


class NoteCount(MetricalRule):
    """Exactly `notes` notes."""

    def __init__(self, tokenizer: Tokenizer, notes: int) -> None:
        super().__init__(tokenizer)
        self.notes = notes

    def narrow(self, state: MetricalState, mask: np.ndarray) -> np.ndarray:
        narrowed = mask.copy()
        if len(state.notes) >= self.notes:
            narrowed[:] = False
            narrowed[EOS] = mask[EOS]
        else:
            narrowed[EOS] = False
        return narrowed


class LastNoteHome(MetricalRule):
    """The `notes`-th note, the last, is the tonic (`tonic`, a pitch class) on a strong beat, a beat or longer."""

    def __init__(self, tokenizer: Tokenizer, notes: int, tonic: int) -> None:
        super().__init__(tokenizer)
        self.notes, self.tonic = notes, tonic

    def narrow(self, state: MetricalState, mask: np.ndarray) -> np.ndarray:
        if len(state.notes) != self.notes - 1 or not state.meters:
            return mask
        beat = self.beat(state)
        strong = strong_positions(state.bar_length, beat)
        narrowed = mask.copy()
        positions = np.zeros(state.bar_length, dtype=bool)
        positions[strong] = True
        narrowed[self.position_start:self.position_start + state.bar_length] &= positions
        narrowed[self.pitch_start:self.pitch_stop] &= (self.pitches % 12 == self.tonic) & (state.position in strong)
        narrowed[self.duration_start:self.duration_start + beat - 1] = False
        return narrowed


class BeatBias:
    """A log-probability per token that depends on the beat: `on_beat` for a note that starts on a beat of
    the meter, `off_beat` elsewhere (a sampler `Bias`)."""

    def __init__(self, tokenizer: Tokenizer, on_beat: np.ndarray, off_beat: np.ndarray) -> None:
        self.tokenizer, self.on_beat, self.off_beat = tokenizer, on_beat, off_beat

    def __call__(self, state: GrammarState) -> np.ndarray:
        return self.off_beat if self.beat_here(state) is None else self.on_beat

    def beat_here(self, state: GrammarState) -> int | None:
        """The meter's beat in grid steps when a note is about to start on a beat, else None."""
        if not isinstance(state, MetricalState) or state.last_kind != "Position" or not state.meters:
            return None
        beat = beat_steps(self.tokenizer, *state.meters[-1][1:])
        return beat if state.position % beat == 0 else None


class ChordBeatBias(BeatBias):
    """`BeatBias` whose on-beat log-probabilities follow a chord progression: `on_beats[i]` from grid step
    `starts[i]` on (the pull a key gives its tonic chord, given instead to the chord sounding), and
    `strong_beats[i]` on the strong beats (`strong_positions`), where a melody over chords lands on their tones."""

    def __init__(self, tokenizer: Tokenizer, starts: list[int], on_beats: list[np.ndarray],
                 strong_beats: list[np.ndarray], off_beat: np.ndarray) -> None:
        super().__init__(tokenizer, on_beats[0], off_beat)
        self.starts, self.on_beats, self.strong_beats = starts, on_beats, strong_beats

    def __call__(self, state: GrammarState) -> np.ndarray:
        beat = self.beat_here(state)
        if beat is None:
            return self.off_beat
        assert isinstance(state, MetricalState)
        which = max(int(np.searchsorted(self.starts, state.bar_start + state.position, side="right")) - 1, 0)
        strong = state.position in strong_positions(state.bar_length, beat)
        return self.strong_beats[which] if strong else self.on_beats[which]


StateBias = Callable[[GrammarState], np.ndarray]  # a sampler bias that depends on the state reached


def _under(base: StateBias | None, state: GrammarState, zeros: np.ndarray) -> np.ndarray:
    """What the bias under another gives at `state` (`zeros` without one)."""
    return zeros if base is None else base(state)


class RunningBias:
    """A sampler bias that leans every note towards the running length of a dance tune (`steps`: an eighth in a
    reel or a jig), `pull` log-probability given to that Duration, on top of `base` (a bias, or none):
    the model's dotted pairs and held notes stay possible, only rarer."""

    def __init__(self, tokenizer: Tokenizer, base: StateBias | None, steps: int, pull: float) -> None:
        self.base = base
        self.lean = np.zeros(len(tokenizer.vocab), dtype=np.float32)
        self.lean[tokenizer.vocab.id("Duration", 0) + steps - 1] = pull

    def __call__(self, state: GrammarState) -> np.ndarray:
        return self.lean if self.base is None else self.base(state) + self.lean


class LeadingNote:
    """A sampler bias for a minor key's leading note (`leading`, a pitch class), on top of `base` (which gives it
    `pull`): the pull holds only while the line has not sounded the leading note in its last `memory` notes (it
    brings the leading note in, the model then keeps it as the tune does), and after a leading note the pull
    goes to the tonic a semitone above, so that the line resolves rather than lingers (`G#4 A4`, not
    `G#4 G#4 G#4 G#4`)."""

    def __init__(self, tokenizer: Tokenizer, base: StateBias, leading: int, pull: float, memory: int = 16) -> None:
        self.base, self.leading, self.pull, self.memory = base, leading % 12, pull, memory
        low, high = tokenizer.config.pitch_range
        self.low, self.high = low, high
        self.pitch_start = tokenizer.vocab.ranges["Pitch"][0]
        self.away = np.zeros(len(tokenizer.vocab), dtype=np.float32)
        pitches = np.arange(low, high + 1)
        self.away[self.pitch_start:self.pitch_start + len(pitches)] = np.where(pitches % 12 == self.leading, -pull, 0.0)

    def __call__(self, state: GrammarState) -> np.ndarray:
        base = self.base(state)
        if not isinstance(state, MetricalState) or not any(
                note[2] % 12 == self.leading for note in state.notes[-self.memory:]):
            return base
        out = base + self.away
        if state.notes[-1][2] % 12 == self.leading and state.notes[-1][2] < self.high:
            out[self.pitch_start + state.notes[-1][2] + 1 - self.low] += self.pull
        return out


class StopCadence:
    """A sampler bias for a stop cadence: in bar `bar` (1-based: a strain's closing bar), a note starting on a beat
    after the bar's first gets `pull` log-probability on the Duration of one beat, on top of `base` (a bias or
    none), so that the strain closes on beats struck one by one (a hornpipe's `B2 d2 B2`)."""

    def __init__(self, tokenizer: Tokenizer, base: StateBias | None, bar: int, pull: float) -> None:
        self.tokenizer, self.base, self.bar, self.pull = tokenizer, base, bar, pull
        self.zeros = np.zeros(len(tokenizer.vocab), dtype=np.float32)
        self.first_duration = tokenizer.vocab.id("Duration", 0)

    def __call__(self, state: GrammarState) -> np.ndarray:
        base = _under(self.base, state, self.zeros)
        if not isinstance(state, MetricalState) or state.bars != self.bar or not state.meters \
                or state.last_kind not in ("Pitch", "Velocity"):
            return base
        beat = beat_steps(self.tokenizer, *state.meters[-1][1:])
        if state.position < beat or state.position % beat:
            return base
        out = base.copy()
        out[self.first_duration + beat - 1] += self.pull
        return out


class ApproachBias:
    """A sampler bias for filling a gap: `base` (a bias, or none), and for a note that starts in the gap's
    last half bar (a beat at least) before the first note after it, `pull` log-probability taken per semitone by
    which its pitch lies more than a step from that note's, so that the gap leads into what follows."""

    def __init__(self, tokenizer: Tokenizer, base: StateBias | None, pull: float) -> None:
        self.tokenizer, self.base, self.pull = tokenizer, base, pull
        self.zeros = np.zeros(len(tokenizer.vocab), dtype=np.float32)
        start, stop = tokenizer.vocab.ranges["Pitch"]
        self.pitch_start, self.pitch_stop = start, stop
        self.pitches = np.arange(tokenizer.config.pitch_range[0], tokenizer.config.pitch_range[1] + 1)

    def __call__(self, state: GrammarState) -> np.ndarray:
        base = _under(self.base, state, self.zeros)
        if not isinstance(state, MetricalState) or state.last_kind != "Position" or not state.gap.filling \
                or state.gap.limit is None or not state.meters:
            return base
        window = max(beat_steps(self.tokenizer, *state.meters[-1][1:]), state.bar_length // 2)
        if state.bar_start + state.position < state.gap.limit - window:
            return base
        target = max(note[2] for note in state.gap.suffix if note[0] == state.gap.limit)
        out = base.copy()
        out[self.pitch_start:self.pitch_stop] -= self.pull * np.maximum(np.abs(self.pitches - target) - 2, 0)
        return out
