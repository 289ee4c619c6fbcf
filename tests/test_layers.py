"""Guards on how melodia's modules import one another (the theory layer's own guard is in test_theory.py)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "melodia"


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")


def test_no_module_imports_another_modules_private_names() -> None:
    """A name with a leading underscore is its module's own; what another module needs is made public (infill
    took four of generation's private helpers, and batch, the studio and whole tunes its model loader)."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("melodia") \
                    and node.module != module:
                found += [f"{module} imports {node.module}.{alias.name}" for alias in node.names
                          if alias.name.startswith("_") and not alias.name.startswith("__")]
    assert not found, found
