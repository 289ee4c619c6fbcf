"""Arrangements a musician would keep (issue 18): key-aware harmony, voicing and idiomatic parts,
arrangement form, and a balanced drum kit."""

from __future__ import annotations

import itertools
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pretty_midi
import pytest
from conftest import MUSIC21

from melodia.apps.cli import main
from melodia.errors import StyleError
from melodia.harmony.chords import tune_key
from melodia.io import read_score, write_score
from melodia.media.synth import SAMPLE_RATE, _drum, synthesize
from melodia.resources import example_path
from melodia.score import ChordSymbol, Note, Score, Track
from melodia.seed import parse_seed
from melodia.style import load_style, preset_names, register_harmonizer, stylize
from melodia.style.measure import measure
from melodia.theory.chord import parse_progression, parse_symbol

A_MINOR = "A4 C5 E5 C5 D5 F5 A5 F5 E5 G#5 B5 G#5 A5/1"
RULE_STYLES = [name for name in preset_names("styles") if not load_style(name).harmonizer]
ESSEN = MUSIC21 / "corpus" / "essenFolksong"
FOLK_TUNES = [f"{ESSEN / 'altdeu10.abc'}#{n}" for n in (1, 2, 3)] + [f"{ESSEN / 'han1.abc'}#{n}" for n in (1, 2)]


def tune(text: str) -> Score:
    return parse_seed(text)[0]


def track(score: Score, name: str) -> Track:
    return next(t for t in score.tracks if t.name == name)


def sounding(notes: list[Note], tick: int) -> Note | None:
    return next((n for n in notes if n.onset_tick <= tick < n.end_tick), None)


@pytest.fixture(scope="module")
def folk_tunes() -> list[Score]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [read_score(path) for path in FOLK_TUNES]


# --- harmony -----------------------------------------------------------------------------------------

def test_an_a_minor_tune_stays_in_a_minor_and_ends_on_its_tonic_chord() -> None:
    out = stylize(tune(A_MINOR), style="string-waltz")
    symbols = [c.symbol for c in out.chord_symbols]
    assert symbols[-1] == "Am" and "E" in symbols and (out.key_signatures[0].tonic, out.key_signatures[0].mode) == \
        (9, "minor")
    assert not any(n.pitch % 12 == 6 for t in out.tracks if not t.is_drum for n in t.notes)  # no F# anywhere
    figures = measure(out, load_style("string-waltz").instrumentation, (9, "minor"))
    assert figures.key_kept and figures.ends_on_tonic and figures.above_melody == 0


def test_a_wrong_key_signature_gives_way_to_the_notes() -> None:
    score = read_score(MUSIC21 / "omr" / "k525short.mid")  # Eine kleine Nachtmusik, signed C major
    assert tune_key(score, [n for t in score.tracks for n in t.notes]) == (7, "major")


