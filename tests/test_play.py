"""`melodia play` and `melodia generate --play`: through a player when there is an audio output, else a WAV."""

from __future__ import annotations

import shutil
import sys
import wave
from pathlib import Path

import pytest

from melodia.errors import WriteError
from melodia.io import read_score
from melodia.media.play import Player, PlayError, find_player, has_audio_output, music_files, play, scratch_folder

DATA = Path(__file__).resolve().parent / "data"
RECORDER = """import sys
from pathlib import Path
log = Path(sys.argv[1])
number = len(list(log.parent.glob(log.name + ".*")))
(log.parent / f"{log.name}.{number}").write_bytes(sys.stdin.buffer.read())
sys.exit(int(sys.argv[2]) if len(sys.argv) > 2 else 0)
"""


@pytest.fixture
def tunes(tmp_path: Path) -> Path:
    folder = tmp_path / "tunes"
    folder.mkdir()
    for name in ("waltz_3_4.mid", "jig_6_8.mid"):
        shutil.copy(DATA / name, folder / name)
    (folder / "notes.txt").write_text("not music")
    return folder


def _recorder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exit_status: int = 0) -> Path:
    """A stand-in player that saves what it is given to play (WAV on its standard input)."""
    script = tmp_path / "recorder.py"
    script.write_text(RECORDER)
    log = tmp_path / "played"
    monkeypatch.setenv("MELODIA_PLAYER", f"{sys.executable} {script} {log} {exit_status}")
    return log


def _seconds(wav: bytes | Path) -> float:
    with wave.open(str(wav) if isinstance(wav, Path) else __import__("io").BytesIO(wav), "rb") as reader:
        return reader.getnframes() / reader.getframerate()


def test_a_folder_plays_its_midi_files_in_order(tunes: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert [p.name for p in music_files(tunes)] == ["jig_6_8.mid", "waltz_3_4.mid"]
    log = _recorder(tmp_path, monkeypatch)
    assert play(tunes) == []
    heard = [tmp_path / "played.0", tmp_path / "played.1"]
    lengths = [read_score(tunes / name).duration_seconds() for name in ("jig_6_8.mid", "waltz_3_4.mid")]
    for played, length in zip(heard, lengths):
        assert played.read_bytes()[:4] == b"RIFF" and length < _seconds(played.read_bytes()) < length + 2
    out = capsys.readouterr().out
    assert "playing jig_6_8.mid (1 of 2)" in out and "playing waltz_3_4.mid (2 of 2)" in out
    assert not list(tunes.glob("*.wav")) and log.parent.is_dir()


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """MELODIA_CACHE in the test's folder; the scratch folder `play` writes WAVs into."""
    monkeypatch.setenv("MELODIA_CACHE", str(tmp_path / "cache"))
    assert scratch_folder() == tmp_path / "cache" / "play"
    return scratch_folder()


def test_without_an_audio_output_a_wav_is_written(tunes: Path, scratch: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("MELODIA_PLAYER", "none")
    wav = play(tunes / "waltz_3_4.mid")
    assert wav == [scratch / "waltz_3_4.wav"] and not list(tunes.glob("*.wav"))  # nothing beside the file
    assert abs(_seconds(wav[0]) - read_score(tunes / "waltz_3_4.mid").duration_seconds()) < 2
    assert f"wrote {wav[0]}" in capsys.readouterr().out
    assert play(tunes / "jig_6_8.mid") == [scratch / "jig_6_8.wav"]
    assert play(tunes / "waltz_3_4.mid") == wav  # again: the scratch WAV is melodia's own, replaced
    assert abs(_seconds(wav[0]) - read_score(tunes / "waltz_3_4.mid").duration_seconds()) < 2
    audio = tunes / "audio"
    assert play(tunes, wav_folder=audio) == [audio / "jig_6_8.wav", audio / "waltz_3_4.wav"]
    with pytest.raises(WriteError, match="already exists"):  # a folder the user named is theirs
        play(tunes / "waltz_3_4.mid", wav_folder=audio)
    assert play(tunes / "waltz_3_4.mid", wav_folder=audio, force=True) == [audio / "waltz_3_4.wav"]


def test_the_bundled_example_plays_without_writing_into_the_package(scratch: Path, monkeypatch: pytest.MonkeyPatch,
                                                                    tmp_path: Path) -> None:
    from melodia.resources import DATA as PACKAGE_DATA
    from melodia.resources import example_path

    monkeypatch.setenv("MELODIA_PLAYER", "none")
    before = sorted(PACKAGE_DATA.iterdir())
    monkeypatch.chdir(tmp_path)
    assert play(example_path()) == [scratch / "bwv66.6.wav"]
    assert sorted(PACKAGE_DATA.iterdir()) == before


def test_a_failing_player_falls_back_to_a_wav(tunes: Path, tmp_path: Path, scratch: Path,
                                             monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    _recorder(tmp_path, monkeypatch, exit_status=3)
    assert play(tunes / "jig_6_8.mid") == [scratch / "jig_6_8.wav"]
    assert "failed (exit 3" in capsys.readouterr().out
    assert play(tunes / "jig_6_8.mid") == [scratch / "jig_6_8.wav"]  # and again


def test_a_missing_player_is_one_warning_and_the_usual_choice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MELODIA_PLAYER", "no-such-player-here --flag")
    monkeypatch.setattr("melodia.media.play.has_audio_output", lambda: False)
    with pytest.warns(UserWarning, match="MELODIA_PLAYER='no-such-player-here --flag': no such program") as caught:
        assert find_player() is None
    assert len(caught) == 1


@pytest.mark.parametrize(("name", "error"), [("nowhere.mid", "no such file or folder"), ("empty-folder", "no MIDI")])
def test_nothing_to_play_is_refused(tmp_path: Path, name: str, error: str) -> None:
    (tmp_path / "empty-folder").mkdir()
    with pytest.raises(PlayError, match=error):
        music_files(tmp_path / name)


def test_the_player_is_chosen_by_the_audio_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if sys.platform != "linux":
        pytest.skip("audio outputs are looked for as on Linux")
    monkeypatch.delenv("MELODIA_PLAYER", raising=False)
    monkeypatch.delenv("PULSE_SERVER", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    monkeypatch.setattr("melodia.media.play.ALSA_OUTPUTS", str(tmp_path / "snd" / "pcmC*D*p"))
    assert not has_audio_output() and find_player() is None
    (tmp_path / "pulse").mkdir()
    (tmp_path / "pulse" / "native").touch()
    assert has_audio_output()
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "aplay").write_text("#!/bin/sh\n")
    (fake / "aplay").chmod(0o755)
    monkeypatch.setenv("PATH", str(fake))
    assert find_player() == Player((str(fake / "aplay"), "-q", "-"), True)
    (fake / "mpv").write_text("#!/bin/sh\n")
    (fake / "mpv").chmod(0o755)
    monkeypatch.setenv("MELODIA_PLAYER", "mpv --no-video -")
    assert find_player() == Player(("mpv", "--no-video", "-"))

