"""Accompaniment for a melody over harmony slots (`melodia.harmony.chords.Bar`): voiced chords
below the melody, a counter-melody of chord tones with passing notes, bass lines (a walking
bass by step and chromatic approach) and a drum kit that follows the sections.

Every part is written in beats, so it follows the meter: a waltz bar gets three beats, a 6/8
bar two dotted quarters. A stretch of section 'ending' is one held chord in every part.
"""

from __future__ import annotations

from dataclasses import replace
from itertools import combinations, groupby, pairwise, product

from melodia.harmony.chords import Bar, chord_tones_at, scale_of
from melodia.score import TICKS_PER_QUARTER, Note
from melodia.theory.chord import Chord
from melodia.theory.key import Key

__all__ = [
    "Bar",
    "Chord",
    "bass_part",
    "counter_melody",
    "drum_part",
    "harmony_part",
    "melody_floor",
    "voice_chord",
]

C_MAJOR = Key(0, "major")  # the key of a part asked for without one
EIGHTH = TICKS_PER_QUARTER // 2
SIXTEENTH = TICKS_PER_QUARTER // 4
KICK, SIDE_STICK, SNARE, CLOSED_HAT, LOW_TOM, PEDAL_HAT, MID_TOM, OPEN_HAT, HIGH_TOM, CRASH, RIDE = \
    36, 37, 38, 42, 45, 44, 47, 46, 50, 49, 51


# --- where the melody lies --------------------------------------------------------------------------

def melody_floor(melody: list[Note], start: int, stop: int) -> int | None:
    """The lowest melody pitch sounding in [start, stop), or None when the melody rests."""
    pitches = [n.pitch for n in melody if n.onset_tick < stop and n.end_tick > start]
    return min(pitches) if pitches else None


def _held_pitch_classes(melody: list[Note], start: int, stop: int, least: int) -> set[int]:
    """Pitch classes the melody holds for at least `least` ticks inside [start, stop)."""
    return {n.pitch % 12 for n in melody if min(n.end_tick, stop) - max(n.onset_tick, start) >= least}


def _sounding(melody: list[Note], tick: int) -> Note | None:
    return next((n for n in melody if n.onset_tick <= tick < n.end_tick), None)


# --- voicing --------------------------------------------------------------------------------------------

def _priority(chord: Chord) -> list[int]:
    """Chord tones from the most needed: third and seventh, then root, then fifth."""
    pcs = chord.pitch_classes
    if len(pcs) == 4:
        return [pcs[1], pcs[3], pcs[0], pcs[2]]
    return [pcs[1], pcs[0], pcs[2]]


def voice_chord(chord: Chord, count: int, low: int, high: int, previous: tuple[int, ...] = (),
                spread: bool = False, avoid: frozenset[int] = frozenset()) -> tuple[int, ...]:
    """`count` pitches of `chord` in [low, high], nearest the previous voicing (common tones kept,
    steps preferred): close position (within an octave and a third), or `spread` (each voice at
    most an octave above the next, as brass voice it). Pitch classes in `avoid` (a half step
    from a held melody note) are left out; fewer voices when nothing fits; () when none does."""
    priority = [pc for pc in _priority(chord) if pc not in avoid]
    pool = [p for p in range(low, high + 1) if p % 12 in priority]
    centre = (low + high) / 2
    for size in range(min(count, 4), 0, -1):
        needed = set(priority[:min(size, 3, len(priority))]) if size > 1 else set()
        best: tuple[float, tuple[int, ...]] | None = None
        for combo in combinations(pool, size):
            classes = {p % 12 for p in combo}
            if not needed <= classes or len(classes) < min(size, len(priority)):
                continue
            if spread and any(b - a > 12 or b - a < 3 for a, b in pairwise(combo)):
                continue
            if not spread and combo[-1] - combo[0] > (12 if size <= 3 else 16):
                continue
            cost = _movement(previous, combo) if previous else abs(sum(combo) / size - centre) / 3
            cost += 0.5 * (size == 1 and combo[0] % 12 == chord.root)
            if best is None or cost < best[0]:
                best = (cost, combo)
        if best is not None:
            return best[1]
    return ()


def _movement(previous: tuple[int, ...], voicing: tuple[int, ...]) -> float:
    if len(previous) == len(voicing):
        return float(sum(abs(a - b) for a, b in zip(sorted(previous), voicing, strict=True)))
    return float(sum(min(abs(p - q) for q in previous) for p in voicing))


