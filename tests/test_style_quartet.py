"""Four-part writing under a bare melody (`melodia.style.quartet`): the string quartet, the choir and the
brass quintet, measured as a classical player would (`melodia.metrics.classical`) on a pop tune with chord
symbols and on real folk tunes from music21's corpus."""

from __future__ import annotations

import warnings
from itertools import pairwise
from pathlib import Path

import pytest
from conftest import MUSIC21

from melodia.harmony.chords import harmonize
from melodia.io import read_score
from melodia.metrics import classical
from melodia.score import Note, Score, Track
from melodia.seed import parse_seed
from melodia.style import load_instrumentation, stylize
from melodia.style.quartet import lower_parts, writes_for
from melodia.theory.chord import parse_progression, parse_symbol

ESSEN = MUSIC21 / "corpus" / "essenFolksong"
FOLK = {"altdeu10-1 (4/2)": f"{ESSEN / 'altdeu10.abc'}#1", "han1-2 (2/4)": f"{ESSEN / 'han1.abc'}#2",
        "kinder0-3 (2/4)": f"{ESSEN / 'kinder0.abc'}#3"}
POP = """X:1
T:Pop
M:4/4
L:1/8
K:C
"C" E2 E2 G2 E2 | "G" D2 D2 B,2 D2 | "Am" C2 C2 E2 A2 | "F" A4 G4 |
"C" E2 E2 G2 c2 | "G" B2 A2 G2 D2 | "F" F2 A2 "G" G2 B,2 | "C" C8 |]
"""
JIG = """X:1
T:Six-eight
M:6/8
L:1/8
K:G
"G" B2 A G2 D | "C" E2 G c2 B | "D" A2 G F2 A | "G" G3 D3 | "Em" E2 F G2 B | "C" c2 B A2 G | "D7" F2 G A2 F | "G" G6 |]
"""
BLIVEN = """X:1
T:Bliven's Favorite (A part)
M:6/8
L:1/8
K:G
G/F/ | DGG GAB | cAG FGA | BAB cAF | AGG G2F | DGG GAB | cAG FGA | BAB cAF | AGG G2 |]
"""
# Real quartets by the same counts (melodia.metrics.classical, every pair of parts, on the meter's beats):
# Haydn op. 74/1 i 19.3 parallels per 100 beats (6.3 without doublings), Mozart K. 155 i 4.8; their inner
# parts strike 3.0-7.7 notes a bar (Haydn op. 74/1 i, ii, op. 1/1 i, Mozart K. 155 i, K. 156 ii: 4.6 on average).
REAL_PARALLELS = 4.8
REAL_INNER_NOTES = 4.6
LOWEST = {"Violin II": 55, "Viola": 48, "Cello": 36}  # G3, C3, C2


def read_abc(text: str, tmp_path: Path, name: str) -> Score:
    path = tmp_path / f"{name}.abc"
    path.write_text(text)
    return read_score(path)


@pytest.fixture(scope="module")
def tunes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Score]:
    folder = tmp_path_factory.mktemp("tunes")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = {name: read_score(path) for name, path in FOLK.items()}
        found["pop (4/4, chords)"] = read_abc(POP, folder, "pop")
        found["jig (6/8, chords)"] = read_abc(JIG, folder, "jig")
        found["bliven (6/8, pickup)"] = read_abc(BLIVEN, folder, "bliven")
    return found


def parts(score: Score) -> list[Track]:
    return [t for t in score.tracks if t.notes and not t.is_drum]


def tune_as_played(played: list[Note], tune: Score) -> list[Note]:
    """The notes of `played` that are the tune's own, at the one shift (an intro's) where all of them are."""
    written = tune.tracks[0].notes
    have = {(n.pitch, n.onset_tick, n.duration_tick): n for n in played}
    for shift in sorted({n.onset_tick - written[0].onset_tick for n in played if n.pitch == written[0].pitch}):
        found = [have.get((n.pitch, n.onset_tick + shift, n.duration_tick)) for n in written]
        if all(found):
            return [n for n in found if n is not None]
    raise AssertionError("the tune is not played as written")


def quartet(tune: Score, chords: str | None = None, intro: str | None = None, ending: str | None = None) -> Score:
    return stylize(tune, instrumentation="string-quartet", chords=chords, intro=intro, ending=ending)


