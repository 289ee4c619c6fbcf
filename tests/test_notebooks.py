"""The notebooks run top to bottom on CPU, and are kept in git without outputs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from melodia.settings import tomllib

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_the_notebook_extra_brings_jupyter_and_the_test_extra_does_not() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    names = {kind: {re.split(r"[<>=;\[ ]", item)[0] for item in items} for kind, items in extras.items()}
    assert names["notebook"] & {"jupyterlab", "notebook"}
    assert not names["test"] & {"jupyterlab", "notebook"}  # CI installs the test extra: kept small


def test_there_are_five_notebooks() -> None:
    assert [p.name[:2] for p in NOTEBOOKS] == ["01", "02", "03", "04", "05"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_stored_without_outputs(path: Path) -> None:
    book = nbformat.read(path, as_version=4)
    code = [cell for cell in book.cells if cell.cell_type == "code"]
    assert code and all(not cell.outputs and cell.execution_count is None for cell in code)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MELODIA_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    shutil.copy(path, tmp_path / path.name)
    book = nbformat.read(tmp_path / path.name, as_version=4)
    client = NotebookClient(book, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    client.execute(env={**os.environ})
    outputs = [output for cell in book.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    kinds = {kind for o in outputs for kind in o.get("data", {})}
    assert "image/png" in kinds  # piano rolls and plots were drawn
    written = sorted(p.name for p in tmp_path.iterdir() if p.name not in (path.name, "cache"))
    if written and (ROOT / ".git").exists():  # run in notebooks/, what they write stays out of git
        ignored = subprocess.run(["git", "-C", str(ROOT), "check-ignore", *(f"notebooks/{n}" for n in written)],
                                 capture_output=True, text=True).stdout.split()
        assert ignored == [f"notebooks/{n}" for n in written]
