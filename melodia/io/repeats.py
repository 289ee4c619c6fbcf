"""Repeats as played: music21 parts expanded with `expandRepeats`, and the `Form` they had.

A part with repeat barlines, first and further endings (volta brackets), or D.C. / D.S.
marks is expanded as music21's `Stream.expandRepeats` plays it, with one folk reading
added: an end repeat with no start repeat before it goes back to the last double bar,
final bar or end of a repeated strain, not to the top of the piece (music21 goes to the top,
so "Belle of Boston", written `A |1 :|2 || B |1 :|2`, would be played AABAAB).
A part whose repeats music21 cannot expand is kept as written, with a warning.
"""

from __future__ import annotations

import itertools
import warnings
from bisect import bisect_right
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

from melodia.errors import MelodiaWarning
from melodia.score import TICKS_PER_QUARTER, Form, Note, Playing, Score, Strain

SECTION_BARLINES = ("double", "final", "light-light", "light-heavy", "heavy-light", "heavy-heavy")
_WRITTEN = "melodiaWrittenBar"  # each written measure is tagged with its index before expanding


@dataclass(frozen=True)
class WrittenBar:
    """What a written measure says about repeats."""

    start_repeat: bool
    end_repeat: bool
    ending: tuple[int, ...]  # the volta numbers of the bracket over it, empty when none
    section_end: bool  # a double or final bar line after it


def has_repeats(part: Any) -> bool:
    """Whether a part holds repeat barlines, endings, or D.C. / D.S. / segno / coda marks."""
    import music21

    if part.spannerBundle.getByClass(music21.spanner.RepeatBracket):
        return True
    return any(True for _ in part.recurse().getElementsByClass(music21.repeat.RepeatMark))


def expand_parts(parts: list[Any], source: str = "") -> tuple[list[Any], list[tuple[int, Any]] | None,
                                                                list[WrittenBar]]:
    """Every part as played, the played measures of the first as (written index, measure), and
    the first part's written bars; (parts as given, None, []) when there is nothing to expand or
    music21 cannot expand them."""
    if not parts or not has_repeats(parts[0]) or not parts[0].getElementsByClass("Measure"):
        return parts, None, []
    try:
        try:
            written = [_written_bars(part, folk=True) for part in parts]
            played = [part.expandRepeats() for part in parts]
        except Exception:  # the start repeats a folk player reads leave a repeat unmatched: as music21 reads it
            written = [_written_bars(part, folk=False) for part in parts]
            played = [part.expandRepeats() for part in parts]
    except Exception as error:  # music21 raises several kinds on repeats it finds incoherent
        reason = str(error).splitlines()[0][:120] if str(error) else ""
        warnings.warn(MelodiaWarning(f"{source or 'piece'}: repeats left as written; music21 cannot expand "
                                     f"them ({type(error).__name__}: {reason})"), stacklevel=3)
        return parts, None, []
    lengths = {len(p.getElementsByClass("Measure")) for p in played}
    if len(lengths) > 1:
        warnings.warn(MelodiaWarning(f"{source or 'piece'}: repeats left as written; its parts expand to "
                                     f"{sorted(lengths)} bars"), stacklevel=3)
        return parts, None, []
    order = [(getattr(m, _WRITTEN, -1), m) for m in played[0].getElementsByClass("Measure")]
    return played, order, written[0]


_SUPPLIED = "melodiaSuppliedStart"  # a start repeat melodia wrote in, and the barline it replaced


def _written_bars(part: Any, folk: bool) -> list[WrittenBar]:
    """Tag each measure with its written index, supply the start repeats a folk player reads (when
    `folk`; else take out those supplied before), and describe each bar."""
    import music21

    measures = list(part.getElementsByClass("Measure"))
    for measure in measures:
        if hasattr(measure, _SUPPLIED):
            measure.leftBarline = getattr(measure, _SUPPLIED)
            delattr(measure, _SUPPLIED)
    endings: dict[int, tuple[int, ...]] = {}
    for bracket in part.spannerBundle.getByClass(music21.spanner.RepeatBracket):
        numbers = tuple(int(n) for n in bracket.numberRange) or (1,)
        for measure in bracket.getSpannedElements():
            endings[id(measure)] = numbers
    for index, measure in enumerate(measures):
        setattr(measure, _WRITTEN, index)
    bars = [WrittenBar(_is_repeat(m.leftBarline, "start"), _is_repeat(m.rightBarline, "end"),
                       endings.get(id(m), ()), _is_section_end(m.rightBarline)
                       or (i + 1 < len(measures) and _is_section_end(measures[i + 1].leftBarline)))
            for i, m in enumerate(measures)]
    for index in _implied_starts(bars) if folk else []:
        setattr(measures[index], _SUPPLIED, measures[index].leftBarline)
        measures[index].leftBarline = music21.bar.Repeat(direction="start")
        bars[index] = replace(bars[index], start_repeat=True)
    return bars


