"""Objective metrics of a `Score`: small pure functions, each defined in one line.

Times are taken on a sixteenth-note grid (120 ticks) where a metric needs a grid; drum
tracks are left out of every pitch metric.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from melodia.analysis import MAJOR_SCALE, MINOR_SCALE, key_of
from melodia.score import MINOR, TICKS_PER_QUARTER, Note, Score
from melodia.theory.chord import parse_symbol
from melodia.theory.key import HEARD, Key, estimate_key
from melodia.theory.meter import strong_beats

SIXTEENTH = TICKS_PER_QUARTER // 4
INTERVAL_BINS = 25  # -12..+12 semitones; larger leaps fold into the end bins
DURATION_BINS = (1, 2, 3, 4, 6, 8, 12, 16)  # in sixteenths: 16th, 8th, dotted 8th, quarter, ..., whole


def pitched_notes(score: Score) -> list[Note]:
    """Every note of every non-drum track, by onset then pitch."""
    return sorted((n for t in score.tracks if not t.is_drum for n in t.notes), key=lambda n: (n.onset_tick, n.pitch))


def melody(score: Score) -> list[Note]:
    """The top line: at each onset the highest pitched note."""
    top: dict[int, Note] = {}
    for note in pitched_notes(score):
        top[note.onset_tick] = note
    return [top[onset] for onset in sorted(top)]


def pitch_range(score: Score) -> int:
    """Highest minus lowest pitch, in semitones."""
    pitches = [n.pitch for n in pitched_notes(score)]
    return max(pitches) - min(pitches) if pitches else 0


def pitches_used(score: Score) -> int:
    """How many distinct MIDI pitches the piece uses."""
    return len({n.pitch for n in pitched_notes(score)})


def pitch_classes_used(score: Score) -> int:
    """How many of the 12 pitch classes the piece uses."""
    return len({n.pitch % 12 for n in pitched_notes(score)})


def pitch_class_histogram(score: Score) -> np.ndarray:
    """Share of notes on each pitch class, C first."""
    counts = np.bincount([n.pitch % 12 for n in pitched_notes(score)], minlength=12).astype(float)
    return counts / counts.sum() if counts.sum() else counts


def pitch_class_entropy(score: Score) -> float:
    """Shannon entropy (bits) of the pitch-class histogram."""
    shares = pitch_class_histogram(score)
    shares = shares[shares > 0]
    return float(-(shares * np.log2(shares)).sum())


def scale_consistency(score: Score) -> float:
    """Largest share of notes inside one major or natural-minor scale, over all 24."""
    histogram = pitch_class_histogram(score)
    return max(float(histogram[[(tonic + step) % 12 for step in scale]].sum())
               for tonic in range(12) for scale in (MAJOR_SCALE, MINOR_SCALE)) if histogram.any() else 0.0


def in_key_rate(score: Score, tonic: int, mode: str = "major") -> float:
    """Share of notes whose pitch class lies in the scale of `tonic` in `mode` (major or minor)."""
    scale = MAJOR_SCALE if mode == "major" else MINOR_SCALE
    histogram = pitch_class_histogram(score)
    return float(histogram[[(tonic + step) % 12 for step in scale]].sum())


def _sounding(score: Score) -> np.ndarray:
    """How many pitched notes sound in each sixteenth."""
    notes = pitched_notes(score)
    if not notes:
        return np.zeros(0, dtype=int)
    length = -(-max(n.end_tick for n in notes) // SIXTEENTH)
    changes = np.zeros(length + 1, dtype=int)
    for note in notes:
        changes[note.onset_tick // SIXTEENTH] += 1
        changes[max(note.onset_tick // SIXTEENTH + 1, -(-note.end_tick // SIXTEENTH))] -= 1
    return np.cumsum(changes)[:length]


def _voices(score: Score) -> tuple[np.ndarray, np.ndarray]:
    """(how many pitched notes sound, for how many ticks) for each stretch between onsets and ends, to the
    tick: two short notes in one sixteenth are one after the other, not together."""
    notes = pitched_notes(score)
    if not notes:
        return np.zeros(0, dtype=int), np.zeros(0, dtype=int)
    ticks = np.asarray([t for n in notes for t in (n.onset_tick, n.end_tick)])
    steps = np.asarray([step for _ in notes for step in (1, -1)])
    order = np.lexsort((steps, ticks))  # at one tick, ends before onsets
    ticks, counts = ticks[order], np.cumsum(steps[order])
    return counts[:-1], np.diff(ticks)


def polyphony(score: Score) -> float:
    """Mean number of notes sounding together, over the time where any sounds."""
    counts, lengths = _voices(score)
    busy = lengths * (counts > 0)
    return float((counts * busy).sum() / busy.sum()) if busy.sum() else 0.0


def polyphony_rate(score: Score) -> float:
    """Share of the sounding time where more than one note sounds."""
    counts, lengths = _voices(score)
    busy = lengths * (counts > 0)
    return float((busy * (counts > 1)).sum() / busy.sum()) if busy.sum() else 0.0


def intervals(score: Score) -> np.ndarray:
    """Semitone steps between consecutive notes of the top line."""
    pitches = np.asarray([n.pitch for n in melody(score)])
    return np.diff(pitches) if len(pitches) > 1 else np.zeros(0, dtype=int)


def interval_histogram(score: Score) -> np.ndarray:
    """Share of top-line intervals of each size from -12 to +12 semitones (wider ones at the ends)."""
    steps = np.clip(intervals(score), -12, 12) + 12
    counts = np.bincount(steps, minlength=INTERVAL_BINS).astype(float)
    return counts / counts.sum() if counts.sum() else counts


def mean_absolute_interval(score: Score) -> float:
    """Mean size of top-line intervals, in semitones."""
    steps = intervals(score)
    return float(np.abs(steps).mean()) if len(steps) else 0.0


def note_density(score: Score) -> float:
    """Mean number of note onsets per bar."""
    notes = pitched_notes(score)
    return len(notes) / max(1, len(score.bar_starts(max(0, score.end_tick - 1)))) if notes else 0.0


def duration_histogram(score: Score) -> np.ndarray:
    """Share of notes nearest to each length of DURATION_BINS (sixteenths)."""
    bins = np.asarray(DURATION_BINS)
    lengths = [n.duration_tick / SIXTEENTH for n in pitched_notes(score)]
    nearest = [int(np.abs(np.log(bins / max(length, 0.25))).argmin()) for length in lengths]
    counts = np.bincount(nearest, minlength=len(bins)).astype(float)
    return counts / counts.sum() if counts.sum() else counts


def empty_beat_rate(score: Score) -> float:
    """Share of quarter-note beats, up to the last note's end, where no note sounds."""
    sounding = _sounding(score)
    if not len(sounding):
        return 0.0
    beats = np.add.reduceat(sounding, np.arange(0, len(sounding), 4))
    return float((beats == 0).mean())


