"""The music-theory layer (melodia/theory/): one Key type, one key estimator with named policies, one meter
(its beats and strong beats), the meter that bar lines imply, pitch names spelled in a key, one chord
vocabulary; and the layer imports nothing above it."""

from __future__ import annotations

import ast
from fractions import Fraction
from pathlib import Path

import music21
import numpy as np
import pytest
from conftest import DATA

from melodia.analysis import estimate_key as analysis_estimate_key
from melodia.analysis import key_correlations
from melodia.harmony.chords import slots_of, tune_key
from melodia.harmony.data import OFFBEAT, STEP_TICKS, metre_features, soprano_key
from melodia.io import read_score
from melodia.metrics import on_strong_beat
from melodia.metrics.classical import beat_starts
from melodia.score import MAJOR, TICKS_PER_QUARTER, KeySignature, Note, Score, TimeSignature, Track
from melodia.seed import SeedFile, parse_seed, read_seed, seed_key
from melodia.theory.chord import (
    CONTROL_KIND_OF_QUALITY,
    CONTROL_KINDS,
    MUSICXML_KINDS,
    QUALITIES,
    ROOT_TEMPLATES,
    Chord,
    chord_root,
    parse_symbol,
)
from melodia.theory.key import (
    CHORALE,
    HEARD,
    KEY_POLICIES,
    KRUMHANSL,
    OLD_SEED,
    SEED,
    TUNE,
    Key,
    KeyNameError,
    estimate_key,
)
from melodia.theory.meter import Meter, meter_of_bars
from melodia.theory.pitch import key_signature, note_name, pitch_class_name
from melodia.tokenizers import MetricalTokenizer, TokenizerConfig
from melodia.tokenizers.rules import beat_steps, strong_positions

MUSIC21_MIDI = Path(music21.__file__).parent / "midi" / "testPrimitive"


def test_a_key_has_a_tonic_a_mode_and_a_name() -> None:
    assert Key(4, "minor").name == str(Key(4, "minor")) == "E minor"
    assert Key.parse("F# minor") == Key.parse("F#m") == Key(6, "minor")
    assert Key.parse("A minor") == Key(9, "minor") and Key.parse("D-dorian") == Key(2, "dorian")
    assert Key.parse("Bb") == Key(10, "major") and Key(7).relative == Key(4, "minor")
    assert Key(2, "dorian").quality == "minor" and Key(2, "dorian").as_major_or_minor() == Key(2, "minor")
    assert Key(9, "minor").pitch_classes == (9, 11, 0, 2, 4, 5, 7)
    with pytest.raises(KeyNameError, match="mode 'bluesy' is not one of"):
        Key.parse("A bluesy")


def test_the_policies_are_named_settings() -> None:
    assert KEY_POLICIES["heard"] is HEARD and KEY_POLICIES["seed"] is SEED
    assert HEARD.profiles == "aarden" and KRUMHANSL.profiles == "krumhansl" and SEED.signature == "wins"
    assert KEY_POLICIES["tune"] is TUNE and KEY_POLICIES["chorale"] is CHORALE
    assert TUNE.signature == "trusted" and CHORALE.profiles == "krumhansl" and CHORALE.last_tonic > 0


