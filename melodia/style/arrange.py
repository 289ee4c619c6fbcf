"""Instrumentation templates applied to a `Score`: roles to instruments, octave folding into
each instrument's range, velocities and articulation, and an arrangement around a bare melody:
harmony in the tune's key, parts written for their instruments, an intro and an ending."""

from __future__ import annotations

import warnings
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass, field, replace
from itertools import groupby, pairwise
from statistics import median

from melodia.analysis.roles import Voices, detect_voices
from melodia.errors import MelodiaWarning, StyleError
from melodia.harmony.chords import Bar, given_chords, harmonize, tune_key, uses_flats
from melodia.score import MAJOR, TICKS_PER_QUARTER, ChordSymbol, KeySignature, Note, Score, Track
from melodia.style import accompany, form, piano, quartet
from melodia.style.templates import ARTICULATIONS, Instrumentation, Part
from melodia.theory.chord import Chord
from melodia.theory.key import Key
from melodia.theory.pitch import note_name

# Where a role's notes go when the template has no part for it: nothing pitched is dropped.
FALLBACK = {
    "melody": ("melody", "counter_melody", "harmony", "bass"),
    "counter_melody": ("counter_melody", "harmony", "melody", "bass"),
    "harmony": ("harmony", "counter_melody", "melody", "bass"),
    "bass": ("bass", "harmony", "counter_melody", "melody"),
    "drums": ("drums",),
}


@dataclass
class Plan:
    """What the arrangement knows of the music: key, harmony slots, the melody as played, and
    the lines each role plays."""

    key: Key
    bars: list[Bar]
    melody: list[Note]
    lines: dict[str, list[list[Note]]] = field(default_factory=dict)
    offset: int = 0  # how far an intro moves the tune


def arrange(score: Score, instrumentation: Instrumentation, patterns: dict[str, str] | None = None,
            accompaniment: bool = True, chords: list[list[Chord]] | None = None, intro: str = "none",
            ending: str = "none", tempo: float | None = None) -> Score:
    """`score` played by the parts of `instrumentation` (a new Score).

    `patterns` (role -> pattern name) override the parts' own accompaniment patterns; with
    `accompaniment` False a bare melody stays bare and nothing is added. `chords` (bars of
    chords, see `melodia.theory.chord.parse_progression`) replace the estimated harmony;
    without them, the chord symbols `score` carries do (`melodia.harmony.chords.from_symbols`);
    `intro` ('none', 'vamp', 'phrase') and `ending` ('none', 'held') add form (see
    `melodia.style.form`). Chord symbols and the key signature are written into the result.
    The melody is played as written (its pitches, onsets and lengths; an intro moves it later
    by whole bars): an arrangement that would change it is refused with a StyleError. A piano
    texture is written for one pianist's two hands (`melodia.style.piano`), its figure chosen
    by the pattern and `tempo` (the score's own when None).
    """
    form.check_form(intro, ending)
    voices = detect_voices(score)
    pitched = [n for t in score.tracks if not t.is_drum for n in t.notes]
    if not pitched:
        return _assembled(score, instrumentation, _lines(voices, instrumentation), None, score)
    bare = voices.is_bare_melody and accompaniment
    melody = voices.melody  # as written: never folded, re-timed or held (the accompaniment moves instead)
    key = tune_key(score, melody if bare else pitched)
    end = max(n.end_tick for n in pitched)
    bars = given_chords(score, end, chords)
    if bars is None:
        bars = harmonize(score, melody, key, end) if bare else harmonize(score, pitched, key, end, lead=melody)
    if bare:  # the harmony enters with the tune (a pickup written as a full bar starts with rests)
        bars = form.from_first_note(bars, min(n.onset_tick for n in melody))
    plan = Plan(key, bars, melody, _lines(voices, instrumentation, melody))
    if bare and (quartet.writes_for(instrumentation) or instrumentation.texture == "piano"):
        # four real parts or a pianist's two hands: cadences first (melodia.style.quartet)
        plan.bars = quartet.cadenced(plan.bars, melody, key, given=bool(chords or score.chord_symbols))
    if not accompaniment or not bars:
        timeline, kept = score, plan if accompaniment else None
    else:
        classical = bare and (quartet.writes_for(instrumentation) or instrumentation.texture == "piano")
        timeline, kept = _with_form(score, plan, bare, intro, ending, classical), plan
        if instrumentation.texture != "piano":
            _accompany(plan, instrumentation, patterns or {}, bare, voices)
    if instrumentation.texture == "piano":
        figure = _left_hand_figure(plan, instrumentation, patterns or {}, tempo or score.initial_bpm()) \
            if accompaniment and bars else None
        out = _piano(score, instrumentation, plan, timeline, figure, bare)
    else:
        out = _assembled(score, instrumentation, plan.lines, kept, timeline)
    check_melody_kept(melody, out, melody_track(out, instrumentation), plan.offset)
    return out


