"""Melodies drawn from the model under rules: a seed phrase read into a request (its prompt, the masks that keep
the constraints and the form, the biases that make its key and chords heard), the requests drawn as one batch,
and a draw that broke a rule drawn again (up to RETRIES times). `melodia.generate`, `melodia.infill` and the
strains of `melodia.lm.tunes` all draw through here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import numpy as np
import torch

from melodia.gm import INSTRUMENT_RANGES
from melodia.lm.constraints import Constraints, GenerateError
from melodia.lm.controls import (
    ControlError,
    ControlPlan,
    Controls,
    Labeler,
    chord_changes,
    chord_labels,
    plan_density,
    plan_register,
)
from melodia.lm.form import FormCadence, FormCopy, FormPlan, FreshBar, Seam, cadence_pitch_classes, plan_form
from melodia.lm.modelfile import open_model
from melodia.lm.sampler import Biases, Labels, Progress, Row, Rule, SamplingConfig, beam_search, sample_rows
from melodia.metrics import ends_on_tonic
from melodia.score import MINOR, ChordSymbol, KeySignature, Score, TimeSignature
from melodia.seed import Mode, SeedError, read_seed, requested_key, seed_key
from melodia.theory.chord import parse_symbol
from melodia.theory.key import SCALES
from melodia.theory.pitch import note_name
from melodia.tokenizers import EOS, Tokenizer
from melodia.tokenizers.rules import (
    BarCount,
    BeatBias,
    ChordBeatBias,
    DanceMetre,
    InOrder,
    LastNoteHome,
    LeadingNote,
    LeapLimit,
    NoteCount,
    PitchSet,
    RunningBias,
    SingableLine,
    StateBias,
    SteadyMeter,
    StopCadence,
    beat_steps,
)

DEFAULT_BIASES = Biases()
LEADING_NOTE = 11  # semitones above the tonic
RETRIES = 12  # draws of a melody that broke a rule (a mask that had to give way) before giving up


def form_plan(constraints: Constraints) -> FormPlan | None:
    """The form the outputs will have: None without a length in bars, or with form "none"
    (then a single phrase when the ending must still be the tonic)."""
    if (constraints.form or "").lower() == "none" or (constraints.bars is None and not constraints.form):
        if constraints.end_on_tonic and constraints.bars:
            return plan_form("A", constraints.bars, constraints.bars)
        return None
    if constraints.notes is not None:
        raise GenerateError("a form and its phrase_bars need a length in bars, not in notes")
    return plan_form(constraints.form, constraints.phrase_bars, constraints.bars)


def read_request(seed: Any, constraints: Constraints) -> tuple[Score, Mode, bool]:
    """The seed as a `Score` (in the meter asked for), the key to continue it in, and whether that key was named
    (by the seed or the constraints) rather than heard in the seed's notes."""
    seed_score, named_key = read_seed(seed)
    if constraints.meter:
        seed_score.time_signatures = [TimeSignature(0, *constraints.meter)]
    try:
        mode = requested_key(named_key, constraints.key)
    except SeedError as error:
        raise GenerateError(str(error)) from None
    return seed_score, mode or seed_key(seed_score), mode is not None


def melodies(model: Any, seed: Score, mode: Mode, named: bool, count: int, constraints: Constraints,
             controls: Controls, sampling: SamplingConfig | None, random_seed: int, plan: FormPlan | None,
             progress: Progress | None = None, from_file: bool = False) -> list[Score]:
    """`count` continuations of `seed` (from `read_request`) in `mode` under `constraints` and `plan`, steered by
    `controls`, drawn as one batch (`melodia.generate` without a form, and each first playing of
    `melodia.lm.tunes`)."""
    model, tokenizer = open_model(model)
    request = request_for(model, tokenizer, seed, mode, named, constraints, controls, sampling, plan, from_file)
    return draw_requests(model, tokenizer, [request] * count, random_seed, progress)


def generate_each(model: Any, seeds: list[Score], asked: list[tuple[Constraints, Controls]],
                  sampling: SamplingConfig | None, random_seed: int, plan: FormPlan,
                  progress: Progress | None = None) -> list[Score]:
    """Each of `seeds` continued once under its own constraints (each naming its key) and controls, and `plan`,
    drawn as one batch (`melodia.lm.tunes` writes the later strains of all its tunes so)."""
    model, tokenizer = open_model(model)
    requests = []
    for seed, (constraints, controls) in zip(seeds, asked, strict=True):
        if constraints.meter:
            seed = replace(seed, time_signatures=[TimeSignature(0, *constraints.meter)])
        mode = constraints.key or seed_key(seed)
        requests.append(request_for(model, tokenizer, seed, mode, constraints.key is not None, constraints, controls,
                                    sampling, plan, False))
    return draw_requests(model, tokenizer, requests, random_seed, progress)


