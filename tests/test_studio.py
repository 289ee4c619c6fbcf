"""The studio's logic and its panel, without a browser: seeds, settings, candidates, Keep, Discard, restyle."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from melodia.apps.studio_session import Candidate, Studio, StudioError, StudioSettings, note_text, read_kept
from melodia.errors import MelodiaError, StyleError
from melodia.io import read_score
from melodia.score import MAJOR, MINOR, KeySignature
from melodia.seed import parse_seed

ROOT = Path(__file__).resolve().parent.parent
SEED = "D4 E4 F#4/8 G4/8 A4/2 key=D meter=6/8"


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Studio:
    return Studio("default", tmp_path_factory.mktemp("studio") / "kept")


@pytest.fixture(scope="module")
def candidates(studio: Studio) -> list[Candidate]:
    return studio.generate(StudioSettings(seed=SEED, count=3, random_seed=4))


def _line(score: object) -> list[tuple[int, int, int]]:
    return sorted((n.onset_tick, n.pitch, n.duration_tick) for n in score.notes)  # type: ignore[attr-defined]


@pytest.mark.parametrize(("text", "error"), [
    (SEED, ""),
    ("G4 A4 H4", "word 3 'H4'"),
    ("C4 D4/7", "duration /7"),
    ("   ", "the seed phrase is empty"),
    ("C4 key=Q", "word 2 'key=Q'"),
    ("GAB cBA|BGE D3|", ""),
], ids=["notes", "bad-letter", "bad-duration", "empty", "bad-key", "abc"])
def test_check_seed_names_the_word(text: str, error: str) -> None:
    found = Studio.check_seed(text)
    assert (error in found and bool(found)) if error else found == ""


def test_a_file_path_is_a_seed() -> None:
    assert Studio.check_seed(str(ROOT / "melodia" / "data" / "bwv66.6.mid")) == ""
    assert "word 1 'no-such.mid'" in Studio.check_seed("no-such.mid")  # not a file: read as notes


def test_settings_become_constraints_and_sampling() -> None:
    settings = StudioSettings(key="D dorian", meter="3/4", bars=16, form="AABA", pitch_range="C4:C6", max_leap=5,
                              end_on_tonic=True, scale="soft", temperature=0.8, top_p=0.9)
    constraints, sampling = settings.constraints(), settings.sampling()
    assert constraints.as_text() | {"notes": 0} == {
        "key": "D dorian", "meter": "3/4", "bars": 16, "form": "AABA", "pitch_range": "C4:C6", "max_leap": 5,
        "end_on_tonic": True, "scale": "soft", "notes": 0, "instrument": None, "phrase_bars": None, "metre": None,
        "line": None}
    assert (sampling.temperature, sampling.top_p) == (0.8, 0.9)
    assert StudioSettings().constraints().key is None  # blank fields leave the seed's key and meter
    with pytest.raises(MelodiaError, match="C6:C4"):
        StudioSettings(pitch_range="C6:C4").constraints()
    with pytest.raises(MelodiaError, match="top_p"):
        StudioSettings(top_p=0).sampling()


def test_note_text_reads_back_as_the_same_notes(candidates: list[Candidate]) -> None:
    phrase = "D4 E4 F#4/8 G4 A4/2 r/4 B4/4. C5/8t C5 C5 D5/1"
    assert note_text(parse_seed(phrase)[0], most=50) == phrase
    for candidate in candidates:
        text = note_text(candidate.melody, most=1000)
        assert _line(parse_seed(text)[0]) == _line(candidate.melody)
    assert note_text(candidates[0].melody, most=3).endswith("F#4/8 ...")


def test_note_text_spells_notes_in_the_melodys_key() -> None:
    """The leading note of A minor is G#, not Ab (the one name a pitch had before the theory layer)."""
    melody = parse_seed("A4 B4 C5 Ab4 A4/2")[0]
    melody.key_signatures = [KeySignature(0, 9, MINOR)]
    assert note_text(melody) == "A4 B4 C5 G#4 A4/2"
    melody.key_signatures = [KeySignature(0, 1, MAJOR)]  # Db major: B is Cb
    assert note_text(parse_seed("Db4 B3 Bb3")[0]) == "C#4 B3 Bb3" and note_text(melody).split()[1] == "Cb5"


