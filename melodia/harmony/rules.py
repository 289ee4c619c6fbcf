"""What the lower voices may do at each grid step of a tune that is not a chorale: the rules a harmonization
of any melody keeps, on top of the masks of `melodia.harmony.sampling`.

- the meter's beats: chords are voted for and guided on each beat of the tune's meter (a dotted quarter in
  6/8, 9/8 and 12/8, a quarter in 3/4 and 4/4, a half in 2/2); inside a compound beat the lower voices hold,
  so a jig is harmonized by the dotted quarter;
- the final cadence: a melody that ends on a note of its tonic chord closes V(7)-I in root position, the
  bass on the dominant then on the tonic;
- given chords (`--chords` or the chord symbols a file carries): the lower voices sound only their tones,
  the bass their bass note where each chord starts;
- the soprano heard just before each step (a note shorter than a step included), so that parallels with a
  quick melody note are seen;
- clashes through the beat: a lower voice avoids a pitch class a half step from a melody note that sounds at
  least a third of the rest of the beat (weighted by duration, not only the note on the beat), or a whole step
  from one that sounds most of it after the beat, unless the melody sounds that pitch class there too, so that a
  jig's `D G G` is set as a G chord, not over an F# or A;
- the final cadence: the leading tone in one voice only, resolving up to the tonic in the alto (the tenor's
  may fall to the fifth), the final tonic chord complete (its third, and its fifth where a voice is free)
  over the tonic in the bass's low octave (`FINAL_BASS`).

Pitch classes are 12-bit masks (bit p for pitch class p); `ANY` allows all.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING

import numpy as np

from melodia.harmony.data import STEP_TICKS, STEPS_PER_QUARTER, Chorale
from melodia.harmony.voiceleading import SATB_RANGES
from melodia.score import Note, Score
from melodia.theory.chord import Chord
from melodia.theory.key import Key

if TYPE_CHECKING:
    from melodia.harmony.chords import Bar

ANY = (1 << 12) - 1
CLASH_SHARE = 1 / 3  # a melody note sounding this share of the rest of a beat keeps its half steps out
# `StepRules.cadence`, per step of the final cadence: the dominant's first step and the rest, the tonic chord's
DOMINANT_START, DOMINANT, FINAL_START, FINAL = 1, 2, 3, 4
FINAL_BASS = (40, 51)  # the final tonic's bass: E2 to D#3, the bass's low octave (G2, not G3)
DOMINANT_SEVENTH = (7, 11, 2, 5)  # from the tonic: the dominant, its (leading-tone) third, fifth and seventh


@dataclass
class StepRules:
    """Per grid step: the pitch classes each voice may sound ((4, steps) masks; row 0, the soprano, unused),
    whether the lower voices may strike, whether a beat of the meter starts there, and the soprano pitch
    heard just before it (0 at the start); whether the tenor may sing in unison with the bass (as Bach's
    tenors now and then do; a tune's harmonization keeps them apart); `avoid`, the pitch classes the lower voices
    had better not sound (a weaker rule than `pitch_classes`: a melody note's half steps through the beat);
    `cadence`, per step a code of the final cadence (0 none), its `tonic` pitch class and `mode`, and `closing`
    the pitch the melody closes on there."""

    pitch_classes: np.ndarray
    may_strike: np.ndarray
    beat_start: np.ndarray
    soprano_before: np.ndarray
    tenor_bass_unisons: bool = False
    avoid: np.ndarray | None = None
    cadence: np.ndarray | None = None
    tonic: int = 0
    mode: str = "major"
    closing: int = -1

    def sliced(self, first: int) -> StepRules:
        """The rules from step `first` on (the first step a beat, where voices strike)."""
        rules = StepRules(self.pitch_classes[:, first:].copy(), self.may_strike[first:].copy(),
                          self.beat_start[first:].copy(), self.soprano_before[first:].copy(), self.tenor_bass_unisons,
                          None if self.avoid is None else self.avoid[first:].copy(),
                          None if self.cadence is None else self.cadence[first:].copy(), self.tonic, self.mode,
                          self.closing)
        if len(rules.may_strike):
            rules.may_strike[0] = rules.beat_start[0] = True
            rules.soprano_before[0] = 0
        return rules


def bits(pitch_classes: tuple[int, ...] | list[int] | set[int]) -> int:
    return sum(1 << (pc % 12) for pc in set(pitch_classes))


def free_rules(melody: Chorale) -> StepRules:
    """No rules beyond the masks: any pitch class, strikes on every step, a beat every quarter note, the
    soprano before a step as the grid holds it (how the harmonizer reads Bach's chorales)."""
    steps = melody.steps
    soprano = melody.pitches[0].astype(np.int64)
    return StepRules(np.full((4, steps), ANY, dtype=np.int64), np.ones(steps, dtype=bool),
                     np.arange(steps) % STEPS_PER_QUARTER == 0, np.concatenate([[0], soprano[:-1]]), True)


def rules_of(melody: Chorale) -> StepRules:
    """The rules a melody's grid carries (`extra["rules"]`), else `free_rules`."""
    rules = melody.extra.get("rules")
    return rules if isinstance(rules, StepRules) else free_rules(melody)


def meter_rules(score: Score, notes: list[Note], steps: int) -> StepRules:
    """Beats of the score's meter, holds inside compound beats, and the soprano heard before each step."""
    beat_start = np.zeros(steps, dtype=bool)
    may_strike = np.ones(steps, dtype=bool)
    for start, length, meter in score.bars(steps * STEP_TICKS):
        beat = meter.beat_ticks
        for tick in range(start, start + length, beat):
            if tick % STEP_TICKS == 0 and tick // STEP_TICKS < steps:
                beat_start[tick // STEP_TICKS] = True
        if beat == 3 * STEP_TICKS:  # a compound beat: the lower voices move with it
            first, last = -(-start // STEP_TICKS), min(steps, -(-(start + length) // STEP_TICKS))
            may_strike[first:last] = beat_start[first:last]
    return StepRules(np.full((4, steps), ANY, dtype=np.int64), may_strike, beat_start,
                     soprano_before(notes, steps))


def soprano_before(notes: list[Note], steps: int) -> np.ndarray:
    """Per step, the pitch of the last melody note struck before the step's tick (0 where none has been)."""
    heard = np.zeros(steps, dtype=np.int64)
    onsets = sorted((n.onset_tick, n.pitch) for n in notes)
    index, pitch = 0, 0
    for step in range(steps):
        while index < len(onsets) and onsets[index][0] < step * STEP_TICKS:
            pitch = onsets[index][1]
            index += 1
        heard[step] = pitch
    return heard


def add_cadences(rules: StepRules, score: Score, notes: list[Note], soprano: np.ndarray,
                 ends: list[Note]) -> list[tuple[int, int]]:
    """Where a phrase (one of `ends`, the melody's phrase-ending notes) ends on the tonic, or the tune on the
    tonic chord's third: the tonic chord in root position from the beat where the melody settles on it
    (`final_start`) to the phrase's end, the dominant (seventh) chord over its root before it
    (`dominant_start`), without a tone a half step from the melody's. Returns the steps where each dominant and
    tonic start. `soprano` is the melody on the grid."""
    from melodia.harmony.chords import tonic_triad, tune_key

    tonic, mode = tune_key(score, notes)
    triad = tonic_triad(tonic, mode)
    steps = rules.pitch_classes.shape[1]
    index = {id(note): i for i, note in enumerate(notes)}
    closing: dict[int, int] = {}  # the first note of each run of one pitch class that ends a phrase: its last
    for end in ends:
        last = index.get(id(end))
        if last is None or end.pitch % 12 not in (triad[:2] if last == len(notes) - 1 else triad[:1]):
            continue
        first = last
        while first > 0 and notes[first - 1].pitch % 12 == end.pitch % 12:
            first -= 1
        closing[first] = max(last, closing.get(first, last))
    placed: list[tuple[int, int]] = []
    stop = 0
    for first, last in sorted(closing.items()):
        end = notes[last]
        final, dominant = _placed(rules.beat_start, soprano, -(-notes[first].onset_tick // STEP_TICKS), tonic, triad)
        if not stop <= dominant < final < steps:
            continue
        stop = steps if last == len(notes) - 1 else min(steps, max(final + 1, -(-end.end_tick // STEP_TICKS)))
        _cadence(rules, soprano, tonic, triad, (dominant, final, stop))
        placed.append((dominant, final))
        if last == len(notes) - 1:
            _mark_final(rules, (tonic, mode, int(soprano[final])), (dominant, final, stop))
    return placed


def _mark_final(rules: StepRules, key: tuple[int, str, int], where: tuple[int, int, int]) -> None:
    """The final cadence's steps in `rules.cadence` (see `cadence_masks`), its tonic, mode and the melody's
    closing pitch (`key`)."""
    dominant, final, stop = where
    cadence = np.zeros(len(rules.may_strike), dtype=np.int64) if rules.cadence is None else rules.cadence
    cadence[dominant:final] = DOMINANT
    cadence[final:stop] = FINAL
    cadence[dominant], cadence[final] = DOMINANT_START, FINAL_START
    rules.cadence = cadence
    rules.tonic, rules.mode, rules.closing = key


def cadence_masks(voice: int, candidates: np.ndarray, previous: np.ndarray, chosen: dict[int, np.ndarray],
                  code: int, rules: StepRules, hold: int) -> tuple[list[np.ndarray], ...]:
    """The final cadence's masks for `voice` (1 alto, 2 tenor, 3 bass) over (n, TOKENS) `candidates` at a step of
    cadence `code`: strong ones (the leading tone in one voice, resolving up in the alto, up or down to the fifth
    in the tenor; the bass of the dominant within a fifth above the final's, the final bass low), ones for the
    voicing (weaker than no crossing: the dominant's leading tone and the tonic chord's third sounding) and weak
    ones (the tonic chord's fifth); `chosen` holds the step's soprano and the voices written below; `hold` the
    token that holds."""
    from melodia.harmony.chords import tonic_triad

    tonic, mode = rules.tonic, rules.mode
    triad = tonic_triad(tonic, mode)
    strong: list[np.ndarray] = []
    voicing: list[np.ndarray] = []
    weak: list[np.ndarray] = []
    leading = (tonic + 11) % 12
    present = np.zeros(len(candidates), dtype=np.int64)
    for pitches in chosen.values():
        present |= np.where(pitches > 0, np.left_shift(1, pitches % 12), 0)
    classes = candidates % 12
    if code in (DOMINANT_START, DOMINANT) and voice != 3:
        strong.append((classes != leading) | ((present & (1 << leading)) == 0)[:, None])
        if code == DOMINANT_START and voice == 1:
            voicing.append((classes == leading) | ((present & (1 << leading)) != 0)[:, None])
    if code in (DOMINANT_START, DOMINANT) and voice == 3:
        strong.append(candidates <= FINAL_BASS[1] + 7)
    if code == FINAL_START and voice != 3:
        resolving = (previous % 12 == leading) & (previous > 0)
        moves = (candidates == (previous + 1)[:, None])
        if voice == 2:
            moves |= candidates == (previous - 4)[:, None]
        strong.append(moves | ~resolving[:, None])
    if code in (FINAL_START, FINAL) and voice == 3:
        low = (candidates >= FINAL_BASS[0]) & (candidates <= FINAL_BASS[1])
        strong.append(low | (np.arange(candidates.shape[1]) == hold)[None, :] if code == FINAL else low)
    if code == FINAL_START and voice == 1:
        for pc, masks in ((triad[1], voicing), (triad[2], weak)):
            missing = (present & (1 << pc)) == 0
            masks.append((classes == pc) | ~missing[:, None])
    return strong, voicing, weak


def _cadence(rules: StepRules, soprano: np.ndarray, tonic: int, triad: tuple[int, ...],
             where: tuple[int, int, int]) -> None:
    """The dominant (seventh) from the first step of `where` to the second, the tonic from there to the third."""
    dominant, final, stop = where
    rules.pitch_classes[1:3, final:stop] = bits(list(triad))
    rules.pitch_classes[3, final:stop] = bits([tonic])
    for step in range(dominant, final):
        clashes = {(soprano[step] + 1) % 12, (soprano[step] - 1) % 12} if soprano[step] else set()
        rules.pitch_classes[1:3, step] = bits([pc for i in DOMINANT_SEVENTH if (pc := (tonic + i) % 12) not in clashes])
    rules.pitch_classes[3, dominant:final] = bits([tonic + 7])
    rules.may_strike[dominant] = rules.may_strike[final] = True


def _placed(beat_start: np.ndarray, soprano: np.ndarray, settled: int, tonic: int,
            triad: tuple[int, ...]) -> tuple[int, int]:
    """The steps where the tonic chord and the dominant before it start: the tonic at `final_start`, unless the
    melody then sounds no tone of the dominant seventh where the dominant would start and it does with the
    tonic at `settled`, or else with the tonic from the beat before (`earlier_tonic`)."""
    tones = {(tonic + i) % 12 for i in DOMINANT_SEVENTH}
    early = final_start(beat_start, soprano, settled, triad)
    finals = [early, settled, earlier_tonic(beat_start, soprano, settled, triad)]
    placements = [(final, dominant_start(beat_start, soprano, final, tonic)) for final in dict.fromkeys(finals)]
    return next(((final, dominant) for final, dominant in placements if soprano[dominant] % 12 in tones
                 and soprano[dominant] > 0), placements[0])


def earlier_tonic(beat_start: np.ndarray, soprano: np.ndarray, settled: int, triad: tuple[int, ...]) -> int:
    """The beat before `settled` when the melody sounds only tonic-chord tones from it to `settled` (a 6/8 tune's
    `B4. G4.` in G: the tonic chord under the B, the dominant a beat earlier), else `settled`."""
    beat = next((s for s in range(min(settled, len(beat_start)) - 1, -1, -1) if beat_start[s]), 0)
    if 0 < beat < settled and all(soprano[s] > 0 and soprano[s] % 12 in triad for s in range(beat, settled)):
        return beat
    return settled


def final_start(beat_start: np.ndarray, soprano: np.ndarray, settled: int, triad: tuple[int, ...]) -> int:
    """The step the tonic chord starts on: `settled` (where the melody's run of notes of its closing pitch class
    begins), or the beat before it when the melody sounds only tonic-chord tones from that beat on."""
    beat = next((s for s in range(min(settled, len(beat_start) - 1), -1, -1) if beat_start[s]), settled)
    if 0 < beat < settled and all(soprano[s] > 0 and soprano[s] % 12 in triad for s in range(beat, settled)):
        return beat
    return settled


def dominant_start(beat_start: np.ndarray, soprano: np.ndarray, final: int, tonic: int) -> int:
    """The step the dominant starts on, before the tonic at `final`: the last beat before it when the melody
    sounds a tone of the dominant seventh there, else the first later step where it does, else the step just
    before `final` (the melody's note then an appoggiatura over the dominant)."""
    beat = next((s for s in range(final - 1, -1, -1) if beat_start[s]), final - 1)
    tones = {(tonic + i) % 12 for i in DOMINANT_SEVENTH}
    return next((s for s in range(beat, final) if soprano[s] > 0 and soprano[s] % 12 in tones), final - 1)


def add_clashes(rules: StepRules, notes: list[Note], boundaries: list[int] | None = None) -> None:
    """`rules.avoid`: per step, the pitch classes a half step from a melody note that sounds at least
    `CLASH_SHARE` of the beat from that step to the beat's end (its duration there counted, not only the note
    on the beat), and a whole step from one that sounds most of it after the step (`D G G`: not F, F#, A or
    G#), less those the melody itself sounds there; inside a beat only what its first step avoids (so
    that a note held from the beat stays allowed), nothing where the voices hold. `boundaries`: steps that also
    start a beat for this (where a cadence's chord changes)."""
    steps = len(rules.may_strike)
    starts = set(np.flatnonzero(rules.beat_start).tolist()) | set(boundaries or []) | {0}
    edges = [*sorted(s for s in starts if 0 <= s < steps), steps]
    avoid = np.zeros(steps, dtype=np.int64)
    for first, last in pairwise(edges):
        length = (last - first) * STEP_TICKS
        for step in range(first, last):
            if step > first and not rules.may_strike[step]:
                continue
            start, end = step * STEP_TICKS, last * STEP_TICKS
            heard, on_beat = np.zeros(12), set()
            for note in notes:
                heard[note.pitch % 12] += max(0, min(end, note.end_tick) - max(start, note.onset_tick))
                if note.onset_tick <= start < note.end_tick:
                    on_beat.add(note.pitch % 12)
            sounding = bits([pc for pc in range(12) if heard[pc] > 0])
            clashing = bits([pc + shift for pc in range(12) if heard[pc] >= CLASH_SHARE * length for shift in (1, -1)])
            clashing |= bits([pc + shift for pc in range(12) if heard[pc] > length / 2 and pc not in on_beat
                              for shift in (2, -2)])
            avoid[step] = clashing & ~sounding & (avoid[first] if step > first else ANY)
    rules.avoid = avoid


def add_chords(rules: StepRules, score: Score, notes: list[Note],
               progression: list[list[Chord]] | None = None) -> list[Bar]:
    """The chords given (`progression`, else the chord symbols `score` carries) as the harmony: the lower
    voices sound only their tones, the bass the chord's bass note where each chord starts (and where it
    changes on a beat); returns the chords over the tune, as `melodia.harmony.chords` lays them out."""
    from melodia.harmony.chords import given_chords, tune_key

    chords = given_chords(score, max(n.end_tick for n in notes), progression)
    if chords is None:
        return []
    steps = rules.pitch_classes.shape[1]
    dominants = _given_dominants(chords, tune_key(score, notes)[0])
    for index, stretch in enumerate(chords):
        first = -(-stretch.start // STEP_TICKS)
        last = min(steps, -(-(stretch.start + stretch.length) // STEP_TICKS))
        if first >= last:
            continue
        rules.pitch_classes[1:4, first:last] = bits(list(stretch.chord.pitch_classes))
        rules.pitch_classes[3, first:last if index in dominants else first + 1] = bits([stretch.chord.bass_pc])
        rules.may_strike[first] = True
    return chords


def _given_dominants(chords: list[Bar], tonic: int) -> set[int]:
    """The indices of the given chords on the dominant, in root position, that go straight to the tonic chord in
    root position: a V-I the user wrote, whose bass holds the dominant's root (a bass moving to the fifth under a
    passing note, G2 under C C4 D4 | F, was heard as a G chord, the close as ii-I)."""
    return {index for index, (chord, after) in enumerate(pairwise(chords))
            if chord.chord.root == (tonic + 7) % 12 and chord.chord.bass_pc == chord.chord.root
            and after.chord.root == tonic and after.chord.bass_pc == tonic
            and chord.start + chord.length == after.start}


def chords_honoured(grid: Chorale, chords: list[Bar], beat_start: np.ndarray) -> float:
    """Share of the beats (`beat_start`) under a given chord where alto, tenor and bass sound only its tones."""
    heard = kept = 0
    for stretch in chords:
        tones = set(stretch.chord.pitch_classes)
        first = -(-stretch.start // STEP_TICKS)
        last = min(grid.steps, -(-(stretch.start + stretch.length) // STEP_TICKS))
        for step in np.flatnonzero(beat_start[first:last]) + first:
            lower = {int(p) % 12 for p in grid.pitches[1:, step] if p > 0}
            if lower:
                heard += 1
                kept += lower <= tones
    return kept / heard if heard else 1.0


# --- decoration: passing tones in the inner voices -------------------------------------------------------------

MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10, 11)  # natural minor with the leading tone


def passing_tones(grid: Chorale, notes: list[Note], key: Key, meter: StepRules,
                  quiet: list[tuple[int, int]]) -> int:
    """Fill thirds in the alto and tenor with the passing scale step, in place, as Bach's inner voices move in
    eighths between beats: a note held at least a quarter whose next note is a third away gets the step between
    on its last eighth, where that eighth is off the beat, the melody strikes only on the grid there, the step
    lies in the key (`key`: tonic pitch class and mode) and the voice's range, is no half step from a melody note
    sounding then, keeps the voices uncrossed, and makes no parallel fifth or octave with any voice into or out of
    it (between two notes of one pitch, a neighbour; before a step, the next note anticipated). `meter`: the
    tune's rules (`meter_rules`): decorations go only where the voices may strike off the beat (not inside a
    compound beat, where they hold). `quiet`: step ranges left alone (the cadences). Returns how many were
    added."""
    scale = {(key[0] + i) % 12 for i in (MAJOR_SCALE if key[1] == "major" else MINOR_SCALE)}
    steps = grid.steps
    offgrid = np.zeros(steps + 1, dtype=bool)
    for note in notes:
        if note.onset_tick % STEP_TICKS:
            offgrid[min(steps, note.onset_tick // STEP_TICKS)] = True
    added = 0
    for voice in (1, 2):
        strikes = [int(s) for s in np.flatnonzero(grid.struck[voice])]
        for start, after in pairwise(strikes):
            step = after - 1
            if after - start < 2 or step >= len(meter.beat_start) or meter.beat_start[step] \
                    or not meter.may_strike[step] or offgrid[step] or offgrid[after] \
                    or any(a <= step < b for a, b in quiet):
                continue
            tone = _passing(grid, voice, step, after, scale, notes)
            if tone:
                grid.pitches[voice, step], grid.struck[voice, step] = tone, True
                added += 1
    return added


def _passing(grid: Chorale, voice: int, step: int, after: int, scale: set[int], notes: list[Note]) -> int:
    """The passing tone for `voice` at `step` (0 if none fits): see `passing_tones`."""
    here, there = int(grid.pitches[voice, step]), int(grid.pitches[voice, after])
    if not here or not there:
        return 0
    for tone in _decorations(here, there, scale):
        if _fits(grid, voice, (step, after), tone, notes):
            return tone
    return 0


def _decorations(here: int, there: int, scale: set[int]) -> list[int]:
    """The tones that may decorate the last eighth of a note `here` before `there`, likeliest first: the
    passing step in a third, the lower then the upper neighbour between two notes of one pitch, the next note
    anticipated in a step."""
    gap = abs(there - here)
    if gap in (3, 4):
        way = 1 if there > here else -1
        tones = [p for p in range(here + way, there, way) if p % 12 in scale]
        return tones if len(tones) == 1 else []
    if gap == 0:
        return [*[p for p in (here - 1, here - 2) if p % 12 in scale][:1],
                *[p for p in (here + 1, here + 2) if p % 12 in scale][:1]]
    return [there] if gap in (1, 2) else []


def _fits(grid: Chorale, voice: int, where: tuple[int, int], tone: int, notes: list[Note]) -> bool:
    """Whether `tone` in `voice` at the first step of `where` (the next strike at the second) is in the key's
    scale, no half step from the melody sounding then, uncrossed and free of parallels: see `passing_tones`."""
    step, after = where
    pitches = grid.pitches
    here, there = int(pitches[voice, step]), int(pitches[voice, after])
    start, end = step * STEP_TICKS, (step + 1) * STEP_TICKS
    melody = {n.pitch for n in notes if n.onset_tick < end and n.end_tick > start}
    if not melody or any((tone - p) % 12 in (1, 11) or tone >= p for p in melody):
        return False
    above, below = int(pitches[voice - 1, step]) if voice > 1 else max(melody), int(pitches[voice + 1, step])
    low, high = SATB_RANGES[voice]
    if not max(below, low - 1) < tone < min(above, high + 1):
        return False
    for other in (0, 1, 2, 3):
        if other == voice:
            continue
        line = [int(pitches[other, s]) for s in (step - 1, step, after)]
        mine = [here, tone, there]
        for a, b in ((0, 1), (1, 2)):
            if not (line[a] and line[b]) or line[a] == line[b] or mine[a] == mine[b] \
                    or (mine[b] > mine[a]) != (line[b] > line[a]):
                continue
            if abs(mine[a] - line[a]) % 12 == abs(mine[b] - line[b]) % 12 in (0, 7):
                return False
    return True