def _bar_patterns(score: Score) -> list[tuple[tuple[int, int, int], ...]]:
    """Each bar's notes as (position in ticks, pitch, duration), bar by bar."""
    notes = pitched_notes(score)
    return notes_by_bar(score, notes) if notes else []


def notes_by_bar(score: Score, notes: Sequence[Note]) -> list[tuple[tuple[int, int, int], ...]]:
    """`notes` (by onset) bar by bar, up to the bar of the last onset: each as (position in its bar, pitch,
    duration), in ticks."""
    starts = score.bar_starts(max((n.onset_tick for n in notes), default=0))
    bars: list[list[tuple[int, int, int]]] = [[] for _ in starts]
    for note in notes:
        index = int(np.searchsorted(starts, note.onset_tick, side="right")) - 1
        bars[index].append((note.onset_tick - starts[index], note.pitch, note.duration_tick))
    return [tuple(bar) for bar in bars]


def groove_consistency(score: Score) -> float:
    """1 minus the mean Hamming distance (share of 16 sixteenth slots) between consecutive bars' onset patterns."""
    patterns = []
    for bar in _bar_patterns(score):
        slots = np.zeros(16, dtype=bool)
        for position, _, _ in bar:
            slots[min(15, position // SIXTEENTH)] = True
        patterns.append(slots)
    if len(patterns) < 2:
        return 1.0
    return 1.0 - float(np.mean([(a != b).mean() for a, b in itertools.pairwise(patterns)]))


def repetition(score: Score) -> float:
    """Share of bars (with notes) that repeat an earlier bar exactly, in positions, pitches and lengths."""
    bars = [bar for bar in _bar_patterns(score) if bar]
    seen: set[tuple[tuple[int, int, int], ...]] = set()
    repeated = 0
    for bar in bars:
        repeated += bar in seen
        seen.add(bar)
    return repeated / len(bars) if bars else 0.0


def phrase_parallelism(score: Score) -> float:
    """Share of bars (with notes, from bar 5 on) equal to the bar 4, 8 or 12 bars before."""
    bars = _bar_patterns(score)
    eligible = [index for index in range(4, len(bars)) if bars[index]]
    same = sum(any(bars[index] == bars[index - lag] for lag in (4, 8, 12) if index >= lag) for index in eligible)
    return same / len(eligible) if eligible else 0.0


def motif_reuse(score: Score, length: int = 4) -> float:
    """Share of the top line's motifs of `length` intervals that occur more than once in the piece."""
    steps = intervals(score)
    motifs = [tuple(steps[i:i + length]) for i in range(len(steps) - length + 1)]
    counts: dict[tuple[int, ...], int] = {}
    for motif in motifs:
        counts[motif] = counts.get(motif, 0) + 1
    return sum(counts[motif] > 1 for motif in motifs) / len(motifs) if motifs else 0.0


def final_note_beats(score: Score) -> float:
    """Length of the top line's last note, in beats of the meter at its onset."""
    line = melody(score)
    if not line:
        return 0.0
    return line[-1].duration_tick / score.time_signature_at(line[-1].onset_tick).beat_ticks


def on_strong_beat(score: Score, tick: int, any_beat: bool = False) -> bool:
    """Whether `tick` falls on the first beat of its bar, or on the middle beat of a bar of 4 or 6 beats (on any
    beat, with `any_beat`)."""
    bar_start = max(start for start in score.bar_starts(tick) if start <= tick)
    meter = score.time_signature_at(tick)
    beat = meter.beat_ticks
    offset = tick - bar_start
    return offset % beat == 0 and (any_beat or offset // beat in strong_beats(max(1, meter.bar_ticks // beat)))


def ends_on_tonic(score: Score, tonic: int, any_beat: bool = False) -> bool:
    """Whether the top line's last note is `tonic` (a pitch class), on a strong beat (on any beat, with
    `any_beat`: a stop cadence's last), lasting at least a beat."""
    line = melody(score)
    return bool(line) and line[-1].pitch % 12 == tonic and final_note_beats(score) >= 1 \
        and on_strong_beat(score, line[-1].onset_tick, any_beat)


def tonic_ending(score: Score) -> float:
    """1 when the top line ends on the tonic of the piece's key, on a strong beat, lasting at least a beat; else 0."""
    return float(ends_on_tonic(score, key_of(score)[0]))


def cadence_rate(score: Score, phrase_bars: int = 4) -> float:
    """Share of phrases (of `phrase_bars` bars) whose last note, in the phrase's last bar, is a degree of the
    tonic triad lasting at least a beat."""
    line = melody(score)
    if not line:
        return 0.0
    tonic, mode = key_of(score)
    triad = {tonic, (tonic + (3 if mode == MINOR else 4)) % 12, (tonic + 7) % 12}
    starts = score.bar_starts(line[-1].onset_tick)
    phrase_ends = [starts[i] for i in range(phrase_bars, len(starts), phrase_bars)] + [line[-1].end_tick]
    stable = 0
    for end in phrase_ends:
        before = [note for note in line if note.onset_tick < end]
        last_bar = max(start for start in starts if start < end)
        note = before[-1] if before else None
        stable += bool(note and note.onset_tick >= last_bar and note.pitch % 12 in triad
                       and note.duration_tick >= score.time_signature_at(note.onset_tick).beat_ticks)
    return stable / len(phrase_ends)


def key_agreement(score: Score, key: Key | None = None) -> float:
    """1 when the key heard in the notes (Aarden-Essen profiles, as music21 hears it) is `key` (tonic,
    'major' or 'minor'; by default the score's first key signature), else 0; NaN with no key to agree with."""
    if key is None:
        if not score.key_signatures:
            return float("nan")
        key = score.key_signatures[0].key
    return float(heard_key(score) == key)


def heard_key(score: Score) -> Key:
    """The key heard in the pitched notes (`melodia.theory.key.HEARD`: Aarden-Essen profiles, as music21 hears
    it); the one method behind key agreement and a manifest's estimated_key."""
    notes = sorted(pitched_notes(score), key=lambda n: (n.onset_tick, n.pitch))
    return estimate_key([n.pitch for n in notes], [n.duration_tick for n in notes], HEARD)


def tonic_of(score: Score) -> int:
    """The pitch class of the score's tonic: its key signature's, else the key heard (`heard_key`)."""
    return score.key_signatures[0].tonic if score.key_signatures else heard_key(score).tonic


def chord_tone_rate(score: Score) -> float:
    """Share of the top line's notes struck on a strong beat (`on_strong_beat`) whose pitch class belongs to the
    chord symbol sounding there (`score.chord_symbols`); NaN without chord symbols or such notes."""

    if not score.chord_symbols:
        return float("nan")
    symbols = sorted(score.chord_symbols, key=lambda c: c.tick)
    ticks = [c.tick for c in symbols]
    tones = [set(parse_symbol(c.symbol).pitch_classes) for c in symbols]
    hits = total = 0
    for note in melody(score):
        which = int(np.searchsorted(ticks, note.onset_tick, side="right")) - 1
        if which >= 0 and on_strong_beat(score, note.onset_tick):
            total += 1
            hits += note.pitch % 12 in tones[which]
    return hits / total if total else float("nan")


def _bars_of_line(score: Score) -> tuple[list[Note], np.ndarray, int]:
    """The top line, the bar each of its notes starts in, and how many bars the line reaches into."""
    line = melody(score)
    starts = score.bar_starts(max((n.onset_tick for n in line), default=0))
    return line, np.searchsorted(starts, [n.onset_tick for n in line], side="right") - 1, len(starts)


def bar_note_counts(score: Score) -> np.ndarray:
    """How many notes of the top line start in each bar."""
    _, bar, bars = _bars_of_line(score)
    return np.bincount(bar, minlength=bars).astype(np.int64)


def bar_mean_pitches(score: Score) -> np.ndarray:
    """The mean pitch of the top line's notes in each bar (NaN for a bar with none)."""
    line, bar, bars = _bars_of_line(score)
    counts = np.bincount(bar, minlength=bars)
    sums = np.bincount(bar, weights=[n.pitch for n in line], minlength=bars)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def junction(score: Score, tick: int) -> tuple[int, float, float] | None:
    """How the top line crosses `tick` (a bar line): the leap in semitones from the last note struck before it
    to the first struck from it on, the rest between them and the length of the note before, both in beats;
    None without a note on each side."""
    line = melody(score)
    before = [n for n in line if n.onset_tick < tick]
    after = [n for n in line if n.onset_tick >= tick]
    if not before or not after:
        return None
    last, first = before[-1], after[0]
    beat = score.time_signature_at(last.onset_tick).beat_ticks
    return (abs(first.pitch - last.pitch), max(first.onset_tick - last.end_tick, 0) / beat,
            last.duration_tick / beat)


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's rank correlation of two equally long sequences (ties share their mean rank); NaN when either
    is constant."""
    def ranks(sequence: Sequence[float]) -> np.ndarray:
        values = np.asarray(sequence, dtype=float)
        ranked = np.empty(len(values))
        ranked[np.argsort(values, kind="stable")] = np.arange(len(values))
        for value in np.unique(values):
            ranked[values == value] = ranked[values == value].mean()
        return ranked

    x, y = ranks(a), ranks(b)
    if len(x) < 2 or x.std() == 0 or y.std() == 0:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1])


STRUCTURE_METRICS = ("repetition", "phrase_parallelism", "motif_reuse", "final_note_beats", "tonic_ending",
                     "cadence_rate", "key_agreement")

SCALAR_METRICS = {
    "pitch_range": pitch_range, "pitches_used": pitches_used, "pitch_classes_used": pitch_classes_used,
    "pitch_class_entropy": pitch_class_entropy, "scale_consistency": scale_consistency, "polyphony": polyphony,
    "polyphony_rate": polyphony_rate, "mean_absolute_interval": mean_absolute_interval,
    "note_density": note_density, "empty_beat_rate": empty_beat_rate, "groove_consistency": groove_consistency,
    "repetition": repetition, "phrase_parallelism": phrase_parallelism, "motif_reuse": motif_reuse,
    "final_note_beats": final_note_beats, "tonic_ending": tonic_ending, "cadence_rate": cadence_rate,
    "key_agreement": key_agreement, "chord_tone_rate": chord_tone_rate,
}
HISTOGRAM_METRICS = {"interval_histogram": interval_histogram, "duration_histogram": duration_histogram,
                     "pitch_class_histogram": pitch_class_histogram}


def all_metrics(score: Score) -> dict[str, Any]:
    """Every metric of `score`: numbers, and histograms as lists."""
    values: dict[str, Any] = {name: round(float(f(score)), 6) for name, f in SCALAR_METRICS.items()}
    values.update({name: [round(float(v), 6) for v in f(score)] for name, f in HISTOGRAM_METRICS.items()})
    return values

