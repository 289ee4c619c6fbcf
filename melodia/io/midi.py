"""Standard MIDI files (type 0 and 1) to and from `Score`, and `pretty_midi` conversion.

The reader parses the bytes itself: it is several times faster than going
through mido's message objects, and it checks every length and count against
fixed limits before doing work, so a hostile file fails fast with a clear
`ReadError` instead of eating time or memory.
"""

from __future__ import annotations

import io
import os
import re
import warnings
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from melodia.errors import MelodiaWarning, ReadError
from melodia.io.atomic import atomic_write_bytes
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
from melodia.theory.chord import ALIASES, QUALITIES

if TYPE_CHECKING:
    import pretty_midi

MAX_FILE_BYTES = 32 * 1024 * 1024
MAX_TRACKS = 4096
MAX_NOTES = 2_000_000
MAX_QUARTERS = 200_000  # about 28 hours at 120 BPM
DRUM_CHANNEL = 9

T = TypeVar("T")
E = TypeVar("E", TempoChange, TimeSignature, KeySignature, ChordSymbol)
MAX_SYMBOL_CHARS = 16  # a text event longer than this is never read as a chord symbol
_SYMBOL = re.compile(r"([A-G][#b]?)([^/]*)(?:/([A-G][#b]?))?")


def chord_symbol_parts(text: str) -> tuple[str, str, str] | None:
    """(root, quality, bass) of a lead-sheet chord symbol: 'Bbmaj7' gives ('Bb', 'maj7', ''),
    'C/E' ('C', '', 'E'), 'Gmin' ('G', 'm', ''), the quality as `melodia.theory.chord.QUALITIES`
    names it; None when `text` is not one (the chord grammar of `melodia.theory.chord.parse_symbol`).

    The text events of a MIDI file and the harmonies of a MusicXML or ABC file are read as chord
    symbols when they pass this check; other text is left alone.
    """
    match = _SYMBOL.fullmatch(text.strip()) if len(text) <= MAX_SYMBOL_CHARS + 2 else None
    if match is None:
        return None

    quality = ALIASES.get(match.group(2), match.group(2))
    return (match.group(1), quality, match.group(3) or "") if quality in QUALITIES else None


def read_midi(path: str | os.PathLike[str]) -> Score:
    """Read a standard MIDI file into a `Score`.

    Raises:
        ReadError: the file is missing, not MIDI, truncated or absurdly large.
    """
    source = str(path)
    try:
        size = os.path.getsize(path)
        if size > MAX_FILE_BYTES:
            raise ReadError(source, f"file is {size} bytes, over the {MAX_FILE_BYTES}-byte limit for MIDI")
        data = Path(path).read_bytes()
    except OSError as error:
        raise ReadError(source, f"cannot open ({error.strerror or error})") from error
    return score_from_midi_bytes(data, source)


def write_midi(score: Score, path: str | os.PathLike[str], *, overwrite: bool = True) -> Path:
    """Write `score` as a type 1 MIDI file, atomically."""
    return atomic_write_bytes(path, score_to_midi_bytes(score), overwrite=overwrite)


# ---------------------------------------------------------------- reading


@dataclass
class _Parse:
    """What the track parser gathers; ticks are still in the file's resolution."""

    source: str
    notes: dict[tuple[int, int, int], list[tuple[int, int, int, int]]] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)
    tempos: list[tuple[int, int, float]] = field(default_factory=list)
    meters: list[tuple[int, int, int, int]] = field(default_factory=list)
    keys: list[tuple[int, int, int, str]] = field(default_factory=list)
    chords: list[tuple[int, int, str]] = field(default_factory=list)
    note_count: int = 0
    end_tick: int = 0
    unfinished: int = 0
    zero_length: int = 0