@dataclass(frozen=True)
class Request:
    """One continuation asked for: the seed and its prompt, the key, the constraints and their rules."""

    seed: Score
    mode: Mode
    constraints: Constraints
    controls: Controls
    sampling: SamplingConfig
    row: Row
    chord_symbols: list[ChordSymbol]
    closes: bool  # the plan ends the tune: a draw off the tonic is drawn again
    stop: bool = False  # it closes on a stop cadence: its closing note may fall on any beat


def request_for(model: Any, tokenizer: Tokenizer, seed_score: Score, mode: Mode, named: bool, constraints: Constraints,
                controls: Controls, sampling: SamplingConfig | None, plan: FormPlan | None, from_file: bool) -> Request:
    """The prompt, rules and bias that continue `seed_score` in `mode` under `constraints` and `plan`, steered by
    `controls`; a `GenerateError` for constraints that cannot hold."""
    if plan is not None:
        constraints = replace(constraints, bars=plan.bars)
    sampling = sampling or SamplingConfig()
    stop = plan is not None and plan.stop and bool(sampling.biases.stop_pull)
    prompt = tokenizer.encode(seed_score).tolist()
    if prompt[-1] == EOS:
        prompt = prompt[:-1]
    sampling = replace(sampling, max_tokens=token_budget(tokenizer, len(prompt), constraints, sampling))
    _check_room(seed_score, len(prompt), constraints, sampling, from_file)
    allowed = allowed_pitches(tokenizer, seed_score if not named else None, mode, constraints)
    _check_conflicts(seed_score, mode, constraints, tokenizer, allowed)
    rules = _constraint_rules(tokenizer, mode, constraints, allowed)
    if plan is not None:
        rules += _form_rules(tokenizer, plan, mode, seed_score.bar_count() + 1, stop)
    if constraints.line == "singable":  # after the form's rules, which they give way to
        free = seed_score.bar_count() + 1
        rules += [FreshBar(tokenizer, plan or FormPlan("A", 1, ()), free),
                  Seam(tokenizer, plan or FormPlan("A", 1, ()), free, _notes_read(tokenizer, prompt))]
    key = key_bias(tokenizer, mode, seed_score, constraints.scale, sampling.biases)
    labels_of, chord_symbols = controls_asked(model, tokenizer, seed_score, controls, constraints.bars)
    if chord_symbols:
        key = chord_bias(tokenizer, key, chord_symbols, sampling.biases)
    bias: StateBias | None = resolving(tokenizer, key, mode, sampling.biases)
    running = running_steps(tokenizer, seed_score, constraints, controls)
    if running and sampling.biases.running_pull:
        bias = RunningBias(tokenizer, bias, running, sampling.biases.running_pull)
    if stop:
        assert plan is not None
        bias = StopCadence(tokenizer, bias, plan.bars, sampling.biases.stop_pull)
    closes = plan is not None and plan.phrases[-1].cadence == "final"
    return Request(seed_score, mode, constraints, controls, sampling, Row(prompt, rules, bias, labels_of),
                   chord_symbols, closes, stop)


def _notes_read(tokenizer: Tokenizer, prompt: list[int]) -> int:
    """How many notes the grammar has read after `prompt`."""
    state = tokenizer.new_state()
    for token in prompt:
        state.advance(token)
    return len(getattr(state, "notes", ()))


T = TypeVar("T")


def redraw(drawings: list[T], draw: Callable[[list[int]], list[T]], trouble: Callable[[int, T], int],
           retries: int = RETRIES) -> list[T]:
    """`drawings` with each one in trouble drawn again (`draw(indices)` draws those), up to `retries` times: a new
    drawing takes an old one's place when it is in less trouble (`trouble`: 2 for a broken rule, 1 for a closing
    that does not close on the tonic, 0 for none). `generate`, `infill` and whole tunes all redraw so."""
    drawings = list(drawings)
    for _ in range(retries):
        levels = [trouble(index, drawing) for index, drawing in enumerate(drawings)]
        failing = [index for index, level in enumerate(levels) if level]
        if not failing:
            break
        for index, again in zip(failing, draw(failing), strict=True):
            if trouble(index, again) < levels[index]:
                drawings[index] = again
    return drawings


