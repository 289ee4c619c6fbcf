"""Arrangement form: an intro before the tune, a held final chord after it, a ritardando.

- intro 'vamp': two bars of the tonic chord by the accompaniment; 'phrase': the tune's last
  phrase (4 bars) with its chords, when the tune has at least 8 bars (else a vamp). A pickup
  is kept: it sounds at the end of the intro's last bar, which is shortened by its length. A
  first bar that starts with rests (a pickup written as a full bar) is a pickup too: the
  harmony starts with the tune's first note (`from_first_note`).
- ending 'held': one more bar of the final chord, held by every part but the melody (its last
  note keeps its written length), with a crash on its downbeat. In classical writing (four
  parts, piano) a tune that already ends on a long tonic gets no extra bar, and otherwise the
  melody's instrument sounds the tonic through the extra bar (`closing_note`): the last thing
  heard is the tune's own part on top, never the lower parts alone.
- `ritardando`: the tempo falls beat by beat over the last bars, to `slowest` of its value.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from melodia.errors import StyleError
from melodia.harmony.chords import PHRASE_BARS, Bar
from melodia.score import KeySignature, Note, Score, TempoChange, TimeSignature
from melodia.style.templates import ENDINGS, INTROS
from melodia.theory.chord import Chord
from melodia.theory.key import Key

INTRO_BARS = 2


@dataclass(frozen=True)
class Intro:
    """The intro's harmony slots and melody notes (from tick 0), and how far the tune moves."""

    bars: list[Bar]
    melody: list[Note]
    offset: int


def check_form(intro: str, ending: str) -> None:
    if intro not in INTROS:
        raise StyleError(f"intro {intro!r}: expected one of {', '.join(INTROS)}")
    if ending not in ENDINGS:
        raise StyleError(f"ending {ending!r}: expected one of {', '.join(ENDINGS)}")


def written_bar(bars: list[Bar], number: int) -> tuple[int, int, int, int]:
    """(start, length, beat, beats) of the written bar `number` among the harmony slots."""
    own = [b for b in bars if b.number == number]
    return own[0].start, sum(b.length for b in own), own[0].beat, sum(b.beats for b in own)


