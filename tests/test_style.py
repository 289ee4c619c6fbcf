"""Style conversion: templates, role detection, instrumentation, rhythm and accompaniment."""

from __future__ import annotations

import itertools
import subprocess
import sys
import warnings
from collections import Counter
from dataclasses import replace
from pathlib import Path

import mido
import pretty_midi
import pytest
from conftest import REAL_MIDI, ids
from hypothesis import given, settings
from hypothesis import strategies as st
from test_tokenizers import scores

from melodia.analysis.roles import detect_voices, top_line
from melodia.errors import StyleError
from melodia.harmony.chords import harmonize, tune_key
from melodia.io import read_score, write_score
from melodia.resources import example_path
from melodia.score import Note, Score, TimeSignature, Track
from melodia.seed import parse_seed
from melodia.style import (
    load_instrumentation,
    load_rhythm,
    load_style,
    preset_names,
    stylize,
)
from melodia.style.arrange import fold_into_range, split_by_rank
from melodia.style.piano import hand_faults
from melodia.style.rhythm import perform, retime
from melodia.style.templates import Rhythm

INSTRUMENTATIONS = preset_names("instrumentation")
RHYTHMS = preset_names("rhythm")
STYLES = preset_names("styles")
RULE_STYLES = [name for name in STYLES if not load_style(name).harmonizer]  # a harmonizer is tested with its model


def _multitrack() -> list[Path]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [*[p for p in REAL_MIDI if len([t for t in read_score(p).tracks if t.notes]) >= 2][:3], example_path()]


MULTITRACK = _multitrack()


def apply_rhythm(score: Score, rhythm: Rhythm) -> Score:
    """`score` re-timed by `rhythm` alone (what `stylize` does around its arranging)."""
    return perform(retime(score, rhythm), rhythm)


def melody(text: str) -> Score:
    return parse_seed(text)[0]


def four_voices() -> Score:
    """Two bars of a four-part chorale texture in C major, one track a voice."""
    voices = {"Soprano": [72, 71, 72, 74, 76, 74, 72, 71], "Alto": [67, 67, 69, 67, 67, 65, 64, 62],
              "Tenor": [64, 62, 65, 64, 60, 60, 57, 55], "Bass": [48, 55, 53, 52, 48, 50, 45, 43]}
    tracks = [Track(name, 0, False, [Note(p, 80, i * 480, 480) for i, p in enumerate(pitches)])
              for name, pitches in voices.items()]
    return Score(tracks, time_signatures=[TimeSignature(0, 4, 4)])


