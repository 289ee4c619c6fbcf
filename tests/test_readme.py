"""Every example in README.md runs as written: its shell commands (through `melodia.apps.cli.main`, in a folder
holding the files they name), its Python blocks and its inline Python calls (each in a fresh interpreter, as a
reader would run them after `import melodia`). A command that is not run is left out by a rule of `SKIPPED`,
which says why; the tests fail on a command no rule covers and on a rule that covers nothing."""

from __future__ import annotations

import glob
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DATA, MUSIC21
from helpers import README_SEED

from melodia import read_score

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
COMMAND_START = re.compile(r"^(melodia |python3 |\.venv/bin/|pip |\{ apt-get|torchrun |jupyter )")
# the commands not run, and why; each must match a command of the README
SKIPPED = {
    r"^python3 -m venv |^\.venv/bin/pip install ": "sets up a virtual environment (tests/test_package.py does)",
    r"^\{ apt-get |^apt-get ": "installs system packages",
    r"^\.venv/bin/python -m pytest": "the test suite itself",
    r"^\.venv/bin/jupyter lab": "starts a server (tests/test_notebooks.py runs the notebooks)",
    r"corpus build folk|--corpus folk|corpus:folk": "needs the folk corpus, minutes to build (test_corpus.py builds "
                                                    "small ones)",
    r"^torchrun ": "distributed training (test_train.py)",
    r"^melodia finetune |mine\.safetensors": "fine-tuning trains for minutes (test_finetune.py)",
    r"\[--|\b(FILE|FOLDER|DIR|NAME|MODEL|INPUT|OUT|JOB|MELODY|NOTES)\b": "a synopsis of options, not a command",
}
FIRST_COMMAND_OUTPUT = "wrote 10 MIDI files, a piano roll of each (.png) and manifest.json to melodia-output"


def indented_blocks(text: str) -> list[tuple[int, list[str]]]:
    """(line number, lines) of each block indented by four spaces after a blank line, outside fences."""
    blocks: list[tuple[int, list[str]]] = []
    fenced, previous = False, ""
    for number, line in enumerate(text.splitlines(), start=1):
        continues = bool(blocks) and blocks[-1][0] + len(blocks[-1][1]) == number
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("    ") and continues:
            blocks[-1][1].append(line[4:])
        elif not fenced and line.startswith("    ") and not previous.strip():
            blocks.append((number, [line[4:]]))
        previous = line
    return blocks


def command_blocks() -> list[tuple[int, list[str]]]:
    """The blocks of shell commands (the others show output or a diagram), lines joined at a trailing `\\`,
    and each line split at `&&` into commands."""
    found = []
    for number, lines in indented_blocks(README):
        if not COMMAND_START.match(lines[0]):
            continue
        joined = " ".join(lines).replace("\\ ", "") if any(line.endswith("\\") for line in lines) else None
        commands = [part.strip() for line in ([joined] if joined else lines) for part in line.split("&&")]
        found.append((number, commands))
    return found


def skip_reason(command: str) -> str | None:
    return next((why for rule, why in SKIPPED.items() if re.search(rule, command)), None)


def python_blocks() -> list[tuple[int, str]]:
    return [(README[:match.start()].count("\n") + 2, match.group(1))
            for match in re.finditer(r"```python\n(.*?)```", README, re.S)]


