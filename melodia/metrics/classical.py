"""What a classical musician checks in a piece of part writing: parallels, crossings, ranges, how busy the inner
voices are, whether a pianist can play it, cadences, the given harmony and the given melody.

A *voice* is one part's notes (a `Track`'s, or any list of `Note`), read as a line: at each onset the top note of
what it strikes there (the bottom note for the lowest voice of an ensemble), sounding until that chord ends or
the voice strikes again. Voices are compared at *moments*: the beats of the meter (dotted quarters in 6/8), or
every onset where asked; rates are per 100 beats of the meter over the voices' span.

- parallel fifths / octaves: between two voices, from one moment to the next (both sounding at each), both
  move in the same direction and stand the same perfect interval apart (a fifth, or an octave or unison,
  compound intervals folded: pitch-class distance 7 or 0) before and after;
- crossing: at a moment where two neighbouring voices (the upper one above on average) both sound, the lower
  voice's highest note stands above the upper voice's lowest;
- range: the share of a part's notes inside its instrument's range (`RANGES`);
- piano hands: each hand at each onset sounds at most 5 keys within a tenth (16 semitones), strikes no key the
  other hand holds, and the left hand goes no lower than E1;
- cadence: a phrase whose melody closes on the tonic closes on a root-position tonic chord after a dominant one;
- given chords: the accompaniment sounding at a beat uses only tones of the chord symbol in force there;
- melody unchanged: the input melody's notes found in the output's melody part with the same pitch, onset and
  duration (up to one shift of the whole, an intro's length).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence

import numpy as np

from melodia.metrics import tonic_of
from melodia.score import ChordSymbol, Note, Score, Track
from melodia.theory.chord import chord_root, parse_symbol

Voice = Sequence[Note]

# Written ranges as MIDI pitches: strings to the top of a player's usual range, voices by the textbook SATB ranges.
RANGES = {"violin": (55, 105), "viola": (48, 88), "cello": (36, 81),  # G3-A7, C3-E6, C2-A5
          "soprano": (60, 81), "alto": (55, 74), "tenor": (48, 69), "bass": (40, 62)}  # C4-A5, G3-D5, C3-A4, E2-D4
# The General MIDI programs of the strings, for parts without a telling name.
STRING_PROGRAMS = {40: "violin", 41: "viola", 42: "cello"}
# Words in a part's name, in the order they are tried ('violoncello' before 'violin').
NAME_WORDS = (("cello", "cello"), ("vc", "cello"), ("viola", "viola"), ("vla", "viola"), ("violin", "violin"),
              ("vn", "violin"), ("soprano", "soprano"), ("alto", "alto"), ("tenor", "tenor"), ("bass", "bass"))
VOICES = ("soprano", "alto", "tenor", "bass")
SUNG_PROGRAMS = (0, 52, 53, 54)  # unset (music21's chorales), Choir Aahs, Voice Oohs, Synth Voice
HAND_KEYS = 5  # keys one hand holds at once
HAND_SPAN = 16  # a tenth, in semitones
PIANO_BASS_FLOOR = 28  # E1
PERFECT = {7: "fifths", 0: "octaves"}  # pitch-class distance: kind (unisons count as octaves)


# --- voices as lines -------------------------------------------------------------------------------------------

def _strokes(voice: Voice) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The voice's distinct onsets, by tick: each onset's top and bottom pitch struck, and when that chord ends."""
    by_onset: dict[int, list[Note]] = {}
    for note in voice:
        by_onset.setdefault(note.onset_tick, []).append(note)
    onsets = np.asarray(sorted(by_onset), dtype=np.int64)
    chords = [by_onset[int(t)] for t in onsets]
    tops = np.asarray([max(n.pitch for n in c) for c in chords], dtype=np.int64)
    bottoms = np.asarray([min(n.pitch for n in c) for c in chords], dtype=np.int64)
    ends = np.asarray([max(n.end_tick for n in c) for c in chords], dtype=np.int64)
    return onsets, tops, bottoms, ends


def line_at(voice: Voice, ticks: Sequence[int] | np.ndarray, lowest: bool = False) -> np.ndarray:
    """The voice's pitch sounding at each tick (0 where it is silent): the top note of its last stroke, or the
    bottom note when `lowest`."""
    onsets, tops, bottoms, ends = _strokes(voice)
    ticks = np.asarray(ticks, dtype=np.int64)
    if not len(onsets):
        return np.zeros(len(ticks), dtype=np.int64)
    index = np.searchsorted(onsets, ticks, side="right") - 1
    safe = np.maximum(index, 0)
    sounding = (index >= 0) & (ends[safe] > ticks)
    return np.where(sounding, (bottoms if lowest else tops)[safe], 0)


