"""ABC, MusicXML and Humdrum through music21, and `Score` to and from music21 streams.

Notes are built from music21's own note objects (ties merged, grace notes
dropped, a pickup bar shifted so bar lines fall where the notation puts them);
music21's MIDI writer is never used, as it fails on about one Essen tune in eight.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import replace
from fractions import Fraction
from pathlib import Path
from typing import Any, TypeVar

from melodia.errors import MelodiaError, MelodiaWarning, ReadError, WriteError
from melodia.io.repeats import expand_parts, form_of, has_repeats, written_bars, written_score, written_segments
from melodia.limits import TimeLimitExceeded, time_limit
from melodia.score import (
    MAJOR,
    MINOR,
    TICKS_PER_QUARTER,
    ChordSymbol,
    KeySignature,
    Note,
    Score,
    TempoChange,
    TimeSignature,
    Track,
)
from melodia.theory.chord import MUSICXML_KINDS, QUALITIES

MAX_TEXT_BYTES = 8 * 1024 * 1024
PARSE_SECONDS = 2.0  # music21's time budget: this much, plus a second per PARSE_BYTES_PER_SECOND
PARSE_BYTES_PER_SECOND = 5000  # music21 reads ABC at 13-19 KB/s on our 2-core machine
RETRY_FACTOR = 10  # `patiently` tries a refused piece again with this many times the budget,
RETRY_SECONDS = 30.0  # and at least this many seconds of CPU time
_GENEROUS: ContextVar[bool] = ContextVar("generous_budget", default=False)
T = TypeVar("T")
DEFAULT_VELOCITY = 80


class NoSuchPiece(ReadError):
    """A piece asked for by number that the file does not hold."""

    def __init__(self, source: str, reason: str, count: int) -> None:
        super().__init__(source, reason)
        self.count = count


class TooComplex(ReadError):
    """music21 ran past its CPU-time budget: see `_within_budget` and `patiently`."""


def read_music21(path: str | os.PathLike[str], index: int | None = None) -> Score:
    """Read one piece of an ABC, MusicXML or Humdrum file: the `index`-th, counting from 0, or
    the first when `index` is None, with a warning when the file holds more than one.

    Raises:
        ReadError: the file is missing, too big or unparsable; `NoSuchPiece` when it holds no
            piece `index`.
    """
    tunes = abc_tunes(_source_text(path)) if Path(path).suffix.lower() == ".abc" else None
    pieces = read_music21_pieces(path) if tunes is None else []  # an ABC tune is read only when chosen
    count = len(pieces) if tunes is None else len(tunes)
    if count == 0:
        raise ReadError(str(path), "holds no music")
    if index is None and count > 1:
        warnings.warn(MelodiaWarning(f"{path}: holds {count} pieces; read the first (name another as "
                                     f"{Path(path).name}#2 ... #{count})"), stacklevel=2)
    chosen = 0 if index is None else index
    if not 0 <= chosen < count:
        raise NoSuchPiece(str(path), f"piece {chosen} asked for; the file holds {count}", count)
    if tunes is None:
        return pieces[chosen]
    return score_from_text(tunes[chosen], "abc", _piece_name(path, chosen, count))


def read_music21_pieces(path: str | os.PathLike[str]) -> list[Score]:
    """Every piece in a file (an ABC file may hold many tunes, each read on its own)."""
    if Path(path).suffix.lower() == ".abc":
        tunes = abc_tunes(_source_text(path))
        return [score_from_text(tune, "abc", _piece_name(path, number, len(tunes)))
                for number, tune in enumerate(tunes)]
    stream = parse_music21(path)
    return _within_budget(str(path), os.path.getsize(path),
                          lambda: [_checked(score_from_music21(piece), str(path)) for piece in _pieces(stream)])


def _piece_name(path: str | os.PathLike[str], number: int, count: int) -> str:
    """How errors name piece `number` (from 0) of a file: FILE#1 ... when it holds several."""
    return f"{path}#{number + 1}" if count > 1 else str(path)


def _source_text(path: str | os.PathLike[str]) -> str:
    """The text of a file, refused when missing or over `MAX_TEXT_BYTES`."""
    source = str(path)
    try:
        size = os.path.getsize(path)
        if size <= MAX_TEXT_BYTES:
            return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        raise ReadError(source, f"cannot open ({error.strerror or error})") from error
    raise ReadError(source, f"file is {size} bytes, over the {MAX_TEXT_BYTES}-byte limit")


