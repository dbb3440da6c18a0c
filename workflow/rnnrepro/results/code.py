"""A digest of the code a training job runs, for the output cache's key.

Snakemake keys a cached job by its rule's command, params and inputs, not by the Python the
command imports. Each training rule therefore passes ``code_digest("rnnrepro.<stage>.train")``
as a parameter: the trainer module and every ``rnnrepro`` module it imports, transitively, as
Python parses them. Comments, docstrings and formatting do not count; any change to a statement
does, and makes the stage's runs train again (and miss the cache).
"""

from __future__ import annotations

import ast
import hashlib
from functools import cache
from pathlib import Path

PACKAGE = "rnnrepro"
_ROOT = Path(__file__).resolve().parents[1]  # the rnnrepro package folder


def _module_file(module: str, package_dir: Path) -> Path | None:
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    base = package_dir.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    """Every rnnrepro module ``tree`` imports (at any depth: imports inside functions too)."""
    found = set()
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in found if name.split(".")[0] == PACKAGE}


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return tree


def _parsed_modules(root: str, package_dir: Path) -> dict[str, ast.Module]:
    """``root`` and every rnnrepro module it imports, transitively, each parsed once."""
    found: dict[str, ast.Module] = {}
    pending = [root]
    while pending:
        module = pending.pop()
        path = _module_file(module, package_dir)
        if module in found or path is None:
            continue
        found[module] = ast.parse(path.read_text(), filename=str(path))
        pending.extend(_imports(found[module], module, path.name == "__init__.py"))
    return dict(sorted(found.items()))


def code_modules(root: str, package_dir: Path = _ROOT) -> list[str]:
    """The modules :func:`code_digest` covers (``package_dir``: the rnnrepro folder)."""
    return list(_parsed_modules(root, package_dir))


@cache
def code_digest(root: str, package_dir: Path = _ROOT) -> str:
    """sha256 (16 hex digits) over the parsed code of :func:`code_modules`."""
    digest = hashlib.sha256()
    for module, tree in _parsed_modules(root, package_dir).items():
        digest.update(f"{module}\n{ast.dump(_strip_docstrings(tree))}\n".encode())
    return digest.hexdigest()[:16]


# The module that trains each stage's jobs: its digest is in the output cache's key and in every
# results archive (``manifest.json`` ``code``), so both ways of reusing a run know its code.
TRAINERS = {stage: f"{PACKAGE}.{stage}.train" for stage in ("memory", "increment", "renet")}


def trainer_digests(package_dir: Path = _ROOT) -> dict[str, str]:
    """Per training stage, the digest of its trainer's code."""
    return {stage: code_digest(module, package_dir) for stage, module in TRAINERS.items()}