def _lines(voices: Voices, instrumentation: Instrumentation, melody: list[Note] | None = None
           ) -> dict[str, list[list[Note]]]:
    """The input's own lines by role: an inner voice goes to a counter-melody part when there
    are others for the harmony parts (or no harmony part)."""
    lines: dict[str, list[list[Note]]] = {role: [] for role in FALLBACK}
    lines["melody"].append(melody if melody is not None else voices.melody)
    inner = [list(line) for line in voices.inner]
    if inner and instrumentation.parts_for("counter_melody") and \
            (len(inner) > 1 or not instrumentation.parts_for("harmony")):
        lines["counter_melody"].append(inner.pop(0))
    lines["harmony"] += inner
    lines["bass"].append(voices.bass)
    lines["drums"].append(voices.drums)
    return lines


def _with_form(score: Score, plan: Plan, bare: bool, intro_kind: str, ending_kind: str, classical: bool = False
               ) -> Score:
    """The intro and ending added to the plan; returns a score carrying the new tempo, meter and key.
    A `classical` held ending keeps the melody's instrument on top (see `melodia.style.form`)."""
    tonic = Chord(plan.key[0], "" if plan.key[1] == MAJOR else "m")
    intro = form.make_intro(plan.bars, plan.melody, intro_kind if bare else ("vamp" if intro_kind != "none"
                                                                             else "none"), tonic)
    first_meter = score.time_signature_at(next((b.start for b in plan.bars if b.number == 0), 0))
    tempos, meters, keys = form.moved_timeline(score, intro.offset, first_meter)
    if not keys:
        keys = [KeySignature(0, *plan.key)]
    plan.offset = intro.offset
    plan.bars = intro.bars + form.shifted(plan.bars, intro.offset)
    plan.melody = intro.melody + form.shifted_notes(plan.melody, intro.offset)
    plan.lines = {role: [form.shifted_notes(line, intro.offset) for line in lines]
                  for role, lines in plan.lines.items()}
    plan.lines["melody"] = [plan.melody]
    if ending_kind == "held" and not (classical and form.ends_on_long_tonic(plan.melody, plan.bars, plan.key)):
        final = form.ending_bar(plan.bars)
        plan.bars.append(final)
        stop = final.start + final.length
        last_onset = max(n.onset_tick for lines in plan.lines.values() for line in lines for n in line)
        plan.lines = {role: [form.held_to(line, last_onset, stop) if role not in ("drums", "melody") else line
                             for line in lines] for role, lines in plan.lines.items()}
        if classical:
            plan.melody = [*plan.melody, form.closing_note(plan.melody, final)]
            plan.lines["melody"] = [plan.melody]
    return Score([], tempos, meters, keys, score.title)


def _accompany(plan: Plan, instrumentation: Instrumentation, patterns: dict[str, str], bare: bool,
               voices: Voices) -> None:
    """Writes the roles the input does not play: everything around a bare melody; drums (and an
    intro) around a texture that has no drums."""
    if bare and quartet.writes_for(instrumentation):  # four real parts under the tune
        plan.lines.update(quartet.lower_parts(plan.bars, plan.melody, plan.key, instrumentation, patterns))
        return
    for role in ("counter_melody", "harmony", "bass", "drums"):
        parts = instrumentation.parts_for(role)
        played = any(plan.lines[role])
        if not parts or (played and role != "drums") or (role == "drums" and voices.drums):
            if parts and played and role != "drums":
                _fill_form(plan, role, parts, patterns)
            continue
        pattern = patterns.get(role, parts[0].pattern)
        if pattern == "none" or (not bare and role != "drums" and not _form_bars(plan)):
            continue
        bars = plan.bars if bare or role == "drums" else _form_bars(plan)
        plan.lines[role].append(_role_line(plan, role, parts, pattern, bars))


def _form_bars(plan: Plan) -> list[Bar]:
    return [b for b in plan.bars if b.section == "intro"]


def _fill_form(plan: Plan, role: str, parts: tuple[Part, ...], patterns: dict[str, str]) -> None:
    """An intro vamp for a role the input already plays (its own notes follow)."""
    intro = _form_bars(plan)
    pattern = patterns.get(role, parts[0].pattern)
    if intro and pattern != "none":
        plan.lines[role].append(_role_line(plan, role, parts, pattern, intro))