def _checked(score: Score, source: str) -> Score:
    """The score, unless it lasts longer than the MIDI reader would accept."""
    from melodia.io.midi import MAX_NOTES, MAX_QUARTERS

    if score.end_tick > MAX_QUARTERS * TICKS_PER_QUARTER or score.note_count > MAX_NOTES:
        raise ReadError(source, f"{score.note_count} notes over {score.end_tick / TICKS_PER_QUARTER:.0f} quarter "
                                f"notes; over the limits of {MAX_NOTES} notes and {MAX_QUARTERS} quarters")
    return score


def parse_music21(path: str | os.PathLike[str]) -> Any:
    """Parse a file with music21, turning its many exception types into one `ReadError`."""
    import music21

    source = str(path)
    try:
        size = os.path.getsize(path)
    except OSError as error:
        raise ReadError(source, f"cannot open ({error.strerror or error})") from error
    if size > MAX_TEXT_BYTES:
        raise ReadError(source, f"file is {size} bytes, over the {MAX_TEXT_BYTES}-byte limit")
    suffix = Path(path).suffix.lower()
    if suffix in (".abc", ".xml", ".musicxml"):
        _check_meters(Path(path).read_text(encoding="utf-8", errors="replace"), source)
    return _within_budget(source, size, lambda: music21.converter.parse(Path(path), format=_FORMATS.get(suffix)))


# Fields whose absurd values send music21 into minutes of work, and the largest number each may hold.
CHECKED_FIELDS = (
    (re.compile(r"<beats>\s*([^<]{0,40})</beats>"), 128),
    (re.compile(r"<beat-type>\s*([^<]{0,40})</beat-type>"), 128),
    (re.compile(r"<fifths>\s*([^<]{0,40})</fifths>"), 14),
    (re.compile(r"^\s*\[?M:\s*([^\n\]]{0,40})", re.MULTILINE), 128),
    (re.compile(r"^\s*\[?L:\s*([^\n\]]{0,40})", re.MULTILINE), 1024),
)


def _check_meters(text: str, source: str) -> None:
    """Refuse meters, key signatures and note lengths music21 would spend minutes on
    (<beats>999999999</beats>, <fifths>99999</fifths>, M:99999/8, L:1/65536) before it starts."""
    for pattern, limit in CHECKED_FIELDS:
        for match in pattern.finditer(text):
            if any(int(n) > limit for n in re.findall(r"\d+", match.group(1))[:8]):
                raise ReadError(source, f"{match.group(0).strip()[:60]!r}: numbers over {limit} are refused there")


@contextmanager
def _sane_bar_meters() -> Iterator[None]:
    """While melodia parses, bars of odd lengths get a meter music21 can handle.

    music21 gives a bar whose length is not a whole number of 32nd notes (a triplet in an
    overfull bar) a meter such as 4879784/1125899906842624, then spends minutes and gigabytes
    dividing it into beats. Such bars get the nearest meter in 32nd notes instead; a bar of
    over 1024 quarter notes is refused.
    """
    import music21

    measure = music21.stream.Measure
    original = measure.bestTimeSignature

    def best(bar: Any) -> Any:
        length = Fraction(bar.duration.quarterLength)
        if length > 1024:
            raise ValueError(f"a bar of {float(length):g} quarter notes")
        if (length * 8).denominator == 1 or length == 0:
            return original(bar)
        return music21.meter.TimeSignature(f"{max(round(length * 8), 1)}/32")

    setattr(measure, "bestTimeSignature", best)  # noqa: B010 - a method patched for the parse only
    try:
        yield
    finally:
        setattr(measure, "bestTimeSignature", original)  # noqa: B010


def _within_budget(source: str, size: int, work: Callable[[], T]) -> T:
    """Run music21 `work` on `size` bytes of input under a budget of CPU time (which a busy
    machine does not eat into, as it would wall-clock time), turning its many exception
    types, and running over budget, into one `ReadError`."""
    budget = PARSE_SECONDS + size / PARSE_BYTES_PER_SECOND
    if _GENEROUS.get():
        budget = max(budget * RETRY_FACTOR, RETRY_SECONDS)
    try:
        with _sane_bar_meters(), time_limit(budget, clock="cpu"):
            return work()
    except TimeLimitExceeded:
        raise TooComplex(source, f"music21 took over {budget:.1f} s of CPU time on {size} bytes (a budget of "
                                 f"{PARSE_SECONDS:g} s plus 1 s per {PARSE_BYTES_PER_SECOND // 1000} KB); "
                                 "refused as too complex") from None
    except MelodiaError:
        raise
    except Exception as error:  # music21 raises many unrelated exception types on bad input
        raise ReadError(source, f"music21 cannot parse it: {_plain_reason(error)}") from error


