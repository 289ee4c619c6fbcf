"""Guards on how melodia's modules import one another: layers, no circles, no private names (the theory
layer's own guard is in test_theory.py)."""

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


# The layers, bottom to top: a module imports only from its own layer and those below it (function bodies
# included; imports for type checking aside). The package root, which gathers the public names, sits on top.
LAYERS = [
    ("base", ["errors", "version", "settings", "limits", "gm", "resources"]),
    ("theory", ["theory"]),
    ("score", ["score"]),
    ("io", ["io", "feedback", "manifest"]),
    ("analysis", ["analysis", "metrics", "seed"]),
    ("media", ["media"]),
    ("tokens", ["tokenizers", "corpus"]),
    ("harmony", ["harmony"]),
    ("language model", ["lm"]),
    ("style", ["style"]),
    ("apps", ["apps", "__main__"]),
]
# Score's convenience methods (`score.write(...)`, `score.show()`) are the one way down to up: io and render.
CONVENIENCE = ("melodia.score", ("melodia.io", "melodia.media.display", "melodia.media.synth"))


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _layer(module: str) -> int:
    if module == "melodia":
        return len(LAYERS)
    top = module.split(".")[1]
    return next(index for index, (_, names) in enumerate(LAYERS) if top in names)


def _imports(modules: dict[str, Path]) -> list[tuple[str, str, int]]:
    """(importer, imported, line) for every import of one melodia module by another, function bodies included and
    `if TYPE_CHECKING:` blocks left out; `from melodia import settings` imports the module `melodia.settings`."""
    found = []
    for module, path in modules.items():
        tree = ast.parse(path.read_text())
        typing_only = {id(node) for block in ast.walk(tree) if isinstance(block, ast.If)
                       and "TYPE_CHECKING" in ast.unparse(block.test) for node in ast.walk(block)}
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("melodia"):
                submodules = [f"{node.module}.{alias.name}" for alias in node.names]
                targets = [name for name in submodules if name in modules] or [node.module]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names if alias.name.startswith("melodia")]
            else:
                continue
            found += [(module, target, node.lineno) for target in targets if target in modules and target != module]
    return [(a, b, line) for a, b, line in found if not (a == CONVENIENCE[0] and b.startswith(CONVENIENCE[1]))]


def test_every_module_has_a_layer() -> None:
    unplaced = []
    for module in _modules():
        try:
            _layer(module)
        except StopIteration:
            unplaced.append(module)
    assert not unplaced, f"give these modules a layer in LAYERS: {unplaced}"


def test_no_import_runs_up_the_layers() -> None:
    """Music theory at the bottom, the apps at the top: the style step may use the harmonizer, never the other way
    (io took its chord vocabulary from style, the harmonizer registered itself with style, controls read chords
    from style, play found its scratch folder in the corpus builder)."""
    upward = [f"{a} ({LAYERS[_layer(a)][0]}) imports {b} ({LAYERS[_layer(b)][0]}), line {line}"
              for a, b, line in _imports(_modules()) if _layer(b) > _layer(a)]
    assert not upward, "\n".join(upward)


def test_no_import_closes_a_circle() -> None:
    """No two modules import each other, however far round (there were four circles: generation and tunes,
    the tokenizer base and its schemes, the beam search and the sampler, and every module recording the version
    from the package root)."""
    graph: dict[str, set[str]] = {}
    for a, b, _ in _imports(_modules()):
        graph.setdefault(a, set()).add(b)
    circles = []
    for start in graph:
        seen, stack = set(), [(start, [start])]
        while stack:
            module, path = stack.pop()
            for target in graph.get(module, ()):
                if target == start:
                    circles.append(" -> ".join([*path, start]))
                elif target not in seen:
                    seen.add(target)
                    stack.append((target, [*path, target]))
    assert not circles, "\n".join(sorted(set(circles))[:10])