def draw_requests(model: Any, tokenizer: Tokenizer, requests: list[Request], random_seed: int,
                  progress: Progress | None) -> list[Score]:
    """A score for each request, drawn as one batch; a draw that breaks a rule (or ends a closing plan off the
    tonic) is drawn again, up to RETRIES times, and a `GenerateError` if one still breaks a rule."""
    generator = torch.Generator().manual_seed(random_seed)
    torch.manual_seed(random_seed)
    sampling = requests[0].sampling

    def draw(indices: list[int]) -> list[Score]:
        rows = [requests[i].row for i in indices]
        sequences = draw_rows(model, tokenizer, rows, sampling, generator, progress)
        return [tokenizer.decode(tokens) for tokens in sequences]

    def hard(index: int, score: Score) -> str:
        request = requests[index]
        return _fault(score, request.seed.note_count, request.mode, request.constraints)

    def trouble(index: int, score: Score) -> int:
        request = requests[index]
        closed = not request.closes or ends_on_tonic(score, request.mode.tonic, request.stop)
        return 2 if hard(index, score) else int(not closed)

    retries = 0 if sampling.beam_size else RETRIES
    scores = redraw(draw(list(range(len(requests)))), draw, trouble, retries)
    broken = [fault for index, score in enumerate(scores) if (fault := hard(index, score))]
    if broken:
        raise GenerateError(unkept_message(broken, len(scores), retries + 1, requests[0].constraints))
    for request, score in zip(requests, scores):
        score.key_signatures = [KeySignature(0, request.mode.tonic, request.mode.quality)]
        score.chord_symbols = [symbol for symbol in request.chord_symbols if symbol.tick < score.end_tick]
    return scores


CONTROL_FIELDS = {"chord": "chords", "density": "density", "register": "register"}  # condition: `Controls` field
PLAN_BARS = 512  # bars a progression is laid over when the length is not given (more than a sampler makes)


def controls_asked(model: Any, tokenizer: Tokenizer, score: Score, controls: Controls,
                   bars: int | None) -> tuple[Labeler | None, list[ChordSymbol]]:
    """The labels the model reads for the controls asked for (None when none is), and the chord symbols of a
    progression, to be written with the melody; `bars` (the length, if known) are counted from the tune's
    first, seed included."""
    asked = [name for name, spec in CONTROL_FIELDS.items() if getattr(controls, spec) is not None]
    if not asked:
        return None, []
    names = tuple(model.config.conditions)
    for name in asked:
        if name not in names:
            raise GenerateError(f"controls.{CONTROL_FIELDS[name]}: this model was trained without the {name} "
                                "control; use the default model, or train one with conditions = [\"chord\", "
                                "\"density\", \"register\"]")
    meter = score.time_signatures[0] if score.time_signatures else TimeSignature(0, 4, 4)
    bar_steps = tokenizer.grid.bar_steps(meter.numerator, meter.denominator)
    beat = beat_steps(tokenizer, meter.numerator, meter.denominator)
    eighths = bar_steps * 2 // tokenizer.config.steps_per_quarter
    try:
        changes = chord_changes(controls.chords, bar_steps, beat, bars or PLAN_BARS) if controls.chords else []
        plan = ControlPlan(
            chords=chord_labels(changes) or None,
            density=plan_density(controls.density, bars, eighths) if controls.density else None,
            register=plan_register(controls.register, bars) if controls.register else None)
    except ControlError as error:
        raise GenerateError(str(error)) from None
    ticks = tokenizer.config.ticks_per_step
    return Labeler(names, plan), [ChordSymbol(step * ticks, written) for step, _, written in changes]


def draw_sequences(model: Any, tokenizer: Tokenizer, prompt: list[int], count: int, sampling: SamplingConfig,
                   generator: torch.Generator, rules: list[Rule], bias: Any, progress: Progress | None,
                   labels_of: Labels | None) -> list[list[int]]:
    """`count` continuations of `prompt`: drawn, or the likeliest by beam search when `sampling.beam_size` is set;
    on one torch thread."""
    return draw_rows(model, tokenizer, [Row(prompt, rules, bias, labels_of)] * count, sampling, generator, progress)