def _plain_reason(error: Exception) -> str:
    """music21's message without its internals (`tPrev: <music21.abcFormat.ABCMetadata ...>`)."""
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    text = re.sub(r"\.?\s*tPrev: .*?token: <music21\.[\w.]+ ('[^']*')>.*", r" (at \1)", text)
    return re.sub(r"<music21\.[\w.]+ ('[^']*')>", r"\1", text)[:200]


def patiently(load: Callable[[], T]) -> T:
    """`load()`, and when music21 runs past its budget, `load()` once more with
    `RETRY_FACTOR` times the budget (at least `RETRY_SECONDS`): a piece is then refused only
    for being complex, never for a slow machine. For corpus builds, which must give the
    same corpus everywhere; a command reading one file has no need to wait that long."""
    try:
        return load()
    except TooComplex:
        token = _GENEROUS.set(True)
        try:
            return load()
        finally:
            _GENEROUS.reset(token)


def abc_tunes(text: str) -> list[str]:
    """Split the text of an ABC file into tunes (each starts at an `X:` line).

    Lines before the first tune (a file header) are put in front of every tune, as the
    ABC standard says they apply to all of them.
    """
    chunks = re.split(r"(?m)^(?=X:)", text)
    header, tunes = chunks[0], chunks[1:]
    header = header if header.strip() else ""
    return [header + tune for tune in tunes] or ([text] if text.strip() else [])


_HEADER_LINE = re.compile(r"\s*(%.*|[A-Za-z]:.*)?$")
_KEY_LINE = re.compile(r"(?m)^\s*K:")


def abc_with_defaults(tune: str) -> str:
    """One ABC tune with the header fields the standard lets it leave out filled in, as the
    standard defines them: L:1/8 when neither L: nor M: sets the unit note length, and K:C
    when there is no key line at all (a bare fragment such as 'GAB cBA|BGE D3|')."""
    lines = tune.splitlines(keepends=True)
    head = 0
    while head < len(lines) and _HEADER_LINE.match(lines[head]) and not lines[head].lstrip().startswith("K:"):
        head += 1
    has_key = head < len(lines) and lines[head].lstrip().startswith("K:")
    if not has_key and _KEY_LINE.search(tune):
        return tune  # a key line after the music: music21's to judge
    fields = {line.lstrip()[:2] for line in lines[:head]}
    missing = ("" if fields & {"L:", "M:"} else "L:1/8\n") + ("" if has_key else "K:C\n")
    if head and not lines[head - 1].endswith("\n"):
        lines[head - 1] += "\n"
    return "".join(lines[:head]) + missing + "".join(lines[head:])


def score_from_text(text: str, music_format: str, source: str) -> Score:
    """Parse one piece given as text (`music_format` 'abc', 'musicxml' or 'humdrum')."""
    import music21

    if len(text) > MAX_TEXT_BYTES:
        raise ReadError(source, f"{len(text)} characters, over the {MAX_TEXT_BYTES} limit")
    if music_format == "abc":
        _check_meters(text, source)
        return _within_budget(source, len(text), lambda: _checked(_score_of_abc(text), source))
    _check_meters(text, source)
    return _within_budget(source, len(text), lambda: _checked(score_from_music21(
        _pieces(music21.converter.parse(text, format=music_format))[0]), source))


_METER_FIELD = re.compile(r"(?m)^\s*M:|\[M:")


