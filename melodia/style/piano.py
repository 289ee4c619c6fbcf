"""Piano writing: one pianist, two staves (an instrumentation with `texture = "piano"`).

The right hand plays the melody exactly as written, with a chord tone or two under its longer
notes on a change of harmony; the left hand plays the bass and a figure chosen by the style and
the tempo: Alberti (lowest, highest, middle, highest in eighths), broken chords (a low bass,
then the chord spread over a tenth: slow tempos and compound meters), stride (bass on the strong
beats, chords between: waltz and off-beat grooves) or block chords. A pianist could play it:

- at most `HAND_NOTES` notes in each hand at once, within `HAND_SPAN` semitones (a tenth);
- the left hand always lies below every note the right hand holds, so neither hand strikes a
  key the other holds, and the hands never cross;
- the bass stays at or above E1 (`LOWEST_BASS`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import combinations, groupby, pairwise

from melodia.harmony.chords import Bar
from melodia.score import TICKS_PER_QUARTER, Note
from melodia.style.accompany import voice_chord
from melodia.theory.chord import Chord

EIGHTH = TICKS_PER_QUARTER // 2
HAND_SPAN = 16  # a major tenth: the widest a hand strikes or holds at once
HAND_NOTES = 5
LOWEST_BASS = 28  # E1
RIGHT_HAND_FLOOR = 60  # C4: the input's own lower notes go to the right hand no lower, leaving the left hand room
FILL_FLOOR = 64  # E4: chord tones added under the tune go no lower, leaving the left hand its Alberti in the tenor
FIGURES = ("alberti", "broken", "stride", "block")
# Where the left hand's bass note lies for each figure (lowest, highest).
BASS_WINDOWS = {"alberti": (43, 55), "broken": (36, 48), "stride": (33, 47), "block": (36, 50)}


@dataclass
class Hands:
    """The notes of each hand."""

    right: list[Note]
    left: list[Note]


def left_hand_figure(pattern: str, beat: int, bpm: float) -> str:
    """The figure for a harmony `pattern` (a style's or a rhythm's), a meter beat of `beat` ticks
    and `bpm`: off-beat grooves stride, block and sustained patterns strike chords, and Alberti
    turns into broken chords in compound meters and below 80 BPM."""
    if pattern in ("offbeat", "comping"):
        return "stride"
    if pattern in ("block", "sustained", "power"):
        return "block"
    if pattern == "arpeggio" or beat == 3 * EIGHTH or bpm < 80:
        return "broken"
    return "alberti"


def two_hands(bars: list[Bar], melody: list[Note], others: list[Note], figure: str | None,
              velocities: tuple[int, int] = (84, 62)) -> Hands:
    """The piano writing of `melody` (kept as written) over harmony `bars`: chord tones under it
    and the left hand's `figure` (None: no accompaniment is added). `others` are the input's own
    lower notes (inner voices and bass): each goes to the hand whose reach it is in, by octaves
    when needed; what no hand can take is left out."""
    right_velocity, left_velocity = velocities
    right = [replace(n) for n in melody]
    kept = {id(n) for n in right}
    if figure is not None:
        right += _fills(bars, melody, right_velocity - 18)
    own_right, own_left = _share(others, melody)
    right = _playable(right + own_right, kept)
    left = own_left
    if figure is not None:
        left += _figure(bars, right, figure, left_velocity, arrivals(bars, melody))
        right, left = _ending(bars, right, left, right_velocity, left_velocity)
        right = _playable(right, kept)
    left = _playable(_under(left, right), set())
    return Hands(sorted(right, key=_order), sorted(left, key=_order))


def _order(note: Note) -> tuple[int, int]:
    return note.onset_tick, note.pitch


# --- right hand --------------------------------------------------------------------------------------------

def _fills(bars: list[Bar], melody: list[Note], velocity: int) -> list[Note]:
    """Chord tones under the melody notes struck where the harmony changes: one under a note of a
    beat or more, two under a note of two beats or more, a third to an octave below, never a half
    step from the melody's note."""
    fills: list[Note] = []
    by_onset = {n.onset_tick: n for n in melody}
    previous: Chord | None = None
    for bar in bars:
        note = by_onset.get(bar.start)
        changed, previous = bar.chord != previous, bar.chord
        if note is None or bar.section == "ending" or not changed or note.duration_tick < bar.beat:
            continue
        count = 2 if note.duration_tick >= 2 * bar.beat else 1
        clash = {(note.pitch + step) % 12 for step in (-1, 0, 1)}
        options = [p for p in range(note.pitch - 3, max(note.pitch - 13, FILL_FLOOR - 1), -1)
                   if p % 12 in bar.chord.pitch_classes and p % 12 not in clash]
        length = min(note.duration_tick, bar.start + bar.length - note.onset_tick)
        fills += [Note(p, velocity, note.onset_tick, length) for p in options[:count]]
    return fills