def _is_repeat(barline: Any, direction: str) -> bool:
    return barline is not None and getattr(barline, "direction", None) == direction


def _is_section_end(barline: Any) -> bool:
    return barline is not None and getattr(barline, "direction", None) is None and barline.type in SECTION_BARLINES


def _implied_starts(bars: list[WrittenBar]) -> list[int]:
    """Bars where an end repeat with no start repeat of its own goes back to: the bar after the
    last section end (double or final bar, end of a repeat, end of its endings)."""
    implied, last_break, open_start = [], 0, False
    for index, bar in enumerate(bars):
        if bar.start_repeat:
            open_start = True
        if bar.end_repeat:
            if not open_start and last_break > 0:
                implied.append(last_break)
            open_start = False
        after_endings = bool(bar.ending) and (index + 1 == len(bars) or not bars[index + 1].ending)
        if bar.section_end or after_endings or (bar.end_repeat and not bar.ending):
            last_break = index + 1
            still_open = open_start and not bar.end_repeat and not bar.ending  # a double bar closes no repeat
            open_start = still_open or bool(index + 1 < len(bars) and bars[index + 1].start_repeat)
    return implied


def form_of(order: list[tuple[int, Any]], written: list[WrittenBar], shift: Fraction, bar_ticks: int) -> Form:
    """The strains and playings of a part from its played measures (see `expand_parts`)."""
    starts = _section_starts(written, order)
    playings: list[tuple[int, list[tuple[int, Any]]]] = []
    previous = -1
    for index, measure in order:
        if not playings or index in starts or index <= previous:
            playings.append((bisect_right(starts, index) - 1, []))
        playings[-1][1].append((index, measure))
        previous = index
    sections = sorted({section for section, _ in playings})
    label = {section: chr(ord("A") + n) if n < 26 else f"S{n + 1}" for n, section in enumerate(sections)}
    heard: dict[int, int] = {}
    played: list[Playing] = []
    for section, bars in playings:
        heard[section] = heard.get(section, 0) + 1
        start = _tick(bars[0][1].offset, shift)
        end = _tick(Fraction(bars[-1][1].offset) + Fraction(bars[-1][1].duration.quarterLength), shift)
        ending_bars = [(i, m) for i, m in bars if written[i].ending] if 0 <= bars[0][0] < len(written) else []
        numbers = written[ending_bars[0][0]].ending if ending_bars else ()
        number = (heard[section] if heard[section] in numbers else numbers[0]) if numbers else 0
        ending_tick = _tick(ending_bars[0][1].offset, shift) if ending_bars else end
        if end <= start or (played and start < played[-1].end_tick):  # empty bars: nothing played
            continue
        played.append(Playing(sections.index(section), start, end, number, ending_tick))
    strains = []
    for n, section in enumerate(sections):
        first = next((p for p in played if p.strain == n), Playing(n, 0, bar_ticks))
        endings = tuple(sorted({p.ending for p in played if p.strain == n and p.ending}))
        strains.append(Strain(label[section], max(1, round((first.end_tick - first.start_tick) / bar_ticks)), endings))
    return Form(tuple(strains), tuple(played))


def _section_starts(written: list[WrittenBar], order: list[tuple[int, Any]]) -> list[int]:
    """Written bars that begin a strain: the first, start repeats, and bars after an end repeat,
    after the last of a strain's endings, or after a double or final bar; a pickup bar belongs
    to the strain after it."""
    starts = {0}
    for index, bar in enumerate(written):
        if bar.start_repeat:
            starts.add(index)
        last_ending = bool(bar.ending) and (index + 1 == len(written) or not written[index + 1].ending)
        if (bar.end_repeat and not bar.ending) or last_ending or bar.section_end:
            starts.add(index + 1)
    first = next((m for i, m in order if i == 0), None)
    if first is not None and first.paddingLeft > 0:
        starts.discard(1)
    return sorted(s for s in starts if s < len(written))


def _tick(offset: Any, shift: Fraction) -> int:
    return round((Fraction(offset) + shift) * TICKS_PER_QUARTER)


# ---------------------------------------------------------------- writing: the strains once, with repeats