def _score_of_abc(tune: str) -> Score:
    """One ABC tune. A tune that names no key (a bare fragment, 'GAB cBA|BGE D3|') has no key signature,
    rather than the C major music21 assumes; one that names no meter has the meter its bar lines imply
    (`melodia.theory.meter`: 6/8 there), rather than 4/4."""
    import music21

    from melodia.theory.meter import meter_of_bars

    text = abc_with_defaults(tune)
    stream = _pieces(music21.converter.parse(text, format="abc"))[0]
    if not _METER_FIELD.search(tune):
        meter = meter_of_bars(_bars_of(stream))
        if meter is not None:
            text = _KEY_LINE.sub(lambda key: f"M:{meter[0]}/{meter[1]}\n{key.group(0)}", text, count=1)
            stream = _pieces(music21.converter.parse(text, format="abc"))[0]
    score = score_from_music21(stream)
    if not _KEY_LINE.search(tune):
        score.key_signatures = []
    return score


def _bars_of(stream: Any) -> list[tuple[Fraction, list[tuple[Fraction, Fraction]]]]:
    """(length, (onset, duration) of each note) of each bar of the first part, in quarter notes."""
    part = stream.parts[0] if hasattr(stream, "parts") and len(stream.parts) else stream
    return [(Fraction(measure.duration.quarterLength).limit_denominator(96),
             [(Fraction(note.offset).limit_denominator(96), Fraction(note.quarterLength).limit_denominator(96))
              for note in measure.notes])
            for measure in part.getElementsByClass("Measure")]


_FORMATS = {".abc": "abc", ".xml": "musicxml", ".musicxml": "musicxml", ".mxl": "musicxml",
            ".krn": "humdrum"}


def _pieces(stream: Any) -> list[Any]:
    import music21

    if isinstance(stream, music21.stream.Opus):
        return list(stream.scores)
    return [stream]


def score_from_music21(stream: Any) -> Score:
    """Build a `Score` from a music21 Score, Part or Stream, one track per part."""
    import music21


    parts = list(stream.parts) if hasattr(stream, "parts") and len(stream.parts) else [stream]
    title = str(stream.metadata.bestTitle or "") if stream.metadata is not None else ""
    parts, played, written = expand_parts(parts, title)
    shift = _pickup_shift(parts[0])
    tracks = [_track_from_part(part, shift) for part in parts]
    conductor = parts[0]

    def tick(element: Any) -> int:
        return _event_tick(element.getOffsetInHierarchy(conductor), shift)

    tempos = _unique([TempoChange(tick(mark), float(mark.getQuarterBPM()))
                      for mark in conductor.recurse().getElementsByClass(music21.tempo.MetronomeMark)
                      if mark.number is not None or mark.numberSounding is not None])
    meters = _unique([TimeSignature(tick(sig), sig.numerator, sig.denominator)
                      for sig in conductor.recurse().getElementsByClass(music21.meter.TimeSignature)
                      if sig.numerator and sig.denominator in (1, 2, 4, 8, 16, 32, 64)])
    keys = _unique([_key_signature(sig, tick(sig))
                    for sig in conductor.recurse().getElementsByClass(music21.key.KeySignature)])
    chords = _unique([ChordSymbol(_ticks(Fraction(symbol.getOffsetInHierarchy(part)) + shift), text)
                      for part in parts for symbol in part.recurse().getElementsByClass(music21.harmony.ChordSymbol)
                      if (text := _symbol_text(symbol)) is not None])
    if played is None:
        return Score(tracks, tempos, meters, keys, title, chords)
    tempos, meters, keys = _restated_once(tempos), _restated_once(meters), _restated_once(keys)
    meter = meters[0] if meters and meters[0].tick == 0 else TimeSignature(0, 4, 4)
    score = Score(tracks, tempos, meters, keys, title, chords)
    try:
        score.form = form_of(played, written, shift, meter.bar_ticks)
        problems = score.form.problems(score.end_tick)
    except Exception as error:  # an odd layout of bars music21 expanded: the notes stand, the form is not told
        problems = [f"{type(error).__name__}: {error}"]
    if problems:
        warnings.warn(MelodiaWarning(f"{title or 'piece'}: read as played; its form could not be told "
                                     f"({problems[0][:120]})"), stacklevel=2)
        score.form = None
    return score


def _restated_once(events: list[Any]) -> list[Any]:
    """Events without those a repeat restates (the same meter, key or tempo as the one before)."""
    kept: list[Any] = []
    for event in events:
        if not kept or replace(event, tick=0) != replace(kept[-1], tick=0):
            kept.append(event)
    return kept


# melodia's qualities as music21 figures spell them (`melodia.theory.chord.MUSICXML_KINDS` reads them)
FIGURE_QUALITIES = {"mmaj7": "mM7", "dim7": "o7", "m7b5": "ø7"}


