"""The melody is sacred (issue 29): every preset and option of `stylize` plays the user's melody
with its pitches, onsets and durations as written (an intro moves it later, all of it together),
or refuses with one line. Swing moves onsets as asked, and a rhythm that re-times the tune (jig,
waltz, duple, double- or half-time) maps every onset and end by its declared meter map, keeping
the pitches and their order; nothing else in the arrangement touches the melody."""

from __future__ import annotations

import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from conftest import MUSIC21

from melodia.analysis.roles import detect_voices, melody_track_index
from melodia.errors import StyleError
from melodia.io import read_score
from melodia.score import Note, Score, Track
from melodia.style import load_style, preset_names, stylize
from melodia.style.arrange import melody_track
from melodia.style.quartet import default_form
from melodia.style.templates import Rhythm, load_instrumentation, load_rhythm

DATA = Path(__file__).parent / "data"
PRIMITIVE = MUSIC21 / "midi" / "testPrimitive"
ESSEN = MUSIC21 / "corpus" / "essenFolksong"
INPUTS = [str(DATA / "pop_chords.abc"), f"{DATA / 'tune.abc'}#1", f"{DATA / 'tune.abc'}#2",
          f"{ESSEN / 'han1.abc'}#1", f"{ESSEN / 'han1.abc'}#2", f"{ESSEN / 'altdeu10.abc'}#3",
          f"{ESSEN / 'irl.abc'}#1", f"{ESSEN / 'kinder0.abc'}#6",  # 3/4 and 6/8
          str(DATA / "waltz_3_4.mid"), str(DATA / "jig_6_8.mid")] + \
    [str(PRIMITIVE / f"test{n}.mid") for n in ("02", "06", "11", "14", "17", "18")]
# Every preset, and the options that add form or harmony.
CASES: list[dict[str, Any]] = [{"instrumentation": name} for name in preset_names("instrumentation")] + \
    [{"style": name} for name in preset_names("styles")] + \
    [{"rhythm": name} for name in preset_names("rhythm")] + \
    [{"instrumentation": name, "intro": "phrase", "ending": "held"} for name in ("piano-solo", "string-quartet")] + \
    [{"instrumentation": "choir", "intro": "vamp", "ending": "held", "chords": "C | G | Am | F"},
     {"style": "piano-ballad", "accompaniment": False}, {"style": "jazz-swing", "swing": 3.0},
     {"instrumentation": "piano-solo", "rhythm": "waltz"}, {"instrumentation": "celtic-session", "rhythm": "jig"}]


def case_id(case: dict[str, Any]) -> str:
    return "-".join(str(value) for value in case.values())