def _share(others: list[Note], melody: list[Note]) -> tuple[list[Note], list[Note]]:
    """The input's lower notes between the hands: those within a tenth under the melody note
    sounding go to the right hand, the rest (folded to E1 or above) to the left."""
    right, left = [], []
    for note in sorted(others, key=_order):
        top = next((m.pitch for m in melody if m.onset_tick <= note.onset_tick < m.end_tick), None)
        if top is not None and top - HAND_SPAN <= note.pitch < top and note.pitch >= RIGHT_HAND_FLOOR:
            right.append(replace(note))
            continue
        pitch = note.pitch
        while pitch < LOWEST_BASS:
            pitch += 12
        left.append(replace(note, pitch=pitch))
    return right, left


# --- left hand ---------------------------------------------------------------------------------------------

def _floor(right: list[Note], start: int, stop: int) -> int:
    """The lowest right-hand pitch held anywhere in [start, stop) (128 when the hand rests)."""
    return min((n.pitch for n in right if n.onset_tick < stop and n.end_tick > start), default=128)


def _bass_pitch(pitch_class: int, previous: int, window: tuple[int, int], below: int) -> int | None:
    """The pitch of `pitch_class` nearest `previous` in `window`, lowered by octaves (to E1) to
    lie under `below`; None when it cannot."""
    low, high = window
    options = [p for p in range(low, high + 1) if p % 12 == pitch_class]
    pitch = min(options, key=lambda p: (abs(p - previous), p))
    while pitch >= below and pitch - 12 >= LOWEST_BASS:
        pitch -= 12
    return pitch if pitch < below else None


def arrivals(bars: list[Bar], melody: list[Note]) -> set[int]:
    """Where the melody closes its phrases (`quartet.phrase_ends`), from where it settles on the closing note
    (`quartet.settled`): the ticks a cadence's chord arrives at, as the quartet writing has them."""
    from melodia.style import quartet

    return {quartet.settled(melody, n, bars) for n in quartet.phrase_ends(melody, bars)}


def _figure(bars: list[Bar], right: list[Note], figure: str, velocity: int,
            arrive: set[int] | frozenset[int] = frozenset()) -> list[Note]:
    """The left hand's figure in every bar but an ending's (see `_ending`); the tune's last chord
    is struck once and held; a cadence's dominant before a phrase's close (or an arrival in `arrive`) struck as
    a chord."""
    notes: list[Note] = []
    window = BASS_WINDOWS[figure]
    previous_bass = (window[0] + window[1]) // 2
    previous_chord: tuple[int, ...] = ()
    final = max((b.start for b in bars if b.section == "tune"), default=-1)
    cadences = cadential_dominants(bars, arrive)
    for bar in bars:
        if bar.section == "ending":
            continue
        kind = "held" if bar.start == final else figure  # the tune's last chord struck and held
        if id(bar) in cadences:  # V before a phrase's closing tonic: struck as a chord, the bass held
            kind = "block"
        stop = bar.start + bar.length
        below = _floor(right, bar.start, stop)
        bass = _bass_pitch(bar.chord.bass_pc, previous_bass, window, below)
        if bass is None:
            continue
        previous_bass = bass
        voicing = "block" if kind == "block" else figure
        chord = _upper_tones(bar.chord, bass, voicing, below, previous_chord)
        if len(chord) < 2 and bass - 12 >= LOWEST_BASS + 5:  # a low tune: the figure an octave down
            bass, chord = bass - 12, _upper_tones(bar.chord, bass - 12, voicing, below, previous_chord)
        previous_chord = chord or previous_chord
        notes += _figure_bar(bar, kind, bass, chord, velocity)
        if id(bar) in cadences and (seventh := _passing_seventh(bar, bass, chord, velocity)):
            step = seventh[0]  # the root a step above the seventh moves down to it (8-7)
            notes = [replace(n, duration_tick=step.onset_tick - n.onset_tick)
                     if n.pitch == step.pitch + 2 and n.onset_tick < step.onset_tick < n.end_tick else n
                     for n in notes] + seventh
    return notes


