"""Four-part writing under a bare melody: a string quartet, a choir, a brass quintet.

The melody stays as written in the top part (violin I, soprano, trumpet I). The parts below it
are voiced beat by beat over the harmony slots (`melodia.harmony.chords.Bar`) by dynamic
programming over every voicing of the beat's chord that fits under the melody:

- each part in its range, none above the part over it (no crossing), upper parts within an
  octave of each other, the bass on the chord's bass note (a chord in root position may put its
  third there, at a cost, outside cadences), the third and root present, the leading tone never
  doubled;
- moving from beat to beat costs the distance the upper parts travel (common tones kept, steps
  preferred) and the bass's leap (a step, fourth or fifth costs little; a tritone, a seventh or
  more than an octave a lot);
- parallel fifths and octaves between any two parts, the melody included, from one beat of the
  meter to the next (across a chord that changes inside the beat too), cost far more than any
  other choice, so they are written only when nothing else fits under the tune.

The voicings are then played in the ensemble's idiom: strings and brass restrike each beat (a
quarter; eighths in 2/4 and where the tune holds; quarter-eighth in 6/8: the repeated-note
accompaniment of a classical quartet), voices sing with the tune's syllables and hold where it
holds; an inner part moving by a third passes through the step between where that makes no
fifth, octave or half-step clash. A style whose harmony plays off the beat (a waltz) gets the
bass held from the downbeat and the inner parts on the other beats. Phrases that end on the
tonic close on a root-position tonic, after a dominant where the melody allows (`cadenced`).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from itertools import pairwise

import numpy as np

from melodia.harmony.chords import Bar, merged_slots, scale_of
from melodia.score import MAJOR, TICKS_PER_QUARTER, Note
from melodia.style import accompany
from melodia.style.templates import Instrumentation, Part
from melodia.theory.chord import Chord
from melodia.theory.key import Key

CLASSICAL = ("string-quartet",)  # instrumentations that get an intro and an ending by default
INNER_ROLES = ("counter_melody", "harmony")
PARALLEL = 40.0  # what a parallel fifth or octave costs: more than any voicing choice
CROSSING_RANGE = 12  # semitones between neighbouring upper parts at most
BASS_SPAN = 24  # semitones between the bass and the part above it at most
INVERSION = 1.0  # what a first inversion the harmony did not ask for costs
BASS_HOME = 50  # D3: the bass costs a little for each semitone above
HELD_MOTION = 0.8  # what an inner part moving (up to a fourth) under a held note of the tune earns
CANDIDATES = 96  # voicings kept per beat (the cheapest by their own cost)
STRINGS = range(40, 45)  # violin, viola, cello, contrabass, tremolo strings
VOICES = range(52, 55)
SINGLE_LINES = {*STRINGS, *VOICES, *range(56, 80)}  # and brass, reeds and pipes
EIGHTH = TICKS_PER_QUARTER // 2
REST = 0  # a part's pitch where it has no room under the tune


@dataclass(frozen=True)
class Beat:
    """One beat of a harmony slot: its chord, the beats of its written bar, and the melody over
    it (sung: whether a melody note starts on it; top: the pitch sounding on the beat, or heard
    just before a short rest; floor: the lowest pitch sounding in it; last: the last pitch heard
    in it, which moves to the next beat's top; None when the melody rests)."""

    start: int
    length: int
    slot: int
    chord: Chord
    first: bool
    downbeat: bool
    sung: bool
    bar_beats: int
    top: int | None
    floor: int | None
    section: str
    free_bass: bool = False
    on_grid: bool = True  # on a beat of the meter (a chord may change between)
    last: int | None = None


def writes_for(instrumentation: Instrumentation) -> bool:
    """Whether `instrumentation` is an ensemble of single lines this module writes for: one
    melody part, two or three parts under it (counter-melody or harmony) and one bass, no drums,
    no keyboard or guitar."""
    parts = instrumentation.parts
    roles = [p.role for p in parts]
    single = all(p.program in SINGLE_LINES for p in parts)
    inner = sum(role in INNER_ROLES for role in roles)
    return single and roles.count("melody") == 1 and roles.count("bass") == 1 and 2 <= inner <= 3 \
        and "drums" not in roles


def default_form(instrumentation: Instrumentation | None) -> tuple[str, str]:
    """The intro and ending a classical ensemble plays when none is asked for."""
    if instrumentation is not None and instrumentation.name in CLASSICAL:
        return "phrase", "held"
    return "none", "none"


def lower_parts(bars: list[Bar], melody: list[Note], key: Key, instrumentation: Instrumentation,
                patterns: dict[str, str] | None = None) -> dict[str, list[list[Note]]]:
    """The lines of the parts under the melody, by role (the melody's own line is not among them):
    `bars` are the harmony slots (see `cadenced`), `patterns` the rhythm's accompaniment (a
    harmony pattern 'offbeat' puts the inner parts off the downbeat)."""
    parts = [p for p in instrumentation.parts if p.role in (*INNER_ROLES, "bass")]
    parts.sort(key=lambda p: p.role == "bass")
    arrivals = {n.onset_tick for n in phrase_ends(melody, bars)} | \
        {settled(melody, n, bars) for n in cadence_notes(melody, bars, key) if n.pitch % 12 == key[0]}
    beats = beats_of(bars, melody, arrivals)
    if not beats:
        return {}
    ranges = [_range_of(part, index == len(parts) - 1) for index, part in enumerate(parts)]
    offbeat = (patterns or {}).get("harmony") == "offbeat"
    voicings = voice_beats(beats, ranges, key, held_bass=offbeat)
    sung = all(p.program in VOICES for p in parts)
    onsets = {n.onset_tick for n in melody}
    played = [_played_line(beats, [int(v[index]) for v in voicings], part, sung, offbeat, index == len(parts) - 1,
                           onsets) for index, part in enumerate(parts)]
    if not offbeat:  # a waltz's "pah pah" is chords, not a line
        for index in range(len(played)):
            others = [n for other, line in enumerate(played) if other != index for n in line]
            played[index] = _with_passing_notes(played[index], beats, melody, others, arrivals, key,
                                                onsets if sung else None)
    lines: dict[str, list[list[Note]]] = {}
    for part, line in zip(parts, played, strict=True):
        lines.setdefault(part.role, []).append(line)
    return lines


def _range_of(part: Part, is_bass: bool) -> tuple[int, int]:
    """Where a part writes: its range; a bass's lowest two octaves (a cello's bass line stays
    at or under C4)."""
    if is_bass:
        return part.low, min(part.high, part.low + 24)
    return part.low, part.high


# --- harmony ------------------------------------------------------------------------------------------------

def cadenced(bars: list[Bar], melody: list[Note], key: Key, given: bool) -> list[Bar]:
    """`bars` with a root-position tonic chord under every phrase end on the tonic (see
    `phrase_ends`) and, for estimated harmony (not `given`), a dominant before it where the
    melody fits it (`_dominant_before`). Estimated chords lose their inversions: the voice
    leading chooses its own bass. Given chords are kept as given."""
    out = list(bars) if given else [replace(b, chord=replace(b.chord, bass=None)) for b in bars]
    for note in cadence_notes(melody, out, key):
        if note.pitch % 12 != key[0]:
            continue
        arrival = settled(melody, note, out) if not given else note.onset_tick
        out = _split_at(out, arrival)
        index = next((i for i, b in enumerate(out) if b.start == arrival), None)
        if index is None:
            continue
        here = out[index]
        if here.chord.root == key[0] and here.chord.quality in ("", "m"):
            out[index] = replace(here, chord=replace(here.chord, bass=None))
        elif not given:
            out[index] = replace(here, chord=Chord(key[0], "" if key[1] == MAJOR else "m"))
        if not given:
            out = _tonic_through(out, arrival, note, key)
        if not given and index > 0:
            out = _dominant_before(out, index, melody, key)
    return merged_slots(out)


def _tonic_through(bars: list[Bar], arrival: int, note: Note, key: Key) -> list[Bar]:
    """The tonic chord held from where the melody settles (`arrival`) through the closing `note`: a
    tonic reached on the eighth before a barline (`A G | G2`) keeps its chord over the barline,
    not the next slot's estimate."""
    if note.onset_tick == arrival:
        return bars
    tonic = Chord(key[0], "" if key[1] == MAJOR else "m")
    out = _split_at(_split_at(bars, note.onset_tick), note.end_tick)
    return [replace(b, chord=tonic) if arrival < b.start < note.end_tick else b for b in out]


def cadence_notes(melody: list[Note], bars: list[Bar], key: Key) -> list[Note]:
    """The phrase ends (`phrase_ends`) and, in each bar that ends a phrase of the harmony slots, the
    last tonic the melody settles on there: on a beat, as long as its usual note or longer (a jig's
    `A G G | G2 F`, whose last eighth leads on into the next phrase)."""
    ends = phrase_ends(melody, bars)
    line = sorted(melody, key=lambda n: n.onset_tick)
    if not line:
        return ends
    usual = sorted(n.duration_tick for n in line)[len(line) // 2]
    found = {id(n) for n in ends}
    intro = [b for b in bars if b.section == "intro"]
    for slot in bars:
        closes_intro = bool(intro) and slot is intro[-1]  # a phrase intro ends with the tune's own close
        if not closes_intro and (not slot.phrase_end or slot.section != "tune" or slot.number < 0):
            continue
        start = min(b.start for b in bars if b.number == slot.number and b.section == slot.section)
        stop = slot.start + slot.length
        tonics = [n for n in line if start <= n.onset_tick < stop and n.pitch % 12 == key[0]
                  and (n.onset_tick - start) % slot.beat == 0 and n.duration_tick >= usual]
        if tonics and id(tonics[-1]) not in found:
            ends.append(tonics[-1])
            found.add(id(tonics[-1]))
    return sorted(ends, key=lambda n: n.onset_tick)


def settled(melody: list[Note], note: Note, bars: list[Bar]) -> int:
    """Where the melody settles on the tonic that `note` closes with: the first of the notes of
    its pitch class that run into it without a break, within the beat before it (`A G G | G2`:
    the second eighth), so that the tonic chord comes with the resolution, not after it."""
    line = sorted(melody, key=lambda n: n.onset_tick)
    slot = next((b for b in reversed(bars) if b.start <= note.onset_tick), None)
    beat = slot.beat if slot is not None else TICKS_PER_QUARTER
    position = next(i for i, n in enumerate(line) if n is note)
    arrival = note.onset_tick
    while position > 0:
        before = line[position - 1]
        if before.pitch % 12 != note.pitch % 12 or before.end_tick != arrival or \
                before.onset_tick < note.onset_tick - beat:
            break
        arrival, position = before.onset_tick, position - 1
    return arrival


def phrase_ends(melody: list[Note], bars: list[Bar]) -> list[Note]:
    """The notes that close phrases: the last, and those held at least a beat and twice the usual
    length that start on a beat after the first bar."""
    line = sorted(melody, key=lambda n: n.onset_tick)
    tune = [b for b in bars if b.section != "ending"]
    if not line or not tune:
        return []
    usual = sorted(n.duration_tick for n in line)[len(line) // 2]
    first_bar = next((b.start for b in tune if b.number > tune[0].number), tune[0].start)
    ends = [line[-1]]
    for note in line[:-1]:
        bar = next((b for b in reversed(tune) if b.start <= note.onset_tick), tune[0])
        if note.duration_tick >= max(bar.beat, 2 * usual) and (note.onset_tick - bar.start) % bar.beat == 0 \
                and note.onset_tick >= first_bar:
            ends.append(note)
    return ends


def _split_at(bars: list[Bar], tick: int) -> list[Bar]:
    """`bars` with the slot sounding at `tick` cut there (on its beat)."""
    out = []
    for bar in bars:
        if bar.start < tick < bar.start + bar.length:
            head = tick - bar.start
            beats = max(round(head / bar.beat), 1)
            out += [replace(bar, length=head, beats=beats, phrase_end=False),
                    replace(bar, start=tick, length=bar.length - head, beats=max(bar.beats - beats, 1))]
        else:
            out.append(bar)
    return out


def _fits_melody(chord: Chord, heard: list[Note], start: int, beat: int) -> bool:
    """Whether the melody notes `heard` (in time order) sound over `chord`: each a chord tone, a
    passing note (off the beat, at most half a beat long) or one that moves by step to a chord
    tone heard next (an appoggiatura, a neighbour); and one of them a chord tone."""
    tones = set(chord.pitch_classes)
    for note, following in zip(heard, [*heard[1:], None], strict=False):
        passing = (note.onset_tick - start) % beat != 0 and note.duration_tick <= beat // 2
        resolved = following is not None and following.pitch % 12 in tones and \
            0 < abs(following.pitch - note.pitch) <= 2
        if note.pitch % 12 not in tones and not passing and not resolved:
            return False
    return any(n.pitch % 12 in tones for n in heard)


def _dominant_before(bars: list[Bar], index: int, melody: list[Note], key: Key) -> list[Bar]:
    """The slot before `index` made the dominant, or only its last beat when the melody earlier in
    it does not fit: the triad or the seventh chord when the melody's notes (passing notes aside)
    are its tones, else the minor dominant (a modal tune's v-i, under a melody with the flat
    seventh); unchanged when none fits."""
    before = bars[index - 1]
    root = (key[0] + 7) % 12
    if before.chord.root == root:
        bars[index - 1] = replace(before, chord=replace(before.chord, bass=None))
        return bars
    stop = before.start + before.length
    chords = [Chord(root, quality) for quality in ("", "7", "m", "m7")]
    line = sorted(melody, key=lambda n: n.onset_tick)
    for start in (before.start, stop - before.beat):
        if start < before.start:
            continue
        heard = [n for n in line if n.onset_tick < stop and n.end_tick > start]
        chord = next((c for c in chords if _fits_melody(c, heard, start, before.beat)), None)
        if chord is not None:
            bars = _split_at(bars, start)
            position = next(i for i, b in enumerate(bars) if b.start == start)
            bars[position] = replace(bars[position], chord=chord)
            return bars
    return bars


# --- beats ----------------------------------------------------------------------------------------------------

def beats_of(bars: list[Bar], melody: list[Note], arrivals: Collection[int] = ()) -> list[Beat]:
    """Every slot cut at the beats of its written bar (counted back from the bar's end, so that a
    pickup's beats fall where the tune's do; an ending's slot is one long beat), with the melody
    over each. The bass of a chord in root position may take its third, except in the slots of a
    cadence (one starting at a tick of `arrivals`, the one before it, and an ending)."""
    cadence = {i for i, bar in enumerate(bars) if bar.start in arrivals} | \
        {i - 1 for i, bar in enumerate(bars) if bar.start in arrivals}
    ordered = sorted(melody, key=lambda n: n.onset_tick)
    bar_ends: dict[int, int] = {}
    for bar in bars:
        bar_ends[bar.number] = max(bar_ends.get(bar.number, 0), bar.start + bar.length)
    bar_starts = {bar.number: bar.start for bar in reversed(bars)}
    beats: list[Beat] = []
    for index, bar in enumerate(bars):
        stop = bar.start + bar.length
        end = bar_ends[bar.number]
        grid = [] if bar.section == "ending" else range(end - bar.beat, bar.start, -bar.beat)
        points = [bar.start, *sorted(t for t in grid if t < stop)]
        in_bar = max(round((end - bar_starts[bar.number]) / bar.beat), 1)
        for number, (start, finish) in enumerate(zip(points, [*points[1:], stop], strict=True)):
            over = [n for n in ordered if n.onset_tick < finish and n.end_tick > start]
            top = next((n.pitch for n in over if n.onset_tick <= start), None)
            if top is None:  # a rest of less than a beat: the note just heard still counts for parallels
                top = next((n.pitch for n in reversed(ordered) if start - bar.beat <= n.end_tick <= start), None)
            floor = min((n.pitch for n in over), default=None)
            downbeat = start == bar_starts[bar.number]
            sung = any(n.onset_tick == start for n in over)
            free_bass = bar.chord.bass is None and index not in cadence and bar.section != "ending"
            last = over[-1].pitch if over else top
            beats.append(Beat(start, finish - start, index, bar.chord, number == 0, downbeat, sung, in_bar, top, floor,
                              bar.section, free_bass, (end - start) % bar.beat == 0, last))
    return beats


# --- voicing ----------------------------------------------------------------------------------------------------

def voice_beats(beats: list[Beat], ranges: list[tuple[int, int]], key: Key, held_bass: bool = False
                ) -> list[tuple[int, ...]]:
    """A voicing (pitches from the top part under the melody down to the bass) per beat, by
    dynamic programming (see the module's notes); with `held_bass` the bass keeps its note through
    a slot (it holds under a waltz's "pah pah")."""
    resting = _resting_ceiling(beats, ranges)
    leading = (key[0] + 11) % 12
    cache: dict[tuple[Chord, int | None, int | None, bool], tuple[np.ndarray, np.ndarray]] = {}
    for beat in beats:
        if (beat.chord, beat.floor, beat.top, beat.free_bass) not in cache:
            cache[(beat.chord, beat.floor, beat.top, beat.free_bass)] = _candidates(beat, ranges, resting, leading)
    options = [cache[(beat.chord, beat.floor, beat.top, beat.free_bass)] for beat in beats]
    total = options[0][1].copy()
    back: list[np.ndarray] = []
    for index in range(1, len(beats)):
        moves = _transition(options[index - 1][0], options[index][0], beats[index - 1], beats[index], held_bass)
        if beats[index].on_grid and not beats[index - 1].on_grid:
            moves += PARALLEL * _parallels_across(options, back, beats, index)
        paths = total[:, None] + moves
        back.append(paths.argmin(axis=0))
        total = paths.min(axis=0) + options[index][1]
    chosen = [int(total.argmin())]
    for pointers in reversed(back):
        chosen.append(int(pointers[chosen[-1]]))
    chosen.reverse()
    return [tuple(int(p) for p in options[i][0][c]) for i, c in enumerate(chosen)]


def _parallels_across(options: list[tuple[np.ndarray, np.ndarray]], back: list[np.ndarray], beats: list[Beat],
                      index: int) -> np.ndarray:
    """Parallels from the last beat of the meter before `index` to `index`, across the chords
    between (a chord changing inside a beat): each way into `index - 1` is followed back along
    the best path to it, so the voicing that beat of the meter had on that path is known."""
    rows = np.arange(len(options[index - 1][0]))
    grid = index - 1
    while grid > 0 and not beats[grid].on_grid:
        rows = back[grid - 1][rows]
        grid -= 1
    count = _parallels(options[grid][0][rows], options[index][0], beats[grid].top, beats[index].top)
    if beats[index - 1].last != beats[grid].top:  # the tune's last note before `index` against the parts held
        count = count + _parallels(options[grid][0][rows], options[index][0], beats[index - 1].last,
                                   beats[index].top, melody_only=True)
    return count


def _resting_ceiling(beats: list[Beat], ranges: list[tuple[int, int]]) -> int:
    """How high the parts go where the melody rests (an intro vamp): a step under its median."""
    tops = sorted(b.floor for b in beats if b.floor is not None)
    return tops[len(tops) // 2] - 2 if tops else ranges[0][0] + 14


def _candidates(beat: Beat, ranges: list[tuple[int, int]], resting: int, leading: int
                ) -> tuple[np.ndarray, np.ndarray]:
    """The voicings of the beat's chord under its melody, and each one's own cost; the cheapest
    `CANDIDATES` of them (a loosened search when nothing fits)."""
    chord = beat.chord
    ceiling = beat.floor if beat.floor is not None else resting
    pcs = set(chord.pitch_classes)
    voicings: list[tuple[int, ...]] = []
    for strict in (True, False):
        pools = []
        for index, (low, high) in enumerate(ranges):
            is_bass = index == len(ranges) - 1
            wanted = (_bass_choices(chord) if beat.free_bass else {chord.bass_pc}) if is_bass and strict else pcs
            top = min(high, ceiling) if strict or not is_bass else high
            pool = [p for p in range(top, low - 1, -1) if p % 12 in wanted]
            pools.append(pool if pool or strict else [REST])  # a part with no room under the tune rests
        voicings = _stacked(pools, beat.top, strict)
        if voicings:
            break
    if not voicings:
        voicings = [tuple([REST] * len(ranges))]
    array = np.array(voicings, dtype=np.int64)
    costs = np.array([_own_cost(v, beat, leading) for v in voicings])
    keep = np.argsort(costs, kind="stable")[:CANDIDATES]
    return array[keep], costs[keep]


def _bass_choices(chord: Chord) -> set[int]:
    """The pitch classes a chord in root position may have in its bass: its root or its third."""
    return {chord.root, (chord.root + chord.third) % 12}


def _stacked(pools: list[list[int]], melody: int | None, strict: bool) -> list[tuple[int, ...]]:
    """Every voicing taking one pitch of each pool (top part first) with no part above the one
    over it; `strict`: upper parts within an octave of the part (or melody) above, the bass within
    two octaves of the part above it."""
    found: list[tuple[int, ...]] = []

    def extend(voicing: tuple[int, ...]) -> None:
        index = len(voicing)
        if index == len(pools):
            found.append(voicing)
            return
        sounding = [p for p in voicing if p != REST]
        above = sounding[-1] if sounding else melody
        span = BASS_SPAN if index == len(pools) - 1 else CROSSING_RANGE
        for pitch in pools[index]:
            if sounding and pitch != REST and pitch > sounding[-1]:
                continue
            if strict and above is not None and above - pitch > span:
                break  # the pools run downwards: every later pitch is further away
            extend((*voicing, pitch))

    extend(())
    return found


def _own_cost(voicing: tuple[int, ...], beat: Beat, leading: int) -> float:
    """Doubling and spacing: a chord without its third or root (or a seventh chord without its
    seventh) costs, a doubled third or leading tone costs, unisons cost, and so does a part that
    sits far from the melody."""
    chord = beat.chord
    if REST in voicing:  # only where nothing else fits: as rare as can be
        return 20.0 * voicing.count(REST)
    heard = [p % 12 for p in voicing] + ([beat.top % 12] if beat.top is not None else [])
    root, third = chord.root, (chord.root + chord.third) % 12
    cost = 0.0
    cost += 4.0 * (third not in heard) + 3.0 * (root not in heard) + 0.8 * ((root + chord.fifth) % 12 not in heard)
    if len(chord.intervals) == 4:
        cost += 1.5 * ((root + chord.intervals[3]) % 12 not in heard)
        cost += 2.0 * max(heard.count((root + chord.intervals[3]) % 12) - 1, 0)
    cost += (2.0 if chord.third == 4 else 0.8) * max(heard.count(third) - 1, 0)
    cost += 3.0 * max(heard.count(leading) - 1, 0)
    cost += sum(2.0 for a, b in pairwise(voicing) if a == b)
    if beat.top is not None:
        cost += 2.0 * (beat.top == voicing[0]) + 0.08 * max(beat.top - voicing[0] - 5, 0)
    cost += 0.05 * sum(max(a - b - 7, 0) for a, b in pairwise(voicing[:-1]))
    cost += 0.1 * max(voicing[-1] - BASS_HOME, 0)  # a bass sounds best in its own low octave
    cost += INVERSION * (voicing[-1] % 12 != chord.bass_pc)
    return cost


def _transition(before: np.ndarray, after: np.ndarray, was: Beat, now: Beat, held_bass: bool) -> np.ndarray:
    """Cost of each move from a voicing of `before` (rows) to one of `after` (columns): the
    distance the upper parts travel, the bass's leap, parallel fifths and octaves (the melody
    counts as a part when it sounds on both beats), parts overlapping the one above's last note."""
    motion = after[None, :, :] - before[:, None, :]
    steps = np.abs(motion[:, :, :-1])
    cost = (0.35 * steps + 1.0 * (steps > 4) + 2.5 * (steps > 7)).sum(axis=2)
    bass = np.abs(motion[:, :, -1])
    cost += np.where(np.isin(bass, (0, 1, 2, 5, 7)), 0.1 * bass, 0.25 * bass + 1.0) + 4.0 * (bass > 12) + \
        3.0 * ((bass == 6) | (bass == 10) | (bass == 11))  # a tritone or a seventh is no bass line
    if now.slot == was.slot:
        cost += PARALLEL * (bass > 0) if held_bass else 1.5 * (bass > 0) * (bass != 12)
        if now.top is not None and not now.sung:  # the tune holds: an inner part may move to another chord tone
            cost -= HELD_MOTION * ((steps > 0) & (steps <= 5)).sum(axis=2)
    cost = cost + PARALLEL * _parallels(before, after, was.top, now.top)
    if was.last != was.top:  # every note of the tune counts: its last in the beat moves to the next beat's top
        cost = cost + PARALLEL * _parallels(before, after, was.last, now.top, melody_only=True)
    for upper in range(after.shape[1] - 1):  # a part rising above where the part over it just was
        cost += 0.6 * (after[None, :, upper + 1] > before[:, None, upper])
    return cost


def _parallels(before: np.ndarray, after: np.ndarray, top_before: int | None, top_after: int | None,
               melody_only: bool = False) -> np.ndarray:
    """How many pairs of parts (the melody, when it sounds at both, among them) move in parallel
    fifths or octaves from each voicing of `before` (rows) to each of `after` (columns); with
    `melody_only`, only the pairs of the melody and a part."""
    lines_before = [before[:, None, i] for i in range(before.shape[1])]
    lines_after = [after[None, :, i] for i in range(after.shape[1])]
    if top_before is not None and top_after is not None:
        lines_before.insert(0, np.full((1, 1), top_before))
        lines_after.insert(0, np.full((1, 1), top_after))
    count = np.zeros((len(before), len(after)))
    melody = top_before is not None and top_after is not None
    if melody_only and not melody:
        return count
    for upper, lower in ((i, j) for i in range(1 if melody_only else len(lines_before))
                         for j in range(i + 1, len(lines_before))):
        a0, a1, b0, b1 = lines_before[upper], lines_after[upper], lines_before[lower], lines_after[lower]
        interval_before, interval_after = (a0 - b0) % 12, (a1 - b1) % 12
        perfect = ((interval_before == 0) | (interval_before == 7)) & (interval_after == interval_before)
        moving = (a1 != a0) & (b1 != b0) & (np.sign(a1 - a0) == np.sign(b1 - b0)) & (a0 * a1 * b0 * b1 != 0)
        count = count + (perfect & moving)
    return count


# --- playing the voicings --------------------------------------------------------------------------------------

def _played_line(beats: list[Beat], pitches: list[int], part: Part, sung: bool, offbeat: bool,
                 is_bass: bool, sung_at: Collection[int] = ()) -> list[Note]:
    """A part's pitches per beat as notes in the ensemble's idiom (see the module's notes);
    `sung_at` are the melody's onsets, which voices sing with it."""
    velocity = part.velocity
    notes: list[Note] = []
    for beat, pitch in zip(beats, pitches, strict=True):
        if pitch == REST:
            continue
        if beat.section == "ending":
            notes.append(Note(pitch, velocity, beat.start, beat.length))
        elif offbeat:
            if (beat.downbeat and not is_bass) or (is_bass and not beat.first):
                continue
            length = sum(b.length for b in beats if b.slot == beat.slot) if is_bass else beat.length
            notes.append(Note(pitch, velocity, beat.start, length))  # the bass holds under "pah pah"
        elif sung and notes and notes[-1].pitch == pitch and notes[-1].end_tick == beat.start and \
                not beat.first and not beat.sung:
            notes[-1].duration_tick += beat.length  # voices hold where the tune holds
        elif sung:  # the syllables of the tune: its onsets at the figure's places within the beat
            figure = [(onset, length) for onset, length in _figure(beat, is_bass)
                      if onset == beat.start or onset in sung_at]
            notes += [Note(pitch, velocity, onset, next_onset - onset) for (onset, _), next_onset
                      in zip(figure, [*(o for o, _ in figure[1:]), beat.start + beat.length], strict=True)]
        else:
            figure = _figure(beat, is_bass)
            if not is_bass and beat.first and notes and notes[-1].pitch == pitch and \
                    notes[-1].end_tick == beat.start:  # a common tone across a change of chord: tied, not struck
                notes[-1].duration_tick += figure[0][1]
                figure = figure[1:]
            notes += [Note(pitch, velocity, onset, length) for onset, length in figure]
    return notes


def _figure(beat: Beat, is_bass: bool) -> list[tuple[int, int]]:
    """The repeated-note figure of one beat, (onset, length) pairs: a compound beat as quarter and
    eighth; an inner part's beat as two eighths in a bar of two beats (2/4), or where the tune
    holds through the beat (the accompaniment moves when the tune does not)."""
    if beat.length % (3 * EIGHTH) == 0 and beat.length % TICKS_PER_QUARTER:
        third = beat.length // 3
        return [(beat.start, 2 * third), (beat.start + 2 * third, third)]
    held = beat.top is not None and not beat.sung and not beat.downbeat
    if not is_bass and beat.length == TICKS_PER_QUARTER and (beat.bar_beats <= 2 or held):
        return [(beat.start, EIGHTH), (beat.start + EIGHTH, EIGHTH)]
    return [(beat.start, beat.length)]


def _with_passing_notes(line: list[Note], beats: list[Beat], melody: list[Note], written: list[Note],
                        arrivals: set[int], key: Key, syllables: Collection[int] | None = None
                        ) -> list[Note]:
    """Notes a third from the next one split in two, the second half the scale step between,
    where that makes no fifth or octave (nor a half step with the tune) with what sounds then:
    the melody and the parts `written` so far; none into a cadence's tonic (`arrivals`), none
    beside another part's passing note. Voices (`syllables`: the tune's onsets) pass only where the
    tune sings a new syllable."""
    scale = scale_of(*key)
    out: list[Note] = []
    starts = [b.start for b in beats]
    for note, following in zip(line, [*line[1:], None], strict=False):
        step = None if following is None or following.onset_tick != note.end_tick \
            or following.onset_tick in arrivals else accompany.passing_tone(note.pitch, following.pitch, scale)
        half = note.duration_tick // 2
        if step is None or half < TICKS_PER_QUARTER // 2 or note.duration_tick > 2 * TICKS_PER_QUARTER:
            out.append(note)
            continue
        tick = note.onset_tick + half
        if syllables is not None and tick not in syllables:
            out.append(note)
            continue
        chord = beats[max(i for i, s in enumerate(starts) if s <= note.onset_tick)].chord
        others = [n.pitch for n in written if n.onset_tick <= tick < n.end_tick]
        tune = [n.pitch for n in melody if n.onset_tick <= tick < n.end_tick]
        perfect = any(abs(step - p) % 12 in (0, 7) for p in others + tune)
        clash = any(abs(step - p) % 12 in (1, 11) for p in tune)
        passing = any(p % 12 not in chord.pitch_classes for p in others)
        if perfect or clash or passing:
            out.append(note)
            continue
        out += [replace(note, duration_tick=half), replace(note, pitch=step, onset_tick=tick,
                                                           duration_tick=note.duration_tick - half)]
    return out
