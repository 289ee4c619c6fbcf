"""Who plays what: split any score into a melody, inner voices, a bass line and drums.

The melody is the top line of the highest, most active part (a part named melody, lead,
vocal... first; a bass instrument never); the bass the bottom line of a bass instrument or
a part named bass, else of the lowest part when it lies well below the melody; everything
else is inner voices, ordered from high to low. A score with one pitched line and nothing
else is a bare melody.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from melodia.score import Note, Score, Track


@dataclass
class Voices:
    """The lines of a score by role (notes are copies; the score is not changed)."""

    melody: list[Note] = field(default_factory=list)
    inner: list[list[Note]] = field(default_factory=list)  # high to low
    bass: list[Note] = field(default_factory=list)
    drums: list[Note] = field(default_factory=list)

    @property
    def is_bare_melody(self) -> bool:
        return bool(self.melody) and not self.inner and not self.bass


def detect_voices(score: Score) -> Voices:
    """The melody, inner voices, bass and drums of `score`."""
    voices = Voices(drums=[replace(n) for t in score.tracks if t.is_drum for n in t.notes])
    pitched = [t for t in score.tracks if not t.is_drum and t.notes]
    if not pitched:
        return voices
    melody_track = _melody_track(pitched)
    others = sorted((t for t in pitched if t is not melody_track), key=_mean_pitch, reverse=True)
    basses = [t for t in others if _is_bass(t)]
    if basses:  # a bass instrument, or a part named bass, plays the bass whatever its register
        others.remove(basses[-1])
        others.append(basses[-1])
    voices.melody, rest = top_line([replace(n) for n in melody_track.notes])
    leftovers = [rest] if rest else []
    if others and (basses or _mean_pitch(others[-1]) <= _mean_pitch(melody_track) - 7):
        bass_rest, voices.bass = bottom_line([replace(n) for n in others.pop().notes])
        leftovers.append(bass_rest)
    elif not others and rest and len(rest) >= len(voices.melody) // 4:
        rest, voices.bass = bottom_line(rest)
        leftovers = [rest]
    inner = [[replace(n) for n in t.notes] for t in others] + leftovers
    voices.inner = sorted((line for line in inner if line), key=_mean_of, reverse=True)
    return voices


def melody_track_index(score: Score) -> int | None:
    """The index of the track whose top line `detect_voices` takes for the melody (None: no pitched notes)."""
    pitched = [t for t in score.tracks if not t.is_drum and t.notes]
    return next(i for i, t in enumerate(score.tracks) if t is _melody_track(pitched)) if pitched else None


def _melody_track(pitched: list[Track]) -> Track:
    most = max(len(t.notes) for t in pitched)
    candidates = [t for t in pitched if _named(t, MELODY_NAMES)] or [t for t in pitched if not _is_bass(t)] or pitched
    return max(candidates, key=lambda t: _mean_pitch(t) + 12 * len(t.notes) / most)


MELODY_NAMES = ("melody", "lead", "vocal", "voice", "soprano", "tune", "solo", "theme")


def _named(track: Track, words: tuple[str, ...]) -> bool:
    name = track.name.lower()
    return any(word in name for word in words)


def _is_bass(track: Track) -> bool:
    """A General MIDI bass program (32-39), or a part named bass (not bassoon or bass clarinet)."""
    name = track.name.lower()
    return track.program // 8 == 4 or ("bass" in name and "bassoon" not in name and "clarinet" not in name)


def top_line(notes: list[Note]) -> tuple[list[Note], list[Note]]:
    """(skyline, the rest): a note is on the top line when nothing higher sounds at its onset.
    Top-line notes are cut where the next one begins, so the line never overlaps itself."""
    return _extreme_line(notes, highest=True)


def bottom_line(notes: list[Note]) -> tuple[list[Note], list[Note]]:
    """(the rest, bottom line): the mirror of `top_line`."""
    line, rest = _extreme_line(notes, highest=False)
    return rest, line


def _extreme_line(notes: list[Note], highest: bool) -> tuple[list[Note], list[Note]]:
    sign = -1 if highest else 1
    ordered = sorted(notes, key=lambda n: (n.onset_tick, sign * n.pitch))
    line: list[Note] = []
    rest: list[Note] = []
    sounding: list[Note] = []
    for note in ordered:
        sounding = [s for s in sounding if s.end_tick > note.onset_tick]
        beaten = any(sign * s.pitch <= sign * note.pitch for s in sounding if s is not note)
        if beaten:
            rest.append(note)
        else:
            if line and line[-1].end_tick > note.onset_tick:
                line[-1].duration_tick = max(note.onset_tick - line[-1].onset_tick, 1)
            line.append(note)
        sounding.append(note)
    return line, rest


def _mean_pitch(track: Track) -> float:
    return _mean_of(track.notes)


def _mean_of(notes: list[Note]) -> float:
    return sum(n.pitch for n in notes) / len(notes) if notes else 0.0