def cadential_dominants(bars: list[Bar], arrive: set[int] | frozenset[int] = frozenset()) -> set[int]:
    """The ids of the bars holding a dominant (a major triad or a dominant seventh in root position) that
    resolves a fifth down to the root-position chord closing a phrase (or the tune), or to the chord starting
    at a tick of `arrive` (where the melody settles on a phrase's close: `A3 G | G3`)."""
    closing = {id(b) for b in bars if b.phrase_end or b.start in arrive} | \
        {id(max(bars, key=lambda b: b.start))} if bars else set()
    return {id(bar) for bar, after in pairwise(bars)
            if id(after) in closing and bar.start + bar.length == after.start and bar.chord.is_dominant
            and bar.chord.bass_pc == bar.chord.root and after.chord.bass_pc == after.chord.root
            and (bar.chord.root - after.chord.root) % 12 == 7}


def _passing_seventh(bar: Bar, bass: int, chord: tuple[int, ...], velocity: int) -> list[Note]:
    """The seventh a cadence's dominant triad adds on its last eighth (V to V7 off the beat, so a given
    triad stays the harmony on every beat), placed among the chord's tones within the hand's tenth; none
    for a seventh chord or a stretch under a beat."""
    if bar.chord.quality != "" or bar.length < 2 * EIGHTH:
        return []
    seventh = (bar.chord.root + 10) % 12
    options = [p for p in range(bass + 1, bass + HAND_SPAN + 1) if p % 12 == seventh and p not in chord]
    if not options or len(chord) + 2 > HAND_NOTES:
        return []
    return [Note(options[0], velocity - 6, bar.start + bar.length - EIGHTH, EIGHTH)]


def _upper_tones(chord: Chord, bass: int, figure: str, below: int, previous: tuple[int, ...]) -> tuple[int, ...]:
    """The chord tones the figure plays above its bass, under `below` and within a tenth of the
    bass: two (Alberti, broken chords) or three (stride, block), with the third (and a seventh
    chord's seventh) whenever the bass is not it, close to the previous bar's."""
    count = 2 if figure in ("alberti", "broken") else 3
    if figure == "stride":
        top = min(below - 1, 64)
        low = max(bass + 5, top - 12)
    else:  # Alberti in close position under D4; broken chords and block chords open to a tenth
        top = min(bass + (12 if figure == "alberti" else HAND_SPAN), below - 1, 62 if figure == "alberti" else 64)
        low = bass + (7 if figure == "broken" else 3)
    classes = chord.pitch_classes
    third = (chord.root + chord.third) % 12
    pool = [p for p in range(low, top + 1) if p % 12 in classes]
    best: tuple[float, tuple[int, ...]] | None = None
    for size in range(min(count, len(classes)), 0, -1):
        for combo in combinations(pool, size):
            pcs = {p % 12 for p in combo}
            if len(pcs) < size or combo[-1] - combo[0] > 12:
                continue
            cost = 4.0 * (third not in pcs and third != bass % 12)
            cost += 2.0 * (len(classes) == 4 and classes[3] not in pcs and classes[3] != bass % 12)  # the seventh
            cost += 1.5 * (bass % 12 in pcs and len(classes) > size) + (combo[-1] - combo[0]) / 12
            cost += sum(min((abs(p - q) for q in previous), default=0) for p in combo) / 4
            if best is None or cost < best[0]:
                best = (cost, combo)
        if best is not None:
            return best[1]
    return ()


