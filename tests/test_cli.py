"""The real `melodia` command, run as a newcomer would run it."""

from __future__ import annotations

import glob
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import mido
import pretty_midi
import pytest
from conftest import DATA, MUSIC21
from helpers import MELODY, README_SEED, job_file, untrained

from melodia import read_score
from melodia.lm.modelfile import save_model
from melodia.media.play import ALSA_OUTPUTS
from melodia.theory.pitch import PITCH_CLASS_NAMES
from melodia.tokenizers import TokenizerConfig, tokenizer_from_config


def melodia(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "melodia.apps.cli", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


def test_help_does_not_import_heavy_packages() -> None:
    code = ("import sys; from melodia.apps.cli import main; main(['--help']) if False else None; "
            "import melodia.apps.cli as c; c._parser(); "
            "print(','.join(m for m in ('torch', 'music21', 'numpy', 'mido') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == ""
    assert "tokenize" in melodia("--help").stdout


def test_demo_writes_an_exact_round_trip(tmp_path: Path) -> None:
    result = melodia("demo", "-o", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "round trip exact" in result.stdout
    written = tmp_path / "bwv66.6-roundtrip.mid"
    assert pretty_midi.PrettyMIDI(str(written)).instruments and mido.MidiFile(written).tracks


def test_tokenize_prints_tokens_and_writes_the_round_trip(tmp_path: Path) -> None:
    target = tmp_path / "out.mid"
    result = melodia("tokenize", str(DATA / "jig_6_8.mid"), "--roundtrip", str(target))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("BOS TimeSig_6/8 Tempo_120.0 Bar Position_0")
    tokenizer = tokenizer_from_config(TokenizerConfig())
    assert read_score(target).tracks[0].notes == tokenizer.quantize(read_score(DATA / "jig_6_8.mid")).tracks[0].notes
    again = melodia("tokenize", str(DATA / "jig_6_8.mid"), "--roundtrip", str(target))
    assert again.returncode == 1 and "already exists (pass --force" in again.stderr


def test_tokenize_performance_ids() -> None:
    result = melodia("tokenize", str(DATA / "drums.mid"), "--scheme", "performance", "--ids")
    assert result.returncode == 0
    assert all(word.isdigit() for word in result.stdout.split())


def test_inspect_summarises() -> None:
    result = melodia("inspect", str(DATA / "drums.mid"))
    assert result.returncode == 0
    assert "track 'Kit': Drums (channel 10), 24 notes" in result.stdout
    assert "Electric Bass (finger)" in result.stdout


def test_inspect_shows_the_form_as_written() -> None:
    belle = MUSIC21 / "corpus" / "ryansMammoth" / "BelleOfBostonReel.abc"
    result = melodia("inspect", str(belle))
    assert result.returncode == 0 and "  form: AABB, 8 + 8 bars, endings 1-2" in result.stdout.splitlines()
    assert ", 32 bars," in result.stdout  # as played
    assert "  form: no repeats" in melodia("inspect", str(DATA / "drums.mid")).stdout.splitlines()


def test_unreadable_input_is_one_line_on_stderr() -> None:
    for bad in ("not_midi.mid", "corrupt_truncated.mid", "missing.abc"):
        result = melodia("inspect", str(DATA / bad))
        assert result.returncode == 1
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"melodia: error: {DATA / bad}: "), result.stderr
        assert "Traceback" not in result.stderr


def test_corpus_build_and_stats_commands(tmp_path: Path) -> None:
    import os
    import shutil

    folder = tmp_path / "tunes"
    folder.mkdir()
    for name in ("jig_6_8.mid", "waltz_3_4.mid", "tune.abc", "not_midi.mid"):
        shutil.copy(DATA / name, folder / name)
    env = {**os.environ, "MELODIA_CACHE": str(tmp_path / "cache")}
    run = [sys.executable, "-m", "melodia.apps.cli", "corpus"]
    built = subprocess.run([*run, "build", str(folder), "--quiet", "--workers", "2"], capture_output=True,
                           text=True, env=env, timeout=300)
    assert built.returncode == 0, built.stderr
    assert "corpus tunes: 4 pieces built, 1 skipped" in built.stdout
    again = subprocess.run([*run, "build", str(folder), "--quiet"], capture_output=True, text=True, env=env)
    assert "(up to date)" in again.stdout
    stats = subprocess.run([*run, "stats", "tunes"], capture_output=True, text=True, env=env)
    assert stats.returncode == 0 and "corpus tunes: 4 pieces" in stats.stdout
    missing = subprocess.run([*run, "stats", "nothing-built"], capture_output=True, text=True, env=env)
    assert missing.returncode == 1 and "no corpus built here" in missing.stderr


@pytest.mark.parametrize("options", [["--tempo", "0"], ["--tempo", "0", "--style", "jazz-swing"], ["--tempo", "-5"]],
                         ids=["tempo-alone", "tempo-over-a-style", "negative"])
def test_style_refuses_a_tempo_of_0_as_it_refuses_a_negative_one(options: list[str], tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from melodia.apps.cli import main

    source = Path(__file__).resolve().parent.parent / "melodia" / "data" / "bwv66.6.mid"
    status = main(["style", str(source), *options, "-o", str(tmp_path / "x.mid")])
    error = capsys.readouterr().err
    expected = f"melodia: error: tempo {options[1]}: expected quarter notes per minute from 10 to 400\n"
    assert status == 1 and error == expected
    assert not (tmp_path / "x.mid").exists()


def test_a_seed_typo_is_reported_before_torch_is_loaded(tmp_path: Path) -> None:
    code = ("import sys; from melodia.apps.cli import main; status = main(['generate', '--seed', 'C4 X9', '-o', "
            f"{str(tmp_path / 'out')!r}]); print(status, 'torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.split() == ["1", "False"]
    assert result.stderr.startswith("melodia: error: seed phrase, word 2 'X9': expected a note like C4")


def test_style_command_lists_converts_and_refuses_to_overwrite(tmp_path: Path) -> None:
    listing = melodia("style", "--list")
    assert listing.returncode == 0 and "string-quartet" in listing.stdout and "waltz" in listing.stdout
    target = tmp_path / "quartet.mid"
    source = Path(__file__).resolve().parent.parent / "melodia" / "data" / "bwv66.6.mid"
    result = melodia("style", str(source), "--instrumentation", "string-quartet", "--rhythm", "waltz", "--tempo",
                     "150", "-o", str(target))
    assert result.returncode == 0, result.stderr
    styled = read_score(target)
    assert [t.name for t in styled.tracks] == ["Violin I", "Violin II", "Viola", "Cello"]
    assert str(styled.time_signatures[0]) == "3/4" and round(styled.initial_bpm()) == 150
    again = melodia("style", str(source), "--style", "rock", "-o", str(target))
    assert again.returncode == 1 and "already exists (pass --force" in again.stderr
    bad = melodia("style", str(source), "--rhythm", "polka", "-o", str(tmp_path / "x.mid"))
    assert bad.returncode == 1 and "rhythm 'polka': no such preset or file" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


def test_render_writes_audio_pictures_and_notation(tmp_path: Path) -> None:
    import wave

    source = str(DATA / "jig_6_8.mid")
    for name in ("jig.wav", "jig.png", "jig.musicxml"):
        result = melodia("render", source, "-o", str(tmp_path / name))
        assert result.returncode == 0, result.stderr
    with wave.open(str(tmp_path / "jig.wav")) as reader:
        assert reader.getnframes() > reader.getframerate()
    assert (tmp_path / "jig.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert read_score(tmp_path / "jig.musicxml").note_count == read_score(DATA / "jig_6_8.mid").note_count
    again = melodia("render", source, "-o", str(tmp_path / "jig.wav"))
    assert again.returncode == 1 and "already exists" in again.stderr
    bad = melodia("render", source, "-o", str(tmp_path / "jig.mp3"))
    assert bad.returncode == 1 and "expected a .wav, .png" in bad.stderr


def test_style_a_folder_skips_and_lists_bad_files(tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / "tunes"
    (folder / "more").mkdir(parents=True)
    shutil.copy(DATA / "jig_6_8.mid", folder / "jig.mid")
    shutil.copy(DATA / "waltz_3_4.mid", folder / "more" / "waltz.mid")
    shutil.copy(DATA / "corrupt_truncated.mid", folder / "broken.mid")
    result = melodia("style", str(folder), "--style", "jazz-swing", "-o", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert "wrote 2 of 3 files" in result.stdout and "skipped" in result.stderr and "broken.mid" in result.stderr
    assert read_score(tmp_path / "out" / "more" / "waltz.mid").note_count > 0
    again = melodia("style", str(folder), "--style", "jazz-swing", "-o", str(tmp_path / "out"))
    assert again.returncode == 1 and "already exists" in again.stderr


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The single `melodia: error:` line a failing command prints, with no traceback."""
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("melodia: error: "), result.stderr
    return lines[0]


def test_an_output_path_through_a_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("not a folder\n")
    source = Path(__file__).resolve().parent.parent / "melodia" / "data" / "bwv66.6.mid"
    commands = [("generate", "--seed", "G4 A4 B4 key=G", "--num", "1", "-o", "README.md"),
                ("style", str(source), "--tempo", "90", "-o", "README.md/x.mid"),
                ("style", str(DATA), "--tempo", "90", "-o", "README.md/styled")]
    for command in commands:
        line = one_error_line(melodia(*command, cwd=tmp_path))
        assert line.startswith("melodia: error: README.md: is a file, not a folder"), command
    assert (tmp_path / "README.md").read_text() == "not a folder\n"


def test_a_missing_seed_file_is_named_as_missing(tmp_path: Path) -> None:
    line = one_error_line(melodia("generate", "--seed", "nope.mid", "--num", "1", "-o", "out", cwd=tmp_path))
    assert line.startswith("melodia: error: nope.mid: no such file") and "word" not in line
    assert not (tmp_path / "out").exists()


def test_compare_reads_a_folders_own_files_unless_asked_to_recurse(tmp_path: Path) -> None:
    (tmp_path / "out" / "batch").mkdir(parents=True)
    for name in ("out/001.mid", "out/002.mid", "out/batch/a.mid", "out/batch/b.mid", "out/batch/c.mid"):
        (tmp_path / name).write_bytes((DATA / "jig_6_8.mid").read_bytes())
    reference = str(DATA / "waltz_3_4.mid")
    flat = melodia("compare", "--generated", "out", "--reference", reference, cwd=tmp_path)
    assert flat.returncode == 0, flat.stderr
    assert flat.stdout.startswith("2 generated pieces against 1 reference pieces")
    assert "out: 2 music files; 3 more in its subfolders, not read (pass --recursive)" in flat.stderr
    deep = melodia("compare", "--generated", "out", "--reference", reference, "--recursive", "--json", cwd=tmp_path)
    assert deep.returncode == 0, deep.stderr
    assert "5 generated pieces against 1 reference pieces" in deep.stderr and "not read" not in deep.stderr


BAD_OPTIONS = [
    (["--bars", "0"], "constraints.bars = 0: expected a whole number >= 1"),
    (["--notes", "0"], "constraints.notes = 0: expected a whole number >= 1"),
    (["--num", "0"], "--num 0: expected 1 or more melodies"),
    (["--temperature", "-1"], "sampling setting temperature = -1.0: expected a number > 0"),
    (["--temperature", "0"], "sampling setting temperature = 0.0: expected a number > 0 (0 is not greedy"),
    (["--top-p", "2"], "sampling setting top_p = 2.0: expected a number in (0, 1]"),
    (["--top-k", "-3"], "sampling setting top_k = -3: expected a whole number >= 0"),
    (["--repetition-penalty", "0"], "sampling setting repetition_penalty = 0.0: expected a number > 0"),
    (["--beam-size", "-1"], "sampling setting beam_size = -1: expected a whole number >= 0"),
    (["--branch-factor", "0"], "sampling setting branch_factor = 0: expected a whole number >= 1"),
    (["--max-leap", "-2"], "constraints.max_leap = -2: expected a whole number >= 1"),
    (["--phrase-bars", "0"], "constraints.phrase_bars = 0: expected a whole number >= 1"),
    (["--seed-bars", "0"], "--seed-bars 0: expected 1 or more bars"),
    (["--max-leap", "0"], "constraints.max_leap = 0: expected a whole number >= 1 (semitones; 0 would repeat"),
    (["--density", "0,0,0"], "controls.density = '0,0,0': no bar with a note; expected notes per bar"),
    (["--key", "F# major"], "the seed names key=C major and the constraints ask for key F# major; give one"),
]


@pytest.mark.parametrize(("option", "message"), BAD_OPTIONS, ids=[" ".join(o) for o, _ in BAD_OPTIONS])
def test_generate_refuses_settings_outside_their_range(option: list[str], message: str, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    from melodia.apps.cli import main

    status = main(["generate", "--seed", "C4 D4 E4 key=C", *option, "-o", str(tmp_path / "out")])
    error = capsys.readouterr().err
    assert status == 1 and error.startswith(f"melodia: error: {message}") and error.count("\n") == 1
    assert not (tmp_path / "out").exists()  # nothing written, not even the folder


class Stream(io.StringIO):
    """A stand-in for stderr that is, or is not, a terminal."""

    def __init__(self, terminal: bool) -> None:
        super().__init__()
        self.terminal = terminal

    def isatty(self) -> bool:
        return self.terminal


@pytest.mark.parametrize(("terminal", "option", "shown"), [
    (True, [], True), (True, ["--quiet"], False), (False, [], False),
], ids=["terminal", "terminal-quiet", "pipe"])
def test_generate_shows_a_progress_bar_only_on_a_terminal_and_not_when_quiet(
        terminal: bool, option: list[str], shown: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from melodia.apps.cli import main

    stderr = Stream(terminal)
    monkeypatch.setattr(sys, "stderr", stderr)
    status = main(["generate", "--seed", "C4 D4 E4 key=C", "--num", "2", "--bars", "4", *option,
                   "-o", str(tmp_path / "out")])
    assert status == 0, stderr.getvalue()
    # the bar's first line shows at once; later ones (" melodies, step N") only as often as tqdm redraws
    assert ("generating: 0/2 melodies" in stderr.getvalue()) == shown
    assert len(list((tmp_path / "out").glob("*.mid"))) == 2


@pytest.mark.parametrize("pairs", [
    ["sampling.temperature=0.9", "constraints.max_leap=5", "controls.density=rising"],
    ["temperature=0.9", "max_leap=5", "density=rising"],
], ids=["dotted", "flat"])
def test_generate_set_overrides_the_settings_of_the_flags(pairs: list[str]) -> None:
    from melodia.apps.cli import _generation_settings, _parser

    options = [word for pair in pairs for word in ("--set", pair)]
    args = _parser().parse_args(["generate", "--seed", "C4", "--temperature", "1.2", "--max-leap", "7", *options])
    constraints, controls, sampling = _generation_settings(args)
    assert (sampling.temperature, constraints.max_leap, constraints.bars, controls.density) == (0.9, 5, 8, "rising")


def test_generate_set_with_a_form_leaves_the_length_to_the_form() -> None:
    from melodia.apps.cli import _generation_settings, _parser

    args = _parser().parse_args(["generate", "--seed", "C4", "--set", "form=AABB", "--set", "phrase_bars=2"])
    constraints, _, _ = _generation_settings(args)
    assert (constraints.form, constraints.phrase_bars, constraints.bars) == ("AABB", 2, None)


@pytest.mark.parametrize(("pair", "message"), [
    ("colour=red", "--set 'colour=red': expected key=value with key one of key, pitch_range, max_leap, "),
    ("sampling.top_p=2", "sampling setting top_p = 2.0: expected a number in (0, 1]"),
    ("max_leap=-1", "constraints.max_leap = -1: expected a whole number >= 1"),
], ids=["unknown", "top_p", "max_leap"])
def test_generate_set_refuses_unknown_keys_and_bad_values(pair: str, message: str, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    from melodia.apps.cli import main

    status = main(["generate", "--seed", "C4 D4 E4 key=C", "--set", pair, "-o", str(tmp_path / "out")])
    error = capsys.readouterr().err
    assert status == 1 and error.startswith(f"melodia: error: {message}") and error.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_generate_command_writes_files_and_manifest(tmp_path: Path) -> None:
    model_path = save_model(tmp_path / "m.safetensors", untrained(MELODY), MELODY, {"corpus": "none"})
    out = tmp_path / "out"
    command = [sys.executable, "-m", "melodia.apps.cli", "generate", "--model", str(model_path), "--seed",
               "D4 E4 F#4/8 G4/8 A4/2 key=D meter=6/8", "--num", "4", "--bars", "4", "--range", "C4:C6",
               "--max-leap", "7", "--random-seed", "5", "-o", str(out)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert [o["file"] for o in manifest["outputs"]] == ["001.mid", "002.mid", "003.mid", "004.mid"]
    assert manifest["settings"]["random_seed"] == 5 and manifest["settings"]["constraints"]["max_leap"] == 7
    again = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert again.returncode == 1 and "already exists (pass --force" in again.stderr
    bad = subprocess.run([*command[:7], "C4 X9", "-o", str(tmp_path / "x")], capture_output=True, text=True)
    assert bad.returncode == 1 and "word 2 'X9'" in bad.stderr


def test_generate_with_a_style(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "melodia.apps.cli", "generate", "--seed", "G4 A4 B4 key=G", "--num",
                             "2", "--bars", "4", "--style", "celtic-jig", "-o", str(tmp_path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    score = read_score(tmp_path / "001.mid")
    assert {t.name for t in score.tracks} >= {"Fiddle", "Guitar"} and any(t.is_drum for t in score.tracks)
    assert str(score.time_signatures[0]) == "6/8" and round(score.initial_bpm()) == 180
    assert json.loads((tmp_path / "manifest.json").read_text())["settings"]["style"] == "celtic-jig"
    bad = subprocess.run([sys.executable, "-m", "melodia.apps.cli", "generate", "--seed", "G4", "--style", "polka",
                          "-o", str(tmp_path / "x")], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and "style 'polka': no such preset" in bad.stderr


def test_generate_command_takes_form_and_records_it(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "melodia.apps.cli", "generate", "--seed", README_SEED, "--num", "3",
                             "--form", "AABB", "--phrase-bars", "2", "-o", str(tmp_path)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["settings"]["form"] == "AABB" and manifest["settings"]["phrase_bars"] == 2
    for output in manifest["outputs"]:
        score = read_score(tmp_path / output["file"])
        assert output["bars"] == 8 and output["key"] == "D major"
        assert [f"{PITCH_CLASS_NAMES[k.tonic]} {k.mode}" for k in score.key_signatures] == ["D major"]


def test_metrics_and_compare_commands(tmp_path) -> None:
    result = subprocess.run([sys.executable, "-m", "melodia", "metrics", str(DATA / "waltz_3_4.mid"), "--json"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)[str(DATA / "waltz_3_4.mid")]
    assert values["pitch_range"] == 7 and values["scale_consistency"] == 1.0
    compared = subprocess.run([sys.executable, "-m", "melodia.apps.cli", "compare", "--generated", str(DATA),
                               "--reference", str(DATA / "jig_6_8.mid"), str(DATA / "waltz_3_4.mid"),
                               str(DATA / "tune.abc")], capture_output=True, text=True)
    assert compared.returncode == 0, compared.stderr
    assert "pitch_class_entropy" in compared.stdout and "melodia: skipped" in compared.stderr


def test_failed_cells_give_a_failing_exit_status_with_the_count(tmp_path: Path) -> None:
    job = job_file(tmp_path, 'seeds = ["C4 X9", "nope.mid"]\ncount = 1\nbars = 2\n')
    result = subprocess.run([sys.executable, "-m", "melodia.apps.cli", "batch", str(job), "--quiet"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (f"melodia: error: {job}: 2 of 2 cells failed "
                                                     f"(see {tmp_path / 'batch-output' / 'report.txt'})")
    report = (tmp_path / "batch-output" / "report.txt").read_text()
    assert f"{tmp_path / 'nope.mid'}: no such file" in report and "word 1 'nope.mid'" not in report


def test_the_batch_command_takes_set(tmp_path: Path) -> None:
    from melodia.apps.cli import main

    job = job_file(tmp_path, 'seeds = ["C4 D4 E4 key=C"]\ncount = 3\nbars = 2\noutput = "out"\n')
    assert main(["batch", str(job), "--quiet", "--set", "count=1", "--set", "constraints.max_leap=4"]) == 0
    assert len(list((tmp_path / "out").glob("*.mid"))) == 1
    settings = json.loads((tmp_path / "out" / "manifest.json").read_text())["settings"]
    assert settings["count"] == 1 and settings["constraints"]["max_leap"] == 4


def test_play_command_and_generate_play(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    from melodia.apps.cli import main

    monkeypatch.setenv("MELODIA_PLAYER", "none")  # no audio output: WAVs are written (melodia.media.play, test_play.py)
    out = tmp_path / "out"
    assert main(["generate", "--seed", "G4 A4 B4 key=G", "--num", "2", "--bars", "4", "-o", str(out), "--quiet",
                 "--play"]) == 0
    assert f"wrote {out / '001.wav'}" in capsys.readouterr().out and not (out / "002.wav").exists()
    assert main(["play", str(out), "--wav-dir", str(tmp_path / "wav")]) == 0
    assert sorted(p.name for p in (tmp_path / "wav").iterdir()) == ["001.wav", "002.wav"]
    capsys.readouterr()
    monkeypatch.setenv("MELODIA_CACHE", str(tmp_path / "cache"))
    for _ in range(2):  # a second time too: the scratch WAV is melodia's, replaced
        assert main(["play", str(out / "001.mid")]) == 0
        assert f"wrote {tmp_path / 'cache' / 'play' / '001.wav'}" in capsys.readouterr().out
    assert main(["play", str(out / "001.mid"), "--wav-dir", str(tmp_path / "wav")]) == 1  # the user's folder
    assert "already exists" in capsys.readouterr().err


def test_play_with_a_missing_player_says_so_once_and_plays_as_without_it(tmp_path: Path) -> None:
    env = {**os.environ, "MELODIA_PLAYER": "no-such-player-here", "MELODIA_CACHE": str(tmp_path / "cache"),
           "XDG_RUNTIME_DIR": str(tmp_path), "PULSE_SERVER": ""}  # and no sound server: a WAV
    wav = tmp_path / "cache" / "play" / "jig_6_8.wav"
    for _ in range(2):  # the second run replaces the scratch WAV
        result = subprocess.run([sys.executable, "-m", "melodia.apps.cli", "play", str(DATA / "jig_6_8.mid")],
                                capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
        assert result.returncode == 0, result.stderr
        assert result.stderr.splitlines() == ["melodia: warning: MELODIA_PLAYER='no-such-player-here': no such "
                                              "program here; choosing a player as without it"]
        if not glob.glob(ALSA_OUTPUTS):
            assert result.stdout.startswith(f"wrote {wav}: jig_6_8.mid: ") and wav.is_file()
    assert not list(tmp_path.glob("*.wav"))


@pytest.mark.parametrize(("words", "usage", "message"), [
    (["generate", "--seed", "C4", "--temprature", "0.9"], "usage: melodia generate",
     "melodia generate: error: unrecognized arguments: --temprature 0.9; did you mean --temperature?"),
    (["corpus", "stats", "folk", "--jsn"], "usage: melodia corpus stats",
     "melodia corpus stats: error: unrecognized arguments: --jsn; did you mean --json?"),
    (["inspect", "tune.mid", "--colour"], "usage: melodia inspect", "unrecognized arguments: --colour"),
])
def test_a_misspelled_option_gets_the_commands_usage_and_the_close_match(
        words: list[str], usage: str, message: str, capsys: pytest.CaptureFixture[str]) -> None:
    from melodia.apps.cli import main

    with pytest.raises(SystemExit) as exit_status:
        main(words)
    err = capsys.readouterr().err
    assert exit_status.value.code == 2 and err.startswith(usage) and err.splitlines()[-1].endswith(message)


@pytest.mark.parametrize("option", ["--temperature", "--top-k", "--top-p", "--repetition-penalty"])
def test_sampling_options_have_help(option: str, capsys: pytest.CaptureFixture[str]) -> None:
    from melodia.apps.cli import main

    with pytest.raises(SystemExit):
        main(["generate", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert f"{option} {option[2:].upper().replace('-', '_')} " in text
    described = text.split(f"{option} {option[2:].upper().replace('-', '_')} ")[1].split(" --")[0]
    assert "default:" in described and len(described.split()) > 5, described


def test_compare_names_a_missing_or_empty_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from melodia.apps.cli import main

    (tmp_path / "emptydir").mkdir()
    (tmp_path / "emptydir" / "notes.txt").write_text("not music")
    for folder, message in (("emptydir", "no MIDI, ABC, MusicXML or Humdrum files in this folder (.mid,"),
                            ("nowhere", "no such file or folder")):
        assert main(["compare", "--generated", f"{tmp_path / folder}/", "--reference", str(DATA / "jig_6_8.mid")]) == 1
        err = capsys.readouterr().err
        assert err.startswith(f"melodia: error: {tmp_path / folder}/: {message}") and err.count("\n") == 1


def test_keep_refuses_a_file_no_manifest_lists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from melodia.apps.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "tune.mid").write_bytes((DATA / "jig_6_8.mid").read_bytes())
    for extra in ([], ["--drop"]):
        assert main(["keep", "tune.mid", *extra]) == 1
        err = capsys.readouterr().err
        assert err.splitlines() == [err.strip()] and "tune.mid: no manifest lists it (looked in manifest*.json)" in err
    assert not (tmp_path / "manifest.json").exists()
    assert main(["keep", "tune.mid", "--add"]) == 0
    assert json.loads((tmp_path / "manifest.json").read_text()) == {"outputs": [{"file": "tune.mid", "keep": True}]}
    assert main(["keep", "tune.mid", "--drop"]) == 0
    assert "dropped tune.mid in manifest.json" in capsys.readouterr().out


def test_inspect_reads_a_japanese_title_and_sums_up_many_tempo_changes(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from conftest import MUSIC21

    from melodia.apps.cli import main
    from melodia.io import write_score

    assert main(["inspect", str(MUSIC21 / "midi" / "testPrimitive" / "test04.mid")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("ベートーベン　交響曲第７番　第２楽章: 21 tracks")  # Shift JIS, Beethoven's 7th
    assert lines[1] == "  tempo: 56 BPM at 0, then 94 changes between 35 and 93 BPM" and len(lines) == 26
    assert lines[4] == "  form: no repeats"
    score = read_score(MUSIC21 / "midi" / "testPrimitive" / "test04.mid")
    written = write_score(score, tmp_path / "copy.mid")  # a title Latin-1 cannot hold is written as UTF-8
    assert read_score(written).title == score.title
    assert read_score(DATA / "jig_6_8.mid").summary().splitlines()[1].count("BPM") == 1


def test_generate_tune_writes_whole_tunes_with_their_notation(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    from melodia.apps.cli import main
    from melodia.io import read_score

    out = tmp_path / "jigs"
    assert main(["generate", "--tune", "jig", "--seed", "D4/8 F#4/8 A4/8 D5/4 A4/8", "--num", "2", "--quiet",
                 "-o", str(out)]) == 0
    assert "as .musicxml" in capsys.readouterr().out
    played = read_score(out / "001.mid")
    assert played.bar_count() == 32 and str(played.initial_time_signature()) == "6/8"
    notation = read_score(out / "001.musicxml")
    assert notation.form is not None and notation.form.describe() == "AABB, 8 + 8 bars, endings 1-2"
    status = main(["generate", "--tune", "reel", "--bars", "16", "--seed", "D4 E4", "-o", str(tmp_path / "r")])
    assert status == 1 and "--tune reel: the length follows from the form" in capsys.readouterr().err


# Each command's Python twin, as a notebook reaches it (`melodia.NAME`). The twin has the command's name, or
# contains it ("corpus build": build_corpus) -- but for these two, whose own names are taken:
TWINS_BY_ANOTHER_NAME = {
    "style": "stylize",  # melodia.style is the package of styles
    "demo": "example_path",  # the demo round-trips the bundled example; in Python: melodia.read_score(example_path())
}
TWINS = {"demo": "example_path", "inspect": "inspect", "tokenize": "tokenize", "metrics": "all_metrics",
         "compare": "compare", "originality": "originality", "render": "render", "play": "play",
         "batch": "run_batch", "harmonize": "harmonize", "style": "stylize", "generate": "generate",
         "infill": "infill", "train": "train", "evaluate": "evaluate", "corpus build": "build_corpus",
         "corpus stats": "corpus_stats", "corpus list": "corpus_names", "finetune": "finetune", "keep": "keep",
         "discard": "discard", "rate": "rate", "learn": "learn"}


def _commands(parser: Any, prefix: str = "") -> list[str]:
    """Every command and subcommand the parser takes, as typed ("corpus build")."""
    import argparse

    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                inner = _commands(sub, f"{prefix}{name} ")
                found += inner or [f"{prefix}{name}"]
    return found


def test_every_command_has_a_python_twin_of_the_same_or_a_matching_name() -> None:
    """`melodia generate` is `melodia.generate`, `melodia keep` is `melodia.keep`: a notebook user finds each command
    under its own name in `dir(melodia)` (issue 31: keep/mark_kept, batch/run_job, evaluate/evaluate_inputs were
    three names apart, and render, inspect, tokenize, originality and corpus stats had none)."""
    import melodia
    from melodia.apps.cli import _parser

    commands = _commands(_parser())
    assert sorted(commands) == sorted(TWINS), "a command without a twin in TWINS, or a twin of no command"
    assert not {"Any", "TYPE_CHECKING"} & set(dir(melodia))  # the package's own typing names are not offered
    for command in commands:
        name = TWINS[command]
        words = command.split()
        assert name in dir(melodia) and name in melodia.__all__, name
        twin = getattr(melodia, name)
        assert callable(twin) and not isinstance(twin, type(melodia)), f"melodia.{name} is not a function"
        assert any(word in name.split("_") for word in words) or TWINS_BY_ANOTHER_NAME.get(command) == name, \
            f"melodia {command}: its twin {name} has another name"


def test_random_seed_is_called_random_seed_in_every_public_function() -> None:
    """A random seed is `random_seed` in every public function that takes one; `seed` is a seed phrase."""
    import inspect

    import melodia

    for name in melodia.__all__:
        value = getattr(melodia, name)
        if callable(value) and not isinstance(value, type):
            parameters = inspect.signature(value).parameters
            assert "seed" not in parameters or name in ("generate", "tokenize"), name
            assert not any(p.endswith("_seed") and p != "random_seed" for p in parameters), name
    assert "random_seed" in inspect.signature(melodia.harmonize).parameters