def draw_rows(model: Any, tokenizer: Tokenizer, rows: list[Row], sampling: SamplingConfig,
              generator: torch.Generator, progress: Progress | None) -> list[list[int]]:
    """A continuation of each row's prompt under its rules: drawn as one batch, or the likeliest by beam search
    when `sampling.beam_size` is set (rows alike searched together); on one torch thread."""
    with one_thread():
        if not sampling.beam_size:
            return sample_rows(model, tokenizer, rows, sampling, generator, progress)
        alike: dict[int, list[int]] = {}
        for index, row in enumerate(rows):
            alike.setdefault(id(row), []).append(index)
        found: list[list[int] | None] = [None] * len(rows)
        for indices in alike.values():
            row = rows[indices[0]]
            best = beam_search(model, tokenizer, row.prompt, sampling, row.rules, len(indices), row.bias,
                               progress, labels_of=row.labels_of)
            for index, tokens in zip(indices, best):
                found[index] = tokens
        return [tokens for tokens in found if tokens is not None]  # a search may find fewer than asked


@contextmanager
def one_thread() -> Iterator[None]:
    """torch on one intra-op thread inside the block, restored after it. Sampling is a chain of small matrix
    products, one step at a time: more threads only wait on each other (on a busy 2-core machine, 4 melodies
    of 8 bars took 2 to 27 s on 2 threads and 0.2 to 0.5 s on 1), and one thread gives the same numbers on
    every machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def unkept_message(faults: list[str], count: int, draws: int, constraints: Constraints) -> str:
    """Why generation gave up: how many melodies broke a constraint in every draw, the one the first broke, and
    what to loosen: the settings given that narrow it, never one that was not set."""
    fault = faults[0]
    if "pitch range" in fault:
        remedy = "widen the pitch range"
    elif "leap" in fault:
        remedy = "allow a larger leap"
    else:
        given = [name for name, value in (("the pitch range", constraints.pitch_range),
                                          ("the instrument's range", constraints.instrument),
                                          ("the largest leap", constraints.max_leap is not None)) if value]
        remedy = (f"loosen {' or '.join(given)}, or " if given else "") + "drop the tonic ending (end_on_tonic)"
    tries = f"each of {draws} draws" if draws > 1 else "its draw"
    return f"{len(faults)} of {count} melodies broke a constraint in {tries} ({fault}); {remedy}"


def token_budget(tokenizer: Tokenizer, prompt_tokens: int, constraints: Constraints,
                 sampling: SamplingConfig) -> int:
    """The longest sequence the sampler may make: `sampling.max_tokens`, raised so that a length asked for in bars
    or notes is always written whole (a bar can hold at most a note on every step of the longest bar, a note a
    Position, a Pitch, a Duration and at most a Velocity, a Program, a Tempo; a bar a Bar and a TimeSig)."""
    config = tokenizer.config
    per_note = 3 + int(config.velocity_bins > 1) + int(config.use_programs) + int(config.tempo)
    per_bar = 2 + config.steps_per_quarter * config.max_bar_quarters * per_note
    need = prompt_tokens + 1 + max((constraints.bars or 0) * per_bar, (constraints.notes or 0) * (per_note + 2))
    return max(sampling.max_tokens, need)


def _fault(score: Score, seed_notes: int, mode: Mode, constraints: Constraints) -> str:
    """The first constraint that must hold and that `score` breaks, or ''."""
    line = sorted(score.notes, key=lambda n: (n.onset_tick, n.pitch))
    new = line[seed_notes:]
    if constraints.pitch_range and any(not constraints.pitch_range[0] <= n.pitch <= constraints.pitch_range[1]
                                       for n in new):
        return f"a note outside the pitch range {constraints.pitch_range}"
    if constraints.max_leap is not None and any(abs(b.pitch - a.pitch) > constraints.max_leap
                                                for a, b in zip(line[max(seed_notes - 1, 0):], new)):
        return f"a leap wider than the largest leap, {constraints.max_leap} semitones"
    if constraints.end_on_tonic and not ends_on_tonic(score, mode.tonic):
        return "an ending off the tonic"
    return ""


def _check_room(seed: Score, prompt_tokens: int, constraints: Constraints, sampling: SamplingConfig,
                from_file: bool) -> None:
    """Refuse, before sampling, a seed that leaves nothing to generate."""
    shorten = "take fewer of its bars" if from_file else "type a shorter seed phrase"
    if prompt_tokens >= sampling.max_tokens - 16:
        raise GenerateError(f"the seed phrase is {prompt_tokens} tokens long, too close to the longest sequence "
                            f"the sampler makes ({sampling.max_tokens}); {shorten}")
    seed_bars = seed.bar_count()
    if constraints.bars and seed_bars >= constraints.bars:
        raise GenerateError(f"the seed phrase already fills {seed_bars} bar{'s' if seed_bars != 1 else ''}; ask for "
                            f"more bars than that ({seed_bars + 4}, say) or {shorten}")
    if constraints.notes and seed.note_count >= constraints.notes:
        raise GenerateError(f"the seed phrase already has {seed.note_count} notes; ask for more notes than that")


def allowed_pitches(tokenizer: Tokenizer, seed: Score | None, mode: Mode, constraints: Constraints) -> np.ndarray:
    """Over the tokenizer's pitch range: the pitches the pitch range, the instrument and a strict scale leave (a strict
    scale also keeps the pitch classes of `seed`, given when the key was estimated from it, and in a minor key its
    raised seventh, the leading note of its cadences; a modal minor, aeolian or dorian, keeps its own seventh)."""
    pitches = np.arange(tokenizer.config.pitch_range[0], tokenizer.config.pitch_range[1] + 1)
    allowed = np.ones(len(pitches), dtype=bool)
    if constraints.scale == "strict":
        seed_classes = [(n.pitch - mode.tonic) % 12 for n in seed.notes] if seed else []
        leading_note = [LEADING_NOTE] if mode.mode == MINOR else []  # the minor key's raised 7th, at its cadences
        allowed &= np.isin((pitches - mode.tonic) % 12, [*SCALES[mode.mode], *seed_classes, *leading_note])
    if constraints.pitch_range:
        low, high = constraints.pitch_range
        allowed &= (pitches >= low) & (pitches <= high)
    if constraints.instrument:
        low, high = INSTRUMENT_RANGES[constraints.instrument]
        allowed &= (pitches >= low) & (pitches <= high)
    return allowed


def _check_conflicts(seed: Score, mode: Mode, constraints: Constraints, tokenizer: Tokenizer,
                     allowed: np.ndarray) -> None:
    """Refuse, before sampling, constraints that cannot all hold, naming them."""
    pitches = np.arange(tokenizer.config.pitch_range[0], tokenizer.config.pitch_range[1] + 1)
    named = [name for name, given in ((f"the pitch range {constraints.pitch_range}", constraints.pitch_range),
                                      (f"the {constraints.instrument}'s range", constraints.instrument),
                                      (f"the key {mode}", constraints.scale == "strict")) if given]
    if not allowed.any():
        raise GenerateError(f"{' and '.join(named)} leave no pitch to play; widen the range or change the key")
    if constraints.end_on_tonic and not (allowed & (pitches % 12 == mode.tonic)).any():
        raise GenerateError(f"ending on the tonic: {' and '.join(named)} leave no {str(mode).split()[0]} to end on")
    if constraints.max_leap is not None and seed.note_count:
        last = max(seed.notes, key=lambda n: (n.onset_tick, n.pitch)).pitch
        if not (allowed & (np.abs(pitches - last) <= constraints.max_leap)).any():
            raise GenerateError(f"the seed ends on {note_name(last)}, and {' and '.join(named)} with a largest leap of "
                                f"{constraints.max_leap} leave no note to follow it; widen the range or the leap")


def key_bias(tokenizer: Tokenizer, mode: Mode, seed: Score, scale: str, biases: Biases = DEFAULT_BIASES
             ) -> BeatBias | None:
    """Log-probability added to each token, by the beat: a note on a beat gets `tonic_gravity` for the tonic
    chord's pitches (so the key is heard, while passing notes stay free), and with a soft scale, pitches
    outside it lose `soft_outside`, minor's raised 6th and 7th (and the seed's own pitch classes)
    `soft_raised`; a minor key's leading note gains `leading_pull` (all of `biases`). None with the scale off."""
    if scale == "off":
        return None
    off_beat = np.zeros(len(tokenizer.vocab), dtype=np.float32)
    start, stop = tokenizer.vocab.ranges["Pitch"]
    degrees = (np.arange(tokenizer.config.pitch_range[0], tokenizer.config.pitch_range[1] + 1) - mode.tonic) % 12
    minor = mode.quality == MINOR
    if scale == "soft":
        in_scale = np.isin(degrees, SCALES[mode.mode])
        mild = np.isin(degrees, [(n.pitch - mode.tonic) % 12 for n in seed.notes])
        if minor:
            mild |= np.isin(degrees, [9, 11])
        off_beat[start:stop] = np.where(in_scale, 0.0, np.where(mild, -biases.soft_raised, -biases.soft_outside))
    if mode.mode == MINOR:  # not aeolian, dorian or phrygian: a modal minor keeps its own seventh
        off_beat[start:stop] += np.where(degrees == LEADING_NOTE, biases.leading_pull, 0.0)
    on_beat = off_beat.copy()
    on_beat[start:stop] += np.where(np.isin(degrees, [0, 3 if minor else 4, 7]), biases.tonic_gravity, 0.0)
    return BeatBias(tokenizer, on_beat, off_beat)