def test_cadences_close_the_phrases_of_a_period() -> None:
    period = tune("C5 B4 A4 G4 F4 E4 D4 D4 E4 G4 F4 D4 E4/2 D4/2 C5 B4 A4 G4 F4 E4 D4 D4 E4 G4 F4 D4 B3/2 C4/2 key=C")
    out = stylize(period, instrumentation="piano-solo")
    by_bar = {c.tick // 1920: c.symbol for c in out.chord_symbols}
    assert by_bar[3][0] == "G"  # a half cadence ends the first phrase
    last = [c.symbol for c in out.chord_symbols if c.tick >= 6 * 1920]
    assert last[-2][0] == "G" and last[-1] == "C"  # and an authentic one the second


def test_sevenths_and_secondary_dominants_are_chosen_when_the_melody_has_them() -> None:
    out = stylize(tune("C5 E5 G5 E5 F#5/2 A5/2 G5 D5 B4 F5 E5/1 key=C"), instrumentation="piano-solo")
    symbols = [c.symbol for c in out.chord_symbols]
    assert "D7" in symbols and symbols[symbols.index("D7") + 1].startswith("G")  # V/V resolves to V
    assert symbols[-1] == "C"


def test_users_chords_are_played_and_written_into_midi_and_musicxml(tmp_path: Path) -> None:
    out = stylize(tune(A_MINOR), instrumentation="piano-solo", chords="Am | Dm G | C | E7")
    assert [(c.tick, c.symbol) for c in out.chord_symbols] == \
        [(0, "Am"), (1920, "Dm"), (2880, "G"), (3840, "C"), (5760, "E7")]
    left = track(out, "Piano LH").notes
    assert [min(n.pitch for n in left if n.onset_tick == c.tick) % 12 for c in out.chord_symbols] == [9, 2, 7, 0, 4]
    midi = pretty_midi.PrettyMIDI(str(write_score(out, tmp_path / "lead.mid")))
    assert [e.text for e in midi.text_events] == ["Am", "Dm", "G", "C", "E7"]
    xml = (write_score(out, tmp_path / "lead.musicxml")).read_text()
    assert xml.count("<harmony") >= 5 and "<kind>dominant</kind>" in xml


@pytest.mark.parametrize(("text", "symbol", "classes"), [("Bbmaj7", "A#maj7", (10, 2, 5, 9)),
                                                          ("F#m7b5", "F#m7b5", (6, 9, 0, 4)),
                                                          ("C/E", "C/E", (0, 4, 7)), ("Gmin", "Gm", (7, 10, 2)),
                                                          ("D7sus", "D7sus4", (2, 7, 9, 0))])
def test_chord_symbols_parse(text: str, symbol: str, classes: tuple[int, ...]) -> None:
    chord = parse_symbol(text)
    assert chord.symbol() == symbol and chord.pitch_classes == classes


def test_a_bad_progression_names_the_symbol() -> None:
    with pytest.raises(StyleError, match="chord 'H7': not a chord symbol"):
        parse_progression("C | H7")
    with pytest.raises(StyleError, match="expected bars of chord symbols"):
        parse_progression("C || G")


def test_folk_tunes_meet_the_harmony_goals(folk_tunes: list[Score]) -> None:
    for score in folk_tunes:
        key = tune_key(score, score.tracks[0].notes)
        for name in ("piano-ballad", "jazz-swing", "celtic-reel"):
            figures = measure(stylize(score, style=name), load_style(name).instrumentation, key)
            assert figures.chord_tone_share >= 0.9, (score.title, name)
            assert figures.clashes_per_16_bars <= 2, (score.title, name)
            assert figures.key_kept and figures.ends_on_tonic is not False and figures.above_melody == 0
            assert not figures.walking_tritones


# --- voicing and parts ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", RULE_STYLES)
def test_harmony_and_counter_melody_stay_under_the_melody(name: str, folk_tunes: list[Score]) -> None:
    style = load_style(name)
    for score in [tune(A_MINOR), tune("C4 E4 G3 C4 D4 B3 G3 B3 C4/1 key=C"), folk_tunes[0]]:
        out = stylize(score, style=style)
        assert measure(out, style.instrumentation, tune_key(score, score.tracks[0].notes)).above_melody == 0


@pytest.mark.parametrize("name", ["jazz-swing", "bossa-nova"])
def test_a_piano_pieces_inner_voices_stay_under_its_tune(name: str) -> None:
    """test09.mid's inner voices cross its tune; those its parts' ranges cannot take under it are left out."""
    from melodia.analysis.roles import detect_voices

    score = read_score(MUSIC21 / "midi" / "testPrimitive" / "test09.mid")
    voices = detect_voices(score)
    style = load_style(name)
    out = stylize(score, style=style)
    figures = measure(out, style.instrumentation, tune_key(score, voices.melody), voices.is_bare_melody, style.rhythm)
    assert figures.above_melody == 0
    assert sum(len(t.notes) for t in out.tracks if not t.is_drum) > len(voices.melody) + 100  # thinned, not emptied


def test_voice_leading_keeps_common_tones() -> None:
    out = stylize(tune("E5/2 E5/2 F5/2 F5/2 G5/2 G5/2 E5/1 key=C"), instrumentation="choir",
                  chords="C | F | G7 | C")
    alto, tenor = track(out, "Alto").notes, track(out, "Tenor").notes
    moves = [abs(b.pitch - a.pitch) for line in (alto, tenor) for a, b in itertools.pairwise(line)]
    assert max(moves) <= 4 and moves.count(0) >= 1  # steps, and a common tone held


def test_the_counter_melody_is_chord_tones_on_the_beats_with_passing_notes(folk_tunes: list[Score]) -> None:
    out = stylize(folk_tunes[1], instrumentation="string-quartet")
    violin_two = track(out, "Violin II").notes
    symbols = [(c.tick, parse_symbol(c.symbol).pitch_classes) for c in out.chord_symbols]

    def chord_at(tick: int) -> tuple[int, ...]:
        return next(pcs for at, pcs in reversed(symbols) if at <= tick)

    on_beats = [n for n in violin_two if n.onset_tick % 480 == 0]
    assert sum(n.pitch % 12 in chord_at(n.onset_tick) for n in on_beats) == len(on_beats)
    assert any(n.onset_tick % 480 for n in violin_two)  # passing notes between the beats


def test_walking_bass_walks_by_step_into_each_root() -> None:
    out = stylize(tune("C5/1 A4/1 D5/1 G4/1 E5/1 A4/1 D5/1 G4/2 C5/2 key=C"), style="jazz-swing", intro="none",
                  ending="none")
    bass = track(out, "Acoustic Bass").notes
    steps = [abs(b.pitch - a.pitch) for a, b in itertools.pairwise(bass)]
    assert 6 not in steps and max(steps) <= 7
    roots = {c.tick: parse_symbol(c.symbol).bass_pc for c in out.chord_symbols}
    arrivals = [(before, after) for before, after in itertools.pairwise(bass) if after.onset_tick in roots
                and before.onset_tick < after.onset_tick]
    assert all(after.pitch % 12 == roots[after.onset_tick] for _, after in arrivals)
    assert sum(abs(after.pitch - before.pitch) <= 2 for before, after in arrivals) >= 0.8 * len(arrivals)


def test_parts_are_written_for_their_instruments() -> None:
    melody = tune(A_MINOR)
    rock = stylize(melody, style="rock")
    guitar = track(rock, "Rhythm guitar").notes
    chords = [[n.pitch for n in group] for _, group in itertools.groupby(guitar, key=lambda n: n.onset_tick)]
    shapes = {tuple(sorted(p - min(chord) for p in chord)) for chord in chords}
    assert shapes == {(0, 7, 12)}  # power chords
    quartet = stylize(melody, style="string-waltz")
    viola = track(quartet, "Viola").notes
    assert max(len(list(g)) for _, g in itertools.groupby(viola, key=lambda n: n.onset_tick)) <= 2  # double stops
    session = stylize(melody, style="celtic-reel")
    assert [n.pitch % 12 for n in track(session, "Flute").notes] == [n.pitch % 12 for n in track(session,
                                                                                                 "Fiddle").notes]
    jazz = stylize(melody, style="jazz-swing", intro="none")
    piano_onsets = {n.onset_tick for n in track(jazz, "Piano comping").notes}
    assert len(piano_onsets) <= 2 * 5 and any(t % 480 for t in piano_onsets)  # comping, off the beat too
    brass = stylize(melody, style="brass-march", intro="none")
    horn, trombone = track(brass, "Horn").notes, track(brass, "Trombone").notes
    assert all(h.pitch - t.pitch >= 3 for h, t in zip(horn, trombone, strict=False) if h.onset_tick == t.onset_tick)


# --- form -----------------------------------------------------------------------------------------------------

def test_intro_vamp_then_tune_then_held_final_chord() -> None:
    out = stylize(tune(A_MINOR), style="rock")  # intro vamp, ending held
    lead = track(out, "Lead guitar").notes
    assert lead[0].onset_tick == 2 * 1920 and out.chord_symbols[0].symbol == "Am"
    end = max(n.end_tick for n in out.notes)
    assert end == (2 + 4 + 1) * 1920  # the accompaniment holds the final chord through one more bar
    assert lead[-1].end_tick == (2 + 4) * 1920  # under the melody's last note, as written
    for name in ("Rhythm guitar", "Electric Bass (pick)"):
        last = [n for n in track(out, name).notes if n.end_tick == end]
        assert last and all(n.onset_tick == 6 * 1920 for n in last), name  # struck once, held
    drums = track(out, "Drums").notes
    crashes = [n.onset_tick for n in drums if n.pitch == 49]
    assert 2 * 1920 in crashes and 6 * 1920 in crashes  # the tune's first downbeat and the ending
    assert not any(n.pitch in (38, 37) for n in drums if n.onset_tick < 2 * 1920)  # the intro keeps time only


def test_drums_fill_each_phrase_and_change_with_the_sections(folk_tunes: list[Score]) -> None:
    out = stylize(tune(" ".join(["C5 B4 A4 G4"] * 15 + ["C5/1"]) + " key=C"), style="rock", intro="none")
    drums = track(out, "Drums").notes
    bar = {i: sorted((n.onset_tick - i * 1920, n.pitch) for n in drums if i * 1920 <= n.onset_tick < (i + 1) * 1920)
           for i in range(16)}
    toms = {i for i, hits in bar.items() if any(p in (45, 47, 50) for _, p in hits)}
    assert toms == {3, 7, 11}  # fills close the phrases (the last bar cadences instead)
    assert bar[0] != bar[4] and bar[1] != bar[5]  # the second half of a section grooves differently
    assert any(p == 49 for t, p in bar[8] if t == 0)  # a crash opens the second section


def test_a_pickup_ends_the_intro(tmp_path: Path) -> None:
    score = read_score(Path(__file__).parent / "data" / "pickup.mid")  # a quarter-note pickup, then 4/4
    out = stylize(score, style="rock")
    lead = track(out, "Lead guitar").notes
    assert [str(t) for t in out.time_signatures] == ["4/4"]
    assert lead[0].onset_tick == 2 * 1920 - 480 and lead[1].onset_tick == 2 * 1920


def test_phrase_intro_plays_the_last_phrase_first(folk_tunes: list[Score]) -> None:
    score = tune(" ".join(["C5 B4 A4 G4"] * 7 + ["E4 D4 C4/2"]) + " key=C")
    out = stylize(score, instrumentation="piano-solo", intro="phrase")
    right = [(n.pitch, n.onset_tick) for n in track(out, "Piano RH").notes]
    intro = [(p, t) for p, t in right if t < 4 * 1920]
    assert intro == [(p, t - 8 * 1920) for p, t in right if t >= 8 * 1920]  # the tune's bars 5-8, first
    assert [c.symbol for c in out.chord_symbols if c.tick < 4 * 1920][-1] == "C"


def test_ritardando_slows_the_last_two_bars() -> None:
    out = stylize(tune(A_MINOR), instrumentation="piano-solo", tempo=100, ritardando=True)
    assert out.tempos[0].bpm == 100
    slowing = [t.bpm for t in out.tempos if t.tick >= 2 * 1920]
    assert len(slowing) == 8 and slowing == sorted(slowing, reverse=True) and slowing[-1] == pytest.approx(60)


def test_a_chorale_in_the_rock_style_gets_drums_and_an_intro() -> None:
    score = read_score(example_path())
    out = stylize(score, style="rock")
    drums = next(t for t in out.tracks if t.is_drum)
    assert drums.notes and max(n.onset_tick for n in drums.notes) >= score.end_tick
    assert [c.symbol for c in out.chord_symbols][-1].startswith("F#")  # the chorale's own final chord


def test_form_options_are_checked() -> None:
    with pytest.raises(StyleError, match="intro 'fanfare': expected one of none, vamp, phrase"):
        stylize(tune(A_MINOR), style="rock", intro="fanfare")


def test_cli_writes_chords_intro_and_ending(tmp_path: Path) -> None:
    source = write_score(tune(A_MINOR), tmp_path / "tune.mid")
    target = tmp_path / "out.mid"
    assert main(["style", str(source), "--instrumentation", "piano-solo", "--chords", "Am | Dm | E7 | Am",
                 "--intro", "vamp", "--ending", "held", "--ritardando", "-o", str(target)]) in (0, None)
    midi = pretty_midi.PrettyMIDI(str(target))
    assert [e.text for e in midi.text_events] == ["Am", "Dm", "E7", "Am"]
    assert midi.get_end_time() > 6 * 2.0 and len(midi.get_tempo_changes()[0]) > 1  # a long tonic: no extra bar


def test_a_style_may_name_a_harmonizer(tmp_path: Path) -> None:
    def octaves(score: Score) -> Score:
        line = score.tracks[0]
        return Score([line, Track("Bass", 32, False, [Note(n.pitch - 24, n.velocity, n.onset_tick, n.duration_tick)
                                                      for n in line.notes])], list(score.tempos),
                     list(score.time_signatures), list(score.key_signatures))

    register_harmonizer("test-octaves", octaves)
    path = tmp_path / "mine.toml"
    path.write_text('instrumentation = "string-quartet"\nrhythm = "straight"\ntempo = 90\n'
                    'harmonizer = "test-octaves"\n')
    out = stylize(tune(A_MINOR), style=path)
    assert [n.pitch % 12 for n in track(out, "Cello").notes] == [n.pitch % 12 for n in tune(A_MINOR).tracks[0].notes]
    path.write_text('rhythm = "straight"\nharmonizer = "nobody"\n')
    with pytest.raises(StyleError, match="harmonizer 'nobody': not available"):
        stylize(tune(A_MINOR), style=path)


LEAD_SHEET = "A4 C5 A4 F4 F5 F5 F5 F5 G5 G5 G5 G5 F5/1 key=F"  # alone, it is harmonized F | F | Gm7 | F
GIVEN = ["F", "Bb", "C7", "F"]


def lead_sheet() -> Score:
    score = tune(LEAD_SHEET)
    score.chord_symbols = [ChordSymbol(bar * 1920, symbol) for bar, symbol in enumerate(GIVEN)]
    return score


def played_by_bar(out: Score, name: str) -> list[set[int]]:
    notes = track(out, name).notes
    return [{n.pitch % 12 for n in notes if bar * 1920 <= n.onset_tick < (bar + 1) * 1920} for bar in range(4)]


def test_the_chord_symbols_a_score_carries_are_played() -> None:
    estimate = stylize(tune(LEAD_SHEET), instrumentation="piano-solo")
    assert [c.symbol for c in estimate.chord_symbols] != GIVEN  # the estimate would differ
    out = stylize(lead_sheet(), instrumentation="piano-solo")
    assert [(c.tick, c.symbol) for c in out.chord_symbols] == [(0, "F"), (1920, "Bb"), (3840, "C7"), (5760, "F")]
    assert [min(n.pitch for n in track(out, "Piano LH").notes if n.onset_tick == bar * 1920) % 12
            for bar in range(4)] == [5, 10, 0, 5]  # the bass of each bar's figure
    for played, symbol in zip(played_by_bar(out, "Piano LH"), GIVEN, strict=True):
        assert played and played <= set(parse_symbol(symbol).pitch_classes)
    assert played_by_bar(out, "Piano LH")[2] >= {0, 4, 10}  # C7 with its seventh (a cadence: all of it), not Gm7
    given = stylize(lead_sheet(), instrumentation="piano-solo", chords="F | Dm | Gm7 C7 | F")  # --chords wins
    assert [c.symbol for c in given.chord_symbols] == ["F", "Dm", "Gm7", "C7", "F"]


def test_a_chord_symbol_changes_inside_a_bar_at_its_tick() -> None:
    score = lead_sheet()
    score.chord_symbols[2:3] = [ChordSymbol(3840, "Gm7"), ChordSymbol(3840 + 1440, "C7")]  # on beat 4
    out = stylize(score, instrumentation="piano-solo")
    assert [(c.tick, c.symbol) for c in out.chord_symbols][2:4] == [(3840, "Gm7"), (5280, "C7")]


def test_the_cli_styles_a_lead_sheet_with_its_own_chords(tmp_path: Path) -> None:
    for suffix in ("mid", "musicxml"):
        source = write_score(lead_sheet(), tmp_path / f"lead.{suffix}")
        target = tmp_path / f"styled-{suffix}.mid"
        assert main(["style", str(source), "--style", "jazz-swing", "-o", str(target)]) in (0, None)
        out = read_score(target)
        assert [c.symbol for c in out.chord_symbols if c.tick >= out.chord_symbols[0].tick][-4:] == GIVEN


def test_a_bad_chord_symbol_in_a_score_names_it_and_its_tick() -> None:
    score = tune(LEAD_SHEET)
    score.chord_symbols = [ChordSymbol(0, "F"), ChordSymbol(1920, "Xyz")]
    with pytest.raises(StyleError, match="chord symbol at tick 1920: chord 'Xyz': not a chord symbol; expected"):
        stylize(score, instrumentation="piano-solo")



@pytest.mark.parametrize("name", ["midi/testPrimitive/test09.mid", "omr/k525short.mid"])
def test_a_textures_chord_symbols_hold_its_tune_on_the_strong_beats(name: str) -> None:
    """A chromatic etude (augmented triads) and Mozart (a suspended dominant): the chords named
    over a texture contain its top line's notes on the strong beats (81.7 and 86.7 % before)."""
    score = read_score(MUSIC21 / name)
    key = tune_key(score, [n for t in score.tracks for n in t.notes])
    for style_name in ("rock", "string-waltz"):
        style = load_style(style_name)
        assert style.instrumentation is not None
        figures = measure(stylize(score, style=style), style.instrumentation, key, False, style.rhythm)
        assert figures.chord_tone_share >= 0.9 and figures.key_kept and figures.above_melody == 0


def test_a_chorale_is_harmonized_by_the_beat_where_its_voices_move() -> None:
    out = stylize(read_score(example_path()), instrumentation="string-quartet")
    ticks = [c.tick for c in out.chord_symbols]
    assert any(t % 960 for t in ticks)  # a chord on a weak beat, where Bach changes it
    assert out.chord_symbols[-1].symbol == "F#"  # and still the Picardy tonic at the end
    bare = stylize(tune(A_MINOR), instrumentation="string-quartet")
    assert not any(c.tick % 960 for c in bare.chord_symbols)  # a bare tune keeps its slots



def test_given_chords_are_played_instead_of_a_styles_harmonizer(tmp_path: Path) -> None:
    calls = []

    def counting(score: Score, chords: Any = None) -> Score:
        calls.append(score)
        return score

    register_harmonizer("test-counting", counting)
    path = tmp_path / "mine.toml"
    path.write_text('rhythm = "straight"\nharmonizer = "test-counting"\n')
    out = stylize(lead_sheet(), style=path, instrumentation="piano-solo")
    assert not calls and [c.symbol for c in out.chord_symbols] == GIVEN
    stylize(lead_sheet(), style=path)  # no instrumentation to play them: the harmonizer, which reads them
    assert len(calls) == 1 and [c.symbol for c in calls[0].chord_symbols] == GIVEN


# --- the built-in drum kit --------------------------------------------------------------------------------------

def _level(pitch: int) -> float:
    sound = _drum(pitch, SAMPLE_RATE)
    return 10 * np.log10(float((sound ** 2).mean()))


def test_the_built_in_drum_kit_is_balanced() -> None:
    snare = _level(38)
    assert abs(_level(36) - snare) <= 6
    for pitch in (42, 44, 46, 49, 51):
        assert -12 <= _level(pitch) - snare <= 0, pitch  # hats and cymbals under the snare, but heard
    jazz = stylize(tune(A_MINOR), style="jazz-swing")
    samples = synthesize(Score([t for t in jazz.tracks if t.is_drum], list(jazz.tempos), list(jazz.time_signatures)))
    spectrum = np.abs(np.fft.rfft(samples)) ** 2
    frequencies = np.fft.rfftfreq(len(samples), 1 / SAMPLE_RATE)
    assert spectrum[frequencies >= 4000].sum() / spectrum.sum() < 1 / 3  # cymbals do not carry most of it


def test_time_signature_of_a_score_without_one() -> None:
    out = stylize(Score([Track("", 0, False, [Note(60 + i, 80, i * 480, 480) for i in range(8)])]),
                  style="rock")
    assert out.validate() and out.chord_symbols and str(out.time_signatures[0]) == "4/4"