def _symbol_text(symbol: Any) -> str | None:
    """A music21 chord symbol as melodia names it ('Bbmaj7', 'C/E'): the quality whose pitch classes
    the symbol sounds (music21 reads 'F#m7b5' as a minor seventh with a flat fifth), else the one
    its kind maps to (`melodia.theory.chord.MUSICXML_KINDS`); None for 'N.C.' and kinds melodia has no quality for."""
    import music21

    from melodia.io.midi import chord_symbol_parts

    root = None if isinstance(symbol, music21.harmony.NoChord) else symbol.root()
    if root is None:
        return None
    sounding = {(p.pitchClass - root.pitchClass) % 12 for p in symbol.pitches}
    quality = next((q for q, steps in QUALITIES.items() if set(steps) == sounding),
                   MUSICXML_KINDS.get(symbol.chordKind))
    if quality is None:
        return None
    bass = symbol.bass()
    text = root.name.replace("-", "b") + quality
    if bass is not None and bass.pitchClass != root.pitchClass:
        text += "/" + bass.name.replace("-", "b")
    return text if chord_symbol_parts(text) is not None else None  # a double flat or sharp is not read


def _pickup_shift(part: Any) -> Fraction:
    """How far a pickup bar's notes sit from the start of a full bar."""
    measures = part.getElementsByClass("Measure")
    if not measures:
        return Fraction(0)
    return Fraction(measures[0].paddingLeft)


def _ticks(quarter_length: Any) -> int:
    return round(Fraction(quarter_length) * TICKS_PER_QUARTER)


def _event_tick(offset: Any, shift: Fraction) -> int:
    """Meter, key and tempo at the very start stay at tick 0; later ones move with the notes."""
    return 0 if offset == 0 else _ticks(Fraction(offset) + shift)


def _track_from_part(part: Any, shift: Fraction) -> Track:
    instrument = part.getInstrument(returnDefault=True)
    program = instrument.midiProgram if instrument.midiProgram is not None else 0
    name = part.partName or instrument.partName or ""
    notes: list[Note] = []
    tied: dict[int, Note] = {}  # pitch -> the note a tie is carrying on
    skipped = 0
    for element in part.flatten().notes:
        duration = _ticks(element.duration.quarterLength)
        if duration <= 0:  # grace notes take no time
            continue
        onset = _ticks(Fraction(element.offset) + shift)
        velocity = element.volume.velocity if element.hasVolumeInformation() else None
        velocity = max(1, min(127, int(velocity))) if velocity else DEFAULT_VELOCITY
        members = element.notes if element.isChord else ((element,) if element.isNote else ())
        skipped += len(members) == 0
        for member in members:
            pitch = round(member.pitch.ps)
            if not 0 <= pitch <= 127:
                skipped += 1
                continue
            tie = member.tie.type if member.tie is not None else None
            held = tied.pop(pitch, None)
            if held is not None and tie in ("stop", "continue") and held.end_tick == onset:
                held.duration_tick += duration  # ties merged here: stripTies() deep-copies the whole part
                note = held
            else:
                note = Note(pitch, velocity, onset, duration)
                notes.append(note)
            if tie in ("start", "continue"):
                tied[pitch] = note
    if skipped:
        warnings.warn(MelodiaWarning(f"part {name!r}: skipped {skipped} unpitched or out-of-range "
                                     "notes"), stacklevel=3)
    notes.sort(key=lambda n: (n.onset_tick, n.pitch))
    return Track(str(name), int(program), False, notes)


def _key_signature(signature: Any, tick: int) -> KeySignature:
    mode = getattr(signature, "mode", None)
    key = signature if mode in (MAJOR, MINOR) else signature.asKey(MAJOR)
    return KeySignature(tick, key.tonic.pitchClass, key.mode)


def _unique(events: list[Any]) -> list[Any]:
    by_tick = {event.tick: event for event in sorted(events, key=lambda event: event.tick)}
    return list(by_tick.values())