def _role_line(plan: Plan, role: str, parts: tuple[Part, ...], pattern: str, bars: list[Bar]) -> list[Note]:
    low, high = _shared_range(parts)
    if role == "counter_melody":
        return accompany.counter_melody(plan.melody, bars, plan.key, pattern, low, high)
    if role == "harmony":
        voices = min(sum(_voices_of(p) for p in parts), 4)
        spread = all(_voices_of(p) == 1 for p in parts) and len(parts) > 1
        return accompany.harmony_part(bars, pattern, plan.melody, voices, max(low, 40), high, spread)
    if role == "bass":
        return accompany.bass_part(bars, pattern, low, high, plan.key, melody=plan.melody)
    return accompany.drum_part(bars, pattern)


def _shared_range(parts: tuple[Part, ...]) -> tuple[int, int]:
    """The range every part of a role can play, or all of them together when that is under an octave."""
    low, high = max(p.low for p in parts), min(p.high for p in parts)
    return (low, high) if high - low >= 12 else (min(p.low for p in parts), max(p.high for p in parts))


def _voices_of(part: Part) -> int:
    """How many notes one player of `part` sounds at once in a chord: keyboards, guitars, harps
    and ensembles 3; a solo string 2 (a double stop); winds, brass, voices and leads 1."""
    family = part.program // 8
    if family in (0, 1, 2, 3) or part.program in (46, 48, 49, 50, 51) or family == 11:
        return 3
    if family == 5:
        return 2
    return 1


def _left_hand_figure(plan: Plan, instrumentation: Instrumentation, patterns: dict[str, str], bpm: float
                      ) -> str | None:
    left = next(p for p in instrumentation.parts if not p.is_drum and p.role != "melody")
    oom_pah = "offbeat" if patterns.get("bass") == "oom" else None  # a march's or a jig's bass asks for stride
    pattern = patterns.get(left.role) or oom_pah or left.pattern
    beat = next((b.beat for b in plan.bars if b.section == "tune"), TICKS_PER_QUARTER)
    return None if pattern == "none" else piano.left_hand_figure(pattern, beat, bpm)


def _piano(score: Score, instrumentation: Instrumentation, plan: Plan, timeline: Score, figure: str | None,
           bare: bool) -> Score:
    """One pianist's two hands: the melody and what fits under it in the right, the rest and the
    figure (all through a bare melody; in an intro and ending only, around a whole texture) in the left."""
    right_part, left_part = [p for p in instrumentation.parts if not p.is_drum]
    melody = _melody_played(right_part, plan.lines["melody"][0]).notes
    others = [n for role in ("counter_melody", "harmony", "bass") for line in plan.lines[role] for n in line]
    bars = plan.bars if bare else [b for b in plan.bars if b.section != "tune"]
    hands = piano.two_hands(bars, melody, others, figure, (right_part.velocity, left_part.velocity))
    drums = sum(len(line) for line in plan.lines["drums"])
    if drums:
        warnings.warn(f"instrumentation {instrumentation.name!r} has no drums part; {drums} drums notes left out",
                      MelodiaWarning, stacklevel=3)
    tracks = [Track(part.name, part.program, False, notes) for part, notes in
              ((right_part, hands.right), (left_part, hands.left)) if notes or part is right_part]
    keys = list(timeline.key_signatures) or [KeySignature(0, *plan.key)]
    symbols = _chord_symbols(plan) if figure is not None else list(score.chord_symbols)
    return Score(tracks, list(timeline.tempos), list(timeline.time_signatures), keys, score.title, symbols)


def _assembled(score: Score, instrumentation: Instrumentation, lines: dict[str, list[list[Note]]],
               plan: Plan | None, timeline: Score) -> Score:
    assigned: dict[int, list[Note]] = {}
    for role, role_lines in lines.items():
        notes = [n for line in role_lines for n in line]
        target = next((r for r in FALLBACK[role] if instrumentation.parts_for(r)), None)
        if notes and target is None:
            warnings.warn(f"instrumentation {instrumentation.name!r} has no {role} part; {len(notes)} {role} notes "
                          "left out", MelodiaWarning, stacklevel=3)
        if not notes or target is None:
            continue
        indices = [i for i, part in enumerate(instrumentation.parts) if part.role == target]
        for index, share in zip(indices, split_by_rank(notes, len(indices)), strict=True):
            assigned.setdefault(index, []).extend(share)
    tune = frozenset(id(n) for line in lines["melody"] for n in line)
    played = [(instrumentation.parts[i], _played(instrumentation.parts[i], notes, tune))
              for i, notes in sorted(assigned.items()) if notes]
    tracks = [track for _, track in _under_the_melody(played, instrumentation)]
    symbols = _chord_symbols(plan) if plan is not None else list(score.chord_symbols)
    keys = list(timeline.key_signatures) or ([KeySignature(0, *plan.key)] if plan is not None else [])
    return Score(tracks, list(timeline.tempos), list(timeline.time_signatures), keys, score.title, symbols)