def _onsets(voices: Sequence[Voice]) -> np.ndarray:
    """Ticks where any of the voices strikes, by tick."""
    return np.unique(np.asarray([n.onset_tick for voice in voices for n in voice], dtype=np.int64))


def _span(voices: Sequence[Voice]) -> tuple[int, int]:
    notes = [n for voice in voices for n in voice]
    return min(n.onset_tick for n in notes), max(n.end_tick for n in notes)


def beat_starts(score: Score, start_tick: int, end_tick: int) -> list[int]:
    """The beats of the score's meter (dotted quarters in 6/8, halves in 2/2) from `start_tick` up to `end_tick`."""
    ticks = []
    for start, length, meter in score.bars(max(start_tick, end_tick - 1)):
        beat = meter.beat_ticks
        ticks += [t for t in range(start, start + length, beat) if start_tick <= t < end_tick]
    return ticks


def moments(score: Score, voices: Sequence[Voice], every_onset: bool = False) -> np.ndarray:
    """The simultaneities at which voices are compared: the beats of the meter over the voices' span, or every
    tick where one of them strikes when `every_onset`."""
    if not any(voices):
        return np.zeros(0, dtype=np.int64)
    return _onsets(voices) if every_onset else np.asarray(beat_starts(score, *_span(voices)), dtype=np.int64)


def per_100_beats(score: Score, count: float, voices: Sequence[Voice]) -> float:
    """`count` per 100 beats of the meter over the voices' span (NaN for voices without notes)."""
    beats = len(moments(score, voices))
    return 100 * count / beats if beats else float("nan")


def by_register(tracks: Iterable[Track]) -> list[Track]:
    """The pitched tracks with notes, highest mean pitch first (the order in which voices should stand)."""
    pitched = [t for t in tracks if not t.is_drum and t.notes]
    return sorted(pitched, key=lambda t: -float(np.mean([n.pitch for n in t.notes])))


# --- parallels and crossings -----------------------------------------------------------------------------------

def parallel_motions(upper: Voice, lower: Voice, ticks: Sequence[int] | np.ndarray,
                     lower_is_bass: bool = False) -> list[tuple[int, str]]:
    """(index into `ticks`, 'fifths' or 'octaves') of each parallel perfect interval between two voices: from
    one of `ticks` to the next, both sounding at each, both move the same way and keep a fifth or an octave
    (unison, compound) apart. The lower voice is read by its bottom notes when `lower_is_bass`."""
    high, low = line_at(upper, ticks), line_at(lower, ticks, lowest=lower_is_bass)
    found = []
    for after in range(1, len(high)):
        before = after - 1
        if not (high[before] and low[before] and high[after] and low[after]):
            continue
        high_step, low_step = high[after] - high[before], low[after] - low[before]
        if high_step == 0 or low_step == 0 or (high_step > 0) != (low_step > 0):
            continue
        first, second = abs(high[before] - low[before]) % 12, abs(high[after] - low[after]) % 12
        if first == second and first in PERFECT:
            found.append((after, PERFECT[first]))
    return found