def resolving(tokenizer: Tokenizer, bias: BeatBias | None, mode: Mode, biases: Biases = DEFAULT_BIASES
              ) -> BeatBias | LeadingNote | None:
    """`bias` (a key's, from `key_bias`), with a minor key's leading note resolving (`LeadingNote`): the pull
    `key_bias` gives it goes, after it, to the tonic above."""
    if bias is None or mode.mode != MINOR or not biases.leading_pull:
        return bias
    return LeadingNote(tokenizer, bias, mode.tonic + LEADING_NOTE, biases.leading_pull)


def running_steps(tokenizer: Tokenizer, seed: Score, constraints: Constraints, controls: Controls) -> int | None:
    """The running note's length in grid steps of a dance tune in a strict metre asked for a steady number of
    notes a bar (`density="8"` in 4/4: an eighth), or None."""
    density = (controls.density or "").strip()
    if constraints.metre != "strict" or not density.isdigit() or int(density) < 1:
        return None
    bar_ticks = seed.initial_time_signature().bar_ticks
    steps, left = divmod(bar_ticks // tokenizer.config.ticks_per_step, int(density))
    largest = tokenizer.config.max_duration_quarters * tokenizer.config.steps_per_quarter
    return steps if not left and 1 <= steps <= largest and tokenizer.config.durations else None


def chord_bias(tokenizer: Tokenizer, key_bias: BeatBias | None, symbols: list[ChordSymbol],
               biases: Biases = DEFAULT_BIASES) -> BeatBias:
    """The key's bias with its pull on the beat moved from the tonic chord to the chord given there."""

    off_beat = key_bias.off_beat if key_bias is not None else np.zeros(len(tokenizer.vocab), dtype=np.float32)
    start, stop = tokenizer.vocab.ranges["Pitch"]
    classes = np.arange(tokenizer.config.pitch_range[0], tokenizer.config.pitch_range[1] + 1) % 12
    on_beats, strong_beats = [], []
    for symbol in symbols:
        tones = np.isin(classes, parse_symbol(symbol.symbol).pitch_classes)
        on_beat, strong_beat = off_beat.copy(), off_beat.copy()
        on_beat[start:stop] += np.where(tones, biases.tonic_gravity, 0.0)
        strong_beat[start:stop] += np.where(tones, biases.chord_gravity, 0.0)
        on_beats.append(on_beat)
        strong_beats.append(strong_beat)
    ticks = tokenizer.config.ticks_per_step
    return ChordBeatBias(tokenizer, [symbol.tick // ticks for symbol in symbols], on_beats, strong_beats, off_beat)


def _form_rules(tokenizer: Tokenizer, plan: FormPlan, mode: Mode, first_free_bar: int, stop: bool) -> list[Rule]:
    cadences = {kind: cadence_pitch_classes(kind, mode.tonic, mode.mode) for kind in ("final", "half", "full")}
    return [FormCadence(tokenizer, plan, first_free_bar, cadences, stop), FormCopy(tokenizer, plan, first_free_bar)]


def _constraint_rules(tokenizer: Tokenizer, mode: Mode, constraints: Constraints,
                      allowed_pitch: np.ndarray) -> list[Rule]:
    """The rules over the metrical grammar that keep `constraints` (see `melodia.tokenizers.rules`)."""
    rules: list[Rule] = [InOrder(tokenizer), SteadyMeter(tokenizer), PitchSet(tokenizer, allowed_pitch)]
    if constraints.metre == "strict":
        rules.append(DanceMetre(tokenizer))
    if constraints.line == "singable":
        rules.append(SingableLine(tokenizer))
    if constraints.max_leap is not None:
        rules.append(LeapLimit(tokenizer, constraints.max_leap))
    if constraints.bars is not None:
        rules.append(BarCount(tokenizer, constraints.bars))
    if constraints.notes is not None:
        rules.append(NoteCount(tokenizer, constraints.notes))
        if constraints.end_on_tonic:
            rules.append(LastNoteHome(tokenizer, constraints.notes, mode.tonic))
    return rules


