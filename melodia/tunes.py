"""Whole tunes as players play them: strains written once, played twice, with first and second endings.

    tunes = write_tunes(model, "D4 E4 F#4/8 G4/8 A4/2", "reel", count=4)

A folk tune is a row of strains (AABB: the A strain played twice, then the B strain twice).
Each strain is written once, as folk-rnn and ABC notation write it: a body, then an ending.
A strain played again right after itself ends the first time on an open ending (a half
cadence that asks for the repeat) and the second time on a closed one (the tonic); the body
of the second playing is the first playing's, note for note, as a repeat sign plays it.
Inside a strain the opening comes back in its fifth bar, varied (`melodia.form`'s return).
A new strain (B) moves up, as B strains do: the soft register control asks for a high
register over its bars.

Every part is drawn by the language model as a continuation of all that has been played
so far, so the second ending follows the repeated body and the B strain follows the A
strain as played. `Tune.played` is the score as played (MIDI); its `form` says where each
strain is played and with which ending, so MusicXML is written with repeat signs and
volta brackets and `melodia.metrics.tunes` can measure the form.
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from melodia.constraints import Constraints, GenerateError
from melodia.form import FormPlan, Phrase, form_letters
from melodia.metrics import bar_mean_pitches
from melodia.sampler import SamplingConfig
from melodia.score import Form, Note, Playing, Score, Strain
from melodia.seed import Mode


@dataclass(frozen=True)
class TuneType:
    """A kind of tune: its usual meter, strain length and form."""

    meter: str
    strain_bars: int
    form: str
    metre: str = "strict"  # dance tunes keep a strict metre (see `Constraints.metre`)
    density: str | None = None  # notes per bar the soft density control asks for (running eighths)


TUNE_TYPES = {
    "jig": TuneType("6/8", 8, "AABB", density="6"),
    "reel": TuneType("4/4", 8, "AABB", density="8"),
    "hornpipe": TuneType("4/4", 8, "AABB", density="8"),
    "polka": TuneType("2/4", 8, "AABB", density="4"),
    "waltz": TuneType("3/4", 8, "AABB"),
    "air": TuneType("3/4", 8, "AABA", metre="free"),
}
ENDING_BARS = 2  # bars of a first or second ending
B_RISE = 4.0  # semitones a B strain's register sits above the A strain's (as real B strains do)
LAST_FALL = 3.0  # and the tune's last ending below it, so that the tune ends low


@dataclass
class Tune:
    """A tune as played (its `Score.form` says where each strain is played, with which ending) and its key."""

    played: Score
    key: Mode


def tune_type(name: str) -> TuneType:
    """The tune type called `name` (jig, reel, ...), or a `GenerateError` naming the accepted ones."""
    if name not in TUNE_TYPES:
        raise GenerateError(f"tune type {name!r}: expected one of {', '.join(TUNE_TYPES)}")
    return TUNE_TYPES[name]


def write_tunes(model: Any, seed: Any, kind: str | None = None, count: int = 1, *, form: str | None = None,
                strain_bars: int | None = None, constraints: Constraints | None = None,
                sampling: SamplingConfig | None = None, random_seed: int = 0) -> list[Tune]:
    """`count` whole tunes from `seed`, each in `form` (by default the tune type's) of strains of `strain_bars`.

    `kind` names a tune type (jig, reel, hornpipe, polka, waltz, air), which sets the meter, strain length and
    form unless given; `constraints` (key, range, scale, ...) hold for every part. The same `random_seed`
    gives the same tunes.
    """
    from melodia.generation import _load

    loaded = _load(model)
    chosen = tune_type(kind) if kind else None
    letters = form_letters(form or (chosen.form if chosen else "AABB"), "form")
    length = strain_bars or (chosen.strain_bars if chosen else 8)
    if length < 2 * ENDING_BARS:
        raise GenerateError(f"strain_bars {length}: expected at least {2 * ENDING_BARS} bars")
    base = constraints or Constraints()
    if chosen:
        base = replace(base, meter=base.meter or chosen.meter, density=base.density or chosen.density,
                       metre=chosen.metre if base.metre == "free" else base.metre)
    return [_write_tune(loaded, seed, letters, length, base, sampling, random_seed * 1009 + index)
            for index in range(count)]


def _write_tune(loaded: Any, seed: Any, letters: str, length: int, base: Constraints,
                sampling: SamplingConfig | None, random_seed: int) -> Tune:
    """One tune: each strain's body and endings drawn once, in the order they are played."""
    from melodia.generation import generate

    played: Score | None = None
    key = base.key
    bodies: dict[str, list[Note]] = {}
    endings: dict[tuple[str, bool], list[Note]] = {}
    for index, letter in enumerate(letters):
        closed = index + 1 == len(letters) or letters[index + 1] != letter
        first_bar = index * length
        prompt = seed if played is None else played
        if letter in bodies:
            prompt = _with_notes(played, bodies[letter], first_bar, length)
            if (letter, closed) in endings:
                played = _with_notes(played, bodies[letter] + endings[letter, closed], first_bar, length)
                continue
        new_strain = letter not in bodies
        plan = _strain_plan(letters, index, length, closed, new_strain)
        register = None if played is None else _register(played, index, length, new_strain,
                                                         closed and index + 1 == len(letters))
        asked = replace(base, key=key, bars=plan.bars, form=None, end_on_tonic=False,
                        register=register or base.register)
        played = generate(loaded, prompt, 1, asked, sampling, random_seed + index, plan=plan)[0]
        if key is None:
            signature = played.key_signatures[0]
            key = Mode(signature.tonic, signature.mode)
        strain = _bar_notes(played, first_bar, length)
        bodies.setdefault(letter, strain[0])
        endings[letter, closed] = strain[1]
    assert played is not None and key is not None
    played.form = _form(played, letters, length)
    return Tune(played, key)


def _form(played: Score, letters: str, length: int) -> Form:
    """The form of a tune written strain by strain: a strain played again right away has a first ending (open)
    and a second (closed), each `ENDING_BARS` long."""
    labels = list(dict.fromkeys(letters))
    repeated = {a for a, b in itertools.pairwise(letters) if a == b}
    strains = tuple(Strain(label, length, (1, 2) if label in repeated else ()) for label in labels)
    starts = played.bar_starts(played.end_tick)
    bar_ticks = played.time_signature_at(starts[-1]).bar_ticks
    starts += [starts[-1] + bar_ticks * (k + 1) for k in range(len(letters) * length + 1 - len(starts))]
    playings = []
    for index, letter in enumerate(letters):
        begin, end = starts[index * length], starts[(index + 1) * length]
        ending = 0 if letter not in repeated else 1 if index + 1 < len(letters) and letters[index + 1] == letter \
            else 2
        playings.append(Playing(labels.index(letter), begin, end, ending,
                                starts[(index + 1) * length - ENDING_BARS] if ending else end))
    return Form(strains, tuple(playings))


def _strain_plan(letters: str, index: int, length: int, closed: bool, new_strain: bool) -> FormPlan:
    """The form rules for the tune up to the end of strain `index`: earlier strains are prompt (their bars
    are never touched); a new strain is two phrases, the second bringing back the first's opening, and ends on
    a half cadence when it is played again right away (the first ending) or on the tonic when not."""
    half = length // 2
    first = index * length + 1
    ending = "final" if closed else "half"
    phrases = [Phrase(letters[j], 1 + j * length, length, (), "full") for j in range(index)]
    if new_strain and length >= 4:
        returns = tuple((first + half + offset, first + offset, offset == 0) for offset in range(min(2, half - 1)))
        phrases += [Phrase(letters[index], first, half, (), "half"),
                    Phrase(letters[index], first + half, length - half, returns, ending)]
    else:
        phrases.append(Phrase(letters[index], first, length, (), ending))
    return FormPlan(letters[:index + 1], length, tuple(phrases))


def _register(played: Score, index: int, length: int, new_strain: bool, last: bool) -> str:
    """The register asked of each bar up to the end of strain `index`: what was played keeps its own; a new
    strain after the first sits `B_RISE` semitones above the first strain until its ending, which comes back to
    the first strain's register; the tune's closing ending sits `LAST_FALL` below it, so the tune ends low."""
    from melodia.controls import REGISTER_FLOORS, REGISTERS

    def register(pitch: float) -> str:
        return REGISTERS[sum(pitch >= floor for floor in REGISTER_FLOORS)]

    means = bar_mean_pitches(played)
    home = float(np.nanmean(means[:length]))
    earlier = [register(m) if not np.isnan(m) else register(home) for m in means[:index * length]]
    body = [register(home + B_RISE if new_strain else home)] * (length - ENDING_BARS)
    ending = [register(home - LAST_FALL if last else home)] * ENDING_BARS
    return ",".join(earlier + body + ending)


def _bar_notes(score: Score, first_bar: int, length: int) -> tuple[list[Note], list[Note]]:
    """The notes of a strain's body and of its ending, each timed from the strain's first bar."""
    starts = score.bar_starts(score.end_tick)
    starts += [starts[-1] + score.time_signature_at(starts[-1]).bar_ticks] * (first_bar + length + 1 - len(starts))
    begin, split, end = starts[first_bar], starts[first_bar + length - ENDING_BARS], starts[first_bar + length]
    line = sorted(score.notes, key=lambda n: (n.onset_tick, n.pitch))

    def between(low: int, high: int) -> list[Note]:
        return [Note(n.pitch, n.velocity, n.onset_tick - begin, min(n.end_tick, high) - n.onset_tick)
                for n in line if low <= n.onset_tick < high]

    return between(begin, split), between(split, end)


def _with_notes(score: Score | None, notes: list[Note], first_bar: int, length: int) -> Score:
    """`score` cut at bar `first_bar` with `notes` (timed from that bar) played from there."""
    assert score is not None
    starts = score.bar_starts(score.end_tick)
    bar_ticks = score.time_signature_at(starts[-1]).bar_ticks
    begin = starts[first_bar] if first_bar < len(starts) else starts[-1] + bar_ticks * (first_bar - len(starts) + 1)
    result = copy.deepcopy(score)
    track = result.tracks[0]
    track.notes = [Note(n.pitch, n.velocity, n.onset_tick, min(n.end_tick, begin) - n.onset_tick)
                   for n in track.notes if n.onset_tick < begin]
    track.notes += [Note(n.pitch, n.velocity, n.onset_tick + begin, n.duration_tick) for n in notes]
    for extra in result.tracks[1:]:
        extra.notes = [n for n in extra.notes if n.onset_tick < begin]
    return result
