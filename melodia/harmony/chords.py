"""Key-aware harmony for a melody: chords with sevenths, secondary dominants and cadences.

`harmonize` cuts the melody's bars into harmony slots (a bar, or half of a 4/4, 6/8 or 12/8
bar) and picks one chord per slot by dynamic programming over the chords of the key:

- a melody note on the slot's downbeat should be a chord tone (the strongest term), notes
  elsewhere count by how long they sound; a chord tone a half step from a held melody note
  is a sustained clash and costs more;
- root motion down a fifth is rewarded, a secondary dominant must resolve to its target, a
  dominant does not fall back to the subdominant, and a chord changes inside a bar only when
  the melody asks for it (so the harmonic rhythm follows the melody);
- phrase ends every 4 bars close with a cadence: a half cadence (V) after the first phrase of
  an eight-bar period, an authentic one (V(7) - I, after ii or IV) after the second and at
  the end; a tune ending on a tonic-chord tone ends on the tonic chord.

For a texture of several voices (`lead` given: its top line), whose chords are read rather
than invented, the lead's notes count twice, every chord of the main qualities on any root is
a candidate at a cost (`chromatic_candidates`: a chromatic piece's augmented triads, chords
from other keys, the dominant with a suspended fourth that resolves on the next beat), and a
chord is chosen per beat: on a beat inside a slot its notes count half (`WEAK_BEAT`) and a
change there pays the new chord's cost as well as `CHANGE_IN_BAR`, so a chorale's chord per
quarter note is named as it sounds while a slot's first beat still decides its chord.

Inversions are chosen afterwards for a smooth bass (`choose_bass`). `melodia.theory.chord.parse_progression`
reads a user's progression ("Am | Dm G | C | E7"); `from_symbols` plays the chord symbols a
score carries (a lead sheet's, read from MIDI text events, MusicXML or ABC) instead of an
estimate.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, replace
from itertools import pairwise

import numpy as np

from melodia.analysis import MAJOR_SCALE, MINOR_SCALE
from melodia.errors import StyleError
from melodia.score import MAJOR, ChordSymbol, Note, Score
from melodia.theory.chord import Chord, parse_symbol
from melodia.theory.key import TUNE, Key, estimate_key

PHRASE_BARS = 4


@dataclass(frozen=True)
class Candidate:
    """A chord the key offers, its cost before any melody is heard, its function (T, S, D or
    a secondary dominant 'V/x') and, for a secondary dominant, the root it must resolve to."""

    chord: Chord
    prior: float
    function: str
    target: int | None = None


@dataclass(frozen=True)
class Bar:
    """A stretch with one chord: a bar, or part of one. `number` is the written bar it lies in
    (counted from the first bar of the tune, intro bars negative), `section` is 'intro', 'tune'
    or 'ending', and `phrase_end` marks the last stretch of a phrase."""

    start: int
    length: int
    beat: int
    beats: int
    chord: Chord
    number: int = 0
    section: str = "tune"
    phrase_end: bool = False


# --- keys and symbols ------------------------------------------------------------------------------

def tune_key(score: Score, notes: list[Note]) -> Key:
    """The key of the tune (`melodia.theory.key.TUNE`): its key signature's, or the relative key when the notes
    (Aarden-Essen profiles) and the final note say so clearly; without a signature, or with one the notes
    contradict, the best of all 24 keys, with a pull towards a tonic on the final note (the note that ends
    last, the lowest of those that do)."""
    signed = score.key_signatures[0] if score.key_signatures else None
    if not notes:
        return signed.key if signed else Key(0, MAJOR)
    ending_last = sorted(notes, key=lambda n: (n.end_tick, -n.pitch))
    return estimate_key([n.pitch for n in ending_last], [n.duration_tick for n in ending_last], TUNE,
                        signed.key if signed else None)


def tonic_triad(tonic: int, mode: str) -> tuple[int, int, int]:
    return Key(tonic, mode).tonic_triad


def uses_flats(key: Key, root: int | None = None) -> bool:
    """Whether to spell with flats in `key` (Bb, not A#): keys with flats in their signature, and
    chords borrowed from the minor mode (on the flat third, sixth or seventh of a major key)."""
    major_tonic = key[0] if key[1] == MAJOR else (key[0] + 3) % 12
    borrowed = root is not None and key[1] == MAJOR and (root - key[0]) % 12 in (3, 8, 10)
    return major_tonic in (5, 10, 3, 8, 1, 6) or borrowed


# --- the chords a key offers ---------------------------------------------------------------------

def key_candidates(tonic: int, mode: str) -> list[Candidate]:
    """Diatonic triads and sevenths, the dominant seventh, secondary dominants and (in major) chords
    borrowed from the minor mode, of `tonic` `mode`."""
    def at(step: int, quality: str, prior: float, function: str, target: int | None = None) -> Candidate:
        return Candidate(Chord((tonic + step) % 12, quality), prior, function,
                         None if target is None else (tonic + target) % 12)

    if mode == MAJOR:
        return [at(0, "", 0.0, "T"), at(0, "maj7", 0.35, "T"), at(2, "m", 0.15, "S"), at(2, "m7", 0.1, "S"),
                at(4, "m", 0.3, "T"), at(5, "", 0.05, "S"), at(5, "maj7", 0.35, "S"), at(7, "", 0.05, "D"),
                at(7, "7", 0.05, "D"), at(9, "m", 0.1, "T"), at(9, "m7", 0.3, "T"), at(11, "m7b5", 0.6, "D"),
                at(2, "7", 0.35, "V/V", 7), at(4, "7", 0.4, "V/vi", 9), at(9, "7", 0.45, "V/ii", 2),
                at(0, "7", 0.45, "V/IV", 5),
                # borrowed from the minor mode, for modal tunes (a flat seventh, third or sixth in the melody)
                at(10, "", 0.5, "S"), at(5, "m", 0.55, "S"), at(3, "", 0.6, "T"), at(8, "", 0.6, "S")]
    return [at(0, "m", 0.0, "T"), at(0, "m7", 0.5, "T"), at(2, "m7b5", 0.25, "S"), at(3, "", 0.15, "T"),
            at(5, "m", 0.05, "S"), at(5, "m7", 0.2, "S"), at(7, "", 0.05, "D"), at(7, "7", 0.05, "D"),
            at(8, "", 0.1, "S"), at(8, "maj7", 0.35, "S"), at(10, "", 0.2, "D"), at(11, "dim7", 0.5, "D"),
            at(10, "7", 0.4, "V/III", 3), at(0, "7", 0.45, "V/iv", 5), at(2, "7", 0.5, "V/V", 7),
            at(0, "", 0.6, "T")]  # the tonic with a Picardy third, for a final major chord


CHROMATIC_QUALITIES = ("", "m", "7", "m7", "maj7", "aug", "dim", "dim7", "m7b5")
CHROMATIC_PRIOR = 1.2  # what a chord outside the key's candidates costs in a texture of several voices
SUSPENDED_PRIOR = 0.3  # a suspended fourth over the dominant: a cadence's 4-3 suspension, named as it sounds


def chromatic_candidates(tonic: int, mode: str) -> list[Candidate]:
    """The key's candidates, then a chord of every `CHROMATIC_QUALITIES` on every root the key
    does not offer, at `CHROMATIC_PRIOR`, and the dominant with a suspended fourth (and seventh)
    at `SUSPENDED_PRIOR`."""
    own = key_candidates(tonic, mode)
    offered = {(c.chord.root, c.chord.quality) for c in own}
    dominant = (tonic + 7) % 12
    extra = []
    for root in range(12):
        for quality in CHROMATIC_QUALITIES:
            if (root, quality) not in offered:
                extra.append(Candidate(Chord(root, quality), CHROMATIC_PRIOR, "X"))
    suspended = [Candidate(Chord(dominant, quality), SUSPENDED_PRIOR, "D") for quality in ("sus4", "7sus4")]
    return own + extra + suspended


def scale_of(tonic: int, mode: str) -> list[int]:
    return [(tonic + step) % 12 for step in (MAJOR_SCALE if mode == MAJOR else MINOR_SCALE)]


# --- slots -------------------------------------------------------------------------------------------

def slots_of(score: Score, end_tick: int) -> list[Bar]:
    """Harmony slots up to `end_tick`: a bar, or the halves of a bar of 4 beats (4/4, 12/8) or of
    2 compound beats (6/8). A first bar shorter than its meter is a pickup, numbered -1; bars
    count from the first full one, and every `PHRASE_BARS`-th bar ends a phrase."""
    written = score.bars(max(end_tick - 1, 0))
    pickup = len(written) > 1 and written[0][1] < written[1][1]
    slots: list[Bar] = []
    placeholder = Chord(0)
    for index, (start, length, ts) in enumerate(written):
        number = index - 1 if pickup else index
        meter = written[1][2] if pickup and index == 0 else ts
        beat, beats = meter.beat_ticks, meter.meter.beats
        beats = max(min(beats, length // beat), 1) if length < ts.bar_ticks or (pickup and index == 0) else beats
        phrase_end = number >= 0 and ((number + 1) % PHRASE_BARS == 0 or index == len(written) - 1)
        halves = length == ts.bar_ticks and (beats == 4 or (beats == 2 and beat % 3 == 0 and beat > 480))
        if halves:
            half = length // 2
            slots += [Bar(start, half, beat, beats // 2, placeholder, number),
                      Bar(start + half, length - half, beat, beats - beats // 2, placeholder, number,
                          phrase_end=phrase_end)]
        else:
            slots.append(Bar(start, length, beat, beats, placeholder, number, phrase_end=phrase_end))
    return slots


# --- choosing chords ---------------------------------------------------------------------------------

def harmonize(score: Score, melody: list[Note], key: Key, end_tick: int | None = None, *,
              lead: list[Note] | None = None) -> list[Bar]:
    """One chord per harmony slot of `score` for `melody` in `key` (see the module's rules);
    `melody` may be every note of a texture, whose top line is then given as `lead`."""
    end = end_tick if end_tick is not None else max((n.end_tick for n in melody), default=0)
    slots = slots_of(score, end)
    if not slots:
        return []
    candidates = key_candidates(*key) if lead is None else chromatic_candidates(*key)
    tones = np.array([[pc in c.chord.pitch_classes for pc in range(12)] for c in candidates])
    near = np.array([[any((pc - tone) % 12 in (1, 11) for tone in c.chord.pitch_classes) for pc in range(12)]
                     for c in candidates])
    priors = np.array([c.prior for c in candidates])
    moves = _transition_costs(candidates)
    if lead is None:
        fits = np.array([_fits(tones, near, heard, slot)
                         for slot, heard in zip(slots, _notes_per_slot(slots, melody), strict=True)])
        costs = -fits + priors[None, :] + _cadence_costs(slots, candidates, melody, key)
        chosen = _best_path(costs, moves, [a.number == b.number for a, b in pairwise(slots)])
    else:  # a texture: a chord per beat, changing on a weak beat only where the texture asks for it
        beats, strong = _beats_of(slots)
        fits = np.zeros((len(beats), len(candidates)))
        for notes in (melody, lead):  # the lead's notes count twice
            fits += np.array([_fits(tones, near, heard, beat)
                              for beat, heard in zip(beats, _notes_per_slot(beats, notes), strict=True)])
        fits *= np.where(strong, 1.0, WEAK_BEAT)[:, None]
        cadences = [replace(beat, phrase_end=first and slot.phrase_end) for beat, first, slot
                    in zip(beats, strong, _slot_of_each(beats, slots), strict=True)]
        costs = -fits + np.where(strong, 1.0, 0.0)[:, None] * priors[None, :] + \
            _cadence_costs(cadences, candidates, lead or melody, key)
        chosen = _best_path(costs, moves, [a.number == b.number for a, b in pairwise(beats)],
                            [None if first else priors for first in strong[1:]])
        slots = beats
    bars = choose_bass(merged_slots([replace(slot, chord=candidates[i].chord) for slot, i in zip(slots, chosen,
                                                                                              strict=True)]))
    return _bass_clear_of(bars, melody)


WEAK_BEAT = 0.5  # how much the notes of a beat inside a harmony slot count, against its first beat's


def _beats_of(slots: list[Bar]) -> tuple[list[Bar], np.ndarray]:
    """Each slot cut into its beats (the last one takes what is left), and which of them start a slot."""
    beats: list[Bar] = []
    strong: list[bool] = []
    for slot in slots:
        count = max(min(slot.beats, slot.length // slot.beat), 1)
        for index in range(count):
            start = slot.start + index * slot.beat
            stop = slot.start + slot.length if index == count - 1 else start + slot.beat
            beats.append(replace(slot, start=start, length=stop - start, beats=1,
                                 phrase_end=slot.phrase_end and index == count - 1))
            strong.append(index == 0)
    return beats, np.array(strong)


def _slot_of_each(beats: list[Bar], slots: list[Bar]) -> list[Bar]:
    starts = [slot.start for slot in slots]
    return [slots[bisect_right(starts, beat.start) - 1] for beat in beats]


def _bass_clear_of(bars: list[Bar], melody: list[Note]) -> list[Bar]:
    """Where the melody holds a note for a beat or more a half step (or major seventh) from the
    chord's bass, the bass takes the chord's third, or else its fifth (Fmaj7/A under a held E)."""
    out = []
    for bar, heard in zip(bars, _notes_per_slot(bars, melody), strict=True):
        stop = bar.start + bar.length
        held = {n.pitch % 12 for n in heard if min(n.end_tick, stop) - max(n.onset_tick, bar.start) >= bar.beat}

        if _clashes(bar.chord.bass_pc, held):
            for step in (bar.chord.third, bar.chord.fifth):
                pc = (bar.chord.root + step) % 12
                if not _clashes(pc, held):
                    bar = replace(bar, chord=replace(bar.chord, bass=pc))
                    break
        out.append(bar)
    return out


def beat_shares(beats: int, chords: int) -> list[int]:
    """How many of a bar's `beats` each of its `chords` gets: evenly, the first ones a beat more when they do not
    divide; a beat each when there are more chords than beats."""
    if beats < chords:
        return [1] * chords
    return [beats // chords + (i < beats % chords) for i in range(chords)]


def from_progression(score: Score, melody_end: int, progression: list[list[Chord]]) -> list[Bar]:
    """The user's progression over the bars of `score` (repeated when shorter than the tune; a
    pickup bar takes the progression's last chord)."""
    slots = slots_of(score, melody_end)
    bars: list[Bar] = []
    for number, group in _by_bar(slots):
        start, length = group[0].start, sum(s.length for s in group)
        beat, beats = group[0].beat, sum(s.beats for s in group)
        chords = progression[number % len(progression)] if number >= 0 else progression[-1][-1:]
        shares = beat_shares(beats, len(chords))
        onset = start
        for i, (chord, share) in enumerate(zip(chords, shares, strict=True)):
            stop = start + length if i == len(chords) - 1 else min(onset + share * beat, start + length)
            if stop > onset:
                bars.append(Bar(onset, stop - onset, beat, max(share, 1), chord, number,
                                phrase_end=group[-1].phrase_end and i == len(chords) - 1))
            onset = stop
    return merged_slots(bars)


def given_chords(score: Score, melody_end: int, progression: list[list[Chord]] | None = None) -> list[Bar] | None:
    """The harmony the user gave: `progression` (a --chords progression) over the bars of `score`, else the chord
    symbols the score carries; None when it gives none."""
    if progression:
        return from_progression(score, melody_end, progression)
    if score.chord_symbols:
        return from_symbols(score, melody_end, score.chord_symbols)
    return None


def from_symbols(score: Score, melody_end: int, symbols: list[ChordSymbol]) -> list[Bar]:
    """The chords `symbols` name over the bars of `score`: each from its tick until the next
    symbol's, cut at bar lines, the first also before its tick (a pickup without a symbol takes
    the first chord); as a user's progression, spelled inversions are kept and none is added.

    Raises:
        StyleError: a symbol that is not a chord symbol, naming it and its tick.
    """
    changes: dict[int, Chord] = {}
    for symbol in sorted(symbols, key=lambda s: s.tick):
        try:
            changes[symbol.tick] = parse_symbol(symbol.symbol)
        except StyleError as error:
            raise StyleError(f"chord symbol at tick {symbol.tick}: {error}") from None
    ticks, chords = list(changes), list(changes.values())
    bars: list[Bar] = []
    for number, group in _by_bar(slots_of(score, melody_end)):
        start, stop, beat = group[0].start, group[-1].start + group[-1].length, group[0].beat
        cuts = [start, *(t for t in ticks if start < t < stop), stop]
        for onset, end in pairwise(cuts):
            chord = chords[max(bisect_right(ticks, onset) - 1, 0)]
            bars.append(Bar(onset, end - onset, beat, max(round((end - onset) / beat), 1), chord, number,
                            phrase_end=group[-1].phrase_end and end == stop))
    return merged_slots(bars)


def _by_bar(slots: list[Bar]) -> list[tuple[int, list[Bar]]]:
    groups: dict[int, list[Bar]] = {}
    for slot in slots:
        groups.setdefault(slot.number, []).append(slot)
    return sorted(groups.items())


def _notes_per_slot(slots: list[Bar], notes: list[Note]) -> list[list[Note]]:
    """For each slot (in time order), the notes sounding in it."""
    ordered = sorted(notes, key=lambda n: n.onset_tick)
    out: list[list[Note]] = []
    active: list[Note] = []
    position = 0
    for slot in slots:
        stop = slot.start + slot.length
        while position < len(ordered) and ordered[position].onset_tick < stop:
            active.append(ordered[position])
            position += 1
        active = [n for n in active if n.end_tick > slot.start]
        out.append([n for n in active if n.onset_tick < stop])
    return out


def _fits(tones: np.ndarray, near: np.ndarray, heard: list[Note], slot: Bar) -> np.ndarray:
    """How well each candidate (rows of `tones`: its pitch classes; of `near`: the pitch classes a
    half step from one of them) fits the notes sounding in `slot` (higher is better): a chord tone
    counts by how long it sounds, more on the slot's downbeat and on a beat; a note outside the
    chord costs, most on the downbeat, more again when held a beat against a chord tone a half
    step away (a held major seventh against the chord's own tone costs too)."""
    if not heard:
        return np.zeros(len(tones))
    stop = slot.start + slot.length
    onsets = np.array([n.onset_tick for n in heard])
    ends = np.array([n.end_tick for n in heard])
    pcs = np.array([n.pitch % 12 for n in heard])
    overlap = np.minimum(ends, stop) - np.maximum(onsets, slot.start)
    weight = overlap / slot.length
    downbeat = (onsets <= slot.start) & (ends > slot.start)
    on_beat = (onsets - slot.start) % slot.beat == 0
    held = overlap >= slot.beat
    inside, clash = tones[:, pcs], near[:, pcs] & held
    chord_tone = weight + np.where(downbeat, 1.0, np.where(on_beat, 0.3, 0.0)) - np.where(clash, 0.5 + weight, 0.0)
    other = -(0.6 * weight + np.where(downbeat, 2.5, np.where(on_beat, 0.6, 0.0)) + np.where(clash, 1.2 * weight, 0.0))
    return np.where(inside, chord_tone, other).sum(axis=1)


def _cadence_costs(slots: list[Bar], candidates: list[Candidate], melody: list[Note],
                   key: Key) -> np.ndarray:
    """Per slot and candidate: rewards (negative costs) for cadences at phrase ends."""
    costs = np.zeros((len(slots), len(candidates)))
    tonic = np.array([c.function == "T" and c.chord.root == key[0] and c.chord.quality in ("", "m")
                      for c in candidates])
    dominant = np.array([c.function == "D" and c.chord.root == (key[0] + 7) % 12 for c in candidates])
    seventh = np.array([c.chord.quality == "7" for c in candidates])
    before = np.array([c.function == "S" for c in candidates])
    last_note = max(melody, key=lambda n: n.end_tick).pitch % 12 if melody else key[0]
    ends_home = last_note in tonic_triad(*key)
    last_end = max((index for index, slot in enumerate(slots) if slot.phrase_end), default=-1)
    for index, slot in enumerate(slots):
        if not slot.phrase_end or slot.number < 0:
            continue
        final = index == last_end
        authentic = final or (slot.number + 1) % (2 * PHRASE_BARS) == 0
        if authentic and (not final or ends_home):
            costs[index] -= (4.0 if final else 0.8) * tonic
            if index >= 1:
                costs[index - 1] -= (1.2 if final else 0.6) * dominant + 0.15 * (dominant & seventh)
            if index >= 2:
                costs[index - 2] -= 0.25 * before
        elif not authentic:
            costs[index] -= 0.5 * dominant
    return costs


def _transition_costs(candidates: list[Candidate]) -> np.ndarray:
    """Cost of moving from candidate i (row) to candidate j (column)."""
    size = len(candidates)
    moves = np.zeros((size, size))
    for i, before in enumerate(candidates):
        for j, after in enumerate(candidates):
            if i == j:
                continue
            root_motion = (after.chord.root - before.chord.root) % 12
            cost = -0.1 if root_motion == 5 else 0.0
            if before.target is not None:
                cost += -0.3 if after.chord.root == before.target else 1.5
            if before.function == "D" and after.function == "S":
                cost += 0.4
            if before.chord.root == after.chord.root:
                cost += 0.1  # a seventh added or dropped on the same root: little gained
            moves[i, j] = cost
    return moves


CHANGE_IN_BAR = 0.3  # what a chord change inside a bar must earn


def _best_path(costs: np.ndarray, moves: np.ndarray, same_bar: list[bool],
               entering: list[np.ndarray | None] | None = None) -> list[int]:
    """Viterbi: the candidate per slot minimizing slot costs plus transition costs; `entering`
    (per transition, or None) is what a change to each candidate costs there."""
    total = costs[0].copy()
    back = []
    change = 1 - np.eye(len(total))
    for index in range(1, len(costs)):
        extra = moves + (CHANGE_IN_BAR * change if same_bar[index - 1] else 0.0)
        cost_in = entering[index - 1] if entering is not None else None
        if cost_in is not None:
            extra = extra + change * cost_in[None, :]
        options = total[:, None] + extra
        back.append(options.argmin(axis=0))
        total = options.min(axis=0) + costs[index]
    path = [int(total.argmin())]
    for pointers in reversed(back):
        path.append(int(pointers[path[-1]]))
    return path[::-1]


def merged_slots(slots: list[Bar]) -> list[Bar]:
    """Neighbouring slots of one bar with the same chord become one."""
    out: list[Bar] = []
    for slot in slots:
        last = out[-1] if out else None
        if last is not None and last.number == slot.number and last.chord == slot.chord \
                and last.start + last.length == slot.start:
            out[-1] = replace(last, length=last.length + slot.length, beats=last.beats + slot.beats,
                              phrase_end=slot.phrase_end)
        else:
            out.append(slot)
    return out


def _clashes(pc: int, held: set[int]) -> bool:
    return any((pc - h) % 12 in (1, 11) for h in held)


def choose_bass(bars: list[Bar]) -> list[Bar]:
    """First inversions where they make the bass move by step (C G/B Am), never on a cadence's
    last two chords nor on a chord the user spelled; the rest in root position."""
    if len(bars) < 3:
        return bars
    out = list(bars)
    for index in range(1, len(bars) - 1):
        before, here, after = out[index - 1].chord, bars[index].chord, bars[index + 1].chord
        if here.bass is not None or bars[index].phrase_end or bars[index + 1].phrase_end \
                or bars[index].section != "tune":
            continue
        third = (here.root + here.third) % 12

        def leap(pc: int, left: int = before.bass_pc, right: int = after.bass_pc) -> int:
            return _step(left, pc) + _step(pc, right)

        if _step(before.bass_pc, third) <= 2 and _step(third, after.bass_pc) <= 2 and leap(third) + 2 < leap(here.root):
            out[index] = replace(bars[index], chord=replace(here, bass=third))
    return out


def _step(a: int, b: int) -> int:
    return min((a - b) % 12, (b - a) % 12)


def chord_tones_at(bars: list[Bar], tick: int) -> tuple[int, ...]:
    """The pitch classes of the chord sounding at `tick` (empty outside the bars)."""
    for bar in bars:
        if bar.start <= tick < bar.start + bar.length:
            return bar.chord.pitch_classes
    return ()