def score_to_music21(score: Score) -> Any:
    """A `music21.stream.Score`: one part per track, notes of equal onset and length as chords."""
    import music21

    result = music21.stream.Score()
    result.metadata = music21.metadata.Metadata(title=_xml_text(score.title))
    for index, track in enumerate(score.tracks):
        part = music21.stream.Part()
        part.partName = _xml_text(track.name) or track.instrument_name
        instrument = (music21.instrument.UnpitchedPercussion() if track.is_drum
                      else music21.instrument.instrumentFromMidiProgram(track.program))
        part.insert(0, instrument)
        if index == 0:
            _insert_conductor(part, score)
        groups: dict[tuple[int, int], list[Note]] = {}
        for note in track.notes:
            groups.setdefault((note.onset_tick, note.duration_tick), []).append(note)
        for (onset, duration), chord_notes in groups.items():
            element: Any
            if len(chord_notes) == 1:
                element = music21.note.Note(chord_notes[0].pitch)
            else:
                element = music21.chord.Chord([music21.pitch.Pitch(midi=n.pitch) for n in chord_notes])
            element.duration = music21.duration.Duration(Fraction(duration, TICKS_PER_QUARTER))
            element.volume.velocity = chord_notes[0].velocity
            part.insert(Fraction(onset, TICKS_PER_QUARTER), element)
        result.insert(0, part)
    return result


_NOT_IN_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_text(text: str) -> str:
    """Text without the control characters XML cannot hold (a MIDI title may end in a NUL byte)."""
    return _NOT_IN_XML.sub("", text or "").strip()


def _insert_conductor(part: Any, score: Score) -> None:
    import music21

    from melodia.io.midi import chord_symbol_parts

    for sig in score.time_signatures:
        part.insert(Fraction(sig.tick, TICKS_PER_QUARTER),
                    music21.meter.TimeSignature(f"{sig.numerator}/{sig.denominator}"))
    for key in score.key_signatures:
        tonic = music21.pitch.Pitch(key.tonic)
        part.insert(Fraction(key.tick, TICKS_PER_QUARTER), music21.key.Key(tonic.name, key.mode))
    for tempo in score.tempos:
        part.insert(Fraction(tempo.tick, TICKS_PER_QUARTER), music21.tempo.MetronomeMark(number=tempo.bpm))
    for chord in score.chord_symbols:
        parts = chord_symbol_parts(chord.symbol)
        if parts is None:
            warnings.warn(MelodiaWarning(f"chord symbol {chord.symbol!r} at tick {chord.tick}: not a chord symbol "
                                         "melodia reads (such as C, Am, G7, Bbmaj7, C/E); left out"), stacklevel=4)
            continue
        root, quality, bass = parts
        figure = root.replace("b", "-") + FIGURE_QUALITIES.get(quality, quality) + \
            ("/" + bass.replace("b", "-") if bass else "")
        symbol = music21.harmony.ChordSymbol(figure)
        symbol.writeAsChord = False
        part.insert(Fraction(chord.tick, TICKS_PER_QUARTER), symbol)


