"""What a folk player hears in a whole tune: strains that come back, metre that holds, a shape that ends home.

Each measure is a small pure function of a `Score`'s top line (`melody`) and its bars (`Score.bar_starts`).
Rates are shares of the line's notes (or bars), so tunes of any length compare. Measures of form read the
strains as played from `Score.form` (a tune read with repeats, or written by `melodia.lm.tunes`).
"""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np

from melodia.metrics import melody, notes_by_bar
from melodia.score import Note, Playing, Score

SIXTEENTH_TICKS = 120
BarNotes = tuple[tuple[int, int, int], ...]  # (position in the bar, pitch, duration), by onset


def bar_notes(score: Score) -> list[BarNotes]:
    """The top line bar by bar: each note as (position in its bar, pitch, duration), in ticks."""
    return notes_by_bar(score, melody(score))


def playing_windows(score: Score, playing: Playing) -> list[BarNotes]:
    """The top line of a playing before its ending (or before its last two bars, without endings), in windows a
    bar long counted from the playing's own start (so a strain that starts with a pickup lines up with itself):
    each note as (position in its window, pitch, duration)."""
    bar = score.time_signature_at(playing.start_tick).bar_ticks
    body_end = playing.ending_tick if playing.ending else playing.end_tick - 2 * bar
    windows: list[list[tuple[int, int, int]]] = [[] for _ in range(max(0, -(-(body_end - playing.start_tick) // bar)))]
    for note in melody(score):
        if playing.start_tick <= note.onset_tick < body_end:
            offset = note.onset_tick - playing.start_tick
            windows[offset // bar].append((offset % bar, note.pitch, note.duration_tick))
    return [tuple(window) for window in windows]


def strain_return_share(score: Score) -> float:
    """Share of bars, before the ending (or the last two bars) of each strain's second and later playings, equal
    to the same bar of the strain's first playing (NaN for a score without a form or without a repeat)."""
    if score.form is None:
        return float("nan")
    first: dict[int, list[BarNotes]] = {}
    same = total = 0
    for playing in score.form.playings:
        here = playing_windows(score, playing)
        if playing.strain not in first:
            first[playing.strain] = here
            continue
        there = first[playing.strain]
        total += min(len(here), len(there))
        same += sum(a == b for a, b in zip(here, there))
    return same / total if total else float("nan")


def repeated_bar_rate(score: Score) -> float:
    """Share of bars with notes (after the first) equal to the bar just before, in positions, pitches and lengths."""
    bars = bar_notes(score)
    pairs = [(before, bar) for before, bar in itertools.pairwise(bars) if bar]
    return sum(before == bar for before, bar in pairs) / len(pairs) if pairs else 0.0


def tie_rate(score: Score) -> float:
    """Share of the top line's notes that sound on across a bar line (a note tied over the bar)."""
    line = melody(score)
    if not line:
        return 0.0
    starts = np.asarray(score.bar_starts(max(n.end_tick for n in line)))
    crossing = [bool(np.any((starts > n.onset_tick) & (starts < n.end_tick))) for n in line]
    return float(np.mean(crossing))


def _beat_position(score: Score, note: Note) -> tuple[int, int]:
    """The note's onset within its bar, in ticks, and the beat of the meter there."""
    starts = score.bar_starts(note.onset_tick)
    return note.onset_tick - starts[-1], score.time_signature_at(note.onset_tick).beat_ticks


def held_offbeat_rate(score: Score) -> float:
    """Share of notes that start off the beat and sound on past the next beat (a syncopation held across it)."""
    line = melody(score)
    held = 0
    for note in line:
        position, beat = _beat_position(score, note)
        off = position % beat
        held += bool(off) and note.duration_tick > beat - off
    return held / len(line) if line else 0.0


def off_grid_rate(score: Score) -> float:
    """Share of notes whose onset, or end, falls off the sixteenth-note grid of its bar (triplets, odd values)."""
    line = melody(score)
    off = 0
    for note in line:
        position, _ = _beat_position(score, note)
        off += bool(position % SIXTEENTH_TICKS or note.duration_tick % SIXTEENTH_TICKS)
    return off / len(line) if line else 0.0


def same_pitch_runs(score: Score, length: int = 5) -> float:
    """Runs of `length` or more notes in a row on one pitch, per note of the line."""
    pitches = [n.pitch for n in melody(score)]
    runs = sum(len(list(group)) >= length for _, group in itertools.groupby(pitches))
    return runs / len(pitches) if pitches else 0.0


def unrecovered_leap_rate(score: Score, leap: int = 8) -> float:
    """Share of notes that leap `leap` semitones or more (a minor sixth by default) to a note that is left the same
    way or not at all (a leap is recovered when the line turns back after it)."""
    pitches = [n.pitch for n in melody(score)]
    hanging = 0
    for before, landing, after in itertools.zip_longest(pitches, pitches[1:], pitches[2:]):
        if landing is None or abs(landing - before) < leap:
            continue
        step = 0 if after is None else after - landing
        hanging += step == 0 or (step > 0) == (landing > before)
    return hanging / len(pitches) if pitches else 0.0


def leap_rate(score: Score, leap: int = 7) -> float:
    """Share of the line's intervals that leap `leap` semitones or more (a fifth by default)."""
    pitches = [n.pitch for n in melody(score)]
    return sum(abs(b - a) >= leap for a, b in itertools.pairwise(pitches)) / max(len(pitches) - 1, 1)


def stop_cadence_share(score: Score) -> float:
    """Share of the playings of a tune with a form that close on a stop cadence: their last three notes alike in
    length, each longer than the tune's commonest note (a hornpipe's `G2 B2 G2` among running eighths); NaN for
    a score without a form."""
    if score.form is None or not score.form.playings:
        return float("nan")
    line = melody(score)
    if not line:
        return float("nan")
    running = Counter(n.duration_tick for n in line).most_common(1)[0][0]
    stops = 0
    for playing in score.form.playings:
        last = [n.duration_tick for n in line if playing.start_tick <= n.onset_tick < playing.end_tick][-3:]
        stops += len(last) == 3 and len(set(last)) == 1 and last[0] > running
    return stops / len(score.form.playings)


def raised_seventh_share(score: Score, tonic: int) -> float:
    """In a minor tune on `tonic` (a pitch class), the share of its seventh-degree notes that are raised, the
    leading note (NaN when the line has no seventh degree)."""
    degrees = [(n.pitch - tonic) % 12 for n in melody(score)]
    sevenths = degrees.count(10) + degrees.count(11)
    return degrees.count(11) / sevenths if sevenths else float("nan")


def leading_note_share(score: Score, tonic: int) -> float:
    """Share of the line's notes that are the leading note of a key on `tonic` (a pitch class): a minor tune that
    lingers on it (`G# G# G# G#` in A minor) gives it many times the 1-2 % of real minor tunes."""
    pitches = [n.pitch for n in melody(score)]
    return sum((p - tonic) % 12 == 11 for p in pitches) / len(pitches) if pitches else 0.0


def common_duration_share(score: Score) -> float:
    """Share of the line's notes that have its most common duration (reels: most notes are eighths)."""
    counts = Counter(n.duration_tick for n in melody(score))
    return max(counts.values()) / sum(counts.values()) if counts else 0.0


def strain_pitch_rise(score: Score) -> float:
    """Mean pitch of the second strain's notes minus the first strain's, in semitones (NaN without two strains)."""
    if score.form is None or len(score.form.strains) < 2:
        return float("nan")
    line = melody(score)

    def mean_pitch(strain: int) -> float:
        pitches = [n.pitch for p in score.form.playings if p.strain == strain  # type: ignore[union-attr]
                   for n in line if p.start_tick <= n.onset_tick < p.end_tick]
        return float(np.mean(pitches)) if pitches else float("nan")

    return mean_pitch(1) - mean_pitch(0)


def strain_compass(score: Score, strain: int = 1) -> float:
    """Semitones from the lowest to the highest note of a strain's first playing (the second strain by default;
    NaN without it): real reels' and jigs' B strains span about as much as their A strains, 15-17 semitones."""
    if score.form is None or len(score.form.strains) <= strain:
        return float("nan")
    playing = next(p for p in score.form.playings if p.strain == strain)
    pitches = [n.pitch for n in melody(score) if playing.start_tick <= n.onset_tick < playing.end_tick]
    return float(max(pitches) - min(pitches)) if pitches else float("nan")


def final_height(score: Score) -> float:
    """Where the last note sits in the line's range: 0 at its lowest pitch, 1 at its highest."""
    pitches = [n.pitch for n in melody(score)]
    if not pitches or max(pitches) == min(pitches):
        return 0.0
    return (pitches[-1] - min(pitches)) / (max(pitches) - min(pitches))


def closing_note(score: Score, start_tick: int, end_tick: int) -> Note | None:
    """The note a passage closes on: its last note struck on a beat (a pickup into what follows, off the beat, is
    not its close), or its last note when none is on a beat."""
    inside = [n for n in melody(score) if start_tick <= n.onset_tick < end_tick]
    on_beat = [n for n in inside if _beat_position(score, n)[0] % _beat_position(score, n)[1] == 0]
    chosen = on_beat or inside
    return chosen[-1] if chosen else None


def playing_ends_on_tonic(score: Score, playing: Playing, tonic: int) -> bool:
    """Whether `playing` closes on the tonic (`tonic`, a pitch class; see `closing_note`)."""
    note = closing_note(score, playing.start_tick, playing.end_tick)
    return note is not None and note.pitch % 12 == tonic


def strain_tonic_endings(score: Score, tonic: int) -> float:
    """Share of closing playings that close on the tonic: the last playing of each strain played more than once
    (its second ending) and the tune's last; for a score without a form, whether the tune closes on it."""
    if score.form is None:
        note = closing_note(score, 0, score.end_tick)
        return float(note is not None and note.pitch % 12 == tonic)
    playings = score.form.playings
    times = Counter(playing.strain for playing in playings)
    closing = {playing.strain: playing for playing in playings if times[playing.strain] > 1}
    closing[-1] = playings[-1]
    return float(np.mean([playing_ends_on_tonic(score, p, tonic) for p in closing.values()]))