@pytest.mark.parametrize("name", [*FOLK, "pop (4/4, chords)", "jig (6/8, chords)"])
def test_every_part_is_a_single_line_in_its_range_under_the_part_above(tunes: dict[str, Score], name: str) -> None:
    out = quartet(tunes[name])
    tracks = parts(out)
    assert [t.name for t in tracks] == ["Violin I", "Violin II", "Viola", "Cello"]
    for track in tracks[1:]:
        assert min(n.pitch for n in track.notes) >= LOWEST[track.name], track.name
        assert classical.in_range_share(track) == 1.0, track.name
        assert len({n.onset_tick for n in track.notes}) == len(track.notes), f"{track.name}: a double stop"
    assert classical.crossings(out, [t.notes for t in tracks], every_onset=True) == 0


@pytest.mark.parametrize("name", [*FOLK, "pop (4/4, chords)", "jig (6/8, chords)"])
def test_parallels_are_rarer_than_in_real_quartets(tunes: dict[str, Score], name: str) -> None:
    out = quartet(tunes[name])
    voices = [t.notes for t in parts(out)]
    assert classical.parallels_per_100_beats(out, voices) <= REAL_PARALLELS / 2


@pytest.mark.parametrize("name", [*FOLK, "pop (4/4, chords)", "jig (6/8, chords)"])
def test_inner_parts_move_about_as_often_as_in_real_quartets(tunes: dict[str, Score], name: str) -> None:
    out = quartet(tunes[name])
    for track in parts(out)[1:3]:
        assert 0.67 <= classical.notes_per_bar(out, track.notes) / REAL_INNER_NOTES <= 1.33, track.name


@pytest.mark.parametrize("name", ["altdeu10-1 (4/2)", "han1-2 (2/4)", "pop (4/4, chords)", "jig (6/8, chords)"])
def test_phrases_ending_on_the_tonic_close_with_a_root_position_dominant_tonic(tunes: dict[str, Score],
                                                                               name: str) -> None:
    out = quartet(tunes[name])
    tracks = parts(out)
    last = tune_as_played(tracks[0].notes, tunes[name])[-1]
    melody = [n for n in tracks[0].notes if n.onset_tick <= last.onset_tick]  # a closing note after the tune aside
    assert classical.tonic_cadence_share(out, melody, [t.notes for t in tracks]) == 1.0
    tonic = out.key_signatures[0].tonic
    cello = tracks[-1].notes
    assert cello[-1].pitch % 12 == tonic  # the final chord's bass is the tonic
    before = next(n for n in reversed(cello) if n.pitch % 12 != tonic)
    assert before.pitch % 12 == (tonic + 7) % 12


def test_the_cello_is_a_bass_line(tunes: dict[str, Score]) -> None:
    moves = []
    for tune in tunes.values():
        cello = [n.pitch for n in parts(quartet(tune))[-1].notes]
        moves += [abs(b - a) for a, b in pairwise(cello) if a != b]
    bass_like = [m for m in moves if m <= 2 or m in (5, 7, 12)]  # steps, fourths, fifths, octaves
    assert len(bass_like) >= 0.85 * len(moves) and 6 not in moves


def test_voices_sing_with_the_tunes_syllables(tunes: dict[str, Score]) -> None:
    tune = tunes["jig (6/8, chords)"]
    out = stylize(tune, instrumentation="choir", intro="none", ending="none")
    soprano, *lower = parts(out)
    sung = {n.onset_tick for n in soprano.notes}
    for voice in lower:
        onsets = {n.onset_tick for n in voice.notes}
        assert onsets <= sung | {t for t in range(0, 8 * 1440, 720)}, voice.name  # the tune's onsets, or beats
        assert len(onsets) >= 0.8 * len(sung), voice.name


def test_the_pop_tunes_default_ends_on_the_tonic_not_a_six_four(tunes: dict[str, Score]) -> None:
    cello = next(t for t in quartet(tunes["pop (4/4, chords)"]).tracks if t.name == "Cello").notes
    assert cello[-1].pitch % 12 == 0 and cello[-1].pitch >= 36  # C, not G2 under the final C chord