def harmony_part(bars: list[Bar], pattern: str, melody: list[Note], voices: int = 3, low: int = 48,
                 high: int = 72, spread: bool = False, velocity: int = 64) -> list[Note]:
    """Chords under the melody for every bar in `pattern` (sustained, block, offbeat, alberti,
    arpeggio, power, comping): each voicing lies at or below the lowest melody note of its bar."""
    notes: list[Note] = []
    previous: tuple[int, ...] = ()
    resting = min(high, sorted(n.pitch for n in melody)[len(melody) // 2] - 2) if melody else high
    for index, bar in enumerate(bars):
        stop = bar.start + bar.length
        floor = melody_floor(melody, bar.start, stop)
        top = min(high, floor) if floor is not None else max(resting, low + 12)
        held_classes = _held_pitch_classes(melody, bar.start, stop, bar.beat)
        avoid = frozenset(pc for pc in range(12) if any((pc - m) % 12 in (1, 11) for m in held_classes))
        if pattern == "power":
            notes += _in_bar(_power_chords(bar, low, top, velocity), bar)
            continue
        bottom = max(low, top - 19)
        count = voices if pattern not in ("alberti", "arpeggio") else max(voices, 3)
        chord = voice_chord(bar.chord, count, bottom, top, previous, spread, avoid) or \
            voice_chord(bar.chord, count, low, top, previous, spread, avoid)
        if not chord:
            continue
        held = bar.section == "ending" or pattern == "sustained"
        if held and previous == chord and notes and notes[-1].end_tick == bar.start:
            for note in notes[-len(chord):]:
                note.duration_tick += bar.length  # the same chord goes on: hold it, do not strike again
        elif held:
            notes += [Note(p, velocity, bar.start, bar.length) for p in chord]
        else:
            notes += _in_bar(_patterned(bar, chord, pattern, velocity, index), bar)
        previous = chord
    return _clipped(notes, bars)


def _patterned(bar: Bar, chord: tuple[int, ...], pattern: str, velocity: int, index: int) -> list[Note]:
    notes: list[Note] = []
    if pattern in ("block", "offbeat"):
        for beat in range(bar.beats):
            offbeat = beat > 0 if bar.beats % 3 == 0 or bar.beats == 1 else beat % 2 == 1
            onset = bar.start + beat * bar.beat
            if bar.beats <= 2 and bar.beat % 3 == 0 and pattern == "offbeat":  # 6/8: chords on the off-eighths
                notes += [Note(p, velocity, onset + step * EIGHTH, EIGHTH) for step in (1, 2) for p in chord]
            elif pattern == "block" or offbeat:
                notes += [Note(p, velocity, onset, bar.beat) for p in chord]
        return notes
    if pattern == "comping":
        return _comping(bar, chord, velocity, index)
    order = (chord[0], chord[-1], chord[len(chord) // 2], chord[-1]) if pattern == "alberti" else \
        (*chord, *chord[-2:0:-1])
    for step, onset in enumerate(range(bar.start, bar.start + bar.length, EIGHTH)):
        length = min(EIGHTH, bar.start + bar.length - onset)
        notes.append(Note(order[step % len(order)], velocity - 8 * (step % 2), onset, length))
    return notes


def _comping(bar: Bar, chord: tuple[int, ...], velocity: int, index: int) -> list[Note]:
    """Jazz piano: short chords on a Charleston (one, the and of two) or on two and four."""
    beat = bar.beat
    if bar.beats >= 4:
        rhythm = [(0, beat + EIGHTH), (beat + EIGHTH, EIGHTH)] if index % 2 == 0 else [(beat, EIGHTH), (3 * beat,
                                                                                                        EIGHTH)]
    elif bar.beats >= 2:
        rhythm = [(0, beat), (beat + EIGHTH, EIGHTH)] if index % 2 == 0 else [(beat // 2, EIGHTH), (beat, beat)]
    else:
        rhythm = [(0, bar.length)]
    return [Note(p, velocity + (6 if offset % beat else 0), bar.start + offset, length)
            for offset, length in rhythm for p in chord if offset < bar.length]


def _power_chords(bar: Bar, low: int, top: int, velocity: int) -> list[Note]:
    """Rock guitar: root, fifth and octave, driving eighths, accents on the beats."""
    root = next((p for p in range(max(low, 40), 60) if p % 12 == bar.chord.root), None)
    if root is None or root + 12 > top:
        return []
    shape = (root, root + 7, root + 12)
    if bar.section == "ending":
        return [Note(p, velocity, bar.start, bar.length) for p in shape]
    return [Note(p, velocity + (8 if (onset - bar.start) % bar.beat == 0 else 0), onset, EIGHTH)
            for onset in range(bar.start, bar.start + bar.length, EIGHTH) for p in shape]


def _clipped(notes: list[Note], bars: list[Bar]) -> list[Note]:
    """Notes that start inside the bars, cut to end with the last one."""
    if not bars:
        return []
    first, last = bars[0].start, bars[-1].start + bars[-1].length
    return [Note(n.pitch, n.velocity, n.onset_tick, min(n.duration_tick, last - n.onset_tick))
            for n in notes if first <= n.onset_tick < last]


def _in_bar(notes: list[Note], bar: Bar) -> list[Note]:
    """Pattern notes cut to end with their bar; notes a short bar has no room for are dropped."""
    stop = bar.start + bar.length
    return [Note(n.pitch, n.velocity, n.onset_tick, min(n.duration_tick, stop - n.onset_tick))
            for n in notes if bar.start <= n.onset_tick < stop]


# --- bass -------------------------------------------------------------------------------------------------

def _nearest(pc: int, reference: int, low: int, high: int) -> int:
    options = [p for p in range(low, high + 1) if p % 12 == pc]
    return min(options, key=lambda p: (abs(p - reference), p)) if options else low + (pc - low) % 12


def bass_part(bars: list[Bar], pattern: str, low: int = 28, high: int = 52, key: Key = C_MAJOR,
              velocity: int = 72, melody: list[Note] | None = None) -> list[Note]:
    """A bass line for every bar in `pattern` (root, root_fifth, oom, walking); the chord's bass
    note (an inversion's third) on the downbeat, each note near the one before."""
    high = min(high, max(low + 16, 52))
    notes: list[Note] = []
    previous = min(max(40, low + 5), high - 5)  # around E2, where a bass line sits
    for index, bar in enumerate(bars):
        root = _nearest(bar.chord.bass_pc, previous, low, high)
        fifth = _nearest((bar.chord.root + bar.chord.fifth) % 12, root - 5, low, high)
        own: list[Note] = []
        if bar.section == "ending" or pattern == "root":
            own.append(Note(root, velocity, bar.start, bar.length))
        elif pattern == "oom":
            own += [Note(root if beat % 4 == 0 else fifth, velocity, bar.start + beat * bar.beat, bar.beat)
                      for beat in range(bar.beats) if beat == 0 or (bar.beats % 3 != 0 and beat % 2 == 0)]
        elif pattern == "root_fifth":
            half = bar.beats // 2 * bar.beat if bar.beats % 3 != 0 and bar.beats > 1 else bar.length
            own.append(Note(root, velocity, bar.start, half))
            if half < bar.length:
                next_bass = bars[index + 1].chord.bass_pc if index + 1 < len(bars) else bar.chord.root
                if (next_bass - fifth) % 12 == 6:  # no tritone into the next root: the third instead
                    fifth = _nearest((bar.chord.root + bar.chord.third) % 12, root, low, high)
                own.append(Note(fifth, velocity - 6, bar.start + half, bar.length - half))
        else:
            following = bars[index + 1] if index + 1 < len(bars) else None
            own += _walking_bar(bar, root, following, key, (low, high), velocity, melody or [])
        notes += _in_bar(own, bar)
        previous = notes[-1].pitch if notes else root
    return _clipped(notes, bars)


BAD_LEAPS = (6, 10, 11)  # a tritone, and sevenths, are not walked


def _walking_bar(bar: Bar, root: int, following: Bar | None, key: Key, span: tuple[int, int],
                 velocity: int, melody: list[Note]) -> list[Note]:
    """Quarter notes from the chord's bass note to a half step (or a scale step) from the next
    chord's: chord and scale tones between, no tritone or seventh leaps, no repeated notes, and
    nothing a half step from the melody note above it."""
    low, high = span
    if bar.beats < 2 or following is None:
        return [Note(root, velocity, bar.start + b * bar.beat, bar.beat) for b in range(max(bar.beats, 1))]
    target = _nearest(following.chord.bass_pc, root, low + 1, high - 1)
    scale = set(scale_of(*key))
    tones = set(bar.chord.pitch_classes)

    def free(pitch: int, beat: int) -> bool:
        start = bar.start + beat * bar.beat
        above = {n.pitch % 12 for n in melody if n.onset_tick < start + bar.beat and n.end_tick > start}
        return not any((pitch - m) % 12 in (1, 11) for m in above)

    middle = [p for p in range(root - 7, root + 8) if low <= p <= high and (p % 12 in tones or p % 12 in scale)]
    approach = [p for p in (target - 1, target + 1, target - 2, target + 2) if low <= p <= high
                and (abs(p - target) == 1 or p % 12 in scale)]
    last = bar.beats - 1
    approach = [p for p in approach if free(p, last)] or [p for p in middle if free(p, last)]
    options = [[p for p in middle if free(p, b)] or middle for b in range(1, last)]
    best: tuple[float, tuple[int, ...]] | None = None
    for path in product(*options, approach):
        line = (root, *path, target)
        steps = [abs(b - a) for a, b in pairwise(line)]
        if any(s == 0 or s in BAD_LEAPS or s > 7 for s in steps[:-1]) or steps[-1] in BAD_LEAPS or steps[-1] > 7:
            continue
        cost = sum(0 if s <= 2 else 1 if s <= 4 else 2.5 for s in steps)
        cost += sum(0.8 for p in path[:-1] if p % 12 not in tones) + (0 if abs(path[-1] - target) == 1 else 0.5)
        cost += sum(0.7 for a, b in zip(line, line[2:], strict=False) if a == b)  # walk on, not back and forth
        if best is None or cost < best[0]:
            best = (cost, path)
    pitches = (root, *(best[1] if best else [root] * (bar.beats - 1)))
    return [Note(p, velocity - 6 * (b % 2), bar.start + b * bar.beat, bar.beat) for b, p in enumerate(pitches)]


# --- counter-melody ----------------------------------------------------------------------------------------

def counter_melody(melody: list[Note], bars: list[Bar], key: Key, pattern: str, low: int = 48,
                   high: int = 84, velocity: int = 68) -> list[Note]:
    """A second line under the melody: a chord tone on every beat, chosen for step motion, thirds
    and sixths with the melody and no parallel fifths or octaves, with a passing note between
    beat notes a third apart ('thirds': close under the melody, 'sixths': a sixth or more
    below); 'unison' doubles the melody."""
    if pattern == "unison":
        return [replace(n, velocity=max(n.velocity - 10, 1)) for n in melody]
    nearest, farthest = (3, 10) if pattern == "thirds" else (7, 17)
    beats: list[tuple[int, int, Bar, int]] = []  # (tick, length, bar, melody pitch)
    for bar in bars:
        for b in range(bar.beats if bar.section != "ending" else 1):
            tick = bar.start + b * bar.beat
            above = _sounding(melody, tick) or _sounding(melody, tick + bar.beat // 2)
            if above is not None:
                length = bar.beat if bar.section != "ending" else bar.length
                beats.append((tick, min(length, bar.start + bar.length - tick), bar, above.pitch))
    line = _counter_line(beats, low, high, nearest, farthest)
    return _with_passing_notes(beats, line, melody, bars, key, velocity)


def _counter_line(beats: list[tuple[int, int, Bar, int]], low: int, high: int, nearest: int,
                  farthest: int) -> list[int | None]:
    """The pitch per beat (None where nothing fits), by dynamic programming over chord tones."""
    options: list[list[int | None]] = []
    for _, _, bar, above in beats:
        pcs = bar.chord.pitch_classes
        options.append([p for p in range(max(low, above - farthest), min(high, above - nearest) + 1)
                        if p % 12 in pcs and (above - p) % 12 not in (1, 11)] or [None])
    costs: list[dict[int | None, tuple[float, int | None]]] = []
    for index, choices in enumerate(options):
        above = beats[index][3]
        table: dict[int | None, tuple[float, int | None]] = {}
        for pitch in choices:
            own = _interval_cost(above, pitch)
            if not costs:
                table[pitch] = (own, None)
                continue
            before_above = beats[index - 1][3]
            table[pitch] = min((cost + own + _motion_cost(prev, pitch, before_above, above), prev)
                               for prev, (cost, _) in costs[-1].items())
        costs.append(table)
    pitch = min(costs[-1], key=lambda p: costs[-1][p][0]) if costs else None
    line: list[int | None] = []
    for table in reversed(costs):
        line.append(pitch)
        pitch = table[pitch][1]
    return line[::-1]


def _interval_cost(above: int, pitch: int | None) -> float:
    if pitch is None:
        return 5.0
    interval = (above - pitch) % 12
    return -0.3 if interval in (3, 4, 8, 9) else 0.6 if interval == 0 else 0.2 if interval == 7 else 0.0


def _motion_cost(previous: int | None, pitch: int | None, before_above: int, above: int) -> float:
    if previous is None or pitch is None:
        return 0.0
    step = abs(pitch - previous)
    cost = 0.4 if step == 0 else 0.0 if step <= 2 else 0.5 if step <= 4 else 1.5 if step <= 7 else 3.0
    intervals = ((before_above - previous) % 12, (above - pitch) % 12)
    if intervals[0] == intervals[1] and intervals[0] in (0, 7) and step:
        cost += 2.0  # parallel octaves or fifths
    if (above - before_above) * (pitch - previous) < 0:
        cost -= 0.2  # contrary motion
    return cost


def _with_passing_notes(beats: list[tuple[int, int, Bar, int]], line: list[int | None], melody: list[Note],
                        bars: list[Bar], key: Key, velocity: int) -> list[Note]:
    scale = scale_of(*key)
    notes: list[Note] = []
    for index, ((tick, length, bar, _), pitch) in enumerate(zip(beats, line, strict=True)):
        if pitch is None:
            continue
        following = line[index + 1] if index + 1 < len(line) else None
        adjacent = index + 1 < len(beats) and beats[index + 1][0] == tick + length
        if notes and notes[-1].pitch == pitch and notes[-1].end_tick == tick and bar.section != "ending":
            notes[-1].duration_tick += length  # the same tone again: hold it
            continue
        passing = passing_tone(pitch, following, scale) if adjacent and following is not None else None
        split = length * 2 // 3 if length % 3 == 0 and length >= 3 * EIGHTH // 2 else length // 2
        at = tick + split
        above = _sounding(melody, at)
        if passing is not None and above is not None and above.pitch - passing >= 2 \
                and (above.pitch - passing) % 12 not in (1, 11) and passing % 12 not in chord_tones_at(bars, at):
            notes += [Note(pitch, velocity, tick, split), Note(passing, velocity - 6, at, length - split)]
        else:
            notes.append(Note(pitch, velocity, tick, length))
    return notes


def passing_tone(first: int, second: int, scale: list[int]) -> int | None:
    """The scale tone between two notes a third apart, else None."""
    if abs(second - first) not in (3, 4):
        return None
    between = [p for p in range(min(first, second) + 1, max(first, second)) if p % 12 in scale]
    return between[0] if len(between) == 1 else None


# --- drums -------------------------------------------------------------------------------------------------

def drum_part(bars: list[Bar], pattern: str, velocity: int = 90) -> list[Note]:
    """A drum kit (General MIDI drum notes) for every written bar in `pattern`, following the
    form: time only in the intro, a crash on each section's first downbeat (every 8 bars), a
    groove that changes for the second half of each section, a fill closing each phrase of 4
    bars, and a crash with the kick on the held final chord."""
    notes: list[Note] = []
    written = [list(group) for _, group in groupby(bars, key=lambda b: (b.number, b.section))]
    tune_bars = [group[0].number for group in written if group[0].section == "tune"]
    last = max(tune_bars, default=0)
    for position, group in enumerate(written):
        bar = replace(group[0], length=sum(p.length for p in group), beats=sum(p.beats for p in group))
        if bar.number < 0 and bar.section == "tune":
            continue  # a pickup: the band comes in on the downbeat
        hits = _section_hits(bar, pattern, last, position == 0 or written[position - 1][0].section != bar.section)
        for offset, pitch, accent in hits:
            if 0 <= offset < bar.length:
                length = bar.length - offset if bar.section == "ending" else min(EIGHTH, bar.length - offset)
                notes.append(Note(pitch, max(min(round(velocity * accent), 127), 1), bar.start + offset, length))
    return notes


def _section_hits(bar: Bar, pattern: str, last: int, section_start: bool) -> list[tuple[int, int, float]]:
    if bar.section == "ending":
        return [(0, CRASH, 1.0), (0, KICK, 1.0)]
    hits = _drum_hits(bar, pattern, bar.number)
    if bar.section == "intro":
        return [(o, p, a * 0.8) for o, p, a in hits if p not in (SNARE, SIDE_STICK)]
    if bar.number % 8 >= 4 and pattern in ("rock", "compound"):
        hits = [(o, RIDE if p == CLOSED_HAT else p, a) for o, p, a in hits] + [(bar.length - bar.beat - EIGHTH, KICK,
                                                                                 0.7)]
    if bar.number % 8 == 0 or section_start:
        hits = [h for h in hits if h[0] != 0 or h[1] not in (CLOSED_HAT, RIDE)] + [(0, CRASH, 1.0)]
    if (bar.number + 1) % 4 == 0 and bar.number != last:
        fill_beats = 2 if (bar.number + 1) % 8 == 0 and bar.beats >= 4 else 1
        start = bar.length - fill_beats * bar.beat
        hits = [h for h in hits if h[0] < start] + _fill(start, bar.beat, fill_beats)
    return hits


def _fill(start: int, beat: int, beats: int) -> list[tuple[int, int, float]]:
    """Snare then toms, down the kit, in sixteenths (eighths in a compound beat), getting louder."""
    step = EIGHTH if beat % 3 == 0 else SIXTEENTH
    onsets = list(range(start, start + beats * beat, step))
    drums = [SNARE] * (len(onsets) - len(onsets) // 2) + [HIGH_TOM, MID_TOM, LOW_TOM, LOW_TOM][:len(onsets) // 2]
    drums += [LOW_TOM] * (len(onsets) - len(drums))
    return [(t, d, 0.7 + 0.3 * i / max(len(onsets) - 1, 1)) for i, (t, d) in enumerate(zip(onsets, drums,
                                                                                           strict=False))] \
        + [(start, KICK, 0.9)]


def _drum_hits(bar: Bar, pattern: str, index: int) -> list[tuple[int, int, float]]:
    beat, beats = bar.beat, bar.beats
    eighths = range(0, bar.length, EIGHTH)
    if pattern == "rock":
        return ([(b * beat, KICK if b % 2 == 0 else SNARE, 1.0) for b in range(beats)]
                + [(t, CLOSED_HAT, 0.7) for t in eighths])
    if pattern == "swing":
        return ([(b * beat, RIDE, 0.8) for b in range(beats)] + [(b * beat + beat // 2, RIDE, 0.6)
                                                                  for b in range(1, beats, 2)]
                + [(b * beat, PEDAL_HAT, 0.6) for b in range(1, beats, 2)] + [(0, KICK, 0.6)])
    if pattern == "waltz":
        return [(0, KICK, 1.0)] + [(b * beat, SNARE, 0.6) for b in range(1, beats)] + \
            [(b * beat, CLOSED_HAT, 0.7) for b in range(beats)]
    if pattern == "march":
        return ([(b * beat, KICK, 1.0) for b in range(0, beats, 2)] + [(b * beat, SNARE, 0.8) for b in range(beats)]
                + [((beats - 1) * beat + beat // 2, SNARE, 0.6)])
    if pattern == "bossa_nova":
        clave = (0, 3, 6) if index % 2 == 0 else (2, 4)
        return ([(e * EIGHTH, SIDE_STICK, 0.8) for e in clave] + [(t, CLOSED_HAT, 0.6) for t in eighths]
                + [(b * beat + offset, KICK, 0.9) for b in range(0, beats, 2) for offset in (0, 3 * EIGHTH)])
    if pattern == "compound":
        return ([(0, KICK, 1.0)] + ([(beats // 2 * beat, SNARE, 0.9)] if beats > 1 else [])
                + [(t, CLOSED_HAT, 0.6) for t in eighths])
    # bodhran: every eighth on the low drum, beats accented, a high rim note to close the bar
    return [(t, LOW_TOM, 1.0 if t % beat == 0 else 0.6) for t in eighths] + [(bar.length - EIGHTH, HIGH_TOM, 0.7)]
