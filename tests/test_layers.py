"""Layers import one way: stages -> claims -> paper, and the CLI imports the stages' command
modules while nothing imports the CLI back. Read from the source (every import statement,
those inside functions too), so a lazy import cannot hide a cycle."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "workflow" / "rnnrepro"


def imports() -> dict[str, set[str]]:
    """Every rnnrepro module and the rnnrepro modules it imports."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                names |= {node.module, *(f"{node.module}.{a.name}" for a in node.names)}
        found[module] = {name for name in names if name.startswith("rnnrepro")}
    return found


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def test_claims_never_import_the_paper_stage():
    offenders = {module: sorted(n for n in names if within(n, "rnnrepro.paper"))
                 for module, names in imports().items() if within(module, "rnnrepro.claims")}
    assert not {m: n for m, n in offenders.items() if n}, offenders


def test_the_paper_stage_is_the_top_layer():
    """Nothing below the paper stage imports it (the results sharing writes provenance.tex
    with its LaTeX escaping, and ``cli`` registers its command)."""
    allowed = {"rnnrepro.cli", "rnnrepro.sharing.provenance"}
    offenders = {module: sorted(n for n in names if within(n, "rnnrepro.paper"))
                 for module, names in imports().items()
                 if not within(module, "rnnrepro.paper") and module not in allowed}
    assert not {m: n for m, n in offenders.items() if n}, offenders


def test_nothing_imports_the_cli_back():
    offenders = sorted(module for module, names in imports().items()
                       if module not in ("rnnrepro.cli", "rnnrepro.__main__")
                       and any(within(n, "rnnrepro.cli") for n in names))
    assert not offenders, offenders


def test_the_checker_sees_lazy_imports():
    """The claims command imports published.yaml's loader inside its handler: seen."""
    assert "rnnrepro.published" in imports()["rnnrepro.claims.commands"]