@pytest.mark.parametrize("name", ["pop (4/4, chords)", "jig (6/8, chords)"])
def test_the_chord_symbols_a_tune_carries_are_the_harmony(tunes: dict[str, Score], name: str) -> None:
    tune = tunes[name]
    out = quartet(tune, intro="none", ending="none")
    lower = [t.notes for t in parts(out)[1:]]
    assert classical.given_chord_share(out, lower, tune.chord_symbols) >= 0.95
    assert [c.symbol for c in out.chord_symbols] == [c.symbol for c in tune.chord_symbols]


def test_a_progression_given_is_the_harmony_of_a_folk_tune(tunes: dict[str, Score]) -> None:
    tune = tunes["han1-2 (2/4)"]
    progression = "F | C7 | F | Bb C7"
    out = quartet(tune, chords=progression, intro="none", ending="none")
    chords = [chord for bar in parse_progression(progression) for chord in bar]
    assert {parse_symbol(c.symbol) for c in out.chord_symbols} <= set(chords)
    lower = [t.notes for t in parts(out)[1:]]
    assert classical.given_chord_share(out, lower) >= 0.95


@pytest.mark.parametrize("name", [*FOLK, "pop (4/4, chords)"])
def test_violin_one_plays_the_melody_as_written(tunes: dict[str, Score], name: str) -> None:
    tune = tunes[name]
    written = [(n.pitch, n.onset_tick) for n in tune.tracks[0].notes]
    plain = quartet(tune, intro="none", ending="none")
    assert [(n.pitch, n.onset_tick) for n in parts(plain)[0].notes] == written
    framed = parts(quartet(tune))[0].notes  # an intro first: the same notes, later
    played = tune_as_played(framed, tune)
    shift = played[-1].onset_tick - written[-1][1]
    assert shift > 0 and [(n.pitch, n.onset_tick - shift) for n in played] == written
    after = [n for n in framed if n.onset_tick > played[-1].onset_tick]  # at most a held tonic, closing
    assert len(after) <= 1 and all(n.pitch % 12 == tune.key_signatures[0].tonic for n in after)


def test_the_string_quartet_has_an_intro_and_an_ending_unless_told_otherwise(tunes: dict[str, Score]) -> None:
    tune = tunes["pop (4/4, chords)"]
    bar = 1920
    framed, plain = quartet(tune), quartet(tune, intro="none", ending="none")
    written = [(n.pitch, n.onset_tick) for n in tune.tracks[0].notes]
    played = [(n.pitch, n.onset_tick) for n in parts(framed)[0].notes]
    intro = [(pitch, tick - 4 * bar) for pitch, tick in written if tick >= 4 * bar]  # the tune's last phrase
    assert played == intro + [(pitch, tick + 4 * bar) for pitch, tick in written]
    assert max(n.end_tick for t in parts(framed) for n in t.notes) == 12 * bar  # 4 + 8 bars: it ends on a held C
    assert max(n.end_tick for t in parts(plain) for n in t.notes) == 8 * bar
    choir = stylize(tune, instrumentation="choir")
    assert parts(choir)[0].notes[0].onset_tick == 0


@pytest.mark.parametrize("style", ["string-quartet", "choir-hymn"])
def test_a_held_ending_keeps_the_tunes_part_on_top(tunes: dict[str, Score], style: str) -> None:
    """Review finding 1: after a tune ending on a short tonic (the jig's `AGG G2`), the extra bar had
    the lower parts alone (B3/D3/G2, the fifth on top); the tune's own part now sounds the tonic over
    them. A tune that ends on a long tonic (the pop tune's whole-bar C) gets no extra bar at all."""
    options = {"instrumentation": style} if style == "string-quartet" else {"style": style}
    jig = tunes["bliven (6/8, pickup)"]
    out = stylize(jig, **options)
    top, *lower = parts(out)
    end = max(n.end_tick for t in lower for n in t.notes)
    closing = [n for n in top.notes if n.end_tick == end]
    assert closing and closing[0].pitch % 12 == 7  # G, the tonic, held to the end
    assert all(n.pitch < closing[0].pitch for t in lower for n in t.notes if n.end_tick == end)
    tune_end = tune_as_played(top.notes, jig)[-1].end_tick
    assert closing[0].onset_tick >= tune_end  # after the tune's own last note, which is kept
    pop = tunes["pop (4/4, chords)"]
    out = stylize(pop, **options)
    top, *lower = parts(out)
    assert max(n.end_tick for t in lower for n in t.notes) == tune_as_played(top.notes, pop)[-1].end_tick