# Notation keeps a note whose onset and length are whole 32nds or whole sixteenth triplets; any other
# note (a played MIDI file's) goes to the nearest sixteenth or eighth triplet, as music21 reads MIDI.
KEPT_STEPS = (TICKS_PER_QUARTER // 8, TICKS_PER_QUARTER // 6)
SNAP_STEPS = (TICKS_PER_QUARTER // 4, TICKS_PER_QUARTER // 3)


def notatable(score: Score) -> Score:
    """A copy of `score` whose notes notation can spell (see `KEPT_STEPS`, `SNAP_STEPS`); meters,
    keys, tempos and chord symbols go to the nearest sixteenth. Notes snapped onto one another
    (same onset and pitch) are kept once, the longest."""
    tracks = [replace(track, notes=_notatable_notes(track.notes)) for track in score.tracks]
    step = SNAP_STEPS[0]

    def snapped(events: list[Any]) -> list[Any]:
        return _unique([replace(event, tick=round(event.tick / step) * step) for event in events])

    return replace(score, tracks=tracks, tempos=snapped(score.tempos), time_signatures=snapped(score.time_signatures),
                   key_signatures=snapped(score.key_signatures), chord_symbols=snapped(score.chord_symbols))


def _notatable_notes(notes: list[Note]) -> list[Note]:
    kept: dict[tuple[int, int], Note] = {}
    for note in notes:
        if not any(note.onset_tick % step == 0 and note.duration_tick % step == 0 for step in KEPT_STEPS):
            note = min((_snap(note, step) for step in SNAP_STEPS),
                       key=lambda n: abs(n.onset_tick - note.onset_tick) + abs(n.end_tick - note.end_tick))
        held = kept.get((note.onset_tick, note.pitch))
        if held is None or held.duration_tick < note.duration_tick:
            kept[(note.onset_tick, note.pitch)] = note
    return sorted(kept.values(), key=lambda n: (n.onset_tick, n.pitch))


def _snap(note: Note, step: int) -> Note:
    onset = round(note.onset_tick / step) * step
    end = max(round(note.end_tick / step) * step, onset + step)
    return Note(note.pitch, note.velocity, onset, end - onset)


def musicxml_bytes(score: Score) -> bytes:
    """The score as MusicXML (music21 spells the notation: bars, ties, rests, beams), its notes
    made `notatable` first."""
    from music21.musicxml.m21ToXml import GeneralObjectExporter

    score = notatable(score)
    try:
        notation = _with_repeats(score) or score_to_music21(score)
        # what GeneralObjectExporter.parse does, on this stream of our own rather than on a deep copy of it
        notation.makeRests(refStreamOrTimeRange=[0.0, notation.highestTime], fillGaps=True, inPlace=True,
                           hideRests=True, timeRangeFromBarDuration=True)
        exporter = GeneralObjectExporter(notation)
        return exporter.parseWellformedObject(exporter.fromScore(notation))
    except Exception as error:  # music21 raises many kinds on notation it cannot spell
        raise WriteError(f"MusicXML: music21 could not notate this score ({type(error).__name__}: {error})") from None


def _with_repeats(score: Score) -> Any:
    """A `music21.stream.Score` with each strain of `score.form` written once, with its repeat
    barlines and volta brackets; None for a score without repeats. A form that cannot be written
    so (see `written_segments`) is written as played, with a warning."""
    import music21


    if score.form is None or not score.form.has_repeats:
        return None
    segments = written_segments(score)
    bars = written_bars(score, segments) if segments is not None else []
    meters = [_bar_meter(ticks) for _, ticks, _ in bars]
    if segments is None or None in meters:
        warnings.warn(MelodiaWarning(f"{score.title or 'score'}: its repeats ({score.form.describe()}) cannot be "
                                     "written as repeat signs; MusicXML written as played"), stacklevel=3)
        return None
    written = written_score(score, segments)
    result = score_to_music21(replace(written, time_signatures=[]))
    meter_stream: Any = music21.stream.Stream()
    for (start, _, _), meter in zip(bars, meters, strict=True):
        meter_stream.insert(Fraction(start, TICKS_PER_QUARTER), meter)
    signatures = {sig.tick: sig for sig in written.time_signatures}
    notation = music21.stream.Score()
    notation.metadata = result.metadata
    for part in result.parts:
        part.makeMeasures(meterStream=meter_stream, inPlace=True)
        measured = part
        measured.makeTies(inPlace=True)
        _mark_repeats(measured, bars, signatures)
        notation.insert(0, measured)
    return notation


def _bar_meter(ticks: int) -> Any:
    """A meter of exactly `ticks` (7/8 for a short bar), None when no n/2^k is so long."""
    import music21

    for denominator in (1, 2, 4, 8, 16, 32, 64):
        numerator = Fraction(ticks * denominator, 4 * TICKS_PER_QUARTER)
        if numerator.denominator == 1 and numerator > 0:
            return music21.meter.TimeSignature(f"{numerator.numerator}/{denominator}")
    return None


def _mark_repeats(part: Any, bars: list[Any], signatures: dict[int, TimeSignature]) -> None:
    """The measures' own meters in place of the bar lengths that made them; repeat barlines and volta
    brackets where the segments say."""
    import music21

    measures = list(part.getElementsByClass("Measure"))
    meter = signatures.get(0, TimeSignature(0, 4, 4))
    for index, (measure, (start, ticks, segment)) in enumerate(zip(measures, bars, strict=True)):
        for sig in list(measure.getElementsByClass(music21.meter.TimeSignature)):
            measure.remove(sig)
        if index == 0 or start in signatures:
            meter = signatures.get(start, meter)
            measure.timeSignature = music21.meter.TimeSignature(str(meter))
        short = Fraction(meter.bar_ticks - ticks, TICKS_PER_QUARTER)
        if short > 0:  # a pickup, or the bar that completes one: no rests to fill it
            if index == 0:
                measure.paddingLeft = short
            else:
                measure.paddingRight = short
        measure.number = index if bars[0][1] < meter.bar_ticks else index + 1
        previous = bars[index - 1][2] if index else None
        following = bars[index + 1][2] if index + 1 < len(bars) else None
        if segment.opens and previous is not segment:
            measure.leftBarline = music21.bar.Repeat(direction="start")
        if segment.closes and following is not segment:
            measure.rightBarline = music21.bar.Repeat(direction="end")
    for segment in {id(b[2]): b[2] for b in bars if b[2].ending}.values():
        spanned = [m for m, b in zip(measures, bars, strict=True) if b[2] is segment]
        part.insert(0, music21.spanner.RepeatBracket(spanned, number=segment.ending))


# ---------------------------------------------------------------- repeats read against music21's own


def music21_played_notes(part: Any) -> tuple[list[tuple[int, int, int]], int]:
    """(onset tick, pitch, length in ticks) of every note of `part` as `expandRepeats` plays it, ties
    merged, grace notes left out; and the ticks it lasts."""

    played = part.expandRepeats()
    measures = played.getElementsByClass("Measure")
    shift = Fraction(measures[0].paddingLeft) if measures else Fraction(0)
    notes: list[list[int]] = []
    held: dict[int, list[int]] = {}  # pitch -> the note a tie carries on (music21's stripTies ties any pitches)
    for element in played.flatten().notes:
        if element.quarterLength == 0:
            continue
        onset = round((Fraction(element.offset) + shift) * TICKS_PER_QUARTER)
        length = round(Fraction(element.quarterLength) * TICKS_PER_QUARTER)
        for member in element.notes if element.isChord else (element,) if element.isNote else ():
            pitch, tie = round(member.pitch.ps), member.tie.type if member.tie is not None else None
            note = held.pop(pitch, None)
            if note is not None and tie in ("stop", "continue") and note[0] + note[2] == onset:
                note[2] += length
            else:
                note = [onset, pitch, length]
                notes.append(note)
            if tie in ("start", "continue"):
                held[pitch] = note
    bars = sum(Fraction(m.duration.quarterLength) for m in measures)
    return sorted((a, b, c) for a, b, c in notes), round((bars + shift) * TICKS_PER_QUARTER)


def agreement_with_music21(tune: str) -> tuple[str, str, bool]:
    """(outcome, reason, whether it has endings) for one ABC tune read by melodia, against music21's
    `expandRepeats`: 'plain' (no repeats), 'agrees', 'folk' (agrees once the start repeat a folk
    player reads is written), 'written' (music21 cannot expand it; kept as written), 'differs'
    or 'unread'."""
    import music21

    stream: Any
    try:
        stream = music21.converter.parse(abc_with_defaults(tune), format="abc")
    except Exception as error:  # music21 raises many kinds on bad ABC
        return "unread", f"music21 cannot parse it: {type(error).__name__}", False
    if isinstance(stream, music21.stream.Opus):
        stream = stream.scores[0]
    part = stream.parts[0] if stream.parts else stream
    if not has_repeats(part):
        return "plain", "", False
    try:
        reference = music21_played_notes(part)
    except Exception as error:  # music21 finds the repeats incoherent
        reference = None
        why = f"{type(error).__name__}: {str(error).splitlines()[0][:80] if str(error) else ''}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        score = score_from_music21(stream)
    notes = sorted((n.onset_tick, n.pitch, n.duration_tick) for n in score.tracks[0].notes)
    length = score.form.playings[-1].end_tick if score.form is not None else None
    endings = bool(part.spannerBundle.getByClass(music21.spanner.RepeatBracket))
    if reference is None:
        return ("written", why, endings) if score.form is None else \
            ("differs", f"melodia expanded what music21 cannot: {why}", endings)
    if score.form is None:
        return "differs", "melodia kept it as written", endings
    if (notes, length) == reference:
        return "agrees", "", endings
    folk = music21_played_notes(stream.parts[0] if stream.parts else stream)  # now with the implied start repeats
    if folk != reference and (notes, length) == folk:
        return "folk", "", endings
    first = next((i for i, (a, b) in enumerate(zip(notes, reference[0], strict=False)) if a != b),
                 min(len(notes), len(reference[0])))
    return "differs", (f"{len(notes)} notes over {length} ticks, expandRepeats {len(reference[0])} over "
                       f"{reference[1]}; first difference at note {first}"), endings
