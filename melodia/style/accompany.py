"""Accompaniment for a bare melody: chords estimated bar by bar, played by named patterns.

Chords are the diatonic triads of the melody's key (the dominant made major in minor keys),
scored in each bar by how long the melody dwells on their tones. Patterns are written in
beats, so they follow the meter: a waltz bar gets three beats, a 6/8 bar two dotted quarters.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, replace
from itertools import groupby

import numpy as np

from melodia.analysis import MAJOR_SCALE, MINOR_SCALE
from melodia.score import MAJOR, TICKS_PER_QUARTER, Note, Score, TimeSignature

EIGHTH = TICKS_PER_QUARTER // 2
KICK, SIDE_STICK, SNARE, CLOSED_HAT, LOW_TOM, PEDAL_HAT, HIGH_TOM, RIDE = 36, 37, 38, 42, 45, 44, 50, 51


@dataclass(frozen=True)
class Chord:
    """A triad: root pitch class and the intervals of its third and fifth."""

    root: int
    third: int = 4
    fifth: int = 7

    @property
    def pitch_classes(self) -> tuple[int, int, int]:
        return self.root, (self.root + self.third) % 12, (self.root + self.fifth) % 12


@dataclass(frozen=True)
class Bar:
    """A stretch with one chord: a bar, or half of a 4-beat bar whose halves want different
    chords. `number` is the written bar it lies in."""

    start: int
    length: int
    beat: int
    beats: int
    chord: Chord
    number: int = 0


def _clipped(notes: list[Note], bars: list[Bar]) -> list[Note]:
    """Pattern notes cut to end with their bar; notes a short bar has no room for are dropped."""
    ends = {bar.start: bar.start + bar.length for bar in bars}
    starts = sorted(ends)
    out = []
    for note in notes:
        bar_start = starts[max(bisect_right(starts, note.onset_tick) - 1, 0)]
        room = ends[bar_start] - note.onset_tick
        if room > 0:
            out.append(Note(note.pitch, note.velocity, note.onset_tick, min(note.duration_tick, room)))
    return out


def scale_of(tonic: int, mode: str) -> list[int]:
    return [(tonic + step) % 12 for step in (MAJOR_SCALE if mode == MAJOR else MINOR_SCALE)]


def diatonic_chords(tonic: int, mode: str) -> list[Chord]:
    """The major and minor triads on the degrees of the scale, tonic first."""
    scale = scale_of(tonic, mode)
    chords = []
    for degree in range(7):
        third = (scale[(degree + 2) % 7] - scale[degree]) % 12
        fifth = (scale[(degree + 4) % 7] - scale[degree]) % 12
        if mode != MAJOR and degree == 4:
            third = 4  # harmonic minor: the dominant is major
        if fifth == 7:
            chords.append(Chord(scale[degree], third, fifth))
    return chords


def beat_of(ts: TimeSignature) -> tuple[int, int]:
    """(beat length in ticks, beats in a bar): compound meters (6/8, 9/8, 12/8) beat in dotted quarters."""
    if ts.denominator >= 8 and ts.numerator % 3 == 0 and ts.numerator > 3:
        return 3 * TICKS_PER_QUARTER * 4 // ts.denominator, ts.numerator // 3
    return TICKS_PER_QUARTER * 4 // ts.denominator, ts.numerator


def chord_bars(score: Score, melody: list[Note], key: tuple[int, str]) -> list[Bar]:
    """The bars of `score` up to the melody's end, each with its estimated chord; a 4-beat bar
    whose halves fit two different chords clearly better than one comes as two half bars."""
    end = max((n.end_tick for n in melody), default=0)
    written = score.bars(max(end - 1, 0))
    candidates = diatonic_chords(*key)
    bars: list[Bar] = []
    previous = candidates[0]
    for index, (start, length, ts) in enumerate(written):
        weights = _pitch_class_weights(melody, start, start + length)
        last = index == len(written) - 1
        beat, beats = beat_of(ts)
        chord, score_of_bar = _best_chord(candidates, weights, previous, last) if weights.any() else (previous, 0.0)
        halves = _half_bar_chords(melody, start, beat, beats, length, candidates, previous, last)
        if halves is not None and halves[2] > score_of_bar + HALF_BAR_GAIN:
            first, second, _ = halves
            half = 2 * beat
            bars += [Bar(start, half, beat, 2, first, index), Bar(start + half, half, beat, 2, second, index)]
            previous = second
        else:
            bars.append(Bar(start, length, beat, beats, chord, index))
            previous = chord
    return bars


HALF_BAR_GAIN = 0.25  # how much better two chords must fit a 4-beat bar than one


def _half_bar_chords(melody: list[Note], start: int, beat: int, beats: int, length: int, candidates: list[Chord],
                     previous: Chord, last: bool) -> tuple[Chord, Chord, float] | None:
    """The best chord of each half of a full 4-beat bar, with their mean fit; None otherwise."""
    if beats != 4 or length != 4 * beat:
        return None
    first_weights = _pitch_class_weights(melody, start, start + 2 * beat)
    second_weights = _pitch_class_weights(melody, start + 2 * beat, start + length)
    if not first_weights.any() or not second_weights.any():
        return None
    first, first_fit = _best_chord(candidates, first_weights, previous, False)
    second, second_fit = _best_chord(candidates, second_weights, first, last)
    return (first, second, (first_fit + second_fit) / 2) if first != second else None


def _pitch_class_weights(melody: list[Note], start: int, stop: int) -> np.ndarray:
    weights = np.zeros(12)
    for note in melody:
        overlap = min(note.end_tick, stop) - max(note.onset_tick, start)
        if overlap > 0:
            weights[note.pitch % 12] += overlap * (1.5 if note.onset_tick == start else 1.0)
    return weights / max(stop - start, 1)


def _best_chord(candidates: list[Chord], weights: np.ndarray, previous: Chord, last: bool) -> tuple[Chord, float]:
    """The candidate whose tones the melody dwells on most (the tonic, staying put, ending on
    the tonic and a sounding root get a little extra), and how well it fits."""
    def fit(chord: Chord) -> float:
        inside = sum(weights[pc] for pc in chord.pitch_classes)
        bonus = 0.15 * (chord == candidates[0]) + 0.1 * (chord == previous) + 0.5 * (last and chord == candidates[0]) \
            + 0.1 * weights[chord.root]
        return float(inside - 0.6 * (weights.sum() - inside) + bonus)

    best = max(candidates, key=fit)
    return best, fit(best)


def voicing(chord: Chord, previous: tuple[int, ...] | None) -> tuple[int, int, int]:
    """Close position triad between E3 and G4, the inversion nearest the previous voicing."""
    options: list[tuple[int, int, int]] = []
    for inversion in range(3):
        pcs = chord.pitch_classes[inversion:] + chord.pitch_classes[:inversion]
        bottom = 52 + (pcs[0] - 52) % 12
        pitches = [bottom]
        for pc in pcs[1:]:
            pitches.append(pitches[-1] + (pc - pitches[-1]) % 12)
        options.append((pitches[0], pitches[1], pitches[2]))
    reference = previous or (55, 60, 64)
    return min(options, key=lambda v: sum(abs(a - b) for a, b in zip(v, reference, strict=True)))


def harmony_part(bars: list[Bar], pattern: str, velocity: int = 64) -> list[Note]:
    """Chord notes for every bar in `pattern` (sustained, block, offbeat, alberti, arpeggio)."""
    notes: list[Note] = []
    previous: tuple[int, ...] | None = None
    for bar in bars:
        chord = voicing(bar.chord, previous)
        previous = chord
        if pattern == "sustained":
            notes += [Note(p, velocity, bar.start, bar.length) for p in chord]
        elif pattern in ("block", "offbeat"):
            for beat in range(bar.beats):
                offbeat = beat > 0 if bar.beats % 3 == 0 else beat % 2 == 1
                if pattern == "block" or offbeat:
                    notes += [Note(p, velocity, bar.start + beat * bar.beat, bar.beat) for p in chord]
        else:
            order = (chord[0], chord[2], chord[1], chord[2]) if pattern == "alberti" else \
                (chord[0], chord[1], chord[2], chord[1] + 12 if chord[1] + 12 - chord[2] < 7 else chord[1])
            for step, onset in enumerate(range(bar.start, bar.start + bar.length, EIGHTH)):
                length = min(EIGHTH, bar.start + bar.length - onset)
                notes.append(Note(order[step % 4], velocity - 8 * (step % 2), onset, length))
    return _clipped(notes, bars)


def bass_part(bars: list[Bar], pattern: str, velocity: int = 72) -> list[Note]:
    """A bass line for every bar in `pattern` (root, root_fifth, oom, walking)."""
    notes: list[Note] = []
    for index, bar in enumerate(bars):
        root = 36 + (bar.chord.root - 36) % 12
        fifth = root + bar.chord.fifth
        if pattern == "root":
            notes.append(Note(root, velocity, bar.start, bar.length))
        elif pattern == "oom":
            notes += [Note(root if beat % 2 == 0 else fifth - 12, velocity, bar.start + beat * bar.beat, bar.beat)
                      for beat in range(bar.beats) if beat == 0 or (bar.beats % 3 != 0 and beat % 2 == 0)]
        elif pattern == "root_fifth":
            half = bar.beats // 2 * bar.beat if bar.beats % 3 != 0 else bar.length
            notes.append(Note(root, velocity, bar.start, half))
            if half < bar.length:
                notes.append(Note(fifth - 12 if fifth > 47 else fifth, velocity - 6, bar.start + half,
                                  bar.length - half))
        else:
            notes += _walking_bar(bar, root, bars[index + 1] if index + 1 < len(bars) else None, velocity)
    return _clipped(notes, bars)


def _walking_bar(bar: Bar, root: int, following: Bar | None, velocity: int) -> list[Note]:
    """Chord tones on the beats, then a half step into the next bar's root."""
    tones = (root, root + bar.chord.third, root + bar.chord.fifth, root + 12)
    pitches = [tones[b % 4] for b in range(bar.beats)]
    if bar.beats > 1:
        target = 36 + ((following or bar).chord.root - 36) % 12
        pitches[-1] = target - 1 if abs(target - 1 - pitches[-2]) <= abs(target + 1 - pitches[-2]) else target + 1
    return [Note(p, velocity - 6 * (b % 2), bar.start + b * bar.beat, bar.beat) for b, p in enumerate(pitches)]