def test_the_style_steps_and_the_harmonizers_keys_are_the_one_estimators() -> None:
    """`harmony.chords.tune_key` and `harmony.data.melody_tonic` had estimators of their own; they are the TUNE
    and CHORALE policies now (the same keys before and after, compared when the policies were written on 49
    real tunes, each whole and its first quarter, with four signatures: 490 keys alike)."""
    tune = parse_seed("G4/8 A4/8 B4/8 G4/8 D5/4 B4/4 C5/8 B4/8 A4/8 F#4/8 G4/2")[0]
    notes = tune.tracks[0].notes
    assert tune_key(tune, notes) == (7, "major")
    tune.key_signatures = [KeySignature(0, 0, MAJOR)]  # a file saying C major for a tune in G: the notes win
    assert tune_key(tune, notes) == (7, "major")
    tune.key_signatures = [KeySignature(0, 4, "minor")]  # E minor, G major's relative: the final G decides
    assert tune_key(tune, notes) == (7, "major")
    tune.key_signatures = [KeySignature(0, 2, "dorian")]  # a modal signature is read as its quality's key
    assert tune_key(tune, notes) in ((2, "minor"), (5, "major"), (7, "major"))
    soprano = np.array([n.pitch for n in notes for _ in range(n.duration_tick // 240)])
    assert soprano_key(soprano) == Key(7, "major") and soprano_key(np.zeros(4, dtype=int)) == Key(0, "major")


def _line(score: object) -> tuple[np.ndarray, np.ndarray]:
    notes = sorted(score.notes, key=lambda n: (n.onset_tick, n.pitch))  # type: ignore[attr-defined]
    return np.array([n.pitch for n in notes]), np.array([n.duration_tick for n in notes], dtype=float)


def test_analysis_estimates_keep_their_figures_through_the_one_estimator() -> None:
    chorale = read_score(DATA.parent.parent / "melodia" / "data" / "bwv66.6.mid")
    pitches, durations = _line(chorale)
    for profiles, policy in (("krumhansl", KRUMHANSL), ("aarden", HEARD)):
        correlations = key_correlations(pitches, durations, profiles)
        best = max(correlations, key=lambda key: correlations[key])  # the estimate before the theory layer
        key = estimate_key(pitches, durations, policy)
        assert analysis_estimate_key(pitches, durations, profiles) == best == (key.tonic, key.mode)
    assert estimate_key(pitches, durations, HEARD) == Key(6, "minor")  # F# minor, as music21 hears it


@pytest.mark.parametrize(("seed", "key", "before"), [
    ("C4 D4 E4", "C major", "A minor"),  # no A, nothing minor in it
    ("G4 A4 B4", "G major", "E minor"),
    ("G4/8 A4/8 B4/8 C5/8 B4/8 A4/8 B4/8 G4/8 E4/8 D4/4.", "G major", "G major"),
    ("A4 B4 C5 E5", "A minor", "A minor"),  # the minor tonic and third: minor
    ("E4 G4 B4 E5 D#5 E5/2", "E minor", "E minor"),  # and with its leading note
    ("D4 F4 A4 D5 C5 A4 D4/2", "D minor", "D minor"),
], ids=["C-D-E", "G-A-B", "readme-abc-notes-typed", "A-minor-triad", "E-minor-leading-note", "D-minor"])
def test_a_seed_without_a_signature_is_major_unless_its_notes_show_minor(seed: str, key: str, before: str) -> None:
    score, named = read_seed(seed)
    assert named is None and not score.key_signatures
    assert seed_key(score).name == key
    assert estimate_key(*_line(score), OLD_SEED).name == before  # the seed key before issue 33


def test_the_readme_abc_fragment_is_in_g_major_and_6_8() -> None:
    score, _ = read_seed("GAB cBA|BGE D3|")
    assert not score.key_signatures  # was music21's default K:C, whose relative minor the old seed key chose
    assert seed_key(score) == Key(7, "major") and [str(m) for m in score.time_signatures] == ["6/8"]
    assert estimate_key(*_line(score), OLD_SEED, Key(0, "major")) == Key(9, "minor")


def test_a_seed_files_key_signature_wins() -> None:
    score, _ = read_seed(SeedFile(MUSIC21_MIDI / "test06.mid", bars=2))
    assert [k.name for k in score.key_signatures] == ["G major"]
    assert seed_key(score) == Key(7, "major")  # was E minor: the signature's relative minor fitted better
    pitches, durations = _line(score)
    assert estimate_key(pitches, durations, OLD_SEED, Key(7, "major")) == Key(4, "minor")


def test_a_seeds_key_word_is_its_key() -> None:
    assert parse_seed("C4 D4 E4 key=A minor")[1] == Key(9, "minor")


def _bars(text: str) -> list[tuple[Fraction, list[tuple[Fraction, Fraction]]]]:
    """Bars written as 'length: onset+duration ...' in eighths, '|' between them."""
    bars = []
    for bar in text.split("|"):
        length, notes = bar.split(":")
        bars.append((Fraction(int(length), 2), [(Fraction(int(a), 2), Fraction(int(b), 2))
                                                 for a, b in (note.split("+") for note in notes.split())]))
    return bars


@pytest.mark.parametrize(("bars", "meter"), [
    ("6: 0+1 1+1 2+1 3+1 4+1 5+1 | 6: 0+1 1+1 2+1 3+3", (6, 8)),  # GAB cBA|BGE D3|
    ("2: 0+2 | 6: 0+2 2+2 4+2 | 6: 0+6", (3, 4)),  # a pickup, then quarters
    ("6: 0+2 2+1 3+2 5+1", (6, 8)),  # a long-short jig rhythm
    ("8: 0+2 2+2 4+4 | 8: 0+8", (4, 4)),
    ("4: 0+1 1+1 2+2", (2, 4)),
    ("7: 0+2 2+2 4+3", (7, 8)),
    ("9: 0+3 3+3 6+3", (9, 8)),
    ("12: 0+3 3+3 6+3 9+3", (12, 8)),
    ("3: 0+1 1+1 2+1", (3, 8)),
], ids=["jig", "waltz-with-pickup", "jig-long-short", "4/4", "2/4", "7/8", "9/8", "12/8", "3/8"])
def test_the_meter_of_bar_lines(bars: str, meter: tuple[int, int]) -> None:
    assert meter_of_bars(_bars(bars)) == meter


def test_no_bars_no_meter() -> None:
    assert meter_of_bars([]) is None


@pytest.mark.parametrize(("meter", "beat", "beats", "strong", "compound"), [
    ((2, 4), Fraction(1), 2, (0,), False),
    ((3, 4), Fraction(1), 3, (0,), False),
    ((4, 4), Fraction(1), 4, (0, 2), False),
    ((2, 2), Fraction(2), 2, (0,), False),
    ((6, 8), Fraction(3, 2), 2, (0,), True),
    ((9, 8), Fraction(3, 2), 3, (0,), True),
    ((12, 8), Fraction(3, 2), 4, (0, 2), True),
    ((6, 16), Fraction(3, 4), 2, (0,), True),
    ((12, 16), Fraction(3, 4), 4, (0, 2), True),
    ((5, 4), Fraction(1), 5, (0,), False),
    ((7, 8), Fraction(1, 2), 7, (0,), False),
    ((3, 8), Fraction(1, 2), 3, (0,), False),
    ((6, 4), Fraction(1), 6, (0, 3), False),
])
def test_a_meters_beats(meter: tuple[int, int], beat: Fraction, beats: int, strong: tuple[int, ...],
                        compound: bool) -> None:
    each = Meter(*meter)
    assert (each.beat, each.beats, each.strong_beats, each.compound) == (beat, beats, strong, compound)
    assert each.beat * each.beats == each.bar


@pytest.mark.parametrize("meter", [(2, 4), (3, 4), (4, 4), (6, 8), (9, 8), (12, 8), (6, 16), (5, 4), (7, 8)])
def test_every_step_asks_the_one_meter(meter: tuple[int, int]) -> None:
    """Metrics, harmonizer features, generation rules and the style step hear the same beats. Until the theory
    layer they did not: two of them tested `denominator == 8` for a compound meter and two `>= 8`, so a 6/16
    bar had six sixteenth beats in the metrics and two dotted-eighth beats in the style step."""
    signature = TimeSignature(0, *meter)
    beat = signature.beat_ticks
    assert beat == Meter(*meter).beat * TICKS_PER_QUARTER
    bar = signature.bar_ticks
    score = Score([Track("line", 0, False, [Note(60, 80, tick, 60) for tick in range(0, 2 * bar, 60)])],
                  time_signatures=[signature])
    assert beat_starts(score, 0, bar) == list(range(0, bar, beat))
    assert [t for t in range(0, bar, 60) if on_strong_beat(score, t)] == [b * beat for b in Meter(*meter).strong_beats]
    tokenizer = MetricalTokenizer(TokenizerConfig())
    steps_per_quarter = tokenizer.grid.steps_per_quarter
    assert beat_steps(tokenizer, *meter) * TICKS_PER_QUARTER == beat * steps_per_quarter
    grid_beat = beat * steps_per_quarter // TICKS_PER_QUARTER
    assert strong_positions(bar * steps_per_quarter // TICKS_PER_QUARTER, grid_beat) == \
        [b * grid_beat for b in Meter(*meter).strong_beats]
    full = [slot for slot in slots_of(score, 2 * bar) if slot.start < bar]
    assert sum(slot.beats for slot in full) == Meter(*meter).beats
    assert {slot.beat for slot in full} == {beat}
    if beat % STEP_TICKS == 0:  # the harmonizer's grid (eighths) holds the beat
        steps = 2 * bar // STEP_TICKS
        _, strength = metre_features(score, steps)
        assert list(np.flatnonzero(strength[: bar // STEP_TICKS] > OFFBEAT) * STEP_TICKS) == list(range(0, bar, beat))


@pytest.mark.parametrize(("key", "names"), [
    ("C", "C C# D Eb E F F# G G# A Bb B"),
    ("A minor", "C C# D Eb E F F# G G# A Bb B"),  # the raised sixth and seventh: F# and G#
    ("F", "C Db D Eb E F F# G Ab A Bb B"),
    ("D minor", "C C# D Eb E F F# G Ab A Bb B"),  # C#, the leading note; Bb from the signature
    ("E", "B# C# D D# E E# F# G G# A A# B"),  # G natural, the flattened third, not F##
    ("C# minor", "B# C# D D# E E# F# G G# A A# B"),  # B#, the leading note
    ("Db", "C Db D Eb Fb F Gb G Ab A Bb Cb"),
    ("G#m", "B# C# D D# E E# F# F## G# A A# B"),  # F##, the leading note of G# minor
    ("D mixolydian", "C C# D D# E F F# G G# A Bb B"),  # C natural, its own seventh
])
def test_pitch_names_are_spelled_in_the_key(key: str, names: str) -> None:
    assert " ".join(pitch_class_name(pc, Key.parse(key)) for pc in range(12)) == names


def test_a_key_signature_and_note_names_with_octaves() -> None:
    assert [key_signature(Key.parse(k)) for k in ("C", "G", "F#", "Db", "Am", "Ebm", "D dorian")] == \
        [0, 1, 6, -5, 0, -6, 0]
    assert (note_name(68), note_name(68, Key.parse("Am")), note_name(70, Key.parse("F"))) == ("Ab4", "G#4", "Bb4")
    assert note_name(60, Key.parse("C#m")) == "B#3"  # B#3 sounds as C4: the octave goes with the letter
    assert note_name(59, Key.parse("Db")) == "Cb4"


@pytest.mark.parametrize("key", ["C", "G", "E", "F#", "C#m", "G#m", "Db", "Ebm", "Bb mixolydian", "A dorian"])
def test_every_spelled_name_reads_back_as_its_pitch(key: str) -> None:
    pitches = list(range(36, 97))
    text = " ".join(note_name(pitch, Key.parse(key)) for pitch in pitches)
    assert [n.pitch for n in parse_seed(text)[0].notes] == pitches


def test_one_chord_vocabulary() -> None:
    """The qualities symbols read, MusicXML's kinds, the control kinds and the root templates are one set."""
    assert set(MUSICXML_KINDS.values()) <= set(QUALITIES)
    assert set(CONTROL_KIND_OF_QUALITY) == set(QUALITIES)
    assert set(CONTROL_KIND_OF_QUALITY.values()) == set(CONTROL_KINDS)
    assert set(ROOT_TEMPLATES) <= set(QUALITIES.values())
    assert parse_symbol("F#m7b5") == Chord(6, "m7b5") and parse_symbol("C/E") == Chord(0, "", 4)
    assert Chord(10, "maj7").symbol(flats=True) == "Bbmaj7" and Chord(6, "m7b5").symbol() == "F#m7b5"
    assert chord_root(frozenset({7, 11, 2, 5})) == 7 and chord_root(frozenset({9, 0, 4}), bass=0) == 9


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module} | \
        {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}


def test_the_theory_layer_imports_nothing_above_it() -> None:
    """melodia.theory sits at the bottom: it may import melodia's errors and itself; io reads chord symbols
    with the theory's vocabulary, not the style step's (which sat above io)."""
    package = Path(__file__).resolve().parents[1] / "melodia"
    for path in sorted((package / "theory").glob("*.py")):
        above = {m for m in _imports(path) if m.startswith("melodia") and m != "melodia.errors"
                 and not m.startswith("melodia.theory")}
        assert not above, f"{path.name} imports {above}"
    for path in sorted((package / "io").glob("*.py")):
        above = {m for m in _imports(path) if m.startswith(("melodia.style", "melodia.harmony", "melodia.lm"))}
        assert not above, f"io/{path.name} imports {above}"
