"""The MIDI reader and writer (melodia/io/midi.py), checked against pretty_midi and mido on real files and fixtures."""

from __future__ import annotations

import bisect
import io
import time
from collections import Counter
from pathlib import Path

import mido
import pretty_midi
import pytest
from conftest import ALL_MIDI, BAD_FIXTURES, DATA, GOOD_FIXTURES, REAL_MIDI, ids

from melodia import ReadError, Score, read_score
from melodia.io.midi import score_from_midi_bytes, score_to_midi_bytes, write_midi
from melodia.score import TICKS_PER_QUARTER, ChordSymbol, Note, Track


def note_keys(score: Score) -> Counter[tuple[bool, int, int]]:
    """Notes by (drum, pitch, onset).

    The two readers end overlapping notes differently, and pretty_midi files a note
    under the program in force at its note-off, melodia under the one at its note-on.
    """
    return Counter((t.is_drum, n.pitch, n.onset_tick) for t in score.tracks for n in t.notes)


@pytest.mark.parametrize("path", ALL_MIDI, ids=ids(ALL_MIDI))
def test_reader_agrees_with_pretty_midi(path: Path) -> None:
    """Every note pretty_midi finds, melodia finds at the same tick (pretty_midi drops unfinished notes)."""
    ours = read_score(path).validate()
    theirs = Score.from_pretty_midi(pretty_midi.PrettyMIDI(str(path)))
    assert theirs.note_count <= ours.note_count
    onsets: dict[tuple[bool, int], list[int]] = {}
    for is_drum, pitch, onset in sorted(note_keys(ours).elements()):
        onsets.setdefault((is_drum, pitch), []).append(onset)
    missing = []
    for is_drum, pitch, onset in note_keys(theirs).elements():
        candidates = onsets.get((is_drum, pitch), [])
        index = bisect.bisect_left(candidates, onset - 2)
        # pretty_midi goes through seconds and back, which may round a tick away
        if index == len(candidates) or candidates[index] > onset + 2:
            missing.append((is_drum, pitch, onset))
    assert not missing, f"{len(missing)} pretty_midi notes not found, e.g. {missing[0]}"
    assert [(s.numerator, s.denominator) for s in ours.time_signatures] == \
           [(s.numerator, s.denominator) for s in theirs.time_signatures]


@pytest.mark.parametrize("path", ALL_MIDI, ids=ids(ALL_MIDI))
def test_write_then_read_is_exact(path: Path, tmp_path: Path) -> None:
    score = read_score(path)
    target = write_midi(score, tmp_path / "out.mid")
    again = read_score(target)
    assert [(t.program, t.is_drum, t.notes) for t in again.tracks] == \
           [(t.program, t.is_drum, t.notes) for t in score.tracks]
    assert (again.tempos, again.time_signatures, again.key_signatures) == \
           (score.tempos, score.time_signatures, score.key_signatures)
    mido.MidiFile(target)  # a third-party reader accepts the file


def test_pretty_midi_conversion_round_trip() -> None:
    score = read_score(DATA / "tempo_changes.mid")
    midi = score.to_pretty_midi()
    assert isinstance(midi, pretty_midi.PrettyMIDI)
    assert len(midi.instruments[0].notes) == score.note_count
    # the tempo speeds up at beat 2 and slows at beat 4: seconds follow the tempo map
    starts = sorted(n.start for n in midi.instruments[0].notes)
    assert starts[4] == pytest.approx(1.0) and starts[8] == pytest.approx(1.0 + 0.8)
    back = Score.from_pretty_midi(midi)
    assert back.tracks[0].notes == score.tracks[0].notes
    assert back.tempos == score.tempos


def test_fixture_details() -> None:
    drums = read_score(DATA / "drums.mid")
    assert [(t.name, t.program, t.is_drum) for t in drums.tracks] == [("Bass", 33, False), ("Kit", 0, True)]
    overlapping = read_score(DATA / "overlapping.mid").tracks[0].notes
    # first in, first out; velocity-0 note-ons end notes; the unfinished G is held to the end
    assert [(n.pitch, n.onset_tick, n.end_tick, n.velocity) for n in overlapping] == [
        (60, 0, 480, 90), (60, 240, 720, 70), (64, 960, 1440, 80), (67, 1440, 2400, 80), (72, 1920, 2400, 80)]
    type0 = read_score(DATA / "type0_channels.mid")
    assert [(t.program, t.is_drum, len(t.notes)) for t in type0.tracks] == [(0, False, 8), (32, False, 2),
                                                                           (0, True, 8)]
    triplets = read_score(DATA / "triplets.mid").tracks[0].notes
    assert {n.onset_tick for n in triplets} >= {0, 160, 320, 480}
    assert [str(s) for s in read_score(DATA / "pickup.mid").time_signatures] == ["1/4", "4/4"]
    assert read_score(DATA / "empty.mid").note_count == 0