def lone(motions: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """The parallel motions that are not part of a doubling: no parallel motion of the same kind into the moment
    before or out of the moment after (two voices that fall into parallels, not one line doubled)."""
    at = dict(motions)
    return [(index, kind) for index, kind in motions if at.get(index - 1) != kind and at.get(index + 1) != kind]


def parallel_counts(score: Score, voices: Sequence[Voice], every_onset: bool = False,
                    doublings: bool = True) -> dict[str, int]:
    """Parallel fifths and octaves between every pair of voices (highest voice first; the last is the bass), from
    each beat to the next (from each onset to the next when `every_onset`); without the runs of two or more in a
    row (a line doubled) unless `doublings`."""
    ticks = moments(score, voices, every_onset)
    counts = {"fifths": 0, "octaves": 0}
    for i, j in itertools.combinations(range(len(voices)), 2):
        motions = parallel_motions(voices[i], voices[j], ticks, lower_is_bass=j == len(voices) - 1)
        for _, kind in motions if doublings else lone(motions):
            counts[kind] += 1
    return counts


def parallels_per_100_beats(score: Score, voices: Sequence[Voice], every_onset: bool = False,
                            doublings: bool = True) -> float:
    """Parallel fifths and octaves (all pairs together) per 100 beats of the meter (see `parallel_counts`)."""
    return per_100_beats(score, sum(parallel_counts(score, voices, every_onset, doublings).values()), voices)


def crossing_ticks(upper: Voice, lower: Voice, ticks: Sequence[int] | np.ndarray,
                   lower_is_bass: bool = False) -> list[int]:
    """The `ticks` where both voices sound and the lower voice's line stands above the upper voice's."""
    ticks = np.asarray(ticks, dtype=np.int64)
    high, low = line_at(upper, ticks), line_at(lower, ticks, lowest=lower_is_bass)
    return [int(t) for t in ticks[(high > 0) & (low > 0) & (low > high)]]


def crossings(score: Score, voices: Sequence[Voice], every_onset: bool = False) -> int:
    """Crossings between neighbouring voices (highest voice first), counted at each beat crossed (at each onset
    when `every_onset`)."""
    ticks = moments(score, voices, every_onset)
    return sum(len(crossing_ticks(voices[i], voices[i + 1], ticks, i + 2 == len(voices)))
               for i in range(len(voices) - 1))


def crossings_per_100_beats(score: Score, voices: Sequence[Voice], every_onset: bool = False) -> float:
    """Voice crossings per 100 beats of the meter."""
    return per_100_beats(score, crossings(score, voices, every_onset), voices)


# --- parts: how busy, and in range -----------------------------------------------------------------------------

def notes_per_bar(score: Score, voice: Voice) -> float:
    """Strokes (distinct onsets: a double stop is one) of the voice per bar of the score."""
    bars = score.bar_count()
    return len({n.onset_tick for n in voice}) / bars if bars else 0.0


def instrument_of(track: Track) -> str | None:
    """The instrument or voice of `RANGES` a track is (by a word of its name, else by its string program), or None.
    A voice's name counts only for a sung part (a choir program, or program 0 as music21 reads a chorale's
    parts), so that a 'Piano bass' or a bass guitar is no bass voice."""
    name = track.name.lower()
    words = name.replace(".", " ").split()
    sung = track.program in SUNG_PROGRAMS and "piano" not in name
    for word, instrument in NAME_WORDS:
        if (word in name if len(word) > 2 else word in words) and (instrument not in VOICES or sung):
            return instrument
    return STRING_PROGRAMS.get(track.program)


def in_range_share(track: Track, instrument: str | None = None) -> float:
    """Share of the track's notes inside the range of `instrument` (by default its own, `instrument_of`); NaN
    for an instrument without a range here or a track without notes."""
    instrument = instrument or instrument_of(track)
    if instrument not in RANGES or not track.notes:
        return float("nan")
    low, high = RANGES[instrument]
    return float(np.mean([low <= n.pitch <= high for n in track.notes]))


# --- the piano -------------------------------------------------------------------------------------------------

def _sounding(voice: Voice, tick: int) -> list[Note]:
    return [n for n in voice if n.onset_tick <= tick < n.end_tick]


def _table(voice: Voice) -> np.ndarray:
    """The voice's notes as rows of (onset, end, pitch)."""
    return np.asarray([(n.onset_tick, n.end_tick, n.pitch) for n in voice], dtype=np.int64).reshape(-1, 3)


def _held(table: np.ndarray, tick: int) -> set[int]:
    return set(table[(table[:, 0] <= tick) & (table[:, 1] > tick), 2].tolist())


def hand_problems(hand: Voice, other: Voice, name: str, bass_floor: int | None = None) -> list[tuple[int, str]]:
    """(tick, problem) at each onset of `hand` that one hand cannot play: more than `HAND_KEYS` keys held, a span
    wider than a tenth, a key struck that `other` hand holds (or strikes with it), a key below `bass_floor`."""
    mine, theirs = _table(hand), _table(other)
    found = []
    for tick in np.unique(mine[:, 0]).tolist():
        held = _held(mine, tick)
        struck = set(mine[mine[:, 0] == tick, 2].tolist())
        problems = []
        if len(held) > HAND_KEYS:
            problems.append(f"{len(held)} keys")
        if held and max(held) - min(held) > HAND_SPAN:  # a zero-length note is struck but not held
            problems.append(f"a span of {max(held) - min(held)} semitones")
        shared = struck & _held(theirs, tick)
        if shared:
            problems.append(f"key {min(shared)} held by the other hand")
        if bass_floor is not None and min(struck) < bass_floor:
            problems.append(f"key {min(struck)} below {bass_floor}")
        if problems:
            found.append((tick, f"{name} at tick {tick}: " + ", ".join(problems)))
    return found


def piano_problems(right: Voice, left: Voice) -> list[str]:
    """Every onset of either hand that a pianist cannot play (`hand_problems`), by tick."""
    found = hand_problems(right, left, "right hand") + hand_problems(left, right, "left hand", PIANO_BASS_FLOOR)
    return [text for _, text in sorted(found)]


def piano_playable_share(right: Voice, left: Voice) -> float:
    """Share of the hands' onsets (each hand's counted apart) that one pianist can play (1.0 without notes)."""
    onsets = len({n.onset_tick for n in right}) + len({n.onset_tick for n in left})
    bad = len(hand_problems(right, left, "right")) + len(hand_problems(left, right, "left", PIANO_BASS_FLOOR))
    return 1 - bad / onsets if onsets else 1.0


def piano_tracks(score: Score) -> list[Track]:
    """The tracks with notes played by a piano (General MIDI programs 0-7)."""
    return [t for t in score.tracks if not t.is_drum and t.notes and 0 <= t.program <= 7]


def hands_of(score: Score) -> tuple[list[Note], list[Note]]:
    """The right and left hands of a piano score: the highest piano track, and every other piano track together
    (so that a third staff counts against the left hand, as a pianist would have to play it)."""
    tracks = by_register(piano_tracks(score))
    if not tracks:
        return [], []
    return list(tracks[0].notes), [n for t in tracks[1:] for n in t.notes]


# --- harmony ---------------------------------------------------------------------------------------------------

def chord_at(voices: Sequence[Voice], tick: int) -> tuple[frozenset[int], int | None]:
    """The pitch classes sounding at `tick` in the voices, and the lowest pitch (None for silence)."""
    pitches = [n.pitch for voice in voices for n in _sounding(voice, tick)]
    return frozenset(p % 12 for p in pitches), (min(pitches) if pitches else None)


def _root(voices: Sequence[Voice], tick: int) -> tuple[int | None, int | None]:

    chord, bass = chord_at(voices, tick)
    return chord_root(chord, bass), bass


def given_cadence(symbols: Sequence[ChordSymbol], tick: int, tonic: int, bar_ticks: int) -> bool:
    """Whether chord symbols leave the cadence at `tick` to the arranger: none are given, or the symbol in force
    there has the tonic as root and the last symbol of another root before it (within a bar) the dominant. A phrase
    end the user harmonized otherwise (vi under the tune's tonic, I held through the bar, V7 held over it) is the
    user's harmony, kept as given, and not the arranger's cadence."""
    if not symbols:
        return True
    ordered = sorted(symbols, key=lambda c: c.tick)
    roots = [(c.tick, parse_symbol(c.symbol).root) for c in ordered]
    here = next((root for at, root in reversed(roots) if at <= tick), None)
    before = next((root for at, root in reversed(roots) if tick - bar_ticks <= at < tick and root != here), None)
    return here == tonic and before == (tonic + 7) % 12


def cadence_checks(score: Score, melody: Voice, voices: Sequence[Voice], tonic: int | None = None,
                   ends: Voice | None = None, given: Sequence[ChordSymbol] | None = None
                   ) -> list[tuple[int, bool]]:
    """(tick, closed) for each phrase whose melody closes on the tonic: closed when the chord struck there has the
    tonic as root and in the bass, and the last chord of another root before it (within a bar) is the dominant.
    `tonic` is a pitch class, by default the score's key's; `ends` are the melody's notes that close phrases (its
    fermatas), by default `phrase_closes`. With `given` chord symbols only the phrase ends whose cadence they leave
    to the arranger count (`given_cadence`): where the user wrote another harmony, the arranger keeps it."""
    line = sorted(melody, key=lambda n: n.onset_tick)
    if not line:
        return []
    tonic = tonic_of(score) if tonic is None else tonic
    onsets = sorted({n.onset_tick for voice in voices for n in voice})
    checks = []
    for end in sorted(phrase_closes(score, line) if ends is None else ends, key=lambda n: n.onset_tick):
        if end.pitch % 12 != tonic or (given and not given_cadence(
                given, end.onset_tick, tonic, score.time_signature_at(end.onset_tick).bar_ticks)):
            continue
        root, bass = _root(voices, end.onset_tick)
        closed = root == tonic and bass is not None and bass % 12 == tonic
        bar = score.time_signature_at(end.onset_tick).bar_ticks
        before = next((r for t in reversed(onsets) if end.onset_tick - bar <= t < end.onset_tick
                       and (r := _root(voices, t)[0]) is not None and r != root), None)
        checks.append((end.onset_tick, closed and before == (tonic + 7) % 12))
    return checks


def phrase_closes(score: Score, melody: Voice, phrase_bars: int = 4) -> list[Note]:
    """The melody's notes that close a phrase of `phrase_bars` bars: its last note, and the notes
    `melodia.analysis.phrase_ends` finds (held a beat and twice the usual length, on a beat) that fall in the last
    bar of a phrase, counted from the first bar (after a pickup: a first bar whose notes start in its second half)."""
    from melodia.analysis import phrase_ends

    line = sorted(melody, key=lambda n: n.onset_tick)
    if not line:
        return []
    starts = score.bar_starts(line[-1].onset_tick)
    first = int(len(starts) > 1 and 2 * line[0].onset_tick >= starts[1])

    def bar_of(note: Note) -> int:
        return int(np.searchsorted(starts, note.onset_tick, side="right")) - 1

    closes = [n for n in phrase_ends(line, score) if (bar_of(n) - first) % phrase_bars == phrase_bars - 1]
    return sorted({id(n): n for n in [*closes, line[-1]]}.values(), key=lambda n: n.onset_tick)


def tonic_cadence_share(score: Score, melody: Voice, voices: Sequence[Voice], tonic: int | None = None,
                        ends: Voice | None = None) -> float:
    """Share of the phrases closing on the tonic that close with a root-position V-I (`cadence_checks`); NaN
    when none closes on the tonic."""
    checks = cadence_checks(score, melody, voices, tonic, ends)
    return float(np.mean([closed for _, closed in checks])) if checks else float("nan")


def given_chord_checks(score: Score, accompaniment: Sequence[Voice],
                       symbols: Sequence[ChordSymbol] | None = None) -> list[tuple[int, bool]]:
    """(tick, fits) at each beat from the first chord symbol to the accompaniment's end where the accompaniment
    sounds: fits when every pitch class it sounds there is a tone of the chord symbol in force (`symbols`, by
    default the score's own)."""

    symbols = sorted(score.chord_symbols if symbols is None else symbols, key=lambda c: c.tick)
    notes = [n for voice in accompaniment for n in voice]
    if not symbols or not notes:
        return []
    ticks = [c.tick for c in symbols]
    tones = [set(parse_symbol(c.symbol).pitch_classes) for c in symbols]
    checks = []
    for beat in beat_starts(score, symbols[0].tick, max(n.end_tick for n in notes)):
        chord, _ = chord_at(accompaniment, beat)
        if chord:
            checks.append((beat, chord <= tones[int(np.searchsorted(ticks, beat, side="right")) - 1]))
    return checks


def given_chord_share(score: Score, accompaniment: Sequence[Voice],
                      symbols: Sequence[ChordSymbol] | None = None) -> float:
    """Share of the accompaniment's sounding beats that fit the given chord (`given_chord_checks`); NaN without
    chord symbols or accompaniment."""
    checks = given_chord_checks(score, accompaniment, symbols)
    return float(np.mean([fits for _, fits in checks])) if checks else float("nan")


# --- the melody ------------------------------------------------------------------------------------------------

def melody_unchanged(original: Voice, output: Voice, shifts: Iterable[int] = (0,), tolerance: int = 0) -> float:
    """Share of the original melody's notes found in `output` with the same pitch, duration and onset (moved by
    one of `shifts` ticks, the best one: an intro's length), onset and duration each within `tolerance` ticks (a
    humanized performance's); 1.0 for an empty original."""
    if not original:
        return 1.0
    return max((_found(original, output, shift, tolerance) for shift in shifts), default=0) / len(original)


def _found(original: Voice, output: Voice, shift: int, tolerance: int) -> int:
    """How many of the original notes, moved by `shift`, `output` holds (within `tolerance` ticks)."""
    by_pitch: dict[int, list[Note]] = {}
    for note in output:
        by_pitch.setdefault(note.pitch, []).append(note)
    return sum(any(abs(n.onset_tick - note.onset_tick - shift) <= tolerance
                   and abs(n.duration_tick - note.duration_tick) <= tolerance for n in by_pitch.get(note.pitch, []))
               for note in original)


def best_shift(original: Voice, output: Voice, shifts: Iterable[int], tolerance: int = 0) -> int:
    """The shift of `shifts` under which most of the original melody is found unchanged in `output`."""
    return max(shifts, key=lambda shift: _found(original, output, shift, tolerance), default=0)
