"""The music21 reader (melodia/io/music21.py): ABC, Humdrum and MusicXML, several pieces in a file, hostile text."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import music21
import pytest
from conftest import DATA, MUSIC21, REAL_MIDI, ids

from melodia import ReadError, Score, read_score, write_score
from melodia.errors import MelodiaWarning
from melodia.io.music21 import (
    KEPT_STEPS,
    _plain_reason,
    notatable,
    read_music21,
    read_music21_pieces,
    score_from_text,
)
from melodia.score import ChordSymbol, Note, Track


def test_abc_tunes_with_pickup_triplets_and_ties() -> None:
    jig, reel = read_music21_pieces(DATA / "tune.abc")
    assert jig.title == "Test Jig" and reel.title == "Test Reel With Pickup"
    assert [str(s) for s in jig.time_signatures] == ["6/8"]
    assert jig.key_signatures[0].name == "D major"
    notes = jig.tracks[0].notes
    # an eighth-note pickup: the first full 6/8 bar starts at tick 1440
    assert notes[0].onset_tick == 1440 - 240 and notes[1].onset_tick == 1440
    assert jig.bar_starts()[1] == 1440
    triplet = [n.onset_tick for n in notes if n.duration_tick == 160]
    assert triplet[:3] == [4320, 4480, 4640]
    # "... | d3 d2 :|" is played twice, the pickup again before the repeat: four 6/8 bars a time
    assert jig.form is not None and jig.form.describe() == "AA, 4 bars"
    assert [t - 4 * 1440 for t in triplet[3:]] == triplet[:3] and notes[19].onset_tick == 4 * 1440 + 1200
    # "A4- | A2" is one tied note of six eighths
    assert any(n.pitch == 69 and n.duration_tick == 6 * 240 for n in reel.tracks[0].notes)
    assert reel.key_signatures[0].name == "G minor"


def test_second_piece_by_index_and_bad_index() -> None:
    assert read_music21(DATA / "tune.abc", 1).title == "Test Reel With Pickup"
    with pytest.raises(ReadError, match="piece 5 asked for; the file holds 2"):
        read_music21(DATA / "tune.abc", 5)


def test_humdrum_two_spines() -> None:
    score = read_score(DATA / "chorale.krn")
    assert len(score.tracks) == 2
    assert str(score.time_signatures[0]) == "3/4"
    assert score.key_signatures[0].name == "F major"
    # kern: "F" is F3, "f" is F4, "cc" is C5
    voices = sorted([n.pitch, n.onset_tick, n.duration_tick] for t in score.tracks for n in t.notes)
    assert voices == [[53, 0, 480], [53, 1440, 1440], [57, 480, 480], [60, 960, 480],
                      [65, 0, 480], [65, 1440, 1440], [69, 480, 480], [72, 960, 480]]


def test_musicxml_chorale_from_music21_corpus() -> None:
    score = read_score(MUSIC21 / "corpus" / "bach" / "bwv66.6.mxl")
    assert [t.name for t in score.tracks] == ["Soprano", "Alto", "Tenor", "Bass"]
    assert score.key_signatures[0].name == "F# minor"
    assert score.tracks[0].notes[0].onset_tick == 3 * 480  # pickup: one beat before bar 2
    assert score.note_count > 150


def test_music21_stream_round_trip() -> None:
    score = read_score(DATA / "waltz_3_4.mid")
    stream = score.to_music21()
    assert isinstance(stream, music21.stream.Score)
    back = Score.from_music21(stream)
    assert [(n.pitch, n.onset_tick, n.duration_tick) for n in back.tracks[0].notes] == \
           [(n.pitch, n.onset_tick, n.duration_tick) for n in score.tracks[0].notes]
    assert back.time_signatures == score.time_signatures
    assert back.key_signatures == score.key_signatures
    assert back.tempos[0].bpm == pytest.approx(score.tempos[0].bpm)


def test_unparsable_text_is_a_read_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.xml"
    broken.write_text("<score-partwise><part id='P1'><measure>unfinished")
    with pytest.raises(ReadError, match=r"broken\.xml: music21 cannot parse it"):
        read_score(broken)


@pytest.mark.parametrize(("text", "tonic"), [
    ("GAB cBA|BGE D3|\n", None),
    ("K:G\nGAB cBA|BGE D3|\n", "G major"),
    ("T:No length\nK:G\nGAB cBA|BGE D3|\n", "G major"),
], ids=["bare-fragment", "only-K", "no-L-no-M"])
def test_abc_without_optional_header_fields_reads_as_the_standard_says(tmp_path: Path, text: str,
                                                                       tonic: str | None) -> None:
    path = tmp_path / "fragment.abc"
    path.write_text(text)
    for score in (read_score(path), score_from_text(text, "abc", "text")):
        notes = score.tracks[0].notes
        assert [n.pitch for n in notes[:4]] == [67, 69, 71, 72] and notes[0].duration_tick == 240  # L:1/8
        assert notes[-1].duration_tick == 3 * 240 and [k.name for k in score.key_signatures] == [tonic] * bool(tonic)
        assert [str(m) for m in score.time_signatures] == ["6/8"]  # no M: the bar lines hold 3 quarters, in eighths
    summary = read_score(path).summary()
    assert "track 1 (no name): Acoustic Grand Piano" in summary
    assert "key: G major at 0" in summary if tonic else "key: none given; the notes sound in G major" in summary


@pytest.mark.parametrize(("text", "meter", "first_bar_notes"), [
    ("GAB cBA|BGE D3|", "6/8", 6),  # a jig: eighths in threes, the dotted quarter on the second beat
    ("D|GAB cBA|BGE D3|", "6/8", 1),  # a pickup bar is not a bar length
    ("G2A2|B2c2d2|e2d2B2|", "3/4", 2),  # quarters: the second note would cross 6/8's second beat
    ("GABc dcBA|G4 z4|", "4/4", 8),
    ("GAB|cBA|", "3/8", 3),
    ("M:3/4\nGAB cBA|BGE D3|", "3/4", 6),  # a meter given is kept
], ids=["jig", "pickup", "waltz", "reel", "three-eighths", "given"])
def test_an_abc_fragment_without_a_meter_takes_the_meter_of_its_bar_lines(text: str, meter: str,
                                                                          first_bar_notes: int) -> None:
    score = score_from_text(text, "abc", "text")
    assert [str(m) for m in score.time_signatures] == [meter]
    assert sum(n.onset_tick < score.bar_starts()[1] for n in score.notes) == first_bar_notes


def test_music21_internals_stay_out_of_messages() -> None:
    message = ("no active default note length provided for note processing. tPrev: <music21.abcFormat.ABCMetadata "
               "'K:G'>, token: <music21.abcFormat.ABCNote 'G'>, tNext: <music21.abcFormat.ABCNote 'A'>")
    assert _plain_reason(ValueError(message)) == ("no active default note length provided for note processing "
                                                  "(at 'G')")


def test_a_file_of_several_tunes_picks_one_by_number() -> None:
    assert read_score(f"{DATA / 'tune.abc'}#2").title == "Test Reel With Pickup"
    assert read_score(f"{DATA / 'tune.abc'}#1").title == "Test Jig"
    with pytest.warns(MelodiaWarning, match=r"holds 2 pieces; read the first \(name another as tune\.abc#2"):
        assert read_score(DATA / "tune.abc").title == "Test Jig"
    with pytest.raises(ReadError, match=r"tune\.abc#3: no such piece; the file holds 2 \(#1 to #2\)"):
        read_score(f"{DATA / 'tune.abc'}#3")
    with pytest.raises(ReadError, match=r"waltz_3_4\.mid#2: a MIDI file holds one piece"):
        read_score(f"{DATA / 'waltz_3_4.mid'}#2")


# --- what the fuzzer (scripts/fuzz.py) found ---------------------------------------------------

def test_a_triplet_in_an_overfull_bar_does_not_hang_music21() -> None:
    """music21 gave such a bar a meter like 4879784/1125899906842624 and ran for minutes."""
    started = time.monotonic()
    score = score_from_text("X:1\nM:4/4\nL:1/8\nK:D\n(3ABc d2 e2fe d2|d8|\n", "abc", "odd bar")
    assert score.note_count == 9 and time.monotonic() - started < 2


@pytest.mark.parametrize(("text", "kind", "message"), [
    ("X:1\nM:4/4\nL:999999999/8\nK:G\nGAB d2e|\n", "abc", "numbers over 1024"),
    ("X:1\nM:99999/8\nL:1/8\nK:G\nGAB d2e|\n", "abc", "numbers over 128"),
    ("X:1\nM:4/4\nL:1/8\nK:G\nG99999999 AB|\n", "abc", "over the limits of"),
    ('<score-partwise version="4.0"><part-list><score-part id="P1"><part-name>x</part-name></score-part>'
     '</part-list><part id="P1"><measure number="1"><attributes><divisions>1</divisions><key><fifths>4294967296'
     '</fifths></key></attributes></measure></part></score-partwise>', "musicxml", "numbers over 14"),
    ('<score-partwise version="4.0"><part-list><score-part id="P1"><part-name>x</part-name></score-part>'
     '</part-list><part id="P1"><measure number="1"><attributes><divisions>1</divisions><time><beats>999999999'
     '</beats><beat-type>4</beat-type></time></attributes></measure></part></score-partwise>', "musicxml",
     "numbers over 128"),
])
def test_absurd_fields_are_refused_before_music21_starts(text: str, kind: str, message: str) -> None:
    started = time.monotonic()
    with pytest.raises(ReadError, match=message):
        score_from_text(text, kind, "hostile")
    assert time.monotonic() - started < 2


def test_chord_symbols_come_back_from_musicxml(tmp_path: Path) -> None:
    symbols = [ChordSymbol(0, "Am"), ChordSymbol(960, "Bbmaj7"), ChordSymbol(1920, "F#m7b5"), ChordSymbol(2400, "C/E"),
               ChordSymbol(2880, "G7"), ChordSymbol(3840, "Ebdim7"), ChordSymbol(4320, "Dmmaj7"),
               ChordSymbol(4800, "Caug"), ChordSymbol(5280, "A7sus4")]
    notes = [Note(60 + i % 5, 80, i * 480, 480) for i in range(12)]
    path = write_score(Score([Track("lead", 0, False, notes)], chord_symbols=symbols), tmp_path / "lead.musicxml")
    assert read_score(path).chord_symbols == symbols


def test_abc_chord_annotations_are_read_as_chord_symbols(tmp_path: Path) -> None:
    path = tmp_path / "lead.abc"
    path.write_text('X:1\nT:Lead\nM:4/4\nL:1/4\nK:C\nG|"Am"A B "Dm7"c d|"G7"B "Bb"G "^slower"A "F#m7b5"E|'
                    '"N.C."C4|"C9"c4|\n')
    score = read_score(path)
    assert [(c.tick, c.symbol) for c in score.chord_symbols] == \
        [(1920, "Am"), (2880, "Dm7"), (3840, "G7"), (4320, "Bb"), (5280, "F#m7b5"), (7680, "C7")]
    assert [n.onset_tick for n in score.tracks[0].notes][:3] == [1440, 1920, 2400]  # no notes made of symbols


# --- notation from played MIDI (issue 33: "Cannot convert '2048th' duration to MusicXML") --------------

EXPORT_BARS = 8  # each file's first bars: test04 (21 tracks) and k525MIDIMvt1 whole take 15-27 s of CPU to notate


@pytest.mark.parametrize("path", REAL_MIDI, ids=ids(REAL_MIDI))
def test_every_real_midi_file_exports_to_musicxml(tmp_path: Path, path: Path) -> None:
    score = read_score(path)
    end = score.bar_starts()[EXPORT_BARS] if score.bar_count() > EXPORT_BARS else score.end_tick + 1
    opening = replace(score, tempos=[t for t in score.tempos if t.tick < end],
                      tracks=[replace(t, notes=[n for n in t.notes if n.onset_tick < end]) for t in score.tracks])
    notated = notatable(opening)
    for note in notated.notes:  # whole 32nds or sixteenth triplets, else on the sixteenth or eighth-triplet grid
        steps = [*KEPT_STEPS, 120, 160]
        assert any(note.onset_tick % k == 0 and note.duration_tick % k == 0 for k in steps) and note.duration_tick > 0
    back = read_score(write_score(opening, tmp_path / "out.musicxml"))
    assert sorted(n.pitch for n in back.notes) == sorted(n.pitch for n in notated.notes)


@pytest.mark.parametrize("name", ["test05.mid", "test06.mid", "test07.mid", "test17.mid"])
def test_the_files_that_failed_export_whole(tmp_path: Path, name: str) -> None:
    score = read_score(MUSIC21 / "midi" / "testPrimitive" / name)
    back = read_score(write_score(score, tmp_path / "out.musicxml"))
    assert back.note_count == notatable(score).note_count > 0
    assert abs(back.end_tick - score.end_tick) <= 160  # snapped to the nearest sixteenth or eighth triplet, no more


def test_notation_keeps_what_is_already_notatable() -> None:
    notes = [Note(60, 80, 0, 60), Note(62, 80, 60, 60), Note(64, 80, 480, 80), Note(65, 80, 560, 80),
             Note(67, 80, 700, 1), Note(69, 80, 1000, 150)]
    kept = notatable(Score([Track("", 0, False, notes)])).tracks[0].notes
    assert kept[:4] == notes[:4]  # 32nds and sixteenth triplets as they were
    assert (kept[4].onset_tick, kept[4].duration_tick) == (720, 120)  # a tick-long note: a sixteenth on the grid
    assert (kept[5].onset_tick, kept[5].duration_tick) == (960, 160)  # nearer the eighth-triplet grid


def test_notation_of_several_scores_is_made_on_every_core_alike(tmp_path: Path) -> None:
    import re

    from melodia.io import write_notation
    from melodia.io.music21 import musicxml_bytes

    pieces = read_music21_pieces(DATA / "tune.abc")
    scores = [replace(pieces[index % 2], title=f"tune {index}") for index in range(5)]
    paths = write_notation(scores, [tmp_path / f"{index}.musicxml" for index in range(5)])

    def content(data: bytes) -> bytes:  # music21 draws its part and instrument ids at random
        return re.sub(rb'id="[^"]*"|<encoding-date>[^<]*</encoding-date>', b"", data)

    assert [content(path.read_bytes()) for path in paths] == [content(musicxml_bytes(score)) for score in scores]
    assert [read_score(path).title for path in paths] == [f"tune {index}" for index in range(5)]