def test_unfinished_note_warns() -> None:
    from melodia.errors import MelodiaWarning

    with pytest.warns(MelodiaWarning, match="never switched off"):
        read_score(DATA / "overlapping.mid")


def test_resolution_is_rescaled() -> None:
    midi = mido.MidiFile(ticks_per_beat=96)
    midi.tracks.append(mido.MidiTrack([mido.Message("note_on", note=60, velocity=64, time=48),
                                       mido.Message("note_off", note=60, time=96)]))
    buffer = io.BytesIO()
    midi.save(file=buffer)
    note = score_from_midi_bytes(buffer.getvalue()).tracks[0].notes[0]
    assert (note.onset_tick, note.duration_tick) == (TICKS_PER_QUARTER // 2, TICKS_PER_QUARTER)


@pytest.mark.parametrize(("path", "reason"), [
    (DATA / "not_midi.mid", "not a MIDI file"),
    (DATA / "corrupt_truncated.mid", "truncated"),
    (DATA / "zero_division.mid", "time division is 0"),
    (DATA / "absurd_track_count.mid", "65535 tracks"),
    (DATA / "absurd_ticks.mid", "likely corrupt"),
    (DATA / "missing.mid", "cannot open"),
    (DATA / "tune.txt", "unknown file type"),
], ids=["not-midi", "truncated", "zero-division", "track-count", "ticks", "missing", "suffix"])
def test_bad_input_names_file_and_reason(path: Path, reason: str) -> None:
    start = time.perf_counter()
    with pytest.raises(ReadError, match=reason) as caught:
        read_score(path)
    assert str(path) in str(caught.value)
    assert "\n" not in str(caught.value)
    assert time.perf_counter() - start < 2.0


def test_every_prefix_of_a_real_file_reads_or_fails_cleanly() -> None:
    data = REAL_MIDI[2].read_bytes()
    for end in range(0, len(data), 97):
        try:
            score_from_midi_bytes(data[:end], "prefix").validate()
        except ReadError as error:
            assert str(error).startswith("prefix: ")


def test_bad_fixture_list_is_complete() -> None:
    assert len(BAD_FIXTURES) == 5 and len(GOOD_FIXTURES) >= 9


def test_writer_puts_drums_on_channel_10() -> None:
    data = score_to_midi_bytes(read_score(DATA / "drums.mid"))
    channels = {m.channel for t in mido.MidiFile(file=io.BytesIO(data)).tracks for m in t
                if m.type == "note_on"}
    assert channels == {0, 9}


LEAD_SHEET = [ChordSymbol(0, "Am"), ChordSymbol(960, "Bbmaj7"), ChordSymbol(1920, "F#m7b5"), ChordSymbol(2400, "C/E"),
              ChordSymbol(2880, "G7"), ChordSymbol(3840, "Ebdim7"), ChordSymbol(4320, "Dsus4"), ChordSymbol(5280, "C6")]


def test_chord_symbols_come_back_from_midi_text_events(tmp_path: Path) -> None:
    notes = [Note(60 + i % 5, 80, i * 480, 480) for i in range(12)]
    score = Score([Track("lead", 0, False, notes)], chord_symbols=LEAD_SHEET)
    path = write_midi(score, tmp_path / "lead.mid")
    assert read_score(path).chord_symbols == LEAD_SHEET
    assert Score.from_pretty_midi(pretty_midi.PrettyMIDI(str(path))).chord_symbols == LEAD_SHEET


def test_only_text_that_names_a_chord_is_read_as_one() -> None:
    track = mido.MidiTrack([mido.MetaMessage("text", text=text, time=480) for text in
                            ("Sequenced by me", "Am", " G7 ", "H7", "N.C.", "Cmaj13", "C/E", "A")])
    track.append(mido.Message("note_on", note=60, velocity=80, time=0))
    track.append(mido.Message("note_off", note=60, velocity=0, time=480))
    midi = mido.MidiFile(ticks_per_beat=480, tracks=[track])
    data = io.BytesIO()
    midi.save(file=data)
    score = score_from_midi_bytes(data.getvalue())
    assert [(c.tick, c.symbol) for c in score.chord_symbols] == [(960, "Am"), (1440, "G7"), (3360, "C/E"),
                                                                 (3840, "A")]
