"""The form of a tune: phrases of equal length, lettered sections that return, cadences at phrase ends.

    plan = plan_form("AABA", phrase_bars=4, bars=16)

A tune is a row of phrases, one letter each. A letter met before returns varied, as folk
tunes bring a phrase back: the first time, its first bar is copied note for note from
where the letter first came (so a seed's motive comes back) and its second bar plays the
pitches of the bar it returns to in a rhythm of its own; later times, both bars take the
pitches only. The rest is new and leads to a cadence of its own, as a second ending
differs from the first. A new section (B, C, ...) is new throughout (a bar copied into the next
is a loop, not a return). Every phrase ends on a cadence: the last note of its last bar
falls on a beat (the last phrase's on a strong beat) and is held at least a beat, to a
beat (the tune's last note to the end of its bar), on a degree of the tonic chord
("full"), of the dominant ("half": an open ending, asking for more), or the tonic itself
("final").

Both rules work on the metrical grammar's state as masks over the next token, so they
hold in sampling and in beam search alike, and they give way (leave the mask as it was)
where the grammar or a stronger constraint leaves them no token.
"""

from __future__ import annotations

import itertools
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from operator import itemgetter

import numpy as np

from melodia.analysis import mode_quality
from melodia.errors import MelodiaError
from melodia.score import MINOR
from melodia.tokenizers import EOS, Tokenizer
from melodia.tokenizers.metrical import MetricalState
from melodia.tokenizers.rules import MetricalRule, strong_positions

FORM_LETTERS = "ABCDEFGH"
# cadence kind -> pitch classes above the tonic (None: the major third, in major modes only, since a minor
# tune that closes a phrase on its third sounds as if in the relative major)
CADENCE_DEGREES = {"final": (0,), "half": (7, 2), "full": (0, None)}


class FormError(MelodiaError):
    """A form that cannot be read, or that does not fit the length asked for."""


@dataclass(frozen=True)
class Phrase:
    """One phrase of a form: its letter, first bar (1-based), length, the bars it copies and its cadence."""

    letter: str
    first_bar: int
    bars: int
    copies: tuple[tuple[int, int, bool], ...]  # (bar, the earlier bar it takes, note for note or pitches only)
    cadence: str  # "final", "half" or "full"


@dataclass(frozen=True)
class FormPlan:
    """The phrases of a tune, bar by bar."""

    form: str
    phrase_bars: int
    phrases: tuple[Phrase, ...]
    goes_back: int | None = None  # the earlier bar (1-based) played after the last, where a repeat goes back
    stop: bool = False  # the last bar closes on a stop cadence, beats struck one by one (a hornpipe's strains)

    @property
    def bars(self) -> int:
        return sum(phrase.bars for phrase in self.phrases)

    def source_bar(self, bar: int) -> tuple[int, bool] | None:
        """The earlier bar that `bar` (1-based) repeats, and whether whole (else only its pitches)."""
        return self._sources.get(bar)

    def cadence_at(self, bar: int) -> str | None:
        """The cadence that `bar` (1-based) ends on, when it closes a phrase."""
        return self._cadences.get(bar)

    # looked up at every sampling step: tables, so that a tune of hundreds of phrases costs no more a step
    @cached_property
    def _sources(self) -> dict[int, tuple[int, bool]]:
        return {copied: (source, whole) for phrase in self.phrases for copied, source, whole in phrase.copies}

    @cached_property
    def _cadences(self) -> dict[int, str]:
        return {phrase.first_bar + phrase.bars - 1: phrase.cadence for phrase in self.phrases}