@pytest.mark.parametrize("style", ["choir-hymn", "brass-march", "string-waltz"])
def test_the_other_four_part_ensembles_keep_the_same_rules(tunes: dict[str, Score], style: str) -> None:
    for name in ("altdeu10-1 (4/2)", "pop (4/4, chords)"):
        out = stylize(tunes[name], style=style)
        voices = [t.notes for t in parts(out)]
        assert classical.crossings(out, voices, every_onset=True) == 0, name
        assert classical.parallels_per_100_beats(out, voices) <= REAL_PARALLELS / 2, name


def test_a_part_with_no_room_under_a_low_tune_rests_rather_than_crossing_it() -> None:
    tune = parse_seed("F3 E3 D3 E3 F3/2 E3/2 key=C")[0]  # under violin II's lowest G3
    melody = tune.tracks[0].notes
    bars = harmonize(tune, melody, (0, "major"))
    lines = lower_parts(bars, melody, (0, "major"), load_instrumentation("string-quartet"))
    for role in ("counter_melody", "harmony", "bass"):
        for note in lines[role][0]:
            over = next(n for n in melody if n.onset_tick <= note.onset_tick < n.end_tick)
            assert note.pitch <= over.pitch, role
    assert not lines["counter_melody"][0] and lines["bass"][0]  # violin II rests, the cello plays


def test_only_ensembles_of_single_lines_are_written_in_four_parts() -> None:
    assert [writes_for(load_instrumentation(name)) for name in ("string-quartet", "choir", "brass-quintet")] == \
        [True, True, True]
    assert not any(writes_for(load_instrumentation(name)) for name in ("piano-solo", "rock-band", "jazz-combo",
                                                                       "celtic-session", "woodwind-trio"))