def score_from_midi_bytes(data: bytes, source: str = "<bytes>") -> Score:
    """Parse the bytes of a standard MIDI file; `source` names it in errors."""
    if len(data) > MAX_FILE_BYTES:
        raise ReadError(source, f"{len(data)} bytes, over the {MAX_FILE_BYTES}-byte limit for MIDI")
    if data[:4] == b"RIFF" and b"MThd" in data[:64]:  # RMID wrapper
        data = data[data.index(b"MThd"):]
    if data[:4] != b"MThd":
        raise ReadError(source, "not a MIDI file (it does not start with 'MThd')")
    if len(data) < 14:
        raise ReadError(source, f"truncated MIDI header ({len(data)} bytes)")
    header_length = int.from_bytes(data[4:8], "big")
    midi_format = int.from_bytes(data[8:10], "big")
    track_count = int.from_bytes(data[10:12], "big")
    division = int.from_bytes(data[12:14], "big")
    if header_length < 6:
        raise ReadError(source, f"MIDI header length {header_length} is under 6")
    if midi_format not in (0, 1, 2):
        raise ReadError(source, f"MIDI format {midi_format} is not 0, 1 or 2")
    if track_count > MAX_TRACKS:
        raise ReadError(source, f"{track_count} tracks, over the limit of {MAX_TRACKS}")
    ticks_per_quarter, smpte = _ticks_per_quarter(division, source)
    parse = _Parse(source)
    max_ticks = MAX_QUARTERS * ticks_per_quarter
    offset, track_index = 8 + header_length, 0
    while track_index < track_count:
        if offset + 8 > len(data):
            raise ReadError(source, f"truncated: the header announces {track_count} tracks, "
                                    f"the file ends after {track_index}")
        chunk_id, length = data[offset:offset + 4], int.from_bytes(data[offset + 4:offset + 8], "big")
        body_start = offset + 8
        if body_start + length > len(data):
            raise ReadError(source, f"truncated: track {track_index} claims {length} bytes, "
                                    f"{len(data) - body_start} remain")
        if chunk_id == b"MTrk":
            _parse_track(data, body_start, body_start + length, track_index, max_ticks, parse)
            track_index += 1
        offset = body_start + length
    return _build_score(parse, ticks_per_quarter, smpte)


