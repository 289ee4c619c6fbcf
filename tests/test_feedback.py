"""Feedback marks in manifests: keep, discard and rate, from Python and from the command line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from melodia.apps.cli import main
from melodia.feedback import FeedbackError, Mark, discard, keep, kept_names, marks, rate


def _folder(tmp_path: Path, names: list[str]) -> Path:
    """Real MIDI files (music21's test files) listed in a manifest with other fields, as generate writes them."""
    import music21

    source = sorted((Path(music21.__file__).parent / "midi" / "testPrimitive").glob("*.mid"))[0]
    for name in names:
        shutil.copy(source, tmp_path / name)
    outputs = [{"file": name, "notes": 10 + number} for number, name in enumerate(names)]
    (tmp_path / "manifest.json").write_text(json.dumps({"settings": {"seed": "D4"}, "outputs": outputs}))
    return tmp_path


def test_keep_discard_and_rate_change_only_their_marks(tmp_path: Path) -> None:
    folder = _folder(tmp_path, ["001.mid", "002.mid", "003.mid", "004.mid"])
    keep(folder / "001.mid")
    discard(folder / "002.mid")
    rate(folder / "003.mid", 4)
    rate(folder / "001.mid", 5)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["settings"] == {"seed": "D4"}
    assert manifest["outputs"] == [{"file": "001.mid", "notes": 10, "keep": True, "rating": 5},
                                   {"file": "002.mid", "notes": 11, "keep": False},
                                   {"file": "003.mid", "notes": 12, "rating": 4}, {"file": "004.mid", "notes": 13}]
    assert marks(folder) == [Mark(folder / "001.mid", True, 5), Mark(folder / "002.mid", False, None),
                             Mark(folder / "003.mid", None, 4)]
    assert kept_names(folder) == {"001.mid"}


def test_dropping_a_keep_mark_takes_it_off_rather_than_discarding(tmp_path: Path) -> None:
    folder = _folder(tmp_path, ["001.mid", "002.mid"])
    keep(folder / "001.mid")
    keep(folder / "001.mid", drop=True)  # melodia keep --drop
    discard(folder / "002.mid")
    assert json.loads((folder / "manifest.json").read_text())["outputs"][0] == {"file": "001.mid", "notes": 10}
    assert marks(folder) == [Mark(folder / "002.mid", False, None)]  # only the discard teaches "disliked"


@pytest.mark.parametrize("rating", [0, 6, 2.5, True, "4"], ids=["zero", "six", "half", "bool", "text"])
def test_rate_refuses_a_rating_outside_one_to_five(tmp_path: Path, rating: object) -> None:
    folder = _folder(tmp_path, ["001.mid"])
    with pytest.raises(FeedbackError, match=r"001.mid: rating .*; a rating is a whole number from 1 \(worst\) to 5"):
        rate(folder / "001.mid", rating)  # type: ignore[arg-type]


def test_discard_adds_an_entry_to_a_folder_collected_by_hand(tmp_path: Path) -> None:
    folder = _folder(tmp_path, ["a.mid"])
    (folder / "manifest.json").unlink()
    with pytest.raises(FeedbackError, match=r"no manifest lists it.*melodia discard.*pass --add"):
        discard(folder / "a.mid", add=False)
    discard(folder / "a.mid")
    assert json.loads((folder / "manifest.json").read_text()) == {"outputs": [{"file": "a.mid", "keep": False}]}
    (tmp_path / "elsewhere").mkdir()
    with pytest.raises(FeedbackError, match=r"elsewhere: no manifest\.json here"):
        marks(tmp_path / "elsewhere")


def test_discard_and_rate_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = _folder(tmp_path, ["001.mid", "002.mid"])
    assert main(["discard", str(folder / "001.mid"), str(folder / "002.mid")]) == 0
    assert main(["rate", str(folder / "002.mid"), "2"]) == 0
    assert "rated" in capsys.readouterr().out
    assert marks(folder) == [Mark(folder / "001.mid", False, None), Mark(folder / "002.mid", False, 2)]
    assert main(["rate", str(folder / "002.mid"), "nine"]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "rating 'nine'; a rating is a whole number from 1 (worst) to 5" in error
    assert main(["discard", str(folder / "missing.mid")]) == 1
    assert "missing.mid: no such file to discard" in capsys.readouterr().err


def test_one_manifest_reader_for_marks_the_studio_and_generate(tmp_path: Path) -> None:
    """Marks, the studio and `generate` read a manifest through `melodia.manifest` alone: the fields it does not
    know are written back as they were, and a damaged one is refused alike (marks used to skip entries that were
    not {"file": ...} objects, where the studio refused them)."""
    from melodia.apps.studio_session import StudioError, read_kept
    from melodia.feedback import previously_kept
    from melodia.manifest import Manifest

    folder = _folder(tmp_path, ["001.mid"])
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps({**manifest, "made_by": "a tool of mine"}))
    keep(folder / "001.mid")
    again = Manifest.read(folder / "manifest.json")
    assert again.extra == {"made_by": "a tool of mine"} and again.settings == {"seed": "D4"}
    assert again.entries("001.mid") == [{"file": "001.mid", "notes": 10, "keep": True}]
    (folder / "manifest.json").write_text(json.dumps({"outputs": [{"file": "001.mid", "keep": True}, 3]}))
    assert previously_kept(folder) == {"001.mid"}  # a batch run again keeps the marks it can read
    with pytest.raises(FeedbackError, match="not a manifest of melodies"):
        marks(folder)
    with pytest.raises(StudioError, match="not a manifest of melodies"):
        read_kept(folder)