def default_form(phrases: int) -> str:
    """The form used when none is asked for: a period (AA), a bar form (AAB), AABA, then pairs (AABBCC...)."""
    if phrases <= 4:
        return ("A", "AA", "AAB", "AABA")[max(phrases, 1) - 1]
    return "".join(FORM_LETTERS[index // 2 % len(FORM_LETTERS)] for index in range(phrases))


def default_phrase_bars(bars: int) -> int:
    """Four-bar phrases where the length allows, else three or two, else the whole tune is one phrase."""
    return next((length for length in (4, 3, 2) if bars % length == 0 and bars > length), bars)


def form_letters(form: str, where: str = "form") -> str:
    """'AABB', 'A A B B' or "AA'BB" as 'AABB' (and 'none' as 'none').

    Raises:
        FormError: naming the form and what is accepted.
    """
    if form.strip().lower() == "none":
        return "none"
    letters = form.replace(" ", "").replace("'", "").upper()
    if not letters or any(letter not in FORM_LETTERS for letter in letters):
        raise FormError(f"{where} {form!r}: expected letters A-H, one per phrase, such as AABB, AABA or ABAC, or none")
    return letters


def plan_form(form: str | None, phrase_bars: int | None, bars: int | None) -> FormPlan:
    """The plan of a tune of `bars` bars (or of len(form) * phrase_bars when `bars` is None).

    Raises:
        FormError: naming the form, the phrase length and the bars when they do not fit.
    """
    letters = form_letters(form) if form else ""
    if phrase_bars is not None and not 1 <= phrase_bars <= 64:
        raise FormError(f"phrase_bars {phrase_bars}: expected 1 to 64 bars")
    if bars is None:
        if not letters:
            raise FormError("a form needs a length: a number of bars, or a form with its phrase_bars")
        bars = len(letters) * (phrase_bars or 4)
    length = phrase_bars or (bars // len(letters) if letters and bars % len(letters) == 0
                             else default_phrase_bars(bars))
    letters = letters or default_form(max(1, bars // length))
    if len(letters) * length != bars:
        raise FormError(f"form {letters} of {length}-bar phrases makes {len(letters) * length} bars, "
                        f"but {bars} are asked for; change the bars, the form or phrase_bars")
    first_bars: dict[str, int] = {}
    phrases = []
    for index, letter in enumerate(letters):
        first_bar = 1 + index * length
        source = first_bars.setdefault(letter, first_bar)
        cadence = "final" if index == len(letters) - 1 else ("half" if index % 2 == 0 else "full")
        if source != first_bar:  # a return: the first time bar 1 whole and bar 2's pitches, later the pitches
            again = letters[:index].count(letter) > 1
            copies = [(first_bar + offset, source + offset, offset == 0 and not again)
                      for offset in range(min(2, length - 1))]
        else:
            copies = []
        phrases.append(Phrase(letter, first_bar, length, tuple(copies), cadence))
    return FormPlan(letters, length, tuple(phrases))


def cadence_pitch_classes(kind: str, tonic: int, mode: str) -> set[int]:
    """The pitch classes a cadence of `kind` may end on, in `mode` (a name of `analysis.SCALES`) on `tonic`."""
    minor = mode_quality(mode) == MINOR
    return {(tonic + (4 if step is None else step)) % 12 for step in CADENCE_DEGREES[kind]
            if not (step is None and minor)}


class FormRule(MetricalRule):
    """A rule of a `FormPlan` over the metrical grammar. `first_free_bar` is the first bar after the
    seed (bars the seed fills are never touched)."""

    def __init__(self, tokenizer: Tokenizer, plan: FormPlan, first_free_bar: int) -> None:
        super().__init__(tokenizer)
        self.plan, self.first_free_bar = plan, first_free_bar


class FormCopy(FormRule):
    """In a bar that repeats an earlier one, only the token that continues the copy."""

    def narrow(self, state: MetricalState, mask: np.ndarray) -> np.ndarray:
        source = self.plan.source_bar(state.bars)
        if source is None or state.bars < self.first_free_bar or state.last_kind == "PAD":
            return mask
        expected = self._next_copied_token(state, state.bars - source[0], source[1])
        if expected is None or not mask[expected]:
            return mask
        narrowed = np.zeros_like(mask)
        narrowed[expected] = True
        return narrowed

    def _next_copied_token(self, state: MetricalState, distance: int, whole: bool) -> int | None:
        """The token that keeps the current bar a copy of the bar `distance` bars back, or of its pitches
        (None: the copy is done, broke, or leaves this token free)."""
        source_start = state.bar_start - distance * state.bar_length
        source = [(n[0] - source_start, n[2], n[1]) for n in _notes_in(state.notes, source_start, state.bar_length)]
        return self._next_token_of(state, source, whole)

    def _next_token_of(self, state: MetricalState, source: Sequence[tuple[int, int, int]], whole: bool) -> int | None:
        """The token that keeps the current bar `source` ((position, pitch, duration) in steps, by onset), or its
        pitches (None: the bar is done, broke from it, or this token is free)."""
        start, length = state.bar_start, state.bar_length
        done = [(n[0] - start, n[2], n[1]) for n in _notes_in(state.notes, start, length)]
        if not whole:
            if state.last_kind != "Position" or len(done) >= len(source):
                return None
            return self.pitch_start + source[len(done)][1] - self.low
        if done != source[:len(done)]:
            return None
        following = source[len(done)] if len(done) < len(source) else None
        kind = state.last_kind
        if kind == "Position":
            return None if following is None or following[0] != state.position else \
                self.pitch_start + following[1] - self.low
        if kind == "Pitch":
            if following is None or following[1] != state.pitch:
                return None
            return self.duration_start + following[2] - 1
        if kind in ("Bar", "TimeSig", "Duration", "Tempo"):
            return self.bar_token if following is None else self.position_start + following[0]
        return None


class Restatement(FormCopy):
    """In the bars of `bars` (bar number from 1 -> its notes as (position, pitch, duration) in steps), only the
    token that plays those notes again: an infill restating the opening where the tune's form returns to it."""

    def __init__(self, tokenizer: Tokenizer, bars: dict[int, list[tuple[int, int, int]]]) -> None:
        super().__init__(tokenizer, FormPlan("A", 1, ()), min(bars, default=1))
        self.bars = bars

    def narrow(self, state: MetricalState, mask: np.ndarray) -> np.ndarray:
        source = self.bars.get(state.bars)
        if source is None or state.last_kind == "PAD":
            return mask
        expected = self._next_token_of(state, source, True)
        if expected is None or not mask[expected]:
            return mask
        narrowed = np.zeros_like(mask)
        narrowed[expected] = True
        return narrowed


class FreshBar(FormRule):
    """No bar heard twice in a row: a bar's last note is not the one that would make it the bar before again (and
    its second-last, struck as that bar's, takes another length, in case the last is left no other pitch),
    nor the bar played next when that is known: a bar the form copies note for note, or in the plan's last bar
    the bar a repeat goes back to (`FormPlan.goes_back`); and across such a join no more than `longest_run`
    notes in a row on one pitch (`SingableLine` sees only the notes before), the notes of the bar's last beat
    within `lead` semitones (a fifth) of the note played next, so that a first ending leads back into the strain.
    Real waltzes and airs never play a bar twice in a row."""

    def __init__(self, tokenizer: Tokenizer, plan: FormPlan, first_free_bar: int, longest_run: int = 4,
                 lead: int = 7) -> None:
        super().__init__(tokenizer, plan, first_free_bar)
        self.longest_run, self.lead = longest_run, lead

    def narrow(self, state: MetricalState, mask: np.ndarray) -> np.ndarray:
        if state.last_kind not in ("Position", "Pitch") or state.bars < max(self.first_free_bar, 2):
            return mask
        start, length = state.bar_start, state.bar_length
        done = _bar_line(state.notes, start, length)
        copied = self.plan.source_bar(state.bars + 1)
        following = self.plan.goes_back if state.bars == self.plan.bars else copied[0] if copied and copied[1] else None
        after = [] if following is None else _bar_line(state.notes, start - (state.bars - following) * length, length)
        narrowed = mask.copy()
        for bar in (_bar_line(state.notes, start - length, length), after):
            if state.last_kind == "Pitch":  # the bar's second-last note as that bar's: another length (its last
                if len(bar) == len(done) + 2 and bar[:len(done)] == done \
                        and bar[len(done)][:2] == (state.position, state.pitch):  # note may be all that is left)
                    narrowed[self.duration_start + bar[len(done)][2] - 1] = False
            elif len(bar) == len(done) + 1 and bar[:-1] == done and bar[-1][0] == state.position:
                narrowed[self.pitch_start + bar[-1][1] - self.low] = False
        if state.last_kind == "Pitch":
            return narrowed if narrowed[self.duration_start:self.duration_stop].any() else mask
        if after:
            first = after[0][1]
            opening = len(list(itertools.takewhile(lambda note: note[1] == first, after)))
            closing = len(list(itertools.takewhile(lambda note: note[2] == first, reversed(state.notes))))
            if closing + 1 + opening > self.longest_run:
                narrowed[self.pitch_start + first - self.low] = False
            if after[0][0] == 0 and state.position >= length - self.beat(state):  # the bar's last beat leads on
                narrowed[self.pitch_start:self.pitch_stop] &= np.abs(self.pitches - first) <= self.lead
        return narrowed


class Seam(FormRule):
    """Where the notes drawn meet the notes before them (a second ending after the strain's body played again, a
    new strain after the last), the first note drawn moves at most `largest` semitones from the note before: an
    ending leads on from the body, as a player's does, rather than leaping a seventh into it."""

    def __init__(self, tokenizer: Tokenizer, plan: FormPlan, first_free_bar: int, given_notes: int,
                 largest: int = 7) -> None:
        super().__init__(tokenizer, plan, first_free_bar)
        self.given_notes, self.largest = given_notes, largest

    def narrow(self, state: MetricalState, mask: np.ndarray) -> np.ndarray:
        if state.last_kind != "Position" or len(state.notes) != self.given_notes or not self.given_notes:
            return mask
        narrowed = mask.copy()
        narrowed[self.pitch_start:self.pitch_stop] &= np.abs(self.pitches - state.notes[-1][2]) <= self.largest
        return narrowed


def _bar_line(notes: Sequence[tuple[int, ...]], start: int, length: int) -> list[tuple[int, int, int]]:
    """The notes of the bar from `start` as (position, pitch, duration) in steps."""
    return [(n[0] - start, n[2], n[1]) for n in _notes_in(notes, start, length)]


def _notes_in(notes: Sequence[tuple[int, ...]], start: int, length: int) -> Sequence[tuple[int, ...]]:
    """The notes (onset first, in time order) of the bar from `start`, found by bisection, so that a step of a long
    tune costs no more than one of a short tune."""
    onset = itemgetter(0)
    return notes[bisect_left(notes, start, key=onset):bisect_left(notes, start + length, key=onset)]


class FormCadence(FormRule):
    """In a bar that closes a phrase, the bar's last note is a cadence note: on a beat (strong at the end, or any
    beat with `stop`: a stop cadence's last beat), at least a beat long, on a pitch of the cadence's kind
    (`cadences` maps a kind to its pitch classes)."""

    def __init__(self, tokenizer: Tokenizer, plan: FormPlan, first_free_bar: int,
                 cadences: dict[str, set[int]], stop: bool = False) -> None:
        super().__init__(tokenizer, plan, first_free_bar)
        self.stop = stop
        pitch_classes = self.pitches % 12
        self.cadence_pitches = {kind: np.isin(pitch_classes, sorted(classes)) for kind, classes in cadences.items()}

    def narrow(self, state: MetricalState, mask: np.ndarray) -> np.ndarray:
        kind = self.plan.cadence_at(state.bars)
        if kind is None or state.bars < self.first_free_bar or not state.meters:
            return mask
        beat, length, position = self.beat(state), state.bar_length, state.position
        strong = strong_positions(length, beat, every_beat=kind != "final" or self.stop)
        if not strong:
            return mask
        narrowed = mask.copy()
        if not self._closed(state, strong, beat, kind):
            narrowed[self.bar_token] = narrowed[EOS] = False
        narrowed[self.position_start + strong[-1] + 1:self.position_start + length] = False
        later = [p for p in strong if p > position]
        if mask[self.pitch_start:self.pitch_stop].any() and not later:
            narrowed[self.pitch_start:self.pitch_stop] &= self.cadence_pitches[kind] if position in strong \
                else False
        if mask[self.duration_start:self.duration_stop].any():
            lengths = np.arange(1, self.duration_stop - self.duration_start + 1)
            can_close = position in strong and bool(self.cadence_pitches[kind][state.pitch - self.low])
            fits = (lengths <= later[-1] - position) if later else np.zeros(len(lengths), dtype=bool)
            if can_close:  # held to a beat (the tune's last note to the end of its bar), not to a stray step
                ends = position + lengths
                fits |= (ends == length) if kind == "final" else (
                    (lengths >= beat) & (ends <= length) & (ends % beat == 0))
            narrowed[self.duration_start:self.duration_stop] &= fits
        return narrowed

    def _closed(self, state: MetricalState, strong: list[int], beat: int, kind: str) -> bool:
        """Whether the bar's last note so far is a cadence note."""
        if not state.notes:
            return False
        onset, duration, pitch = state.notes[-1][:3]
        return onset - state.bar_start in strong and duration >= beat and \
            bool(self.cadence_pitches[kind][pitch - self.low])