def _figure_bar(bar: Bar, figure: str, bass: int, chord: tuple[int, ...], velocity: int) -> list[Note]:
    stop = bar.start + bar.length
    if not chord or figure in ("block", "held"):
        strikes = [bar.start] + ([bar.start + 2 * bar.beat] if bar.beats == 4 and figure == "block" else [])
        return [Note(p, velocity + 6 * (p == bass), onset, (stop - bar.start) // len(strikes))
                for onset in strikes for p in (bass, *chord)]
    if figure == "stride":
        return _stride(bar, bass, chord, velocity)
    compound = bar.beat == 3 * EIGHTH
    order = (bass, chord[-1], chord[0], chord[-1]) if figure == "alberti" else \
        (bass, chord[0], chord[-1]) if compound else (bass, chord[0], chord[-1], chord[0])
    notes = []
    for step, onset in enumerate(range(bar.start, stop, EIGHTH)):
        pitch = order[step % len(order)]
        length = min(EIGHTH, stop - onset)
        if figure == "broken" and pitch == bass:  # the bass rings through its group, as under the pedal
            length = min(EIGHTH * len(order), stop - onset)
        notes.append(Note(pitch, velocity + (6 if pitch == bass else 0) - 6 * (step % 2), onset, length))
    return notes


def _stride(bar: Bar, bass: int, chord: tuple[int, ...], velocity: int) -> list[Note]:
    """Bass on the strong beats (one, and three of four), the chord on the others; a bar of one
    beat halves it."""
    if bar.beats == 1:
        half = max(bar.length // 2 // EIGHTH * EIGHTH, EIGHTH)
        return [Note(bass, velocity + 6, bar.start, half)] + \
            [Note(p, velocity - 4, bar.start + half, bar.length - half) for p in chord if half < bar.length]
    notes = []
    for beat in range(bar.beats):
        onset = bar.start + beat * bar.beat
        if beat == 0 or (bar.beats == 4 and beat == 2):
            notes.append(Note(bass, velocity + 6, onset, bar.beat))
        else:
            notes += [Note(p, velocity - 4, onset, bar.beat) for p in chord]
    return notes


def _under(left: list[Note], right: list[Note]) -> list[Note]:
    """Left-hand notes moved down by octaves (not below E1) until they lie under everything the
    right hand holds while they sound; those that cannot are left out."""
    out = []
    for note in left:
        below = _floor(right, note.onset_tick, note.end_tick)
        pitch = note.pitch
        while pitch >= below and pitch - 12 >= LOWEST_BASS:
            pitch -= 12
        if pitch < below:
            out.append(replace(note, pitch=pitch))
    return out


def _ending(bars: list[Bar], right: list[Note], left: list[Note], right_velocity: int, left_velocity: int
            ) -> tuple[list[Note], list[Note]]:
    """An ending bar: the final chord in the right hand (at or under the melody's last pitch, or
    up to G4 after a low one), the bass and its octave in the left, held through the bar."""
    final = next((b for b in reversed(bars) if b.section == "ending"), None)
    if final is None:
        return right, left
    last = max((n for n in right if n.onset_tick < final.start), key=lambda n: n.onset_tick, default=None)
    top = last.pitch if last is not None else 72
    chord = voice_chord(final.chord, 3, max(top - 12, 55), max(top, 67))
    held = [Note(p, right_velocity - 10, final.start, final.length) for p in chord]
    below = min(chord, default=top)
    bass = _bass_pitch(final.chord.bass_pc, 40, BASS_WINDOWS["broken"], below)
    octave = [] if bass is None else [bass] + ([bass + 12] if bass + 12 < below else [])
    return right + held, left + [Note(p, left_velocity, final.start, final.length) for p in octave]


# --- what a hand can play ----------------------------------------------------------------------------------

def _playable(notes: list[Note], kept: set[int]) -> list[Note]:
    """`notes` one hand can play: a note joins those held only if there are at most `HAND_NOTES`
    and they span at most `HAND_SPAN`, and its key is not held; a note in `kept` (the melody)
    always does, and held notes in its way are released where it is struck."""
    out: list[Note] = []
    ordered = sorted(notes, key=lambda n: (n.onset_tick, id(n) not in kept, -n.pitch))
    for onset, group in groupby(ordered, key=lambda n: n.onset_tick):
        for note in group:
            sounding = [s for s in out if s.end_tick > onset]
            if id(note) in kept:
                for held in sounding:
                    if id(held) not in kept and (abs(held.pitch - note.pitch) > HAND_SPAN or held.pitch == note.pitch):
                        held.duration_tick = onset - held.onset_tick
                out = [n for n in out if n.duration_tick > 0]
                out.append(note)
            elif fits([s.pitch for s in sounding], note.pitch):
                out.append(note)
    return out


def fits(held: list[int], pitch: int) -> bool:
    """Whether one hand holding `held` can strike `pitch` too."""
    pitches = [*held, pitch]
    return len(pitches) <= HAND_NOTES and max(pitches) - min(pitches) <= HAND_SPAN and pitch not in held


def hand_faults(right: list[Note], left: list[Note]) -> list[str]:
    """What a pianist could not play, one line each (empty when the hands can play it all)."""
    faults = []
    for name, hand, other in (("right", right, left), ("left", left, right)):
        for onset in sorted({n.onset_tick for n in hand}):
            sounding = [n.pitch for n in hand if n.onset_tick <= onset < n.end_tick]
            if len(sounding) > HAND_NOTES or max(sounding) - min(sounding) > HAND_SPAN:
                faults.append(f"{name} hand at tick {onset}: {sorted(sounding)}")
            struck = {n.pitch for n in hand if n.onset_tick == onset}
            held = {n.pitch for n in other if n.onset_tick <= onset < n.end_tick}
            if struck & held:
                faults.append(f"{name} hand at tick {onset} strikes {sorted(struck & held)}, held by the other hand")
    return faults