@pytest.mark.parametrize("options", [{"instrumentation": "string-quartet"}, {"style": "choir-hymn"}])
def test_an_intro_runs_straight_into_the_tunes_pickup(tunes: dict[str, Score], options: dict[str, str]) -> None:
    """Review finding 2: the jig's pickup (written as a full first bar that starts with rests) came
    in a new bar after the intro, the bar before it silent; it now ends the intro's last bar."""
    jig = tunes["bliven (6/8, pickup)"]
    out = stylize(jig, **options)
    top = parts(out)[0]
    tune = tune_as_played(top.notes, jig)
    intro = [n for n in top.notes if n.onset_tick < tune[0].onset_tick]
    assert intro and intro[-1].end_tick == tune[0].onset_tick  # no gap: the intro's last note, then the pickup
    bar = out.time_signatures[0].bar_ticks
    assert (tune[0].end_tick + tune[1].duration_tick) % bar == 0  # the pickup ends on a bar line
    silent = [t for t in range(0, tune[-1].onset_tick, bar // 2)
              if not any(n.onset_tick <= t < n.end_tick for voice in parts(out) for n in voice.notes)]
    assert silent == []  # no dead beat anywhere


@pytest.mark.parametrize("options", [{"instrumentation": "string-quartet"}, {"style": "choir-hymn"}])
def test_no_parallels_from_any_note_of_the_tune_pickup_included(tunes: dict[str, Score], options: dict[str, str]
                                                                ) -> None:
    """Review finding 7: the jig's pickup B4 into the downbeat C5 had violin II B3 -> C4 under it
    (parallel octaves, three times): the voicing counted the tune only at the beats' starts. Every
    melody note now counts, from each onset to the next."""
    for name in ("bliven (6/8, pickup)", "jig (6/8, chords)", "pop (4/4, chords)"):
        out = stylize(tunes[name], **options)
        top, *lower = parts(out)
        ticks = classical.moments(out, [t.notes for t in parts(out)], every_onset=True)
        found = [(int(ticks[i]), kind, voice.name) for voice in lower
                 for i, kind in classical.parallel_motions(top.notes, voice.notes, ticks, voice is lower[-1])]
        assert found == [], name


def test_a_jig_cadence_changes_chord_with_the_melodys_resolution(tunes: dict[str, Score]) -> None:
    """Review finding 4: in 6/8 the dominant was held under the resolution (`A G G` over D7 for the
    whole dotted quarter), and the phrase settling on G in bar 4 (`A G G G2 F`) was Am7 all through.
    The chord now changes inside the beat: the dominant under the A, the tonic from the first G, root
    position (in the quartet and in the piano's two hands)."""
    jig = tunes["bliven (6/8, pickup)"]
    bar, eighth = 1440, 240
    for options in ({"instrumentation": "string-quartet"}, {"instrumentation": "piano-solo"}):
        out = stylize(jig, intro="none", ending="none", **options)
        voices = [t.notes for t in parts(out)]
        for downbeat in (4 * bar, 8 * bar):  # the first phrase's close and the tune's last bar (after the pickup bar)
            assert classical._root(voices, downbeat)[0] == 2, (options, downbeat)  # D: the dominant under the A
            root, bass = classical._root(voices, downbeat + eighth)
            assert (root, bass is not None and bass % 12) == (7, 7), (options, downbeat)  # G, G in the bass
    framed = stylize(jig, instrumentation="string-quartet")  # the phrase intro ends with the same close
    voices = [t.notes for t in parts(framed)]
    bar_starts = [n.onset_tick for n in voices[0] if n.onset_tick % bar == 0 and n.pitch == 69]
    closes = [t for t in bar_starts
              if [n.pitch for n in voices[0] if t <= n.onset_tick < t + 3 * eighth] == [69, 67, 67]]
    assert len(closes) == 3  # the intro's last bar, bar 4 and the last bar
    for tick in closes:
        assert min(n.pitch for v in voices for n in v if n.onset_tick <= tick < n.end_tick) % 12 == 2, tick
        assert min(n.pitch for v in voices for n in v if n.onset_tick <= tick + eighth < n.end_tick) % 12 == 7, tick


def test_inner_parts_tie_common_tones_across_a_change_of_chord(tunes: dict[str, Score]) -> None:
    """Review finding 8: violin II struck C4 on eight quarters running, across C -> F; a common tone
    is now held over the change of chord (tied), not struck again."""
    out = quartet(tunes["pop (4/4, chords)"])
    changes = {c.tick for c in out.chord_symbols[1:]}
    tied = 0
    for track in parts(out)[1:3]:
        ends = {(n.end_tick, n.pitch) for n in track.notes}
        struck = [n for n in track.notes if n.onset_tick in changes and (n.onset_tick, n.pitch) in ends]
        assert struck == [], track.name
        tied += sum(n.onset_tick < t < n.end_tick for n in track.notes for t in changes)
    assert tied >= 2


@pytest.mark.parametrize("preset", [{"instrumentation": "string-quartet"}, {"style": "choir-hymn"},
                                    {"style": "piano-ballad"}])
def test_a_tonic_reached_before_the_barline_closes_v_i_over_it(preset: dict[str, str]) -> None:
    """O'Neill's *The Brown Thorn* (3/4) settles on its tonic an eighth before the barline (`A3 G | G3`): the tonic
    chord was put on that eighth, and the closing bar kept the estimate, IV (C3 under the held G4), so bars 4 and 8
    closed IV-I-IV. The tonic now holds through the closing note, after the dominant."""
    from melodia.harmony import melody_of

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tune = read_score(f"{MUSIC21 / 'corpus' / 'oneills1850' / '0001-0050.abc'}#31")
    out = stylize(tune, **preset)  # type: ignore[arg-type]
    melody = melody_of(tune)
    voices = [list(t.notes) for t in out.tracks if not t.is_drum and t.notes]
    bar = tune.initial_time_signature().bar_ticks
    beat = tune.initial_time_signature().beat_ticks
    shift = classical.best_shift(melody, voices[0], range(0, 8 * bar + 1, beat), 30)
    moved = [Note(n.pitch, n.velocity, n.onset_tick + shift, n.duration_tick) for n in melody]
    ends = [n for n in moved if n.onset_tick - shift in (5760, 11520)]  # bars 4 and 8 close on G4
    assert [n.pitch for n in ends] == [67, 67]
    checks = classical.cadence_checks(out, moved, voices, tonic=7, ends=ends)
    assert checks == [(5760 + shift, True), (11520 + shift, True)]