@pytest.mark.parametrize("number", [2, 4, 7])
def test_note_text_spells_real_tunes_exactly(number: int) -> None:
    """Essen tunes with notes longer than a whole and rests of several bars: tied notes, several rests."""
    from music21 import corpus

    from melodia.score import Score

    tune = Score.from_music21(corpus.parse("essenFolksong/altdeu10", number=number))
    assert _line(parse_seed(note_text(tune, most=10_000))[0]) == _line(tune)


def test_candidates_continue_the_seed_in_its_key(candidates: list[Candidate]) -> None:
    seed = _line(parse_seed(SEED)[0])
    assert len(candidates) == 3 and [c.number for c in candidates] == [1, 2, 3]
    for candidate in candidates:
        assert _line(candidate.melody)[:len(seed)] == seed
        assert candidate.summary().endswith("8 bars, D major")
        assert candidate.settings["seed"] == SEED and candidate.settings["random_seed"] == 4
        assert candidate.pianoroll_png().startswith(b"\x89PNG")
        assert candidate.wav()[:4] == b"RIFF" and candidate.midi()[:4] == b"MThd"


def test_the_same_random_seed_gives_the_same_melodies(studio: Studio, candidates: list[Candidate]) -> None:
    again = Studio(studio.model, studio.folder).generate(StudioSettings(seed=SEED, count=3, random_seed=4))
    assert [_line(c.melody) for c in again] == [_line(c.melody) for c in candidates]


def test_restyle_changes_what_is_heard_not_the_melody(candidates: list[Candidate]) -> None:
    candidate = candidates[2]
    plain_wav, melody = candidate.wav(), _line(candidate.melody)
    candidate.restyle("string-waltz")
    assert len(candidate.score.tracks) > 1 and candidate.wav() != plain_wav
    assert candidate.file_name() == "melodia-003-string-waltz.mid" and _line(candidate.melody) == melody
    with pytest.raises(StyleError, match="no-such-style"):
        candidate.restyle("no-such-style")
    assert candidate.style == "string-waltz"
    candidate.restyle(None)
    assert candidate.wav() == plain_wav


def test_keep_writes_numbered_files_and_a_manifest(tmp_path: Path, candidates: list[Candidate]) -> None:
    folder = tmp_path / "kept"
    folder.mkdir()
    (folder / "001.mid").write_bytes(candidates[0].midi())  # a file already there keeps its name
    studio = Studio(("model", "tokenizer"), folder)  # keeping needs no model
    first, second = Candidate(7, candidates[0].melody, candidates[0].settings, 0), \
        Candidate(8, candidates[1].melody, candidates[1].settings, 0, style="jazz-swing")
    assert studio.keep(first) == folder / "002.mid" and studio.keep(first) == folder / "002.mid"
    assert studio.keep(second) == folder / "003.mid"
    assert _line(read_score(folder / "002.mid")) == _line(candidates[0].melody)
    assert len(read_score(folder / "styled" / "003-jazz-swing.mid").tracks) > 1
    entries = read_kept(folder)
    assert [e["file"] for e in entries] == ["002.mid", "003.mid"] and all(e["keep"] is True for e in entries)
    assert entries[1]["style"] == "jazz-swing" and entries[1]["styled_file"] == "styled/003-jazz-swing.mid"
    assert entries[0]["settings"]["constraints"]["bars"] == 8 and entries[0]["key"] == "D major"
    assert _line(parse_seed(entries[0]["note_text"])[0]) == _line(candidates[0].melody)
    (folder / "manifest.json").write_text(json.dumps({"outputs": [3]}))
    with pytest.raises(StudioError, match="not a manifest of melodies"):
        read_kept(folder)


def test_keep_into_a_generated_folder_adds_to_its_manifest(tmp_path: Path, candidates: list[Candidate]) -> None:
    (tmp_path / "001.mid").write_bytes(candidates[0].midi())
    (tmp_path / "manifest.json").write_text(json.dumps({"settings": {"seed": "C4"}, "outputs": [{"file": "001.mid"}]}))
    Studio(("model", "tokenizer"), tmp_path).keep(Candidate(1, candidates[1].melody, candidates[1].settings, 0))
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["settings"] == {"seed": "C4"} and [e["file"] for e in manifest["outputs"]] == ["001.mid", "002.mid"]
    assert [e["file"] for e in read_kept(tmp_path)] == ["002.mid"]