def _under_the_melody(played: list[tuple[Part, Track]], instrumentation: Instrumentation
                      ) -> list[tuple[Part, Track]]:
    """Harmony and counter-melody notes struck above the melody note sounding go down by octaves
    (not below their part's range): an input's inner voice that crossed the tune, or one an
    instrument's range folded up, stays under it. A note its range keeps above the tune goes to
    another harmony or counter-melody part, or else the bass, that can play it under the tune (the
    highest such octave); a note none can play there (under a tune lower than every range) stays
    where it is. Returns the parts that play, in the instrumentation's order."""
    melody = next((sorted(t.notes, key=lambda n: n.onset_tick) for part, t in played if part.role == "melody"), [])
    if not melody:
        return played
    onsets = [n.onset_tick for n in melody]
    under = [(part, track) for part, track in played
             if part.role in ("harmony", "counter_melody") and part.pattern != "unison"]
    playing = {id(part) for part, _ in played}
    silent = [(part, Track(part.name, part.program, False, [])) for part in instrumentation.parts
              if id(part) not in playing and part.role in ("harmony", "counter_melody", "bass") and not part.is_drum]
    takers = under + [(part, track) for part, track in played if part.role == "bass" and not part.is_drum] + \
        sorted(silent, key=lambda item: item[0].role == "bass")
    handed: dict[int, list[Note]] = {}
    for part, track in under:
        kept = []
        for note in track.notes:
            index = bisect_right(onsets, note.onset_tick) - 1
            above = melody[index] if index >= 0 and melody[index].end_tick > note.onset_tick else None
            while above is not None and note.pitch > above.pitch and note.pitch - 12 >= part.low:
                note.pitch -= 12
            if above is None or note.pitch <= above.pitch:
                kept.append(note)
                continue
            for other, other_track in takers:
                top = min(above.pitch, other.high)
                pitch = top - (top - note.pitch) % 12
                if other is not part and pitch >= other.low:
                    handed.setdefault(id(other_track), []).append(replace(note, pitch=pitch))
                    break
            else:
                if above.pitch < min(other.low for other, _ in [*takers, (part, track)]):
                    kept.append(note)  # a tune below every range (played as written) has its harmony above it
        track.notes = kept
    for _, track in takers:
        track.notes = sorted(track.notes + handed.get(id(track), []), key=lambda n: (n.onset_tick, n.pitch))
    order = {id(part): index for index, part in enumerate(instrumentation.parts)}
    return sorted(played + [(part, track) for part, track in silent if track.notes],
                  key=lambda item: order[id(item[0])])


def _chord_symbols(plan: Plan) -> list[ChordSymbol]:
    symbols = [ChordSymbol(bar.start, bar.chord.symbol(uses_flats(plan.key, bar.chord.root))) for bar in plan.bars]
    return [s for i, s in enumerate(symbols) if i == 0 or s.symbol != symbols[i - 1].symbol]