def from_first_note(bars: list[Bar], onset: int) -> list[Bar]:
    """The harmony slots from the tune's first note at `onset`: a first bar that starts with
    rests is cut to a pickup (numbered -1, the bars after it counted from 0, a phrase every
    `PHRASE_BARS` bars), so that nothing plays before the tune and an intro ends where it enters."""
    if not bars or onset <= bars[0].start or any(b.number < 0 for b in bars):
        return list(bars)
    first = bars[0].number
    cut = [b for b in bars if b.start + b.length > onset]
    if not cut or cut[0].number != first:
        return list(bars)
    last = cut[-1].number - 1
    out = []
    for bar in cut:
        start = max(bar.start, onset)
        length = bar.start + bar.length - start
        number = bar.number - first - 1
        beats = max(min(bar.beats, length // bar.beat), 1) if start > bar.start else bar.beats
        out.append(replace(bar, start=start, length=length, beats=beats, number=number,
                           phrase_end=number >= 0 and ((number + 1) % PHRASE_BARS == 0 or number == last)
                           and bar is [b for b in cut if b.number == bar.number][-1]))
    return out


def make_intro(bars: list[Bar], melody: list[Note], kind: str, tonic: Chord) -> Intro:
    """The intro of `kind` for a tune with harmony `bars` (see the module's notes)."""
    tune = [b for b in bars if b.number >= 0]
    if kind == "none" or not tune:
        return Intro([], [], 0)
    pickup = sum(b.length for b in bars if b.number < 0)
    lead = min(b.start for b in bars)  # where the tune enters (after a first bar's rests)
    _, bar_ticks, beat, beats = written_bar(bars, 0)
    last = tune[-1].number
    if kind == "phrase" and last + 1 >= 8:
        first_bar = last - 3
        start = written_bar(bars, first_bar)[0]
        count = 4
        intro_bars = [replace(b, start=b.start - start, number=b.number - last - 1, section="intro",
                              phrase_end=False) for b in tune if b.number >= first_bar]
        intro_melody = [replace(n, onset_tick=n.onset_tick - start) for n in melody if n.onset_tick >= start]
    else:
        count = INTRO_BARS
        intro_bars = [Bar(i * bar_ticks, bar_ticks, beat, beats, tonic, i - count, "intro") for i in range(count)]
        intro_melody = []
    end = count * bar_ticks - pickup
    if end < lead:  # a pickup longer than the intro (a first bar of a tick or two): no room for one
        return Intro([], [], 0)
    intro_bars = [replace(b, length=min(b.length, end - b.start)) for b in intro_bars if b.start < end]
    intro_melody = [replace(n, duration_tick=min(n.duration_tick, end - n.onset_tick)) for n in intro_melody
                    if n.onset_tick < end]
    return Intro(intro_bars, intro_melody, end - lead)


def ending_bar(bars: list[Bar]) -> Bar:
    """One more bar, as long as the last, holding the final chord."""
    last = bars[-1]
    _, length, beat, beats = written_bar(bars, last.number)
    return Bar(last.start + last.length, length, beat, beats, last.chord, last.number + 1, "ending")


def ends_on_long_tonic(melody: list[Note], bars: list[Bar], key: Key) -> bool:
    """Whether the tune's last note is the tonic held two beats or more (a close of its own)."""
    if not melody or not bars:
        return False
    last = max(melody, key=lambda n: (n.end_tick, n.onset_tick))
    return last.pitch % 12 == key[0] % 12 and last.duration_tick >= 2 * bars[-1].beat


def closing_note(melody: list[Note], final: Bar) -> Note:
    """The melody instrument's note through the ending bar `final`: the final chord's root nearest
    the tune's last note (that note itself when it is the root; below it on a tie), within MIDI's 0-127."""
    last = max(melody, key=lambda n: (n.end_tick, n.onset_tick))
    root = final.chord.root % 12
    pitch = min((p for p in range(last.pitch - 11, last.pitch + 12) if p % 12 == root and 0 <= p <= 127),
                key=lambda p: (abs(p - last.pitch) > 6, abs(p - last.pitch), p > last.pitch))
    return Note(pitch, last.velocity, final.start, final.length)


def shifted(bars: list[Bar], offset: int) -> list[Bar]:
    return [replace(b, start=b.start + offset) for b in bars] if offset else list(bars)


def shifted_notes(notes: list[Note], offset: int) -> list[Note]:
    if not offset:
        return list(notes)
    return [Note(n.pitch, n.velocity, n.onset_tick + offset, n.duration_tick) for n in notes]


def held_to(notes: list[Note], last_onset: int, end: int) -> list[Note]:
    """The line's last notes (those ending last, when still sounding at `last_onset`, the piece's
    final onset) held to `end`."""
    line_end = max((n.end_tick for n in notes), default=0)
    return [replace(n, duration_tick=end - n.onset_tick) if (n.end_tick == line_end and n.end_tick > last_onset)
            or n.onset_tick == last_onset else n for n in notes]


def moved_timeline(score: Score, offset: int, first_meter: TimeSignature) -> tuple[
        list[TempoChange], list[TimeSignature], list[KeySignature]]:
    """Tempo, meter and key of `score` after `offset` ticks of intro in `first_meter` (a pickup's
    own short meter goes: the pickup now ends the intro's last bar)."""
    if offset == 0:
        return list(score.tempos), list(score.time_signatures), list(score.key_signatures)
    tempos = [TempoChange(0, score.initial_bpm())] + [replace(t, tick=t.tick + offset) for t in score.tempos
                                                      if t.tick + offset > 0]
    pickup_end = next((s.tick for s in score.time_signatures if s.tick > 0), 0) \
        if score.time_signatures and score.initial_time_signature().bar_ticks != first_meter.bar_ticks else 0
    meters = [replace(first_meter, tick=0)]
    for sig in score.time_signatures:
        if sig.tick >= max(pickup_end, 1) and (sig.numerator, sig.denominator) != (meters[-1].numerator,
                                                                                   meters[-1].denominator):
            meters.append(replace(sig, tick=sig.tick + offset))
    keys = [replace(k, tick=0 if i == 0 else k.tick + offset) for i, k in enumerate(score.key_signatures)
            if i == 0 or k.tick + offset > 0]
    return tempos, meters, keys


def ritardando(score: Score, bars: int = 2, slowest: float = 0.6) -> Score:
    """`score` slowing beat by beat over its last `bars` bars to `slowest` times the tempo there."""
    written = score.bars(max(score.end_tick - 1, 0))
    if not written or not 0.1 <= slowest <= 1:
        return score
    start = written[max(len(written) - bars, 0)][0]
    beats = sorted({s + b * ts.beat_ticks for s, length, ts in written if s >= start
                    for b in range(-(-length // ts.beat_ticks)) if s + b * ts.beat_ticks < score.end_tick})
    base = next((t.bpm for t in reversed(score.tempos) if t.tick <= start), score.initial_bpm())
    kept = [t for t in score.tempos if t.tick < start]
    steps = max(len(beats) - 1, 1)
    slower = [TempoChange(tick, round(base * (1 - (1 - slowest) * i / steps), 3)) for i, tick in enumerate(beats)]
    if not kept and slower and slower[0].tick > 0:
        kept = [TempoChange(0, score.initial_bpm())]
    return replace(score, tempos=kept + slower)