def counter_melody(melody: list[Note], key: tuple[int, str], pattern: str) -> list[Note]:
    """The melody a diatonic third (or sixth) lower, softer."""
    scale = scale_of(*key)
    steps = 2 if pattern == "thirds" else 5
    out = []
    for note in melody:
        pc, octave = note.pitch % 12, note.pitch // 12
        if pc in scale:
            degree = scale.index(pc)
            lower_pc = scale[(degree - steps) % 7]
            pitch = octave * 12 + lower_pc
            while pitch >= note.pitch:
                pitch -= 12
        else:
            pitch = note.pitch - (3 if pattern == "thirds" else 8)
        out.append(Note(pitch, max(note.velocity - 12, 1), note.onset_tick, note.duration_tick))
    return out


def drum_part(bars: list[Bar], pattern: str, velocity: int = 90) -> list[Note]:
    """A drum kit groove (General MIDI drum notes) for every written bar in `pattern`."""
    notes: list[Note] = []
    for number, halves in groupby(bars, key=lambda b: b.number):
        parts = list(halves)
        bar = replace(parts[0], length=sum(p.length for p in parts), beats=sum(p.beats for p in parts))
        for offset, pitch, accent in _drum_hits(bar, pattern, number):
            if 0 <= offset < bar.length:
                notes.append(Note(pitch, max(min(round(velocity * accent), 127), 1), bar.start + offset,
                                  min(EIGHTH, bar.length - offset)))
    return notes


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
