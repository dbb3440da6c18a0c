"""The package's architecture as a table: which layer may import which. Read from the source:
every import statement (inside functions too), relative imports resolved, and every
``importlib.import_module`` call, whose argument must be a literal module name (or an f-string
whose literal start names the package, as the data stage finds a dataset's reader); anything
the table does not allow fails.

Layers, bottom up: the root modules (``rnnrepro/*.py``: paths, files, checkpoints, the training
loop, ...), ``data`` (the processed-dataset format), the training stages ``memory``,
``increment`` and ``renet`` (none imports another), ``claims`` (and the published numbers),
``paper``, then ``results`` (results archives, provenance) and ``progress`` (plans, watching a
run, time limits); ``cli`` registers every command and nothing imports it back.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "workflow" / "rnnrepro"

STAGES = {"memory", "increment", "renet"}
ALLOWED = {
    "root": {"root"},
    "data": {"root"},
    "memory": {"root", "data"},
    "increment": {"root"},
    "renet": {"root", "data"},
    "claims": {"root", *STAGES},
    "paper": {"root", "claims", *STAGES},
    "results": {"root", "data", "paper", *STAGES},
    "progress": {"root", "results", *STAGES},
    "cli": {"root", "data", "claims", "paper", "results", "progress", *STAGES},
}


def layer(module: str, package: Path) -> str:
    """The layer of a module name: its subpackage, ``cli`` (``cli`` and ``__main__``) or
    ``root``."""
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in ("cli", "__main__"):
        return "cli"
    if len(parts) > 1 and (package / parts[1]).is_dir():
        return parts[1]
    return "root"


def _package_prefix(argument: ast.expr | None) -> str | None:
    """``rnnrepro.data`` for ``f"rnnrepro.data.{name}"``: the package an f-string's literal
    start names (its layer), or None."""
    if not isinstance(argument, ast.JoinedStr) or not argument.values:
        return None
    first = argument.values[0]
    if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
        return None
    package = first.value.rpartition(".")[0]
    return package if package.count(".") >= 1 else None


def imported_names(path: Path, package: Path) -> tuple[set[str], list[str]]:
    """The rnnrepro modules a file imports (relative imports resolved, ``import_module``
    literals included) and the problems found reading it (an ``import_module`` whose argument
    is not a literal)."""
    parts = path.relative_to(package.parent).with_suffix("").parts
    anchor = list(parts[:-1])
    names, problems = set(), []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join([*up, base] if base else up)
            names |= {base, *(f"{base}.{alias.name}" for alias in node.names)}
        elif (isinstance(node, ast.Call) and isinstance(node.func, (ast.Attribute, ast.Name))
              and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"):
            argument = node.args[0] if node.args else None
            prefix = _package_prefix(argument)
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                names.add(argument.value)
            elif prefix:
                names.add(prefix)
            else:
                problems.append(f"{path.name}:{node.lineno}: import_module of a computed name "
                                "(write the module's name, or at least its package, so its "
                                "layer can be checked)")
    return {name for name in names if name.split(".")[0] == "rnnrepro"}, problems


def violations(package: Path = PACKAGE) -> list[str]:
    """Every import the table does not allow, one per importing module and imported layer:
    ``module -> imported (layer may not import layer)``."""
    found = []
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        source = layer(module, package)
        if source not in ALLOWED:
            found.append(f"{module}: layer {source!r} is not in the table (add it to ALLOWED)")
            continue
        names, problems = imported_names(path, package)
        found += [f"{module}: {problem}" for problem in problems]
        by_layer: dict[str, str] = {}
        for name in sorted(names, key=len):
            by_layer.setdefault(layer(name, package), name)
        found += [f"{module} -> {name} ({source} may not import {target})"
                  for target, name in sorted(by_layer.items())
                  if target != source and target not in ALLOWED[source]]
    return found


def test_every_import_follows_the_table():
    assert violations() == []


def test_root_modules_import_no_stage():
    assert not ALLOWED["root"] - {"root"}


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the package to break."""
    copy = tmp_path / "rnnrepro"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


@pytest.mark.parametrize(("file", "line", "expected"), [
    ("memory/summary.py", "from rnnrepro.claims import evaluate",
     "rnnrepro.memory.summary -> rnnrepro.claims (memory may not import claims)"),
    ("memory/figures.py", "from rnnrepro.renet import datasets",
     "rnnrepro.memory.figures -> rnnrepro.renet (memory may not import renet)"),
    ("increment/train.py", "from ..paper import layout",
     "rnnrepro.increment.train -> rnnrepro.paper (increment may not import paper)"),
    ("renet/train.py", "importlib.import_module('rnnrepro.paper.layout')",
     "rnnrepro.renet.train -> rnnrepro.paper.layout (renet may not import paper)"),
    ("paths.py", "from rnnrepro.memory import runs",
     "rnnrepro.paths -> rnnrepro.memory (root may not import memory)"),
    ("data/processed.py", "importlib.import_module(name)",
     "rnnrepro.data.processed: processed.py:"),
    ("increment/train.py", "importlib.import_module(f'rnnrepro.claims.{name}')",
     "rnnrepro.increment.train -> rnnrepro.claims (increment may not import claims)"),
])
def test_a_forbidden_import_fails(tree, file, line, expected):
    path = tree / file
    path.write_text(path.read_text() + f"\n\ndef _added():\n    {line}\n")
    found = violations(tree)
    assert len(found) == 1 and found[0].startswith(expected), found


def test_a_package_outside_the_table_fails(tree):
    (tree / "extras").mkdir()
    (tree / "extras" / "__init__.py").write_text("")
    assert violations(tree) == ["rnnrepro.extras: layer 'extras' is not in the table "
                                "(add it to ALLOWED)"]


def test_no_function_is_over_60_lines():
    """Small functions: none of the package's is longer than 60 lines (docstring included)."""
    long = [f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name} "
            f"({node.end_lineno - node.lineno + 1} lines)"
            for path in sorted(PACKAGE.rglob("*.py"))
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > 60]
    assert long == []