def split_by_rank(notes: list[Note], parts: int) -> list[list[Note]]:
    """`notes` shared among `parts` players from the top down: a note whose pitch ranks r-th
    of the n notes sounding at its onset goes to player r * parts // n."""
    if parts == 1:
        return [list(notes)]
    ordered = sorted(notes, key=lambda n: n.onset_tick)
    shares: list[list[Note]] = [[] for _ in range(parts)]
    sounding: list[Note] = []
    for onset, same_onset in groupby(ordered, key=lambda n: n.onset_tick):
        group = list(same_onset)
        sounding = [s for s in sounding if s.end_tick > onset]
        everyone = sorted(sounding + group, key=lambda n: -n.pitch)
        rank = {id(n): i for i, n in enumerate(everyone)}
        for note in group:
            shares[rank[id(note)] * parts // len(everyone)].append(note)
        sounding += group
    return shares


def fold_into_range(notes: list[Note], low: int, high: int) -> list[Note]:
    """The line moved by the fewest octaves that fit at least 90% as many notes into [low, high]
    as the best shift does, then each note still outside moved by octaves to the nearest edge;
    pitch classes are kept."""
    if not notes:
        return []

    def inside(shift: int) -> int:
        return sum(low <= n.pitch + shift <= high for n in notes)

    shifts = sorted(range(-60, 61, 12), key=abs)
    best = max(inside(s) for s in shifts)
    shift = next(s for s in shifts if inside(s) >= 0.9 * best)
    folded = []
    for note in notes:
        pitch = note.pitch + shift
        while pitch < low:
            pitch += 12
        while pitch > high:
            pitch -= 12
        folded.append(replace(note, pitch=pitch))
    return folded


def _played(part: Part, notes: list[Note], tune: frozenset[int] = frozenset()) -> Track:
    """The notes as `part` plays them: in range, at its loudness, with its articulation. The
    melody (a melody part's notes, or those whose ids are in `tune`) is played as written,
    whatever the range and articulation: the tune is sacred."""
    if part.role == "melody":
        return _melody_played(part, notes)
    written = [replace(n) for n in notes if id(n) in tune]
    others = [n for n in notes if id(n) not in tune]
    others = fold_into_range(others, part.low, part.high) if not part.is_drum else [replace(n) for n in others]
    others = [n for n in others if not any(w.pitch == n.pitch and w.onset_tick < n.end_tick and n.onset_tick
                                           < w.end_tick for w in written)]  # one key cannot sound twice
    middle = median(n.velocity for n in notes) if notes else part.velocity
    for note in written + others:
        note.velocity = int(min(max(round(part.velocity + note.velocity - middle), 1), 127))
    others.sort(key=lambda n: (n.onset_tick, n.pitch))
    if part.articulation == "legato":
        _legato(others)
    elif not part.is_drum:
        factor, shortest = ARTICULATIONS[part.articulation], TICKS_PER_QUARTER // 8
        for note in others:
            note.duration_tick = max(round(note.duration_tick * factor), min(note.duration_tick, shortest))
    notes = sorted(written + others, key=lambda n: (n.onset_tick, n.pitch))
    return Track(part.name, 0 if part.is_drum else part.program, part.is_drum, notes)


def _legato(notes: list[Note]) -> None:
    """Each note held until the next onset, across gaps of up to a quarter note."""
    onsets = sorted({n.onset_tick for n in notes})
    following = dict(pairwise(onsets))
    for note in notes:
        after = following.get(note.onset_tick)
        if after is not None and 0 <= after - note.end_tick <= TICKS_PER_QUARTER:
            note.duration_tick = after - note.onset_tick


def _melody_played(part: Part, notes: list[Note]) -> Track:
    """The melody at the part's loudness, pitches, onsets and durations as written; a warning
    names the notes outside the part's range."""
    notes = [replace(n) for n in notes]
    middle = median(n.velocity for n in notes) if notes else part.velocity
    for note in notes:
        note.velocity = int(min(max(round(part.velocity + note.velocity - middle), 1), 127))
    notes.sort(key=lambda n: (n.onset_tick, n.pitch))
    outside = [n.pitch for n in notes if not part.low <= n.pitch <= part.high]
    if outside:
        warnings.warn(MelodiaWarning(f"{part.name}: the melody goes to {note_name(min([*outside, part.low]))}"
                                     f"-{note_name(max([*outside, part.high]))}, outside the part's range "
                                     f"{note_name(part.low)}-{note_name(part.high)}; played as written"),
                      stacklevel=4)
    return Track(part.name, part.program, False, notes)


def melody_part(instrumentation: Instrumentation) -> Part | None:
    """The part that plays the melody: the first of role melody (or of the role it falls back to)."""
    return next((p for role in FALLBACK["melody"] for p in instrumentation.parts_for(role)), None)


def melody_track(score: Score, instrumentation: Instrumentation) -> int | None:
    """The index of the track of `score` (an arrangement for `instrumentation`) that plays the melody."""
    part = melody_part(instrumentation)
    names = [t.name for t in score.tracks]
    return names.index(part.name) if part is not None and part.name in names else None


def check_melody_kept(melody: list[Note], score: Score, track: int | None, offset: int = 0) -> None:
    """Refuses (StyleError) an arrangement whose melody track does not play every note of `melody`,
    `offset` ticks later, with its pitch, onset and duration."""
    played = Counter((n.pitch, n.onset_tick, n.duration_tick) for n in score.tracks[track].notes) \
        if track is not None else Counter()
    for note in sorted(melody, key=lambda n: n.onset_tick):
        wanted = (note.pitch, note.onset_tick + offset, note.duration_tick)
        if not played[wanted]:
            bar = bisect_right(score.bar_starts(wanted[1]), wanted[1])
            raise StyleError(f"the melody's {note_name(note.pitch)} in bar {bar} would not be played as written "
                             "(pitch, onset and length); refused: the arrangement never changes the melody")
        played[wanted] -= 1


