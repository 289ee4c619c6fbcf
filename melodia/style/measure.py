"""Figures of an arrangement, as a musician would check it (scripts/report_arrangement.py).

- strong-beat chord tones: melody notes struck on a harmony slot's downbeat (a bar, or half
  of a 4/4 or 6/8 bar) whose pitch class is in the chord symbol sounding there;
- sustained clashes: melody notes that sound at least a beat against another part's note a
  half step (or a major seventh, or a minor ninth) away, per 16 bars;
- key kept: the key of the harmony (Aarden-Essen profiles over the tones of its chord symbols,
  weighted by their length) is the tune's key;
  ends on the tonic chord, for a tune whose last note is its tonic;
- above the melody: harmony and counter-melody notes struck above the melody note sounding;
- walking-bass tritones: leaps of six half steps between neighbouring bass notes;
- swing on 6/8: notes on dotted-quarter beats that a rhythm moves.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from melodia.analysis import estimate_key
from melodia.harmony.chords import slots_of
from melodia.score import MINOR, TICKS_PER_QUARTER, Note, Score, TimeSignature, Track
from melodia.style.templates import Instrumentation, Rhythm
from melodia.theory.chord import parse_symbol
from melodia.theory.key import Key

SIX_EIGHT = TimeSignature(0, 6, 8)
HUMANIZED = TICKS_PER_QUARTER // 16  # how far off its beat a played note may be


@dataclass(frozen=True)
class Figures:
    """The figures of one styled piece (see the module's definitions)."""

    bars: int
    strong_notes: int
    strong_chord_tones: int
    clashes: int
    key_kept: bool
    ends_on_tonic: bool | None  # None: the tune does not end on its tonic
    above_melody: int
    accompaniment_notes: int
    walking_tritones: int | None  # None: no walking bass

    @property
    def chord_tone_share(self) -> float:
        return self.strong_chord_tones / self.strong_notes if self.strong_notes else 1.0

    @property
    def clashes_per_16_bars(self) -> float:
        return 16 * self.clashes / max(self.bars, 1)


def roles_of(styled: Score, instrumentation: Instrumentation) -> dict[str, list[Track]]:
    """The styled tracks by role (a counter-melody part doubling the melody counts as melody)."""
    parts = {part.name: part for part in instrumentation.parts}
    roles: dict[str, list[Track]] = {}
    for track in styled.tracks:
        part = parts.get(track.name)
        role = part.role if part else "harmony"
        if part is not None and part.role == "counter_melody" and part.pattern == "unison":
            role = "melody"
        roles.setdefault(role, []).append(track)
    return roles


def measure(styled: Score, instrumentation: Instrumentation, key: Key, bare: bool = True,
            rhythm: Rhythm | None = None) -> Figures:
    """The figures of `styled` (made with `instrumentation` and `rhythm`) for a tune in `key`; a
    walking bass is measured only where it was written: around a `bare` melody (an input's own
    bass is not walked), when the rhythm does not ask the bass for another pattern."""
    roles = roles_of(styled, instrumentation)
    melody = sorted((n for t in roles.get("melody", [])[:1] for n in t.notes), key=lambda n: n.onset_tick)
    upper = [n for role in ("harmony", "counter_melody") for t in roles.get(role, []) for n in t.notes]
    bass = [n for t in roles.get("bass", []) for n in t.notes]
    strong, inside = _strong_beats(styled, melody)
    harmony_key = _key_of_chords(styled) if styled.chord_symbols else \
        estimate_key(np.array([n.pitch for n in upper + bass], dtype=int),
                     np.array([n.duration_tick for n in upper + bass], dtype=float), "aarden")
    bass_part = next((p for p in instrumentation.parts if p.role == "bass"), None)
    pattern = (rhythm.accompaniment.get("bass") if rhythm else None) or (bass_part.pattern if bass_part else "none")
    walking = bare and pattern == "walking"
    return Figures(
        bars=styled.bar_count(), strong_notes=strong, strong_chord_tones=inside,
        clashes=_clashes(melody, upper + bass, styled), key_kept=harmony_key == key or not (upper + bass),
        ends_on_tonic=_ends_on_tonic(styled, melody, key), above_melody=_above(melody, upper),
        accompaniment_notes=len(upper),
        walking_tritones=sum(abs(b.pitch - a.pitch) == 6 for a, b in pairwise(sorted(bass, key=lambda n: n.onset_tick)))
        if walking else None)


def _key_of_chords(styled: Score) -> Key:
    """The key (Aarden-Essen profiles) of the chord tones the chord symbols name, each weighted by
    how long its chord lasts: the harmony's key, whatever tones a part leaves out (a power chord
    has no third)."""
    ends = [c.tick for c in styled.chord_symbols[1:]] + [styled.end_tick]
    pitches, weights = [], []
    for symbol, end in zip(styled.chord_symbols, ends, strict=True):
        for pc in parse_symbol(symbol.symbol).pitch_classes:
            pitches.append(pc)
            weights.append(max(end - symbol.tick, 1))
    return estimate_key(np.array(pitches, dtype=int), np.array(weights, dtype=float), "aarden")


def _chord_at(styled: Score, tick: int) -> tuple[int, ...]:
    current = None
    for symbol in styled.chord_symbols:
        if symbol.tick > tick:
            break
        current = symbol.symbol
    return parse_symbol(current).pitch_classes if current else ()


def _strong_beats(styled: Score, melody: list[Note]) -> tuple[int, int]:
    if not melody or not styled.chord_symbols:
        return 0, 0
    starts = np.array(sorted({slot.start for slot in slots_of(styled, max(n.end_tick for n in melody))}))
    struck = []
    for note in melody:  # a humanized note counts on the beat it was played for
        nearest = int(starts[np.abs(starts - note.onset_tick).argmin()])
        if abs(nearest - note.onset_tick) <= HUMANIZED:
            struck.append((note, nearest))
    return len(struck), sum(note.pitch % 12 in _chord_at(styled, beat) for note, beat in struck)


def _clashes(melody: list[Note], others: list[Note], styled: Score) -> int:
    count = 0
    for note in melody:
        beat = styled.time_signature_at(note.onset_tick).beat_ticks
        if any(min(note.end_tick, o.end_tick) - max(note.onset_tick, o.onset_tick) >= beat
               and (note.pitch - o.pitch) % 12 in (1, 11) for o in others):
            count += 1
    return count


def _sounding(melody: list[Note], tick: int) -> Note | None:
    return next((n for n in melody if n.onset_tick <= tick < n.end_tick), None)


def _above(melody: list[Note], upper: list[Note]) -> int:
    count = 0
    for note in upper:
        over = _sounding(melody, note.onset_tick)
        count += over is not None and note.pitch > over.pitch
    return count


def _ends_on_tonic(styled: Score, melody: list[Note], key: Key) -> bool | None:
    if not melody or melody[-1].pitch % 12 != key[0] or not styled.chord_symbols:
        return None
    last = parse_symbol(styled.chord_symbols[-1].symbol)
    return last.root == key[0] and ((last.third == 3) == (key[1] == MINOR) or key[1] == MINOR)  # or a Picardy third


def beats_moved_by(rhythm: Rhythm, meter: TimeSignature = SIX_EIGHT, bars: int = 4) -> int:
    """How many notes on the beats of `meter` (dotted quarters in 6/8) `rhythm` moves, on a line
    of sixteenths."""
    from melodia.style.rhythm import perform

    beat = meter.beat_ticks
    notes = [Note(60 + i % 12, 80, i * 120, 120) for i in range(bars * meter.bar_ticks // 120)]
    out = perform(Score([Track("", 0, False, notes)], time_signatures=[meter]), rhythm)
    after = {n.onset_tick for n in out.tracks[0].notes}
    return sum(tick not in after for tick in range(0, bars * meter.bar_ticks, beat))
