"""Whole tunes as players play them: strains written once, played again with first and second endings.

    tunes = write_tunes(model, "D4/8 E4/8 F#4/8 A4/8 D5/8 A4/8 F#4/8 A4/8", "reel", count=4)

A tune is a row of strains (AABB: the A strain played twice, then the B strain twice; AABA:
song form). Each strain is written once, as ABC notation and folk-rnn write it: a body, then
an ending. A playing followed by the same strain, or by a return to an earlier one, ends open
(a half cadence that asks for more: the first ending); one followed by a new strain, or the
tune's last, ends closed on the tonic (the second ending). A strain played again is its body
note for note, as a repeat sign plays it, with the ending its place asks for. In a tune type
(`--tune reel`) a strain of 8 bars or more brings its opening back in its second half, varied
(`melodia.lm.form`'s return), and a new strain after the first sits higher, as B strains do (the
soft register control), coming back down for its ending and lower still at the tune's end.

Every part is drawn by the language model as a continuation of all that was played before it,
so a second ending follows the repeated body and the B strain follows the A strain as played.
`Tune.played` is the score as played (MIDI); its `form` says where each strain is played and
with which ending, so MusicXML keeps repeat signs and volta brackets and `melodia.metrics.tunes`
can measure the form. Chords asked for win over a repeat: a playing whose bars carry other
chords than the strain's first playing is written anew over them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from melodia.lm.constraints import Constraints, GenerateError, Meter, PitchRange, check_count
from melodia.lm.controls import Controls
from melodia.lm.draw import generate_each, melodies, read_request
from melodia.lm.form import FormPlan, Phrase, form_letters
from melodia.lm.modelfile import open_model
from melodia.lm.sampler import SamplingConfig
from melodia.metrics import bar_mean_pitches, melody
from melodia.score import Form, Note, Playing, Score, Strain, TempoChange
from melodia.seed import Mode, SeedError, read_seed, requested_key, seed_key


@dataclass(frozen=True)
class TuneType:
    """A kind of tune: its usual meter, strain length, form, metre, notes per bar, largest leap and tempo."""

    meter: str
    strain_bars: int
    form: str
    metre: str = "strict"  # dance tunes keep a strict metre (see `Constraints.metre`)
    density: str | None = None  # notes per bar the density control asks for (`Controls.density`: running eighths)
    max_leap: int = 12  # semitones: a tune's line moves within the octave, as players' fingers do
    b_floor: int = 1  # semitones below the first strain's mean pitch a new strain may go (it sits higher)
    last_fall: float = 3.0  # semitones the tune's closing ending sits below the first strain (so the tune ends low)
    tempo: float = 120.0  # quarter notes a minute, at a pace to learn the tune by (a seed's own tempo wins)
    last_ceiling: int = 4  # semitones above the first strain's mean pitch that the tune's closing ending may reach
    last_top: str = "high"  # the highest register the tune's closing ending is asked for (see `_register`)
    running: bool = True  # leans to its running note (`Biases.running_pull`); a hornpipe's dotted pairs are its own
    stop: bool = False  # its strains close on beats struck one by one (`FormPlan.stop`, `Biases.stop_pull`)


TUNE_TYPES = {  # tempos: a session's pace slowed to learn by (a jig's dotted quarter at 100, a reel's half at 90)
    "jig": TuneType("6/8", 8, "AABB", density="6", b_floor=-4, tempo=150.0),
    "reel": TuneType("4/4", 8, "AABB", density="8", tempo=180.0, last_ceiling=9),  # may end on the upper tonic
    "hornpipe": TuneType("4/4", 8, "AABB", density="8", b_floor=5, last_fall=0.0, tempo=140.0,  # ends mid-range
                         running=False, stop=True),
    "polka": TuneType("2/4", 8, "AABB", density="4", tempo=140.0),
    "waltz": TuneType("3/4", 8, "AABB", tempo=132.0, last_fall=5.0, last_top="mid"),  # comes home low, as waltzes do
    "air": TuneType("3/4", 8, "AABA", metre="free", b_floor=-1, tempo=66.0, last_fall=6.0,  # ends low, as airs do
                    last_ceiling=0),
}
FOLK_RANGE = (62, 83)  # D4 to B5, where fiddle and whistle tunes sit (see `folk_range`)
B_RISE = 7.0  # semitones a new strain's register sits above the first strain's (as real B strains do)

PartKey = tuple[str, bool]  # a strain's letter, and whether the playing ends closed
Part = tuple[list[Note], list[Note]]  # a strain's body and one of its endings, timed from the strain's start


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
                controls: Controls | None = None, sampling: SamplingConfig | None = None, random_seed: int = 0,
                progress: Callable[[int], None] | None = None) -> list[Tune]:
    """`count` whole tunes from `seed`, each in `form` (by default the tune type's) of strains of `strain_bars`.

    `kind` names a tune type (jig, reel, hornpipe, polka, waltz, air), which sets the meter, strain length,
    form, metre, notes per bar, largest leap and pitch range (`folk_range`: D4-B5, or from a tonic a tone below,
    widened to hold the seed) unless given, and a singable line; `constraints` (key, range, scale, ...) hold for
    every part, and `controls` (chords, notes per bar, register) steer it. The first playings are drawn together;
    the same `random_seed` gives the same tunes.
    `progress`, when given, is called every sampling step with how many tunes were finished in it.

    Raises:
        GenerateError: an unknown tune type, a strain shorter than 2 bars, or what `generate` refuses.
    """
    check_count(count, "tunes")
    loaded = open_model(model)
    chosen = tune_type(kind) if kind else None
    letters = form_letters(form or (chosen.form if chosen else "AABB"), "form")
    if letters == "none":
        raise GenerateError("form none: a whole tune is a row of strains; give letters such as AABB, AABA or ABAC")
    length = strain_bars if strain_bars is not None else (chosen.strain_bars if chosen else 8)
    if isinstance(length, bool) or not isinstance(length, int) or length < 2:
        raise GenerateError(f"strain_bars {length!r}: expected a whole number of bars, at least 2")
    seed_score, base = _read_seed(seed, constraints or Constraints())
    steer = controls or Controls()
    pickup = _has_pickup(seed_score)
    if seed_score.bar_count() - pickup > length - ending_bars(length):
        raise GenerateError(f"the seed fills {seed_score.bar_count()} bars, more than a strain of {length} bars "
                            f"leaves before its ending; take fewer of its bars (--seed-bars) or longer strains "
                            f"(--strain-bars)")
    key = base.key or seed_key(seed_score)  # the key `generate` continues the seed in
    if chosen:
        if base.pitch_range is None:
            base = replace(base, pitch_range=folk_range([n.pitch for n in seed_score.notes], key.tonic))
        density = chosen.density if "density" in _conditions(loaded) else None
        steer = replace(steer, density=steer.density or density)
        base = replace(base, meter=base.meter or Meter.read_setting(chosen.meter, "tune type"),
                       metre=base.metre or chosen.metre, line=base.line or "singable",
                       max_leap=chosen.max_leap if base.max_leap is None else base.max_leap)
    if chosen and not chosen.running:
        sampling = sampling or SamplingConfig()
        sampling = replace(sampling, biases=replace(sampling.biases, running_pull=0.0))
    writer = TuneWriter(loaded, letters, length, base, steer, sampling, chosen, int(pickup), progress)
    plan = writer.plan(0)
    asked, steering = writer.asked(None, 0, plan)
    opening, mode, named = read_request(seed_score, asked)
    openings = melodies(loaded, opening, mode, named, count, asked, steering, sampling, random_seed, plan,
                        writer.step)
    tunes = writer.finish(openings, key, random_seed * 1009)
    if chosen and not seed_score.tempos:
        for tune in tunes:
            tune.played.tempos = [TempoChange(0, chosen.tempo)]
    return tunes


def folk_range(seed_pitches: list[int], tonic: int) -> PitchRange:
    """D4 to B5, widened to hold the seed, and down to the tonic where it lies a tone or less below D4: a tune
    in C ends on middle C, as fiddlers play it, not an octave up at the top of its range."""
    low, high = min(FOLK_RANGE[0], *seed_pitches), max(FOLK_RANGE[1], *seed_pitches)
    below = low - (low - tonic) % 12  # the tonic at or below the range's floor
    return PitchRange(below if low - below <= 2 else low, high)


def _read_seed(seed: Any, constraints: Constraints) -> tuple[Score, Constraints]:
    """The seed as a `Score`, read once, and the constraints with the key it names (`key=`) as theirs."""
    try:
        score, named = read_seed(seed)
        return score, replace(constraints, key=requested_key(named, constraints.key))
    except SeedError as error:
        raise GenerateError(str(error)) from None


def _has_pickup(seed: Score) -> bool:
    """Whether the seed opens with a pickup: its first note comes after the first bar line, inside its first bar
    (the tune's strains then start at its second bar)."""
    onsets = [n.onset_tick for n in seed.notes]
    return bool(onsets) and 0 < min(onsets) < seed.initial_time_signature().bar_ticks


def ending_bars(strain_bars: int) -> int:
    """Bars of a strain's first or second ending: two, or one in a strain shorter than four bars."""
    return 2 if strain_bars >= 4 else 1


@dataclass
class TuneWriter:
    """Writes the strains of one form, part by part, each part a continuation of all played before it."""

    loaded: Any
    letters: str
    length: int
    base: Constraints
    controls: Controls
    sampling: SamplingConfig | None
    kind: TuneType | None = None  # a tune type: its strains bring their opening back, a new one sits higher
    pickup: int = 0  # 1 when the seed opens with a pickup bar: the strains start at the tune's second bar
    progress: Callable[[int], None] | None = None  # called every sampling step with the tunes finished in it

    def step(self, finished: int) -> None:
        """A sampling step of some part: no tune is finished until its last part is."""
        if self.progress is not None:
            self.progress(0)

    def first_bar(self, index: int) -> int:
        """The first bar of playing `index`, from 0."""
        return self.pickup + index * self.length

    def closes(self, index: int) -> bool:
        """Whether playing `index` ends closed, on the tonic: the tune's last, or one followed by a new strain."""
        return index + 1 == len(self.letters) or self.letters[index + 1] not in self.letters[:index + 1]

    def plan(self, index: int) -> FormPlan:
        """The form rules up to the end of playing `index` (the bars before it are prompt, never touched)."""
        length, first = self.length, self.first_bar(index) + 1
        letter, cadence = self.letters[index], "final" if self.closes(index) else "half"
        phrases = [Phrase(self.letters[0], 1, 1, (), "full")] if self.pickup else []
        phrases += [Phrase(self.letters[j], self.first_bar(j) + 1, length, (), "full") for j in range(index)]
        if self.kind is not None and letter not in self.letters[:index] and length >= 8:
            half = length // 2
            returns = ((first + half, first, True), (first + half + 1, first + 1, False))
            phrases += [Phrase(letter, first, half, (), "half"), Phrase(letter, first + half, half, returns, cadence)]
        else:
            phrases.append(Phrase(letter, first, length, (), cadence))
        back = None  # where the next playing starts, when it repeats a strain played before
        if index + 1 < len(self.letters) and self.letters[index + 1] in self.letters[:index + 1]:
            back = self.first_bar(self.letters.index(self.letters[index + 1])) + 1
        return FormPlan(self.letters[:index + 1], length, tuple(phrases), back, bool(self.kind and self.kind.stop))

    def asked(self, played: Score | None, index: int, plan: FormPlan, key: Mode | None = None,
              drawn: list[str] | None = None) -> tuple[Constraints, Controls]:
        """The constraints and controls of playing `index` after `played` (the tune up to it, its bars drawn with
        the registers `drawn`, so that the model reads them as it wrote them): the user's, with its length, the key,
        (unless the user asked for a register) the register of its strain, and in a tune type a new strain's floor,
        its `b_floor` below the first strain's mean pitch, so that it sits higher as B strains do (but within a leap
        of the note it follows: an air in C whose A strain ends on middle C)."""
        register = self.controls.register
        if register is None and played is not None and drawn is not None and "register" in _conditions(self.loaded):
            register = ",".join(drawn + self.registers(played, index))
        pitch_range = self.base.pitch_range
        if self.kind and played is not None and pitch_range:
            home = round(float(np.nanmean(bar_mean_pitches(played)[self.pickup:self.pickup + self.length])))
            if self.letters[index] not in self.letters[:index]:  # within a leap of the note it follows
                leap = self.kind.max_leap if self.base.max_leap is None else self.base.max_leap
                reach = melody(played)[-1].pitch + leap - 1
                pitch_range = PitchRange(max(pitch_range[0], min(home - self.kind.b_floor, pitch_range[1] - 10,
                                                                 reach)), pitch_range[1])
            elif self.closes(index) and self.letters[index] == self.letters[-1]:  # the tune's last ending ends low
                pitch_range = PitchRange(pitch_range[0], max(min(home + self.kind.last_ceiling, pitch_range[1]),
                                                             pitch_range[0] + 12))
        constraints = replace(self.base, key=key or self.base.key, bars=plan.bars, form=None, phrase_bars=None,
                              end_on_tonic=self.base.end_on_tonic and self.closes(index)
                              and self.letters[index] == self.letters[-1], pitch_range=pitch_range)
        return constraints, replace(self.controls, register=register)

    def registers(self, played: Score, index: int) -> list[str]:
        """The register asked of each bar of playing `index` (see `_register`), none ("any") without the control."""
        if "register" not in _conditions(self.loaded):
            return ["any"] * self.length
        fall, top = (self.kind.last_fall, self.kind.last_top) if self.kind else (TuneType.last_fall, TuneType.last_top)
        return _register(played, self.pickup, self.length, fall, self.letters[index] not in self.letters[:index],
                         index + 1 == len(self.letters), top)

    def finish(self, openings: list[Score], key: Mode, random_seed: int) -> list[Tune]:
        """The tunes in `key` whose first playings are `openings`: every later part drawn once, in the order
        played, the same part of every tune drawn as one batch."""
        ending = ending_bars(self.length)
        played = list(openings)
        drawn = [["any"] * self.first_bar(1) for _ in openings]  # the first playings: drawn with no register asked
        parts: list[dict[PartKey, Part]] = [{(self.letters[0], self.closes(0)): _part(opening, self.pickup,
                                                                                       self.length, ending)}
                                            for opening in openings]
        for index in range(1, len(self.letters)):
            letter, closed, first_bar = self.letters[index], self.closes(index), self.first_bar(index)
            bodies: dict[int, list[Note] | None] = {}
            for tune, known in enumerate(parts):
                body = next((part[0] for (name, _), part in known.items() if name == letter), None)
                again = self.first_bar(self.letters.index(letter))
                if body is not None and not _same_chords(self.controls.chords, again, first_bar, self.length):
                    body = None  # the chords win: this playing is written anew over its own chords
                if body is not None and (letter, closed) in known:
                    drawn[tune] += self.registers(played[tune], index)
                    played[tune] = _with_notes(played[tune], body + known[letter, closed][1], first_bar)
                else:
                    bodies[tune] = body
            if not bodies:
                continue
            plan = self.plan(index)
            prompts = [_with_notes(played[tune], body or [], first_bar) for tune, body in bodies.items()]
            asked = [self.asked(prompt, index, plan, key, drawn[tune]) for tune, prompt in zip(bodies, prompts)]
            scores = generate_each(self.loaded, prompts, asked, self.sampling, random_seed + index, plan, self.step)
            for (tune, body), score in zip(bodies.items(), scores):
                drawn[tune] += self.registers(played[tune], index)
                part = _part(score, first_bar, self.length, ending)
                part = (part[0] if body is None else body, part[1])  # a note the model put after the body's end goes
                parts[tune].setdefault((letter, closed), part)
                played[tune] = _with_notes(score, part[0] + part[1], first_bar)
        tunes = []
        for score, known in zip(played, parts):
            score.form = _form(score, self.letters, self.length, set(known), self.pickup)
            tunes.append(Tune(score, key))
        if self.progress is not None:
            for _ in tunes:
                self.progress(1)
        return tunes


def _conditions(loaded: Any) -> tuple[str, ...]:
    """The soft controls a loaded (model, tokenizer) pair was trained with."""
    return tuple(getattr(loaded[0].config, "conditions", ()))


def _bar_starts(score: Score, bars: int) -> list[int]:
    """The ticks of the first `bars` + 1 bar lines of `score`, counting on in its last meter past its end."""
    starts = score.bar_starts(max(score.end_tick, 1))
    bar_ticks = score.time_signature_at(starts[-1]).bar_ticks
    return starts + [starts[-1] + bar_ticks * (k + 1) for k in range(bars + 1 - len(starts))]


def _part(score: Score, first_bar: int, length: int, ending: int) -> Part:
    """The notes of a strain's body and of its ending (its last `ending` bars), each timed from its first bar."""
    starts = _bar_starts(score, first_bar + length)
    begin, split, end = starts[first_bar], starts[first_bar + length - ending], starts[first_bar + length]
    line = sorted(score.notes, key=lambda n: (n.onset_tick, n.pitch))

    def between(low: int, high: int) -> list[Note]:
        return [Note(n.pitch, n.velocity, n.onset_tick - begin, min(n.end_tick, high) - n.onset_tick)
                for n in line if low <= n.onset_tick < high]

    return between(begin, split), between(split, end)


def _with_notes(score: Score, notes: list[Note], first_bar: int) -> Score:
    """`score` cut at bar `first_bar`, with `notes` (timed from that bar) played from there."""
    begin = _bar_starts(score, first_bar)[first_bar]
    first, *others = score.tracks
    kept = [Note(n.pitch, n.velocity, n.onset_tick, min(n.end_tick, begin) - n.onset_tick)
            for n in first.notes if n.onset_tick < begin]
    tracks = [replace(first, notes=kept + [Note(n.pitch, n.velocity, n.onset_tick + begin, n.duration_tick)
                                           for n in notes])]
    tracks += [replace(track, notes=[replace(n) for n in track.notes if n.onset_tick < begin]) for track in others]
    return replace(score, tracks=tracks, tempos=list(score.tempos), time_signatures=list(score.time_signatures),
                   key_signatures=list(score.key_signatures), chord_symbols=list(score.chord_symbols))


def _same_chords(chords: str | None, first_bar: int, again_bar: int, length: int) -> bool:
    """Whether a progression (`Controls.chords`: bars between '|', repeated to the length from the tune's
    first bar) puts the same chords over the `length` bars from `again_bar` as over those from `first_bar`
    (always, without chords)."""
    if not chords:
        return True
    bars = [" ".join(bar.split()) for bar in chords.split("|")]
    return all(bars[(first_bar + k) % len(bars)] == bars[(again_bar + k) % len(bars)] for k in range(length))


def _register(played: Score, pickup: int, length: int, last_fall: float, new_strain: bool, last: bool,
              last_top: str = "high") -> list[str]:
    """The register asked of each bar of a playing: a new strain's body sits `B_RISE` semitones above the first
    strain (of `played`), its ending comes back to the first strain's register, and the tune's closing ending sits
    `last_fall` semitones below it, no higher than the register `last_top` (a waltz's close is never high)."""
    from melodia.lm.controls import REGISTER_FLOORS, REGISTERS

    def register(pitch: float) -> str:
        return REGISTERS[sum(pitch >= floor for floor in REGISTER_FLOORS)]

    first = bar_mean_pitches(played)[pickup:pickup + length]
    home = float(np.nanmean(first)) if np.isfinite(first).any() else 68.0
    ending = ending_bars(length)
    body = [register(home + B_RISE if new_strain else home)] * (length - ending)
    close = min(register(home - last_fall), last_top, key=REGISTERS.index) if last else register(home)
    return body + [close] * ending


def _form(played: Score, letters: str, length: int, parts: set[PartKey], pickup: int = 0) -> Form:
    """The form of a tune written strain by strain: a strain played both open and closed has a first ending
    (open) and a second (closed)."""
    labels = list(dict.fromkeys(letters))
    both = {label for label in labels if (label, True) in parts and (label, False) in parts}
    strains = tuple(Strain(label, length, (1, 2) if label in both else ()) for label in labels)
    starts = _bar_starts(played, pickup + len(letters) * length)[pickup:]
    ending = ending_bars(length)
    playings = []
    for index, letter in enumerate(letters):
        begin, end = starts[index * length], starts[(index + 1) * length]
        closed = index + 1 == len(letters) or letters[index + 1] not in letters[:index + 1]
        number = (2 if closed else 1) if letter in both else 0
        playings.append(Playing(labels.index(letter), begin, end, number,
                                starts[(index + 1) * length - ending] if number else end))
    return Form(strains, tuple(playings))