def inline_calls() -> list[str]:
    """The Python calls written inline, `melodia.style.stylize(score, ...)` and the like (a template with `...`
    is not a call)."""
    spans = re.findall(r"`((?:melodia|score|Constraints)[\w.]*\(.*?\))`", README.replace("\n", " "))
    return [span for span in dict.fromkeys(spans) if "..." not in span]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The files the README's examples name: tune.mid (an 8-bar melody), song.mid (a 12-bar melody over a bass,
    the melody as track 1), tune.abc, my_tunes/ (with a broken file), folk.safetensors (the shipped model, which
    was trained on folk) and out/ (8 melodies with their manifest, for the examples that read them)."""
    from melodia import Constraints, Score, Track, generate, write_score
    from melodia.apps.cli import main
    from melodia.resources import default_model_path
    from melodia.score import Note

    folder = tmp_path_factory.mktemp("readme")
    write_score(generate("default", "G4 A4 B4 key=G", 1, Constraints(bars=8), random_seed=3)[0], folder / "tune.mid")
    melody = generate("default", "A4 B4 C5 key=Am", 1, Constraints(bars=12), random_seed=3)[0]
    bar = melody.bar_starts(melody.end_tick - 1)
    bass = Track("Bass", 32, notes=[Note(43, 70, start, end - start) for start, end in
                                    zip(bar, [*bar[1:], melody.end_tick])])
    write_score(Score([bass, *melody.tracks], melody.tempos, melody.time_signatures, melody.key_signatures),
                folder / "song.mid")
    shutil.copy(DATA / "tune.abc", folder / "tune.abc")
    (folder / "my_tunes").mkdir()
    for source in (folder / "tune.mid", MUSIC21 / "midi" / "testPrimitive" / "test06.mid",
                   DATA / "corrupt_truncated.mid"):
        shutil.copy(source, folder / "my_tunes" / source.name)
    shutil.copy(default_model_path(), folder / "folk.safetensors")
    assert main(["generate", "--seed", "D4 E4 F#4 key=D", "--num", "8", "--bars", "4", "-o",
                 str(folder / "prepared-out"), "--quiet"]) == 0
    return folder


def run_command(command: str, folder: Path) -> int:
    """A `melodia` command line as a shell would run it in `folder`: quotes, `#` comments, `*` patterns."""
    words = shlex.split(command.removeprefix(".venv/bin/"), comments=True)
    assert words[0] == "melodia", command
    expanded = [match for word in words[1:]
                for match in (sorted(glob.glob(word, root_dir=folder)) if "*" in word else [word])]
    from melodia.apps.cli import main

    return main([*expanded, "--quiet"] if words[1] in ("generate", "infill", "batch") else expanded)


@pytest.mark.parametrize(("line", "commands"), command_blocks(), ids=[f"line-{n}" for n, _ in command_blocks()])
def test_readme_commands_run_as_written(line: int, commands: list[str], world: Path, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    for item in world.iterdir():
        (shutil.copytree if item.is_dir() else shutil.copy)(item, tmp_path / item.name)
    run = [command for command in commands if skip_reason(command) is None]
    if not any("-o out/" in command for command in run):  # the examples that read earlier melodies
        shutil.move(tmp_path / "prepared-out", tmp_path / "out")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MELODIA_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("MELODIA_PLAYER", "none")
    if not run:
        pytest.skip("; ".join(sorted({f"{c[:40]}...: {skip_reason(c)}" for c in commands})))
    for command in run:
        capsys.readouterr()
        assert run_command(command, tmp_path) == 0, f"{command}\n{capsys.readouterr().err}"
        if command.endswith(f'generate --seed "{README_SEED}"'):
            assert_first_command(command, capsys.readouterr().out, tmp_path)


def assert_first_command(command: str, out: str, folder: Path) -> None:
    """The README's first command: what it says it writes, and run again, what the README says then."""
    assert out.splitlines()[-1] == FIRST_COMMAND_OUTPUT and f"\n    {FIRST_COMMAND_OUTPUT}\n" in README
    written = sorted((folder / "melodia-output").glob("*.mid"))
    assert len(written) == 10 and len(list((folder / "melodia-output").glob("*.png"))) == 10
    for path in written:
        score = read_score(path)
        assert str(score.time_signatures[0]) == "6/8" and len(score.bar_starts(score.end_tick - 1)) == 8
        assert [n.pitch for n in score.tracks[0].notes[:5]] == [62, 64, 66, 67, 69]  # the seed, then new notes
    first = {path.name: path.read_bytes() for path in (folder / "melodia-output").iterdir()}
    assert run_command(command, folder) == 0
    assert "Run it again and the new melodies go to `melodia-output-2`" in README
    assert len(list((folder / "melodia-output-2").glob("*.mid"))) == 10
    assert {path.name: path.read_bytes() for path in (folder / "melodia-output").iterdir()} == first


def test_every_command_is_run_or_skipped_by_a_rule_that_is_used() -> None:
    commands = [command for _, block in command_blocks() for command in block]
    assert len(commands) > 25 and any(c.startswith("melodia style") for c in commands)
    used = {rule for command in commands for rule in SKIPPED if re.search(rule, command)}
    assert used == set(SKIPPED), f"rules that match no command: {set(SKIPPED) - used}"
    run = [command for command in commands if skip_reason(command) is None]
    assert all(command.removeprefix(".venv/bin/").startswith("melodia ") for command in run), run
    assert len(run) >= 15


def test_the_python_examples_run_in_a_fresh_interpreter(world: Path, tmp_path: Path) -> None:
    blocks = python_blocks()
    calls = inline_calls()
    assert len(blocks) == 2 and "melodia.style.stylize(score, \"string-quartet\", \"waltz\", 150)" in calls
    for item in ("tune.abc", "tune.mid"):
        shutil.copy(world / item, tmp_path / item)
    # first, right after `import melodia` (before anything imports its modules as a side effect), every name the
    # calls use is looked up as a reader's `melodia.style.stylize` would be
    names = sorted({call.split("(")[0] for call in calls if call.startswith("melodia.")}, key=lambda n: -n.count("."))
    program = "import functools\nimport melodia\n" + "".join(
        f"functools.reduce(getattr, {name.split('.')[1:]!r}, melodia)\n" for name in names) + "\n"
    program += "\n\n".join(code for _, code in blocks)
    program += "\n\nimport melodia\nfrom melodia import Constraints\nscore = melodia.read_score('tune.mid')\n"
    program += "".join(f"print(repr({call})[:60])\n" for call in calls)
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, cwd=tmp_path,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.glob("melody-*.mid")) == [f"melody-{n}.mid" for n in range(1, 5)]
    assert (tmp_path / "out.mid").is_file()


def test_dir_lists_the_lazy_names_and_modules_without_importing_them() -> None:
    code = ("import sys, melodia; names = dir(melodia); "
            "print(sorted(n for n in ('generate', 'stylize', 'load_model', 'harmonize', 'style', 'io', 'Constraints') "
            "if n in names), 'torch' in sys.modules); print(melodia.stylize is melodia.style.stylize, "
            "callable(melodia.infill), callable(melodia.infill))")  # the second time too, after its module's import
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.splitlines() == [
        "['Constraints', 'generate', 'harmonize', 'io', 'load_model', 'style', 'stylize'] False", "True True True"], \
        result.stderr


def test_the_style_counts_are_the_presets() -> None:
    from melodia.style import preset_names

    counts = {kind: len(preset_names(kind)) for kind in ("instrumentation", "rhythm", "styles")}
    stated = (f"({counts['instrumentation']} instrumentations, {counts['rhythm']} rhythms, {counts['styles']} "
              "combined styles)")
    assert stated in README.replace("\n", " ")