def test_discard_drops_the_candidate_and_records_it_discarded(tmp_path: Path, candidates: list[Candidate]) -> None:
    studio = Studio(("model", "tokenizer"), tmp_path)
    studio.candidates = list(candidates)
    assert studio.discard(candidates[1]) == tmp_path / "001.mid"
    assert studio.candidates == [candidates[0], candidates[2]]
    assert _line(read_score(tmp_path / "001.mid")) == _line(candidates[1].melody)
    studio.keep(candidates[0])
    studio.discard(candidates[0])  # kept, then discarded: the same file, marked again
    marks = [(e["file"], e["keep"]) for e in json.loads((tmp_path / "manifest.json").read_text())["outputs"]]
    assert marks == [("001.mid", False), ("002.mid", False)] and read_kept(tmp_path) == []


def _parts(widget: object, name: str) -> list[object]:
    """The widgets under `widget` with the CSS class melodia-`name`."""
    found = [widget] if f"melodia-{name}" in getattr(widget, "_dom_classes", ()) else []
    return found + [w for child in getattr(widget, "children", ()) for w in _parts(child, name)]


def test_panel_generate_keep_discard_and_errors(studio: Studio, tmp_path: Path) -> None:
    pytest.importorskip("ipywidgets")
    from melodia.apps.studio_panel import StudioPanel

    panel = StudioPanel(Studio(studio.model, tmp_path / "kept"))
    panel.seed.value = "G4 A4 H4"
    assert "word 3 &#x27;H4&#x27;" in panel.seed_error.value
    panel.generate_button.click()
    assert not panel.rows and not (tmp_path / "kept").exists()

    panel.seed.value, panel.bars.value, panel.count.value, panel.meter.value = "G4 A4 B4 key=G", 4, 2, "3/4"
    assert panel.seed_error.value == ""
    panel.generate_button.click()
    assert panel.progress.value == panel.progress.max and panel._steps_per_bar > 2  # a step a token: the next max
    rows = _parts(panel.widget, "candidate")
    assert len(rows) == 2 and panel.random_seed.value == 1 and "2 melodies, random seed 0" in panel.status.value
    for row in rows:
        assert bytes(_parts(row, "pianoroll")[0].value)[:4] == b"\x89PNG"  # type: ignore[attr-defined]
        assert bytes(_parts(row, "audio")[0].value)[:4] == b"RIFF"  # type: ignore[attr-defined]
        assert "data:audio/midi;base64,TVRoZ" in _parts(row, "download")[0].value  # type: ignore[attr-defined]
        assert "4 bars, G major" in _parts(row, "header")[0].value  # type: ignore[attr-defined]
        assert not _parts(row, "redo")[0].disabled  # type: ignore[attr-defined]  # the default model infills

    before = _line(panel.studio.candidates[0].melody)
    _parts(rows[0], "redo_bars")[0].value = "2-3"  # type: ignore[attr-defined]
    _parts(rows[0], "redo")[0].click()  # type: ignore[attr-defined]
    assert "bars 2-3 written anew" in _parts(rows[0], "message")[0].value  # type: ignore[attr-defined]
    after = _line(panel.studio.candidates[0].melody)
    bar = 1440  # 3/4
    assert [n for n in after if not bar <= n[0] < 3 * bar] == [n for n in before if not bar <= n[0] < 3 * bar]
    assert after != before
    _parts(rows[0], "redo_bars")[0].value = "4-9"  # type: ignore[attr-defined]
    _parts(rows[0], "redo")[0].click()  # type: ignore[attr-defined]
    assert "the tune has 4 bars" in _parts(rows[0], "message")[0].value  # type: ignore[attr-defined]

    _parts(rows[0], "keep")[0].click()  # type: ignore[attr-defined]
    assert "kept as" in _parts(rows[0], "message")[0].value  # type: ignore[attr-defined]
    assert [e["file"] for e in read_kept(tmp_path / "kept")] == ["001.mid"]
    _parts(rows[1], "restyle")[0].value = "celtic-jig"  # type: ignore[attr-defined]
    assert "in celtic-jig" in _parts(rows[1], "header")[0].value  # type: ignore[attr-defined]
    _parts(rows[1], "discard")[0].click()  # type: ignore[attr-defined]
    assert _parts(panel.widget, "candidate") == [rows[0]]
    entries = json.loads((tmp_path / "kept" / "manifest.json").read_text())["outputs"]
    assert [(e["file"], e["keep"]) for e in entries] == [("001.mid", True), ("002.mid", False)]
    assert rows[1].comm is None and rows[0].comm is not None  # type: ignore[attr-defined]  # closed, not leaked

    panel.pitch_range.value = "C6:C4"
    panel.generate_button.click()
    assert "C6:C4" in panel.status.value and _parts(panel.widget, "candidate") == [rows[0]]
    panel.pitch_range.value, panel.seed.value = "", "G4 A4 B4 C5 D5 E5 F#5 G5 A5 B5 C6 D6 E6 key=G"
    panel.generate_button.click()  # 13 quarter notes in 3/4 fill more than the 4 bars asked for
    assert "already fills" in panel.status.value and not panel.generate_button.disabled


