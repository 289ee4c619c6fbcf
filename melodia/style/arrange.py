"""Instrumentation templates applied to a `Score`: roles to instruments, octave folding into
each instrument's range, velocities and articulation, and accompaniment for a bare melody."""

from __future__ import annotations

import warnings
from dataclasses import replace
from itertools import groupby, pairwise
from statistics import median

from melodia.analysis import key_of
from melodia.errors import MelodiaWarning
from melodia.score import TICKS_PER_QUARTER, Note, Score, Track
from melodia.style import accompany
from melodia.style.roles import detect_voices
from melodia.style.templates import ARTICULATIONS, Instrumentation, Part

# Where a role's notes go when the template has no part for it: nothing pitched is dropped.
FALLBACK = {
    "melody": ("melody", "counter_melody", "harmony", "bass"),
    "counter_melody": ("counter_melody", "harmony", "melody", "bass"),
    "harmony": ("harmony", "counter_melody", "melody", "bass"),
    "bass": ("bass", "harmony", "counter_melody", "melody"),
    "drums": ("drums",),
}


def arrange(score: Score, instrumentation: Instrumentation, patterns: dict[str, str] | None = None,
            accompaniment: bool = True) -> Score:
    """`score` played by the parts of `instrumentation` (a new Score).

    `patterns` (role -> pattern name) override the parts' own accompaniment patterns; with
    `accompaniment` False a bare melody stays bare.
    """
    voices = detect_voices(score)
    lines: dict[str, list[list[Note]]] = {role: [] for role in FALLBACK}
    lines["melody"].append(voices.melody)
    inner = list(voices.inner)
    if inner and instrumentation.parts_for("counter_melody") and \
            (len(inner) > 1 or not instrumentation.parts_for("harmony")):
        lines["counter_melody"].append(inner.pop(0))
    lines["harmony"] += inner
    lines["bass"].append(voices.bass)
    lines["drums"].append(voices.drums)
    if accompaniment and voices.is_bare_melody:
        _accompany(score, voices.melody, instrumentation, patterns or {}, lines)
    assigned: dict[int, list[Note]] = {}
    for role, role_lines in lines.items():
        notes = [n for line in role_lines for n in line]
        target = next((r for r in FALLBACK[role] if instrumentation.parts_for(r)), None)
        if notes and target is None:
            warnings.warn(f"instrumentation {instrumentation.name!r} has no {role} part; {len(notes)} {role} notes "
                          "left out", MelodiaWarning, stacklevel=2)
        if not notes or target is None:
            continue
        indices = [i for i, part in enumerate(instrumentation.parts) if part.role == target]
        for index, share in zip(indices, split_by_rank(notes, len(indices)), strict=True):
            assigned.setdefault(index, []).extend(share)
    tracks = [_played(instrumentation.parts[i], notes) for i, notes in sorted(assigned.items()) if notes]
    return Score(tracks, list(score.tempos), list(score.time_signatures), list(score.key_signatures), score.title)


def _accompany(score: Score, melody: list[Note], instrumentation: Instrumentation, patterns: dict[str, str],
               lines: dict[str, list[list[Note]]]) -> None:
    """Fills the harmony, counter-melody, bass and drum roles of a bare melody."""
    key = key_of(score)
    bars = accompany.chord_bars(score, melody, key)
    for role in ("counter_melody", "harmony", "bass", "drums"):
        parts = instrumentation.parts_for(role)
        if not parts or (lines[role] and any(lines[role])):
            continue
        pattern = patterns.get(role, parts[0].pattern)
        if pattern == "none":
            continue
        if role == "counter_melody":
            lines[role] = [accompany.counter_melody(melody, key, pattern)]
        elif role == "harmony":
            lines[role] = [accompany.harmony_part(bars, pattern)]
        elif role == "bass":
            lines[role] = [accompany.bass_part(bars, pattern)]
        else:
            lines[role] = [accompany.drum_part(bars, pattern)]


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


def _played(part: Part, notes: list[Note]) -> Track:
    """The notes as `part` plays them: in range, at its loudness, with its articulation."""
    notes = fold_into_range(notes, part.low, part.high) if not part.is_drum else [replace(n) for n in notes]
    middle = median(n.velocity for n in notes) if notes else part.velocity
    for note in notes:
        note.velocity = int(min(max(round(part.velocity + note.velocity - middle), 1), 127))
    notes.sort(key=lambda n: (n.onset_tick, n.pitch))
    if part.articulation == "legato":
        _legato(notes)
    elif not part.is_drum:
        factor, shortest = ARTICULATIONS[part.articulation], TICKS_PER_QUARTER // 8
        for note in notes:
            note.duration_tick = max(round(note.duration_tick * factor), min(note.duration_tick, shortest))
    return Track(part.name, 0 if part.is_drum else part.program, part.is_drum, notes)


def _legato(notes: list[Note]) -> None:
    """Each note held until the next onset, across gaps of up to a quarter note."""
    onsets = sorted({n.onset_tick for n in notes})
    following = dict(pairwise(onsets))
    for note in notes:
        after = following.get(note.onset_tick)
        if after is not None and 0 <= after - note.end_tick <= TICKS_PER_QUARTER:
            note.duration_tick = after - note.onset_tick