@pytest.fixture(scope="module")
def tunes() -> list[tuple[str, Score]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [(Path(path).name, read_score(path)) for path in INPUTS]


def rhythm_of(case: dict[str, Any]) -> Rhythm | None:
    if "rhythm" in case:
        return load_rhythm(case["rhythm"])
    return load_style(case["style"]).rhythm if "style" in case else None


def as_written(notes: list[Note]) -> list[tuple[int, int, int]]:
    return [(n.pitch, n.onset_tick, n.duration_tick) for n in sorted(notes, key=lambda n: (n.onset_tick, n.pitch))]


def melody_alone(score: Score, case: dict[str, Any]) -> list[tuple[int, int, int]]:
    """The input's melody through the case's rhythm (and swing) with nothing else: what the
    arrangement must play."""
    alone = Score([Track("melody", 0, False, detect_voices(score).melody)], list(score.tempos),
                  list(score.time_signatures), list(score.key_signatures), score.title)
    options = {key: case[key] for key in ("swing",) if key in case}
    rhythm = rhythm_of(case)
    out = stylize(alone, rhythm=rhythm, **options) if rhythm or options else alone
    return as_written(out.tracks[0].notes)


def played_melody(out: Score, case: dict[str, Any]) -> list[Note]:
    """The notes of the track that plays the melody in `out`."""
    style = load_style(case["style"]) if "style" in case else None
    instrumentation = load_instrumentation(case["instrumentation"]) if "instrumentation" in case else \
        style.instrumentation if style is not None else None
    index = melody_track(out, instrumentation) if instrumentation else melody_track_index(out)
    assert index is not None
    return out.tracks[index].notes


def found_at_one_offset(wanted: list[tuple[int, int, int]], played: list[Note]) -> int | None:
    """The shift (an intro's length) at which every wanted note is in `played`, or None."""
    have = Counter(as_written(played))
    first = wanted[0]
    for offset in sorted({onset - first[1] for pitch, onset, _ in have if pitch == first[0]}):
        shifted = Counter((p, t + offset, d) for p, t, d in wanted)
        if all(have[note] >= count for note, count in shifted.items()):
            return offset
    return None


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_every_preset_and_option_plays_the_melody_as_written(case: dict[str, Any],
                                                            tunes: list[tuple[str, Score]]) -> None:
    re_times = (rhythm := rhythm_of(case)) is not None and (rhythm.meters or rhythm.time_scale != 1.0)
    swings = "swing" in case or (rhythm is not None and rhythm.swing_ratio != 1.0)
    learned = "style" in case and bool(load_style(case["style"]).harmonizer)
    for name, score in tunes[::3] if learned else tunes:  # a learned harmonizer is slower: every third input
        written = detect_voices(score).melody
        wanted = melody_alone(score, case)
        assert [p for p, _, _ in wanted] == [n.pitch for n in written], name  # the pitches, in order
        if not re_times and not swings:
            assert wanted == as_written(written), name  # onsets and durations too
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                out = stylize(score, **case)
            except StyleError as error:
                assert "\n" not in str(error)
                pytest.fail(f"{name}: refused: {error}")
        offset = found_at_one_offset(wanted, played_melody(out, case))
        assert offset is not None, f"{name}: the melody is not played as written"
        introduced = case.get("intro", "none") != "none" or "style" in case \
            or ("instrumentation" in case and default_form(load_instrumentation(case["instrumentation"]))[0] != "none")
        assert offset == 0 or introduced, name


CROSSED = [{"style": style, "instrumentation": name} for style in preset_names("styles")
           for name in preset_names("instrumentation")]


@pytest.mark.parametrize("style", preset_names("styles"))
def test_every_style_with_every_instrumentation_plays_the_melody_as_written(style: str,
                                                                            tunes: list[tuple[str, Score]]) -> None:
    """Each style's rhythm, tempo and form over each instrumentation, on a lead sheet, a jig with
    a pickup and a four-part texture."""
    chosen = [(name, score) for name, score in tunes if name in ("pop_chords.abc", "tune.abc#1", "test02.mid")]
    learned = bool(load_style(style).harmonizer)  # slower: with two instrumentations only
    for case in (c for c in CROSSED if c["style"] == style and (not learned or c["instrumentation"] in
                                                                  ("piano-solo", "string-quartet"))):
        for name, score in chosen:
            wanted = melody_alone(score, case)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out = stylize(score, **case)
            assert found_at_one_offset(wanted, played_melody(out, case)) is not None, f"{name} {case}"


def test_piano_solo_keeps_the_low_b_of_a_pop_tune() -> None:
    """The reported case: `melodia style pop.abc --instrumentation piano-solo` moved B3 to B4."""
    score = read_score(DATA / "pop_chords.abc")
    out = stylize(score, instrumentation="piano-solo")
    right = out.tracks[0].notes
    assert (59, 1920 + 960, 480) in as_written(right)  # bar 2, beat 3: B3, a quarter
    assert set(as_written(score.tracks[0].notes)) <= set(as_written(right))  # and every other note as written


def test_an_arrangement_that_would_change_the_melody_is_refused() -> None:
    from melodia.style.arrange import check_melody_kept

    score = read_score(DATA / "pop_chords.abc")
    melody = detect_voices(score).melody
    moved = Score([Track("lead", 0, False, [Note(n.pitch + 12, n.velocity, n.onset_tick, n.duration_tick)
                                            for n in melody])], time_signatures=list(score.time_signatures))
    with pytest.raises(StyleError, match=r"^the melody's E4 in bar 1 would not be played as written") as error:
        check_melody_kept(melody, moved, 0)
    assert "\n" not in str(error.value)
    check_melody_kept(melody, Score([Track("lead", 0, False, list(melody))]), 0)  # as written: accepted


def test_an_instrumentation_without_a_melody_part_plays_the_melody_as_written(tmp_path: Path) -> None:
    template = tmp_path / "low-strings.toml"
    template.write_text('[[parts]]\nrole = "harmony"\nprogram = "Viola"\npattern = "sustained"\n'
                        'articulation = "staccato"\n\n[[parts]]\nrole = "bass"\nprogram = "Cello"\n')
    score = read_score(DATA / "pop_chords.abc")
    out = stylize(score, instrumentation=template)
    viola = out.tracks[0].notes  # the melody falls back to the harmony part, folded and shortened no more
    tune = set(as_written(score.tracks[0].notes))
    assert tune <= set(as_written(viola))
    chords = [n for n in viola if (n.pitch, n.onset_tick, n.duration_tick) not in tune]
    assert chords and max(n.duration_tick for n in chords) == 960  # its own bar-long chords are played staccato
