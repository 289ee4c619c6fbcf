from __future__ import annotations

from pathlib import Path

import music21
import pytest
from conftest import DATA, MUSIC21

from melodia import ReadError, Score, read_score
from melodia.io.music21 import read_music21, read_music21_pieces


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
    assert len(triplet) == 3 and triplet[1] - triplet[0] == 160
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
