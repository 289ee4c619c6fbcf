"""melodia as an installed package: a wheel, installed into a fresh virtual environment, used from a folder
outside the repository."""

from __future__ import annotations

import os
import re
import site
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEED = "D4 E4 F#4/8 G4/8 A4/2 key=D meter=6/8"


def run(command: list[str | Path], cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    result = subprocess.run([str(part) for part in command], cwd=cwd, env=env, capture_output=True, text=True)
    assert result.returncode == 0, f"{command}: {result.stderr[-2000:]}"
    return result.stdout


def fresh_install(tmp_path: Path) -> Path:
    """A new virtual environment holding the wheel built from this checkout; its dependencies are this
    environment's (a path file, so nothing is downloaded), never this checkout's melodia."""
    wheels = tmp_path / "wheels"
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", wheels, ROOT])
    wheel = next(wheels.glob("melodia-*.whl"))
    fresh = tmp_path / "fresh"
    venv.create(fresh, with_pip=False)
    python = fresh / "bin" / "python"
    fresh_site = Path(run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"]).strip())
    (fresh_site / "dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "-q", wheel])
    return fresh


def test_the_wheel_installs_and_every_main_command_works_outside_the_checkout(tmp_path: Path) -> None:
    fresh = fresh_install(tmp_path)
    user = tmp_path / "user"
    user.mkdir()
    env = {**os.environ, "MELODIA_CACHE": str(tmp_path / "cache")}
    env.pop("MELODIA_CORPORA", None)
    melodia = fresh / "bin" / "melodia"
    where = run([fresh / "bin" / "python", "-c", "import melodia; print(melodia.__file__)"], user, env)
    assert where.startswith(str(fresh)), where  # the installed copy, not the checkout
    run([melodia, "generate", "--seed", SEED, "--num", "2", "--bars", "8", "-o", "out"], user, env)
    assert sorted(p.name for p in (user / "out").iterdir()) == ["001.mid", "001.png", "002.mid", "002.png",
                                                                "manifest.json"]
    built = run([melodia, "corpus", "build", "chorales", "--quiet"], user, env)
    assert re.match(r"corpus chorales: [1-9]\d* pieces built", built), built
    run([melodia, "style", "out/001.mid", "--style", "celtic-jig", "-o", "jig.mid"], user, env)
    assert (user / "jig.mid").stat().st_size > 0
    report = run([melodia, "evaluate", "--model", "default", "out/001.mid"], user, env)
    assert "nats" in report
    (user / "job.toml").write_text(f'seeds = ["{SEED}"]\ncount = 2\nbars = 8\noutput = "batch"\n')
    run([melodia, "batch", "job.toml", "--quiet"], user, env)
    assert len(list((user / "batch").rglob("*.mid"))) == 2


def test_the_top_level_functions_keep_their_own_signatures_and_import_torch_only_when_used() -> None:
    code = ("import inspect, sys, melodia\n"
            "assert 'torch' not in sys.modules\n"
            "from melodia.lm.generation import generate\n"
            "from melodia.harmony import harmonize\n"
            "assert inspect.signature(melodia.generate) == inspect.signature(generate)\n"
            "assert melodia.harmonize is harmonize and melodia.Constraints.__module__ == 'melodia.lm.constraints'\n"
            "assert 'constraints' in inspect.signature(melodia.generate).parameters\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_every_package_of_melodia_is_in_the_wheel() -> None:
    """pyproject.toml lists the packages the wheel holds: one left out installs a melodia that cannot import it
    (melodia.analysis, then melodia.apps, did so when they were made)."""
    from melodia.settings import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    packages = {".".join(init.parent.relative_to(ROOT).parts) for init in (ROOT / "melodia").rglob("__init__.py")}
    assert packages <= listed, sorted(packages - listed)