@dataclass(frozen=True)
class Segment:
    """Played ticks [start, end) written once from written tick `written`; `ending` its volta number
    (0: none), `opens` / `closes` whether a start / end repeat sign stands at its start / end."""

    start: int
    end: int
    written: int
    ending: int = 0
    opens: bool = False
    closes: bool = False


def written_segments(score: Score) -> list[Segment] | None:
    """How to write a score read with repeats so that playing it gives its notes: each run of playings of a
    strain once, with its repeat signs and endings (a strain that comes back after another, as an AABA air's
    last A, is written out again there); None when the form cannot be written that way (a strain played three
    times without endings, or whose playings no longer hold the same notes), or has no repeat left to sign."""
    form = score.form
    if form is None or not form.has_repeats:
        return None
    groups: list[list[Playing]] = []
    for playing in form.playings:
        if groups and groups[-1][0].strain == playing.strain:
            groups[-1].append(playing)
        else:
            groups.append([playing])
    if all(len(group) == 1 for group in groups):
        return None
    segments: list[Segment] = []
    written = 0
    for group in groups:
        plan = _strain_segments(score, group)
        if plan is None:
            return None
        for start, end, ending, opens, closes in plan:
            segments.append(Segment(start, end, written, ending, opens, closes))
            written += end - start
    return segments


def _strain_segments(score: Score, group: list[Playing]) -> list[tuple[int, int, int, bool, bool]] | None:
    """(start, end, ending, opens, closes) in played ticks for one strain's playings."""
    first = group[0]
    if len(group) == 1:
        return [(first.start_tick, first.end_tick, 0, False, False)]
    body = {p.ending_tick - p.start_tick for p in group[1:]}
    lead = first.ending_tick - first.start_tick - min(body)
    endings = [p.ending for p in group]
    if len(body) > 1 or lead < 0 or (any(endings) and endings != list(range(1, len(group) + 1))) \
            or (not any(endings) and len(group) > 2):
        return None
    shared = _notes_between(score, first.start_tick + lead, first.ending_tick)
    if any(_notes_between(score, p.start_tick, p.ending_tick) != shared for p in group[1:]):
        return None
    plan = [(first.start_tick, first.start_tick + lead, 0, False, False)] if lead else []
    if not any(endings):
        return [*plan, (first.start_tick + lead, first.end_tick, 0, True, True)]
    plan.append((first.start_tick + lead, first.ending_tick, 0, True, False))
    plan += [(p.ending_tick, p.end_tick, p.ending, False, p is not group[-1]) for p in group]
    return plan


def _notes_between(score: Score, start: int, end: int) -> list[list[tuple[int, int, int]]]:
    """Each track's notes that start in [start, end), as (onset from start, pitch, ticks up to end)."""
    return [sorted((n.onset_tick - start, n.pitch, min(n.end_tick, end) - n.onset_tick)
                   for n in track.notes if start <= n.onset_tick < end) for track in score.tracks]


def written_score(score: Score, segments: list[Segment]) -> Score:
    """The notes (and meter, key, tempo and chord events) of each segment moved to where it is written."""

    def moved(tick: int) -> int | None:
        return next((s.written + tick - s.start for s in segments if s.start <= tick < s.end), None)

    tracks = []
    for track in score.tracks:
        notes = [Note(n.pitch, n.velocity, s.written + n.onset_tick - s.start, min(n.end_tick, s.end) - n.onset_tick)
                 for s in segments for n in track.notes if s.start <= n.onset_tick < s.end]
        tracks.append(replace(track, notes=sorted(notes, key=lambda n: (n.onset_tick, n.pitch))))

    def events(items: list[Any]) -> list[Any]:
        kept = {}
        for item in items:
            tick = 0 if item.tick == 0 else moved(item.tick)
            if tick is not None and tick not in kept:
                kept[tick] = replace(item, tick=tick)
        return [kept[tick] for tick in sorted(kept)]

    return Score(tracks, events(score.tempos), events(score.time_signatures), events(score.key_signatures),
                 score.title, events(score.chord_symbols))


def written_bars(score: Score, segments: list[Segment]) -> list[tuple[int, int, Segment]]:
    """(written start tick, ticks, segment) of each written bar: the played score's bar lines within
    each segment, and a bar line at each segment's start and end (a short bar where they fall
    inside a bar, as a pickup is written)."""
    lines = score.bar_starts(max(s.end for s in segments))
    bars = []
    for segment in segments:
        cuts = [segment.start, *(t for t in lines if segment.start < t < segment.end), segment.end]
        bars += [(segment.written + a - segment.start, b - a, segment) for a, b in itertools.pairwise(cuts)]
    return bars


# ---------------------------------------------------------------- checking: as music21 plays it