def test_melodia_studio_shows_the_panel_as_a_widget(studio: Studio, tmp_path: Path) -> None:
    pytest.importorskip("ipywidgets")
    import melodia
    from melodia.apps.studio_panel import StudioPanel

    panel = melodia.studio(studio.model, folder=str(tmp_path / "kept"))
    assert isinstance(panel, StudioPanel) and panel.studio.folder == tmp_path / "kept"
    bundle = panel._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == panel.widget.model_id


def test_panel_notation_toggle_engraves_the_melody(studio: Studio, candidates: list[Candidate]) -> None:
    pytest.importorskip("ipywidgets")
    pytest.importorskip("verovio")
    from melodia.apps.studio_panel import StudioPanel

    panel = StudioPanel(studio)
    row = panel._row(candidates[0])
    sheet, toggle = _parts(row, "sheet")[0], _parts(row, "notation")[0]
    toggle.value = True  # type: ignore[attr-defined]
    assert "<svg" in sheet.value and sheet.layout.display == "block"  # type: ignore[attr-defined]
    toggle.value = False  # type: ignore[attr-defined]
    assert sheet.layout.display == "none"  # type: ignore[attr-defined]


def test_rounds_learn_from_the_marks_and_go_back(studio: Studio, tmp_path: Path) -> None:
    pytest.importorskip("ipywidgets")
    from melodia.apps.studio_panel import StudioPanel
    from melodia.lm.learn import LearnSettings

    panel = StudioPanel(Studio(studio.model, tmp_path / "kept"))
    assert "round 1" in panel.round_status.value and "nothing learnt yet" in panel.round_status.value
    panel.learn_button.click()  # nothing marked yet: said in one line, nothing learnt
    assert "no manifest.json here" in panel.round_status.value and len(panel.studio.rounds) == 1
    panel.seed.value, panel.bars.value, panel.count.value = "G4 A4 B4 key=G meter=3/4", 4, 3
    panel.generate_button.click()
    rows = _parts(panel.widget, "candidate")
    _parts(rows[0], "keep")[0].click()  # type: ignore[attr-defined]
    _parts(rows[1], "discard")[0].click()  # type: ignore[attr-defined]
    _parts(rows[2], "discard")[0].click()  # type: ignore[attr-defined]
    first = panel.studio.learn(LearnSettings(drawn=8, steps=3))
    panel._show_round()
    assert first.number == 1 and first.marks == 3
    assert first.path == tmp_path / "kept" / "personal" / "round-1.safetensors"
    assert "<b>round 2</b>" in panel.round_status.value and "learnt from 3 marks" in panel.round_status.value
    assert panel.studio.model is first.model and "round 1" in panel.studio.model_name
    panel.generate_button.click()
    assert len(_parts(panel.widget, "candidate")) == 3
    assert panel.studio.candidates[0].settings["model"].endswith("round-1.safetensors (round 1)")
    panel.models.value = 0  # back to the starting model
    assert panel.studio.model[0] is studio.model[0] and "<b>round 1</b>" in panel.round_status.value
    assert [label for label, _ in panel.models.options] == ["the starting model (a loaded model)",
                                                            "round 1: learnt from 3 marks"]
    again = Studio(studio.model, tmp_path / "kept").learn(LearnSettings(drawn=8, steps=3))  # a later session
    assert again.path is not None and again.path.name == "round-2.safetensors" and first.path.is_file()