def eighths_then_quarters(numerator: int = 4, denominator: int = 4) -> Score:
    """A bar of eighth notes, then a bar of quarter notes (bar length from the meter)."""
    bar = numerator * 1920 // denominator
    notes = [Note(60 + i, 80, i * 240, 240) for i in range(bar // 240)]
    notes += [Note(72 + i, 80, bar + i * 480, 480) for i in range(bar // 480)]
    return Score([Track("Melody", 0, False, notes)], time_signatures=[TimeSignature(0, numerator, denominator)])


def pitched_onset_classes(score: Score) -> Counter[tuple[int, int]]:
    return Counter((n.onset_tick, n.pitch % 12) for t in score.tracks if not t.is_drum for n in t.notes)


def top_notes(track: Track) -> list[Note]:
    """The highest note struck at each onset of `track`."""
    return [max(group, key=lambda n: n.pitch) for _, group in itertools.groupby(
        sorted(track.notes, key=lambda n: n.onset_tick), key=lambda n: n.onset_tick)]


def part_of(instrumentation_name: str, track: Track):
    return next(p for p in load_instrumentation(instrumentation_name).parts if p.name == track.name)


# --- templates ---------------------------------------------------------------------------

def test_import_loads_no_torch_and_no_corpus_code() -> None:
    code = ("import sys, melodia.style; print(','.join(sorted(m for m in sys.modules if m == 'torch' "
            "or m.startswith(('torch.', 'melodia.corpus', 'melodia.tokenizers', 'music21')))))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_at_least_eight_presets_of_each_kind_load() -> None:
    assert len(INSTRUMENTATIONS) >= 8 and len(RHYTHMS) >= 8 and len(STYLES) >= 8
    for name in STYLES:
        style = load_style(name)
        assert (style.instrumentation is not None or style.harmonizer) and style.rhythm is not None and style.tempo


BAD_TEMPLATES = [
    ("instrumentation", '[[parts]]\nrole = "melody"\nprogram = 40\ncolour = "red"\n', "field 'parts[0].colour'"),
    ("instrumentation", '[[parts]]\nrole = "melody"\nprogram = 200\n', "parts[0].program = 200 is not a General MIDI"),
    ("instrumentation", '[[parts]]\nrole = "melody"\nprogram = "Kazoo"\n', "program = 'Kazoo' is not a General MIDI"),
    ("instrumentation", '[[parts]]\nrole = "soloist"\n', "parts[0].role = 'soloist' is not one of"),
    ("instrumentation", '[[parts]]\nrole = "bass"\npattern = "boogie"\n', "pattern = 'boogie' is not a bass pattern"),
    ("instrumentation", '[[parts]]\nrole = "melody"\narticulation = "slurred"\n', "articulation = 'slurred'"),
    ("instrumentation", '[[parts]]\nrole = "melody"\nrange = ["C4", "E4"]\n', "range = ['C4', 'E4'] should be"),
    ("instrumentation", 'description = "no parts"\n', "field 'parts' is missing"),
    ("instrumentation", "[[parts]\n", "not a valid TOML file"),
    ("instrumentation", '[[parts]]\nrole = "drums"\n', "needs at least one pitched part"),
    ("instrumentation", '[[parts]]\nrole = "melody"\nprogram = [40]\n', "program = [40] should be a int or str"),
    ("rhythm", "tempo_factor = 2\n", "unknown field 'tempo_factor'"),
    ("rhythm", "[swing]\nratio = 9\n", "swing.ratio = 9 should be a number"),
    ("rhythm", '[[meter]]\nfrom = "4/4"\nto = "3/4"\nmap = [[0, 0], [4, 4]]\n', "meter[0].map"),
    ("rhythm", '[[meter]]\nfrom = "4/5"\nto = "3/4"\nmap = [[0, 0], [4, 3]]\n', "meter[0].from = '4/5'"),
    ("rhythm", "[groove]\naccents = [[0, 7]]\n", "groove.accents entry [0, 7]"),
    ("rhythm", '[accompaniment]\ndrums = "polka"\n', "accompaniment.drums = 'polka' is not a drums pattern"),
]


@pytest.mark.parametrize(("kind", "text", "message"), BAD_TEMPLATES)
def test_bad_template_files_name_the_file_and_field(tmp_path: Path, kind: str, text: str, message: str) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(text)
    with pytest.raises(StyleError, match=r"mine\.toml") as error:
        (load_instrumentation if kind == "instrumentation" else load_rhythm)(path)
    assert message in str(error.value)


def test_unknown_preset_lists_the_presets() -> None:
    with pytest.raises(StyleError, match=r"no such preset or file; presets: .*string-quartet"):
        load_instrumentation("kazoo-band")


def test_a_users_own_template_file_works(tmp_path: Path) -> None:
    path = tmp_path / "duo.toml"
    path.write_text('[[parts]]\nrole = "melody"\nprogram = "Oboe"\n\n[[parts]]\nrole = "bass"\nprogram = 70\n'
                    'range = ["Bb1", "E4"]\n')
    out = stylize(four_voices(), instrumentation=path)
    assert [(t.name, t.program) for t in out.tracks] == [("Oboe", 68), ("Bassoon", 70)]
    assert pitched_onset_classes(out) == pitched_onset_classes(four_voices())


# --- roles ----------------------------------------------------------------------------------

def test_roles_of_a_four_part_texture() -> None:
    voices = detect_voices(four_voices())
    assert [n.pitch for n in voices.melody] == [72, 71, 72, 74, 76, 74, 72, 71]
    assert [n.pitch for n in voices.bass] == [48, 55, 53, 52, 48, 50, 45, 43]
    assert [[n.pitch for n in line][:2] for line in voices.inner] == [[67, 67], [64, 62]]
    assert not voices.is_bare_melody


def test_roles_of_one_polyphonic_track_split_top_middle_bottom() -> None:
    merged = Score([Track("Piano", 0, False, sorted((n for t in four_voices().tracks for n in t.notes),
                                                    key=lambda n: (n.onset_tick, n.pitch)))])
    voices = detect_voices(merged)
    assert [n.pitch for n in voices.melody] == [72, 71, 72, 74, 76, 74, 72, 71]
    assert [n.pitch for n in voices.bass] == [48, 55, 53, 52, 48, 50, 45, 43]
    assert sorted(n.pitch for line in voices.inner for n in line)[:3] == [55, 57, 60]


def test_track_names_and_bass_programs_guide_the_roles() -> None:
    def line(name: str, program: int, pitches: list[int]) -> Track:
        return Track(name, program, False, [Note(p, 80, i * 480, 480) for i, p in enumerate(pitches)])

    pad, lead = line("Pad", 89, [67, 69, 71, 72]), line("Lead vocal", 80, [60, 62, 64, 65])
    slap = line("", 36, [64, 65, 67, 69])  # a slap bass riff above the tune
    voices = detect_voices(Score([pad, lead, slap]))
    assert [n.pitch for n in voices.melody] == [60, 62, 64, 65]
    assert [n.pitch for n in voices.bass] == [64, 65, 67, 69]
    assert [[n.pitch for n in v] for v in voices.inner] == [[67, 69, 71, 72]]
    cello = detect_voices(Score([line("Violin", 40, [76, 77]), line("Bassoon", 70, [50, 52]),
                                 line("Cello", 42, [43, 45])]))
    assert [n.pitch for n in cello.bass] == [43, 45]  # a bassoon is not a bass part by name


def test_top_line_cuts_held_notes_where_a_higher_note_starts() -> None:
    line, rest = top_line([Note(60, 80, 0, 960), Note(67, 80, 480, 480), Note(55, 80, 480, 480)])
    assert [(n.pitch, n.onset_tick, n.duration_tick) for n in line] == [(60, 0, 480), (67, 480, 480)]
    assert [n.pitch for n in rest] == [55]


def test_a_single_line_is_a_bare_melody() -> None:
    assert detect_voices(melody("C4 D4 E4 F4")).is_bare_melody


def test_split_by_rank_shares_chords_from_the_top() -> None:
    chord = [Note(p, 80, 0, 480) for p in (48, 52, 55, 60)]
    high, low = split_by_rank(chord, 2)
    assert sorted(n.pitch for n in high) == [55, 60] and sorted(n.pitch for n in low) == [48, 52]


def test_fold_into_range_keeps_pitch_classes_and_the_line() -> None:
    folded = fold_into_range([Note(p, 80, i * 480, 480) for i, p in enumerate((36, 40, 43, 48, 30))], 55, 79)
    assert [n.pitch for n in folded] == [60, 64, 67, 72, 66]


# --- instrumentation --------------------------------------------------------------------------

@pytest.mark.parametrize("name", INSTRUMENTATIONS)
def test_instrumentation_keeps_every_note_in_range_and_pitch_class(name: str, tmp_path: Path) -> None:
    source = four_voices()
    out = stylize(source, instrumentation=name)
    assert pitched_onset_classes(out) == pitched_onset_classes(source)  # nothing lost, nothing added
    parts = load_instrumentation(name).parts
    for track in out.tracks:
        part = part_of(name, track)
        assert (track.program, track.is_drum) == (0 if part.is_drum else part.program, part.is_drum)
        assert all(part.low <= n.pitch <= part.high for n in track.notes), track.name
    assert out.tracks[0].name == parts[0].name and [n.pitch for n in top_notes(out.tracks[0])] == \
        [72, 71, 72, 74, 76, 74, 72, 71]  # the melody as written, on top of its part


@pytest.mark.parametrize("name", INSTRUMENTATIONS)
def test_instrumentation_accompanies_a_bare_melody(name: str, tmp_path: Path) -> None:
    tune = melody("C4 E4 G4 E4 F4 A4 C5 A4 G4 B4 D5 B4 C5/1 key=C")
    out = stylize(tune, instrumentation=name, intro="none", ending="none")  # a quartet's own form aside
    template = load_instrumentation(name)
    expected = {p.name for p in template.parts if p.role == "melody" or p.pattern != "none"}
    assert {t.name for t in out.tracks} == expected
    assert [(n.pitch, n.onset_tick, n.duration_tick) for n in top_notes(out.tracks[0])] == \
        [(n.pitch, n.onset_tick, n.duration_tick) for n in tune.tracks[0].notes]  # as written, on top
    for track in out.tracks:
        part = part_of(name, track)
        assert all(part.low <= n.pitch <= part.high for n in track.notes), track.name
        assert all(n.onset_tick < 4 * 1920 for n in track.notes)
    path = write_score(out, tmp_path / "out.mid")
    channels = {(m.channel, out.tracks[i].is_drum) for i, track in enumerate(mido.MidiFile(path).tracks[1:])
                for m in track if m.type == "note_on"}
    assert all((channel == 9) == is_drum for channel, is_drum in channels)
    assert any(is_drum for _, is_drum in channels) == any(p.role == "drums" for p in template.parts)


def test_piano_solo_accompaniment_exact_notes() -> None:
    out = stylize(melody("C4 E4 G4 E4 F4 A4 C5 A4 G4 B4 D5 B4 C5/1 key=C"), instrumentation="piano-solo")
    right, left = out.tracks  # two staves, one pianist
    assert [(t.name, t.program) for t in out.tracks] == [("Piano RH", 0), ("Piano LH", 0)]
    assert [n.pitch for n in right.notes if n.onset_tick < 1920] == [60, 64, 67, 64]  # the tune as written
    assert [n.pitch for n in right.notes if n.onset_tick == 1920] == [65]  # nothing added under E4 (C4 put the LH low)
    assert [(n.pitch, n.onset_tick, n.duration_tick) for n in left.notes[:4]] == \
        [(48, 0, 240), (55, 240, 240), (52, 480, 240), (55, 720, 240)]  # Alberti on C: C3 G3 E3 G3
    assert [min(n.pitch for n in left.notes if n.onset_tick == bar * 1920) for bar in range(4)] == \
        [48, 53, 55, 48]  # C F G C in the bass, F3 and G3 (no longer F2 G2 under a C4 in the right hand)
    assert [n.pitch for n in left.notes if n.onset_tick >= 5760] == [48, 52, 55]  # the last chord, held
    assert [n.duration_tick for n in left.notes if n.onset_tick >= 5760] == [1920] * 3
    assert [c.symbol for c in out.chord_symbols] == ["C", "F", "G", "C"]


def test_chords_are_estimated_bar_by_bar_in_the_key() -> None:
    tune = melody("A4 C5 E5 C5 D5 F5 A5 F5 E5 G#5 B5 G#5 A5/1")
    assert tune_key(tune, tune.tracks[0].notes) == (9, "minor")
    bars = harmonize(tune, tune.tracks[0].notes, (9, "minor"))
    assert [b.chord.symbol() for b in bars] == ["Am", "Dm", "E", "Am"]


def test_string_quartet_on_four_voices_exact() -> None:
    out = stylize(four_voices(), instrumentation="string-quartet")
    assert [(t.name, [n.pitch for n in t.notes]) for t in out.tracks] == [
        ("Violin I", [72, 71, 72, 74, 76, 74, 72, 71]),
        ("Violin II", [67, 67, 69, 67, 67, 65, 64, 62]),
        ("Viola", [64, 62, 65, 64, 60, 60, 57, 55]),
        ("Cello", [48, 55, 53, 52, 48, 50, 45, 43])]
    assert all(n.duration_tick == 480 and n.velocity == 82 for n in out.tracks[0].notes)  # legato, template level


def test_drums_without_a_drum_part_are_left_out_with_a_warning() -> None:
    from melodia.errors import MelodiaWarning

    score = read_score(Path(__file__).parent / "data" / "drums.mid")
    with pytest.warns(MelodiaWarning, match="'string-quartet' has no drums part; 24 drums notes left out"):
        out = stylize(score, instrumentation="string-quartet", accompaniment=False)
    assert not any(t.is_drum for t in out.tracks)
    assert pitched_onset_classes(out) == pitched_onset_classes(score)


def test_input_drums_go_to_channel_ten(tmp_path: Path) -> None:
    score = read_score(Path(__file__).parent / "data" / "drums.mid")
    out = stylize(score, instrumentation="rock-band")
    path = write_score(out, tmp_path / "rock.mid")
    drum_channels = {m.channel for t in mido.MidiFile(path).tracks for m in t if m.type == "note_on"
                     and m.note in {n.pitch for tr in out.tracks if tr.is_drum for n in tr.notes}}
    assert 9 in drum_channels


# --- rhythm ---------------------------------------------------------------------------------------

EIGHTHS = [0, 240, 480, 720, 960, 1200, 1440, 1680]
QUARTERS = [1920, 2400, 2880, 3360]
METERS = ("2/4", "3/4", "4/4", "6/8")
# Every rhythm on a bar of eighths then a bar of quarters in 2/4, 3/4, 4/4 and 6/8: (meter out, onsets).
EXPECTED_ONSETS: dict[tuple[str, str], tuple[str, list[int]]] = {
    ("bossa-nova", "2/4"): ("2/4", [0, 240, 480, 720, 960, 1440]),
    ("bossa-nova", "3/4"): ("3/4", [0, 240, 480, 720, 960, 1200, 1440, 1920, 2400]),
    ("bossa-nova", "4/4"): ("4/4", [0, 240, 480, 720, 960, 1200, 1440, 1680, 1920, 2400, 2880, 3360]),
    ("bossa-nova", "6/8"): ("6/8", [0, 240, 480, 720, 960, 1200, 1440, 1920, 2400]),
    ("dotted", "2/4"): ("2/4", [0, 360, 480, 840, 960, 1440]),
    ("dotted", "3/4"): ("3/4", [0, 360, 480, 840, 960, 1320, 1440, 1920, 2400]),
    ("dotted", "4/4"): ("4/4", [0, 360, 480, 840, 960, 1320, 1440, 1800, 1920, 2400, 2880, 3360]),
    ("dotted", "6/8"): ("6/8", [0, 240, 480, 720, 960, 1200, 1440, 1920, 2400]),
    ("double-time", "2/4"): ("2/4", [0, 120, 240, 360, 480, 720]),
    ("double-time", "3/4"): ("3/4", [0, 120, 240, 360, 480, 600, 720, 960, 1200]),
    ("double-time", "4/4"): ("4/4", [0, 120, 240, 360, 480, 600, 720, 840, 960, 1200, 1440, 1680]),
    ("double-time", "6/8"): ("6/8", [0, 120, 240, 360, 480, 600, 720, 960, 1200]),
    ("duple", "2/4"): ("2/4", [0, 240, 480, 720, 960, 1440]),
    ("duple", "3/4"): ("4/4", [0, 480, 960, 1200, 1440, 1680, 1920, 2880, 3360]),
    ("duple", "4/4"): ("4/4", [0, 240, 480, 720, 960, 1200, 1440, 1680, 1920, 2400, 2880, 3360]),
    ("duple", "6/8"): ("4/4", [0, 240, 480, 960, 1200, 1440, 1920, 2400, 3120]),
    ("habanera", "2/4"): ("2/4", [0, 240, 480, 720, 960, 1440]),
    ("habanera", "3/4"): ("3/4", [0, 240, 480, 720, 960, 1200, 1440, 1920, 2400]),
    ("habanera", "4/4"): ("4/4", [0, 240, 480, 720, 960, 1200, 1440, 1680, 1920, 2400, 2880, 3360]),
    ("habanera", "6/8"): ("6/8", [0, 240, 480, 720, 960, 1200, 1440, 1920, 2400]),
    ("half-time", "2/4"): ("2/4", [0, 480, 960, 1440, 1920, 2880]),
    ("half-time", "3/4"): ("3/4", [0, 480, 960, 1440, 1920, 2400, 2880, 3840, 4800]),
    ("half-time", "4/4"): ("4/4", [0, 480, 960, 1440, 1920, 2400, 2880, 3360, 3840, 4800, 5760, 6720]),
    ("half-time", "6/8"): ("6/8", [0, 480, 960, 1440, 1920, 2400, 2880, 3840, 4800]),
    ("jig", "2/4"): ("6/8", [0, 480, 720, 1200, 1440, 2160]),
    ("jig", "3/4"): ("9/8", [0, 480, 720, 1200, 1440, 1920, 2160, 2880, 3600]),
    ("jig", "4/4"): ("6/8", [0, 480, 720, 1200, 1440, 1920, 2160, 2640, 2880, 3600, 4320, 5040]),
    ("jig", "6/8"): ("6/8", [0, 240, 480, 720, 960, 1200, 1440, 1920, 2400]),
    ("march", "2/4"): ("2/4", [0, 240, 480, 720, 960, 1440]),
    ("march", "3/4"): ("3/4", [0, 240, 480, 720, 960, 1200, 1440, 1920, 2400]),
    ("march", "4/4"): ("4/4", [0, 240, 480, 720, 960, 1200, 1440, 1680, 1920, 2400, 2880, 3360]),
    ("march", "6/8"): ("6/8", [0, 240, 480, 720, 960, 1200, 1440, 1920, 2400]),
    ("reel", "2/4"): ("2/4", [0, 262, 480, 742, 960, 1440]),
    ("reel", "3/4"): ("3/4", [0, 262, 480, 742, 960, 1222, 1440, 1920, 2400]),
    ("reel", "4/4"): ("4/4", [0, 262, 480, 742, 960, 1222, 1440, 1702, 1920, 2400, 2880, 3360]),
    ("reel", "6/8"): ("6/8", [0, 240, 480, 720, 960, 1200, 1440, 1920, 2400]),
    ("shuffle", "2/4"): ("2/4", [0, 320, 480, 800, 960, 1440]),
    ("shuffle", "3/4"): ("3/4", [0, 320, 480, 800, 960, 1280, 1440, 1920, 2400]),
    ("shuffle", "4/4"): ("4/4", [0, 320, 480, 800, 960, 1280, 1440, 1760, 1920, 2400, 2880, 3360]),
    ("shuffle", "6/8"): ("6/8", [0, 240, 480, 720, 960, 1200, 1440, 1920, 2400]),
    ("straight", "2/4"): ("2/4", [0, 240, 480, 720, 960, 1440]),
    ("straight", "3/4"): ("3/4", [0, 240, 480, 720, 960, 1200, 1440, 1920, 2400]),
    ("straight", "4/4"): ("4/4", [0, 240, 480, 720, 960, 1200, 1440, 1680, 1920, 2400, 2880, 3360]),
    ("straight", "6/8"): ("6/8", [0, 240, 480, 720, 960, 1200, 1440, 1920, 2400]),
    ("swing", "2/4"): ("2/4", [0, 320, 480, 800, 960, 1440]),
    ("swing", "3/4"): ("3/4", [0, 320, 480, 800, 960, 1280, 1440, 1920, 2400]),
    ("swing", "4/4"): ("4/4", [0, 320, 480, 800, 960, 1280, 1440, 1760, 1920, 2400, 2880, 3360]),
    ("swing", "6/8"): ("6/8", [0, 240, 480, 720, 960, 1200, 1440, 1920, 2400]),
    ("waltz", "2/4"): ("3/4", [0, 480, 960, 1200, 1440, 2400]),
    ("waltz", "3/4"): ("3/4", [0, 240, 480, 720, 960, 1200, 1440, 1920, 2400]),
    ("waltz", "4/4"): ("3/4", [0, 480, 960, 1200, 1440, 1920, 2400, 2640, 2880, 3840, 4320, 5280]),
    ("waltz", "6/8"): ("3/4", [0, 480, 960, 1440, 1920, 2400, 2880, 3840, 4800]),
}
EXPECTED_VELOCITIES = {
    "march": [96, 72, 72, 72, 84, 72, 72, 72, 96, 72, 84, 72],
    "habanera": [96, 68, 88, 84, 96, 68, 88, 84, 96, 88, 96, 88],
    "bossa-nova": [92, 72, 72, 92, 72, 72, 92, 72, 72, 92, 92, 72],
}


def test_every_rhythm_preset_has_expected_onsets_in_every_meter() -> None:
    assert {name for name, _ in EXPECTED_ONSETS} == set(RHYTHMS) - {"humanize"}
    assert all((name, meter) in EXPECTED_ONSETS for name, _ in EXPECTED_ONSETS for meter in METERS)


@pytest.mark.parametrize(("name", "meter"), sorted(EXPECTED_ONSETS), ids=[f"{n}-{m}" for n, m in
                                                                         sorted(EXPECTED_ONSETS)])
def test_rhythm_puts_onsets_where_the_template_says(name: str, meter: str) -> None:
    new_meter, onsets = EXPECTED_ONSETS[(name, meter)]
    numerator, denominator = map(int, meter.split("/"))
    source = eighths_then_quarters(numerator, denominator)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = apply_rhythm(source, load_rhythm(name))
    notes = out.tracks[0].notes
    assert [n.onset_tick for n in notes] == onsets
    assert [n.pitch for n in notes] == [n.pitch for n in source.tracks[0].notes]
    assert all(a.end_tick <= b.onset_tick for a, b in itertools.pairwise(notes))  # still one line
    assert str(out.time_signatures[0]) == new_meter
    if name in EXPECTED_VELOCITIES and meter == "4/4":
        assert [n.velocity for n in notes] == EXPECTED_VELOCITIES[name]


@pytest.mark.parametrize("name", ["swing", "shuffle", "dotted", "reel"])
def test_swing_never_moves_the_beats_of_six_eight(name: str) -> None:
    sixteenths = Score([Track("", 0, False, [Note(60 + i % 12, 80, i * 120, 120) for i in range(24)])],
                       time_signatures=[TimeSignature(0, 6, 8)])
    out = apply_rhythm(sixteenths, load_rhythm(name)).tracks[0].notes
    assert {n.onset_tick for n in out} >= {0, 720, 1440, 2160}  # dotted-quarter beats
    assert {n.onset_tick for n in out} >= set(range(0, 2880, 240))  # and every eighth of them
    assert [n.onset_tick for n in out][:2] != [0, 120]  # the sixteenths inside an eighth are swung


def test_a_pickup_stays_an_upbeat_through_a_meter_change() -> None:
    score = read_score(Path(__file__).parent / "data" / "pickup.mid")  # 1/4 pickup C4, then 4/4
    waltz = apply_rhythm(score, load_rhythm("waltz"))
    jig = apply_rhythm(score, load_rhythm("jig"))
    assert [str(t) for t in waltz.time_signatures] == ["1/4", "3/4"]
    assert [(n.onset_tick, n.duration_tick) for n in waltz.tracks[0].notes][:3] == [(0, 480), (480, 1440), (1920, 960)]
    assert [str(t) for t in jig.time_signatures] == ["3/8", "6/8"]
    assert [(n.onset_tick, n.duration_tick) for n in jig.tracks[0].notes][:2] == [(0, 720), (720, 1440)]


def test_swing_shares_each_pair_two_to_one() -> None:
    notes = apply_rhythm(eighths_then_quarters(), load_rhythm("swing")).tracks[0].notes
    assert [n.duration_tick for n in notes[:4]] == [320, 160, 320, 160]


def test_march_shortens_notes_off_the_downbeat() -> None:
    notes = apply_rhythm(eighths_then_quarters(), load_rhythm("march")).tracks[0].notes
    assert [n.duration_tick for n in notes[:2]] + [n.duration_tick for n in notes[8:10]] == [204, 144, 408, 288]


def test_humanize_is_seeded_and_stays_near_the_grid() -> None:
    rhythm = load_rhythm("humanize")
    first = apply_rhythm(eighths_then_quarters(), rhythm).tracks[0].notes
    second = apply_rhythm(eighths_then_quarters(), rhythm).tracks[0].notes
    assert first == second
    grid = EIGHTHS + QUARTERS
    assert all(abs(n.onset_tick - t) <= 29 for n, t in zip(first, grid, strict=True))
    assert [n.onset_tick for n in first] != grid and {n.velocity for n in first} != {80}
    other = apply_rhythm(eighths_then_quarters(), replace(rhythm, humanize_seed=1)).tracks[0].notes
    assert other != first


def test_meter_change_warns_about_bars_it_cannot_convert() -> None:
    from melodia.errors import MelodiaWarning

    with pytest.warns(MelodiaWarning, match="bars in 5/4 are left as they are"):
        out = apply_rhythm(eighths_then_quarters(5, 4), load_rhythm("waltz"))
    assert [n.onset_tick for n in out.tracks[0].notes][:3] == [0, 240, 480]


def test_waltz_accompaniment_is_written_in_three_four() -> None:
    out = stylize(melody("C4 E4 G4 E4 F4 A4 C5 A4 key=C"), instrumentation="string-quartet", rhythm="waltz",
                  intro="none", ending="none")
    assert [str(t) for t in out.time_signatures] == ["3/4"]
    cello = next(t for t in out.tracks if t.name == "Cello")
    assert [n.onset_tick for n in cello.notes] == [0, 1440, 2880, 4320]  # "oom" on each 3/4 downbeat
    viola = next(t for t in out.tracks if t.name == "Viola")
    assert sorted({n.onset_tick % 1440 for n in viola.notes}) == [480, 960]  # "pah pah"
    assert max(len([n for n in viola.notes if n.onset_tick == t]) for t in {n.onset_tick for n in viola.notes}) <= 2


# --- whole styles on real files ------------------------------------------------------------------

@pytest.mark.parametrize("path", MULTITRACK, ids=ids(MULTITRACK))
def test_every_preset_on_real_multitrack_files_gives_a_valid_file(path: Path, tmp_path: Path) -> None:
    score = read_score(path)
    for kind, names in (("style", STYLES), ("instrumentation", INSTRUMENTATIONS), ("rhythm", RHYTHMS)):
        for name in names:
            out = stylize(score, **{kind: name})
            target = write_score(out, tmp_path / f"{kind}-{name}.mid")
            assert read_score(target).validate().note_count == out.note_count
            midi = pretty_midi.PrettyMIDI(str(target))
            assert sum(len(i.notes) for i in midi.instruments) == out.note_count
            if kind == "rhythm":
                assert pitched_onset_classes(out).total() == pitched_onset_classes(score).total()


def test_tempo_sets_the_first_tempo_and_keeps_later_ratios() -> None:
    score = read_score(Path(__file__).parent / "data" / "tempo_changes.mid")
    out = stylize(score, tempo=60)
    assert out.tempos[0].bpm == 60
    assert [round(t.bpm / out.tempos[0].bpm, 3) for t in out.tempos] == \
        [round(t.bpm / score.tempos[0].bpm, 3) for t in score.tempos]
    with pytest.raises(StyleError, match="tempo 1000"):
        stylize(score, tempo=1000)


def test_stylize_leaves_its_input_alone() -> None:
    source, pristine = four_voices(), four_voices()
    for name in STYLES:
        stylize(source, style=name)
    stylize(source, tempo=90)
    assert source == pristine


def test_a_held_ending_stays_in_midi_s_range() -> None:
    """A brass march's held ending sounds the final chord's root nearest the tune's last note: under a tune ending
    on C#-1 that root (Bb) lies below MIDI's pitch 0, so the one above is held (Hypothesis found it)."""
    low = Score([Track(notes=[Note(0, 1, 0, 1), Note(1, 1, 1, 1)])])
    ending = max(stylize(low, style="brass-march").tracks[0].notes, key=lambda n: n.onset_tick)
    assert ending.pitch == 10


PRESETS = [("instrumentation", n) for n in INSTRUMENTATIONS] + [("rhythm", n) for n in RHYTHMS] + \
    [("style", n) for n in RULE_STYLES]


@settings(max_examples=80, deadline=None)
@given(score=scores(), preset=st.sampled_from(PRESETS))
def test_any_score_in_any_preset_stays_valid(score: Score, preset: tuple[str, str]) -> None:
    kind, name = preset
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = stylize(score, **{kind: name})
    assert out.problems() == []
    if kind == "rhythm":
        assert out.note_count == score.note_count
    piano = kind == "instrumentation" and load_instrumentation(name).texture == "piano"
    if kind == "instrumentation" and not detect_voices(score).is_bare_melody and not piano:
        played, given = set(pitched_onset_classes(out)), set(pitched_onset_classes(score))  # struck twice: once
        tune = detect_voices(score).melody
        low = min((p.low for p in load_instrumentation(name).parts if p.role == "melody"), default=0)
        # nothing lost; only a tune below the parts' reach (kept as written) may leave a note no part can put under it
        assert played <= given and (played == given or min(n.pitch for n in tune) < low)
    if piano:  # one pianist: what two hands cannot play is left out
        hands = [t.notes for t in out.tracks] + [[], []]
        assert hand_faults(hands[0], hands[1]) == []


def test_a_bar_one_tick_long_gets_no_accompaniment_notes_outside_it() -> None:
    """Found by the property test above: a bodhran hit landed before the piece began."""
    score = Score([Track("", 0, False, [Note(60, 80, 0, 2)])],
                  time_signatures=[TimeSignature(0, 4, 4), TimeSignature(1, 4, 4)])
    out = stylize(score, instrumentation="celtic-session")
    assert out.problems() == [] and all(n.onset_tick >= 0 for n in out.notes)


def test_swing_ratio_is_adjustable() -> None:
    triplet = stylize(eighths_then_quarters(), swing=2).tracks[0].notes
    light = stylize(eighths_then_quarters(), rhythm="march", swing=1.5).tracks[0].notes
    assert [n.onset_tick for n in triplet[:4]] == [0, 320, 480, 800]
    assert [n.onset_tick for n in light[:4]] == [0, 288, 480, 768] and light[0].velocity == 96  # march accents kept
    with pytest.raises(StyleError, match="swing 9"):
        stylize(eighths_then_quarters(), swing=9)


def test_a_bar_whose_halves_want_different_chords_gets_two() -> None:
    tune = melody("C4 E4 F4 A4 G4 B4 C5/2 key=C")
    bars = harmonize(tune, tune.tracks[0].notes, (0, "major"))
    assert [(b.start, b.chord.symbol(), b.beats, b.number) for b in bars] == \
        [(0, "C", 2, 0), (960, "F", 2, 0), (1920, "G7", 2, 1), (2880, "C", 2, 1)]  # C F | G7 C
    left = stylize(tune, instrumentation="piano-solo").tracks[1]
    assert [(min(n.pitch for n in left.notes if n.onset_tick == tick) % 12, tick) for tick in (0, 960, 1920, 2880)] \
        == [(0, 0), (5, 960), (7, 1920), (0, 2880)]  # the left hand's figure starts from each chord's bass
    drums = next(t for t in stylize(tune, instrumentation="rock-band").tracks if t.is_drum)
    kicks_and_snares = [(n.pitch, n.onset_tick) for n in drums.notes if n.pitch in (36, 38)]
    assert kicks_and_snares[:4] == [(36, 0), (38, 480), (36, 960), (38, 1440)]  # the groove runs by written bars


def test_double_time_keeps_one_meter_where_two_fall_together() -> None:
    """Two meters a tick apart fall on the same tick at double time: the later one is kept (the
    score stayed invalid, found by test_any_score_in_any_preset_stays_valid)."""
    score = Score([], time_signatures=[TimeSignature(0, 4, 4), TimeSignature(1, 3, 4)])
    out = stylize(score, rhythm="double-time")
    assert [(t.tick, t.numerator) for t in out.time_signatures] == [(0, 3)]


def test_an_intro_over_a_pickup_keeps_one_tempo_per_tick() -> None:
    """Found by test_any_score_in_any_preset_stays_valid: a tempo change inside a pickup that the intro's last bar
    takes was moved onto tick 0 beside the intro's own tempo (an invalid score); it is now left out."""
    from melodia.score import TempoChange, TimeSignature, Track

    score = Score(tracks=[Track(name="", program=0, is_drum=False, notes=[Note(0, 1, 1, 4)])],
                  tempos=[TempoChange(0, 20.0), TempoChange(1, 20.0)],
                  time_signatures=[TimeSignature(3, 4, 4), TimeSignature(4, 4, 4)], key_signatures=[])
    out = stylize(score, instrumentation="string-quartet")
    ticks = [t.tick for t in out.tempos]
    assert ticks[0] == 0 and ticks == sorted(set(ticks))


def test_no_intro_where_the_pickup_is_longer_than_it() -> None:
    """Found by test_any_score_in_any_preset_stays_valid: a 3-tick pickup before a 1-tick first bar (meters at
    ticks 4 and 5) made an intro shorter than the pickup, moving the tune to tick -1; no intro is added there."""
    from melodia.score import TempoChange, TimeSignature, Track

    score = Score(tracks=[Track(name="", program=0, is_drum=False, notes=[Note(0, 1, 1, 1), Note(0, 1, 2, 4)])],
                  tempos=[TempoChange(0, 20.0)], time_signatures=[TimeSignature(4, 4, 4), TimeSignature(5, 4, 4)],
                  key_signatures=[])
    out = stylize(score, instrumentation="string-quartet")
    assert min(n.onset_tick for t in out.tracks for n in t.notes) >= 0