def _ticks_per_quarter(division: int, source: str) -> tuple[int, bool]:
    if division & 0x8000:  # SMPTE: frames per second and ticks per frame; read as 120 BPM
        frames = 256 - (division >> 8)
        ticks_per_second = (30 if frames == 29 else frames) * (division & 0xFF)
        if ticks_per_second <= 0:
            raise ReadError(source, f"SMPTE time division {division:#06x} gives 0 ticks per second")
        return max(1, ticks_per_second // 2), True
    if division == 0:
        raise ReadError(source, "time division is 0 ticks per quarter note; must be at least 1")
    return division, False


def _read_varlen(data: bytes, position: int, end: int, source: str) -> tuple[int, int]:
    value = 0
    for _ in range(4):
        if position >= end:
            raise ReadError(source, f"truncated variable-length number at byte {position}")
        byte = data[position]
        position += 1
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, position
    raise ReadError(source, f"variable-length number longer than 4 bytes at byte {position}")


def _parse_track(data: bytes, position: int, end: int, track_index: int, max_ticks: int,
                 parse: _Parse) -> None:
    """Walk one MTrk chunk, pairing note-ons with note-offs first in, first out."""
    source = parse.source
    tick, status = 0, 0
    programs = [0] * 16
    open_notes: dict[int, deque[tuple[int, int, int]]] = {}  # by channel * 128 + pitch
    finished: list[tuple[int, int, int, int, int, int]] = []  # channel, program, pitch, velocity, onset, end
    note_budget = MAX_NOTES - parse.note_count
    while position < end:
        byte = data[position]
        if byte < 0x80:  # one-byte delta time, by far the most common
            position += 1
            tick += byte
        else:
            delta, position = _read_varlen(data, position, end, source)
            tick += delta
            if tick > max_ticks:
                raise ReadError(source, f"track {track_index} reaches tick {tick}, over "
                                        f"{MAX_QUARTERS} quarter notes; likely corrupt")
        if position >= end:
            raise ReadError(source, f"truncated event in track {track_index} at byte {position}")
        byte = data[position]
        if byte >= 0x80:
            position += 1
            if byte < 0xF0:
                status = byte
        elif status == 0:
            raise ReadError(source, f"data byte {byte:#04x} without a status byte in track "
                                    f"{track_index} at byte {position}")
        else:
            byte = status
        if byte < 0xF0:
            kind, channel = byte & 0xF0, byte & 0x0F
            width = 1 if kind == 0xC0 or kind == 0xD0 else 2
            if position + width > end:
                raise ReadError(source, f"truncated event in track {track_index} at byte {position}")
            first = data[position]
            second = data[position + 1] if width == 2 else 0
            position += width
            if first > 127 or second > 127:
                raise ReadError(source, f"data byte over 127 in track {track_index} at byte {position}")
            if kind == 0x90 and second > 0:
                key = channel * 128 + first
                started = open_notes.get(key)
                if started is None:
                    started = open_notes[key] = deque()
                started.append((tick, second, programs[channel]))
            elif kind == 0x80 or kind == 0x90:
                started = open_notes.get(channel * 128 + first)
                if started:
                    onset, velocity, program = started.popleft()
                    finished.append((channel, program, first, velocity, onset, tick))
                    if len(finished) > note_budget:
                        raise ReadError(source, f"more than {MAX_NOTES} notes; refusing to read")
            elif kind == 0xC0:
                programs[channel] = first
                _reprogram_notes_struck_now(open_notes, channel, tick, first)
        elif byte == 0xFF:
            if position + 1 > end:
                raise ReadError(source, f"truncated meta event in track {track_index}")
            meta_type = data[position]
            length, position = _read_varlen(data, position + 1, end, source)
            if position + length > end:
                raise ReadError(source, f"meta event of {length} bytes overruns track {track_index}")
            _meta_event(parse, track_index, tick, meta_type, data[position:position + length])
            position += length
            if meta_type == 0x2F:
                break
        elif byte == 0xF0 or byte == 0xF7:
            length, position = _read_varlen(data, position, end, source)
            position += length
            status = 0
        else:
            raise ReadError(source, f"status byte {byte:#04x} is not allowed in a MIDI file "
                                    f"(track {track_index}, byte {position - 1})")
    if tick > max_ticks:  # one-byte deltas skip the check inside the loop
        raise ReadError(source, f"track {track_index} reaches tick {tick}, over "
                                f"{MAX_QUARTERS} quarter notes; likely corrupt")
    parse.end_tick = max(parse.end_tick, tick)
    _file_notes(parse, track_index, open_notes, finished)


def _file_notes(parse: _Parse, track_index: int, open_notes: dict[int, deque[tuple[int, int, int]]],
                finished: list[tuple[int, int, int, int, int, int]]) -> None:
    """File a track's notes under (track, channel, program), the notes never switched off with them (to be
    held to the end of the piece)."""
    for key, started in open_notes.items():
        for onset, velocity, program in started:
            parse.unfinished += 1
            finished.append((key // 128, program, key % 128, velocity, onset, -1))
    parse.note_count += len(finished)
    if parse.note_count > MAX_NOTES:
        raise ReadError(parse.source, f"more than {MAX_NOTES} notes; refusing to read")
    for channel, program, pitch, velocity, onset, stop in finished:
        part = (track_index, channel, -1 if channel == DRUM_CHANNEL else program)
        notes = parse.notes.get(part)
        if notes is None:
            notes = parse.notes[part] = []
        notes.append((pitch, velocity, onset, stop))


def _reprogram_notes_struck_now(open_notes: dict[int, deque[tuple[int, int, int]]],
                                channel: int, tick: int, program: int) -> None:
    """A program change at the tick a note starts applies to that note, whichever event came first."""
    for key, started in open_notes.items():
        if key // 128 == channel:
            for index, (onset, velocity, _) in enumerate(started):
                if onset == tick:
                    started[index] = (onset, velocity, program)


def meta_text(body: bytes) -> str:
    """The text of a name or text event. MIDI leaves the encoding open: UTF-8 when the bytes are UTF-8,
    Shift JIS when they read as Japanese (as many Japanese files are written), else Latin-1."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        text = body.decode("cp932")
        if any("\u3000" <= char <= "\u9fff" or "\uff00" <= char <= "\uffef" for char in text):
            return text
    except UnicodeDecodeError:
        pass
    return body.decode("latin-1")


def _meta_event(parse: _Parse, track_index: int, tick: int, meta_type: int, body: bytes) -> None:
    if meta_type == 0x03 and track_index not in parse.names:
        parse.names[track_index] = meta_text(body).strip()
    elif meta_type == 0x51 and len(body) == 3:
        microseconds = int.from_bytes(body, "big")
        if microseconds > 0:
            parse.tempos.append((tick, track_index, 60_000_000 / microseconds))
    elif meta_type == 0x58 and len(body) >= 2:
        if body[0] >= 1 and body[1] <= 6:
            parse.meters.append((tick, track_index, body[0], 1 << body[1]))
    elif meta_type == 0x59 and len(body) == 2:
        sharps = body[0] - 256 if body[0] > 127 else body[0]
        if -7 <= sharps <= 7 and body[1] in (0, 1):
            tonic = (sharps * 7 + (9 if body[1] else 0)) % 12
            parse.keys.append((tick, track_index, tonic, MINOR if body[1] else MAJOR))
    elif meta_type == 0x01 and len(body) <= MAX_SYMBOL_CHARS + 2:  # a text event naming a chord: 'Am', 'G7'
        text = body.decode("latin-1").strip()
        if chord_symbol_parts(text) is not None:
            parse.chords.append((tick, track_index, text))


def _build_score(parse: _Parse, ticks_per_quarter: int, smpte: bool) -> Score:
    half, same = ticks_per_quarter // 2, ticks_per_quarter == TICKS_PER_QUARTER

    def rescale(tick: int) -> int:
        return tick if same else (tick * TICKS_PER_QUARTER + half) // ticks_per_quarter

    file_end = parse.end_tick
    tracks = []
    by_part = sorted(parse.notes.items(), key=lambda item: item[0][:2])  # stable: programs in order met
    for (track_index, channel, program), raw_notes in by_part:
        notes = []
        for pitch, velocity, onset, end in raw_notes:
            if end < 0:  # never switched off: hold it to the end of the piece
                end = file_end if file_end > onset else onset + ticks_per_quarter
            if not same:
                onset, end = rescale(onset), rescale(end)
            if end <= onset:
                parse.zero_length += 1
                continue
            notes.append(Note(pitch, velocity, onset, end - onset))
        notes.sort(key=lambda n: (n.onset_tick, n.pitch))
        is_drum = channel == DRUM_CHANNEL
        tracks.append(Track(parse.names.get(track_index, ""), max(program, 0), is_drum, notes))
    if parse.unfinished:
        warnings.warn(MelodiaWarning(f"{parse.source}: {parse.unfinished} notes never switched off; "
                                     "held to the end of the piece"), stacklevel=3)
    if parse.zero_length:
        warnings.warn(MelodiaWarning(f"{parse.source}: dropped {parse.zero_length} notes of zero "
                                     "length"), stacklevel=3)
    tempos = [] if smpte else [TempoChange(rescale(t), bpm) for t, bpm in _last_per_tick(parse.tempos)]
    meters = [TimeSignature(rescale(t), n, d) for t, (n, d) in
              _last_per_tick([(t, i, (n, d)) for t, i, n, d in parse.meters])]
    keys = [KeySignature(rescale(t), tonic, mode) for t, (tonic, mode) in
            _last_per_tick([(t, i, (tonic, mode)) for t, i, tonic, mode in parse.keys])]
    chords = [ChordSymbol(rescale(t), symbol) for t, symbol in _last_per_tick(parse.chords)]
    note_tracks = {index for index, _, _ in parse.notes}
    title = parse.names.get(0, "") if 0 not in note_tracks or len(parse.names) == 1 else ""
    if len(tracks) == 1 and tracks[0].name == title:
        tracks[0].name = ""
    return Score(tracks, tempos, meters, keys, title, chords)


def _last_per_tick(events: list[tuple[int, int, T]]) -> list[tuple[int, T]]:
    """Sort (tick, track, value) by tick; where several share a tick, the last one wins."""
    by_tick: dict[int, T] = {}
    for tick, _, value in sorted(events, key=lambda event: (event[0], event[1])):
        by_tick[tick] = value
    return sorted(by_tick.items(), key=lambda item: item[0])


# ---------------------------------------------------------------- writing


def score_to_midi_bytes(score: Score) -> bytes:
    """A type 1 MIDI file: a conductor track for tempo, meter and key, then one track per part."""
    conductor: list[tuple[int, int, bytes]] = []
    if score.title:
        conductor.append((0, 0, _meta(0x03, _text_bytes(score.title))))
    for sig in score.time_signatures:
        exponent = sig.denominator.bit_length() - 1
        conductor.append((sig.tick, 1, _meta(0x58, bytes([sig.numerator, exponent, 24, 8]))))
    for key in score.key_signatures:
        major_tonic = (key.tonic + (3 if key.mode == MINOR else 0)) % 12
        sharps = (major_tonic * 7) % 12
        sharps = sharps - 12 if sharps > 6 else sharps
        conductor.append((key.tick, 2, _meta(0x59, bytes([sharps & 0xFF, int(key.mode == MINOR)]))))
    for tempo in score.tempos:
        microseconds = max(1, min(0xFFFFFF, round(60_000_000 / tempo.bpm)))
        conductor.append((tempo.tick, 3, _meta(0x51, microseconds.to_bytes(3, "big"))))
    for chord in score.chord_symbols:  # text events, as lead-sheet MIDI files carry chord names
        conductor.append((chord.tick, 4, _meta(0x01, chord.symbol.encode("latin-1", "replace"))))
    chunks = [_track_chunk(conductor)]
    pitched_channels = [c for c in range(16) if c != DRUM_CHANNEL]
    pitched_index = 0
    for track in score.tracks:
        if track.is_drum:
            channel = DRUM_CHANNEL
        else:
            channel = pitched_channels[pitched_index % len(pitched_channels)]
            pitched_index += 1
        chunks.append(_track_chunk(_track_events(track, channel)))
    header = b"MThd" + (6).to_bytes(4, "big") + (1).to_bytes(2, "big")
    header += len(chunks).to_bytes(2, "big") + TICKS_PER_QUARTER.to_bytes(2, "big")
    return header + b"".join(chunks)


def _track_events(track: Track, channel: int) -> list[tuple[int, int, bytes]]:
    """(tick, order, bytes): at one tick note-offs come before note-ons."""
    events: list[tuple[int, int, bytes]] = []
    if track.name:
        events.append((0, 0, _meta(0x03, _text_bytes(track.name))))
    if not track.is_drum:
        events.append((0, 1, bytes([0xC0 | channel, track.program])))
    for note in track.notes:
        events.append((note.end_tick, 2, bytes([0x80 | channel, note.pitch, 0])))
        events.append((note.onset_tick, 3, bytes([0x90 | channel, note.pitch, note.velocity])))
    return events


def _text_bytes(text: str) -> bytes:
    """A name as MIDI text: Latin-1 when it can be (as most readers expect), else UTF-8 (read back by `meta_text`)."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


def _meta(meta_type: int, body: bytes) -> bytes:
    return bytes([0xFF, meta_type]) + _varlen(len(body)) + body


def _varlen(value: int) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def _track_chunk(events: list[tuple[int, int, bytes]]) -> bytes:
    events.sort(key=lambda event: (event[0], event[1]))
    body, tick = bytearray(), 0
    for event_tick, _, message in events:
        body += _varlen(event_tick - tick) + message
        tick = event_tick
    body += b"\x00\xff\x2f\x00"
    return b"MTrk" + len(body).to_bytes(4, "big") + bytes(body)


# ---------------------------------------------------------------- pretty_midi


def score_to_pretty_midi(score: Score) -> pretty_midi.PrettyMIDI:
    """Convert through MIDI bytes, so pretty_midi sees exactly what a file would hold."""
    import pretty_midi

    return pretty_midi.PrettyMIDI(io.BytesIO(score_to_midi_bytes(score)))


def score_from_pretty_midi(midi: pretty_midi.PrettyMIDI) -> Score:
    """Build a `Score` from a `pretty_midi.PrettyMIDI`, mapping its seconds back to ticks."""
    resolution = midi.resolution

    def tick(seconds: float) -> int:
        raw = int(midi.time_to_tick(seconds))
        return (raw * TICKS_PER_QUARTER + resolution // 2) // resolution

    tracks = []
    for instrument in midi.instruments:
        notes = []
        for note in instrument.notes:
            onset, end = tick(note.start), tick(note.end)
            if end > onset and note.velocity > 0:
                notes.append(Note(int(note.pitch), int(note.velocity), onset, end - onset))
        notes.sort(key=lambda n: (n.onset_tick, n.pitch))
        tracks.append(Track(instrument.name, int(instrument.program), bool(instrument.is_drum), notes))
    times, bpms = midi.get_tempo_changes()
    tempos = _unique_ticks([TempoChange(tick(t), float(b)) for t, b in zip(times, bpms)])
    meters = _unique_ticks([TimeSignature(tick(s.time), s.numerator, s.denominator)
                            for s in midi.time_signature_changes])
    keys = _unique_ticks([KeySignature(tick(k.time), k.key_number % 12,
                                       MINOR if k.key_number >= 12 else MAJOR)
                          for k in midi.key_signature_changes])
    chords = _unique_ticks([ChordSymbol(tick(event.time), event.text.strip()) for event in midi.text_events
                            if chord_symbol_parts(event.text) is not None])
    return Score(tracks, tempos, meters, keys, chord_symbols=chords)


def _unique_ticks(events: list[E]) -> list[E]:
    by_tick = {event.tick: event for event in sorted(events, key=lambda event: event.tick)}
    return list(by_tick.values())
