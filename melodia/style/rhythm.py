"""Rhythm templates applied to a `Score`: meter maps and time scaling (`retime`), then
groove accents and lengths, swing and humanizing (`perform`).

Every re-timing is a rising piecewise-linear map of ticks, applied to note onsets and ends
alike, so the order of notes is kept and a line that did not overlap itself still does not.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from melodia.errors import MelodiaWarning
from melodia.score import TICKS_PER_QUARTER, ChordSymbol, KeySignature, Score, TempoChange, TimeSignature, Track
from melodia.style.templates import MeterMap, Rhythm

MIN_DURATION = TICKS_PER_QUARTER // 16  # a 64th note: the shortest note a transform leaves


def retime(score: Score, rhythm: Rhythm) -> Score:
    """Meter maps, then time scaling: both change where bars fall."""
    out = _map_meters(score, rhythm) if rhythm.meters else copy_score(score)
    if rhythm.time_scale != 1.0:
        scale = rhythm.time_scale
        out = _map_times(out, lambda ticks: np.asarray(ticks, dtype=float) * scale)
        scaled = {round(ts.tick * scale): ts for ts in out.time_signatures}  # two that fall together: the later
        out.time_signatures = [replace(ts, tick=tick) for tick, ts in sorted(scaled.items())]
    return out


def perform(score: Score, rhythm: Rhythm, melody_track: int | None = None) -> Score:
    """Groove accents and lengths (on the straight grid), swing, then humanizing. The track
    `melody_track` keeps its written lengths and onsets (the melody is sacred): only swing, a
    re-timing asked for by name, moves it, and accents and humanizing change its loudness."""
    out = copy_score(score)
    if rhythm.groove.accents or rhythm.groove.lengths or rhythm.groove.other_accent != 1.0 \
            or rhythm.groove.other_length != 1.0:
        _apply_groove(out, rhythm, melody_track)
    if rhythm.swing_ratio != 1.0:
        out = _map_times(out, _swing_map(out, rhythm.swing_ratio, round(rhythm.swing_unit * TICKS_PER_QUARTER)))
    if rhythm.humanize_timing or rhythm.humanize_velocity:
        _humanize(out, rhythm, melody_track)
    return tidy(out, melody_track)


def tidy(score: Score, melody_track: int | None = None) -> Score:
    """Sorts notes, gives each at least `MIN_DURATION` where there is room before the track strikes again
    (not the melody's: it keeps its lengths), and ends a note where the next note of the same pitch in its track
    begins (MIDI cannot hold both)."""
    for index, track in enumerate(score.tracks):
        track.notes.sort(key=lambda n: (n.onset_tick, n.pitch))
        next_onset: dict[int, int] = {}
        shortest = 1 if index == melody_track else MIN_DURATION
        onset, following = None, None  # the onset of the notes being read, and of the next notes struck
        for note in reversed(track.notes):
            if note.onset_tick != onset:
                onset, following = note.onset_tick, onset
            room = shortest if following is None else following - note.onset_tick  # up to the next notes struck
            limit = next_onset.get(note.pitch)
            duration = max(note.duration_tick, min(shortest, room))
            if limit is not None:
                duration = min(duration, limit - note.onset_tick)
            note.duration_tick = max(duration, 1)
            next_onset[note.pitch] = note.onset_tick
        track.notes = [n for n in track.notes if n.duration_tick > 0]
    return score


def copy_score(score: Score) -> Score:
    """A deep copy: new tracks and notes, so transforms never change their input."""
    tracks = [Track(t.name, t.program, t.is_drum, [replace(n) for n in t.notes]) for t in score.tracks]
    return Score(tracks, list(score.tempos), list(score.time_signatures), list(score.key_signatures), score.title,
                 list(score.chord_symbols))


def _map_times(score: Score, mapping: Callable[[np.ndarray], np.ndarray]) -> Score:
    """Every note, tempo change and key signature moved by `mapping` (ticks to ticks)."""
    out = copy_score(score)
    for track in out.tracks:
        if not track.notes:
            continue
        onsets = np.array([n.onset_tick for n in track.notes], dtype=float)
        ends = np.array([n.end_tick for n in track.notes], dtype=float)
        new_onsets, new_ends = np.rint(mapping(onsets)).astype(int), np.rint(mapping(ends)).astype(int)
        for note, onset, end in zip(track.notes, new_onsets, new_ends, strict=True):
            note.onset_tick, note.duration_tick = int(onset), max(int(end - onset), 1)
    out.tempos = _last_per_tick([TempoChange(int(np.rint(mapping(np.array([t.tick], dtype=float)))[0]), t.bpm)
                                 for t in out.tempos])
    out.key_signatures = _last_per_tick([KeySignature(int(np.rint(mapping(np.array([k.tick], dtype=float)))[0]),
                                                      k.tonic, k.mode) for k in out.key_signatures])
    out.chord_symbols = _last_per_tick([ChordSymbol(int(np.rint(mapping(np.array([c.tick], dtype=float)))[0]),
                                                    c.symbol) for c in out.chord_symbols])
    return out


def _last_per_tick(events: list[Any]) -> list[Any]:
    """Events in tick order, one per tick: of those a time map put on one tick, the last (the one in force after)."""
    return list({event.tick: event for event in events}.values())


def _map_meters(score: Score, rhythm: Rhythm) -> Score:
    """Each bar in a meter some map converts becomes the map's bars of its target meter; a
    pickup (a first bar shorter than the next, in a meter of its own) is mapped as the end of
    a full bar of the next bar's meter, so it stays an upbeat of the same proportion."""
    maps = {m.source: m for m in rhythm.meters}
    targets = {m.target for m in rhythm.meters}
    source_points: list[float] = [0.0]
    target_points: list[float] = [0.0]
    meters: list[tuple[int, tuple[int, int]]] = []
    unmatched: set[str] = set()
    written = score.bars(max(score.end_tick - 1, 0))
    for index, (start, length, ts) in enumerate(written):
        meter = (ts.numerator, ts.denominator)
        base = target_points[-1]
        pickup = _pickup_map(written, maps) if index == 0 else None
        if pickup is not None:
            points, target_meter = pickup
            meters.append((round(base), target_meter))
            for source, target in points[1:]:
                source_points.append(start + source * TICKS_PER_QUARTER)
                target_points.append(base + target * TICKS_PER_QUARTER)
            continue
        converted = meter in maps and length == ts.bar_ticks
        meters.append((round(base), maps[meter].target if converted else meter))
        if converted:
            for source, target in maps[meter].points[1:]:
                source_points.append(start + source * TICKS_PER_QUARTER)
                target_points.append(base + target * TICKS_PER_QUARTER)
        else:
            if meter not in targets:
                unmatched.add(str(ts))
            source_points.append(start + length)
            target_points.append(base + length)
    if unmatched:
        warnings.warn(f"rhythm {rhythm.name!r} converts {', '.join(f'{a}/{b}' for a, b in maps)}; bars in "
                      f"{', '.join(sorted(unmatched))} are left as they are", MelodiaWarning, stacklevel=3)
    xs, ys = np.array(source_points), np.array(target_points)

    def mapping(ticks: np.ndarray) -> np.ndarray:
        inside = np.interp(ticks, xs, ys)
        return np.where(ticks > xs[-1], ys[-1] + (ticks - xs[-1]), inside)

    out = _map_times(score, mapping)
    out.time_signatures = []
    for tick, (numerator, denominator) in meters:
        if not out.time_signatures or (out.time_signatures[-1].numerator,
                                       out.time_signatures[-1].denominator) != (numerator, denominator):
            out.time_signatures.append(TimeSignature(tick, numerator, denominator))
    return out


def _pickup_map(written: list[tuple[int, int, TimeSignature]], maps: dict[tuple[int, int], MeterMap]
                ) -> tuple[list[tuple[float, float]], tuple[int, int]] | None:
    """(points from the pickup's start, its new meter) when the first bar is a pickup before a
    bar the rhythm converts; None otherwise."""
    if len(written) < 2:
        return None
    _, length, ts = written[0]
    following = written[1][2]
    meter_map = maps.get((following.numerator, following.denominator))
    if meter_map is None or length >= following.bar_ticks or (ts.numerator, ts.denominator) in maps:
        return None
    source_bar = meter_map.points[-1][0]
    skipped = source_bar - length / TICKS_PER_QUARTER
    xs, ys = zip(*meter_map.points, strict=True)
    offset = float(np.interp(skipped, xs, ys))
    points = [(0.0, 0.0)] + [(x - skipped, y - offset) for x, y in meter_map.points if x > skipped]
    quarters = points[-1][1]
    numerator = quarters * meter_map.target[1] / 4
    if abs(numerator - round(numerator)) > 1e-6 or round(numerator) < 1:
        return None
    return points, (round(numerator), meter_map.target[1])


def _bar_positions(score: Score, ticks: np.ndarray, cycle_ticks: int) -> np.ndarray:
    """Position of each tick in its groove cycle: ticks from the bar's start, plus whole bars
    of the cycle already passed (a cycle of 0 is one bar). A pickup counts as the end of a bar."""
    starts = score.bar_starts(max(int(ticks.max(initial=0)), 0))
    index = np.searchsorted(np.array(starts), ticks, side="right") - 1
    index = np.clip(index, 0, len(starts) - 1)
    offset = ticks - np.array(starts)[index]
    if len(starts) > 1:
        full = score.time_signature_at(starts[1]).bar_ticks
        offset = np.where(index == 0, offset + max(full - starts[1], 0), offset)
    if cycle_ticks <= 0:
        return offset
    bar_ticks = np.array([score.time_signature_at(starts[i]).bar_ticks for i in index])
    bars_per_cycle = np.maximum(cycle_ticks // np.maximum(bar_ticks, 1), 1)
    return (offset + (index % bars_per_cycle) * bar_ticks) % cycle_ticks


def _factor(positions: np.ndarray, table: tuple[tuple[float, float], ...], other: float) -> np.ndarray:
    tolerance = TICKS_PER_QUARTER // 24
    factors = np.full(len(positions), other)
    for position, factor in table:
        factors[np.abs(positions - position * TICKS_PER_QUARTER) <= tolerance] = factor
    return factors


def _apply_groove(score: Score, rhythm: Rhythm, melody_track: int | None = None) -> None:
    groove = rhythm.groove
    cycle = round(groove.cycle * TICKS_PER_QUARTER)
    for index, track in enumerate(score.tracks):
        if not track.notes:
            continue
        positions = _bar_positions(score, np.array([n.onset_tick for n in track.notes]), cycle)
        accents = _factor(positions, groove.accents, groove.other_accent)
        lengths = _factor(positions, groove.lengths, groove.other_length)
        for note, accent, length in zip(track.notes, accents, lengths, strict=True):
            note.velocity = int(min(max(round(note.velocity * accent), 1), 127))
            if not track.is_drum and index != melody_track:
                note.duration_tick = max(round(note.duration_tick * length), 1)


def _swing_map(score: Score, ratio: float, unit: int) -> Callable[[np.ndarray], np.ndarray]:
    """Within each pair of `unit`-long notes, counted from each beat's start, the first takes
    ratio / (1 + ratio) of the pair's time and the second the rest, so beats never move. In a
    compound meter (6/8, 9/8, 12/8) the beat's subdivision is the eighth, in threes: the swing
    acts on the pairs of half-units inside each eighth, and eighths stay where they are. A
    pair that does not fit inside its beat is left straight."""
    bars = score.bars(max(score.end_tick, 1))
    starts = np.array([b[0] for b in bars] + [np.iinfo(np.int64).max // 2])
    lengths = np.array([b[1] for b in bars] + [np.iinfo(np.int64).max // 4])
    beats = np.array([_swing_beat(ts, unit) for _, _, ts in bars] + [(TICKS_PER_QUARTER, unit)])
    beat_ticks, units = beats[:, 0], beats[:, 1]

    def mapping(ticks: np.ndarray) -> np.ndarray:
        bar = np.clip(np.searchsorted(starts, ticks, side="right") - 1, 0, len(starts) - 2)
        offset = ticks - starts[bar]
        beat, pair = beat_ticks[bar], 2 * units[bar]
        beat_start = (offset // beat) * beat
        within_beat = offset - beat_start
        pair_start = (within_beat // pair) * pair
        within = within_beat - pair_start
        first = pair * ratio / (1 + ratio)
        half = pair / 2
        swung = np.where(within <= half, within * first / half, first + (within - half) * (pair - first) / half)
        whole_pair = (pair_start + pair <= beat) & (beat_start + pair_start + pair <= lengths[bar])
        return starts[bar] + beat_start + pair_start + np.where(whole_pair, swung, within)

    return mapping


def _swing_beat(ts: TimeSignature, unit: int) -> tuple[int, int]:
    """(beat in ticks, swing unit in ticks) for bars of `ts`."""
    if ts.meter.compound:
        eighth = TICKS_PER_QUARTER * 4 // ts.denominator
        return eighth, max(unit // 2, 1)
    return max(TICKS_PER_QUARTER * 4 // ts.denominator, 2 * unit), unit


def _humanize(score: Score, rhythm: Rhythm, melody_track: int | None = None) -> None:
    """Onsets off the grid and velocities varied, seeded. Each onset of a track moves as one (a
    chord stays a chord). Around a melody that keeps its time (`melody_track`), the other
    tracks only come late (the melody leads, as a pianist's does) and end no later than
    written, so humanizing adds no overlap that was not there; where the melody closes a phrase
    (`melodia.analysis.phrase_ends`) the cadence's chord is struck with it, on time."""
    rng = np.random.default_rng(rhythm.humanize_seed)
    sigma = rhythm.humanize_timing * TICKS_PER_QUARTER
    closes = _phrase_close_ticks(score, melody_track)
    for index, track in enumerate(score.tracks):
        count = len(track.notes)
        shifts = np.clip(rng.normal(0.0, sigma, count), -3 * sigma, 3 * sigma) if sigma else np.zeros(count)
        velocities = rng.normal(0.0, rhythm.humanize_velocity, count) if rhythm.humanize_velocity else np.zeros(count)
        if melody_track is not None:
            shifts = np.zeros(count) if index == melody_track else np.abs(shifts)
        moved: dict[int, int] = {tick: 0 for tick in closes}
        for note, shift in zip(track.notes, shifts, strict=True):
            moved.setdefault(note.onset_tick, round(shift))
        for note, change in zip(track.notes, velocities, strict=True):
            onset = max(note.onset_tick + moved[note.onset_tick], 0)
            end = note.end_tick + moved.get(note.end_tick, moved[note.onset_tick])
            if melody_track is not None:
                end = min(end, note.end_tick)
            note.onset_tick, note.duration_tick = onset, max(end - onset, 1)
            note.velocity = int(min(max(round(note.velocity + change), 1), 127))


def _phrase_close_ticks(score: Score, melody_track: int | None) -> set[int]:
    """The onsets of the melody's phrase ends (none without a melody that keeps its time)."""
    from melodia.analysis import phrase_ends

    if melody_track is None or not score.tracks[melody_track].notes:
        return set()
    line = sorted(score.tracks[melody_track].notes, key=lambda n: n.onset_tick)
    return {n.onset_tick for n in phrase_ends(line, score)}
