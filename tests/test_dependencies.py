"""What the README's commands need is declared by the package itself, not left to whatever a
developer's environment happens to hold."""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]


def declared() -> dict[str, Requirement]:
    """The installed package's own requirements (its metadata, as pip installed it)."""
    return {Requirement(r).name.lower(): Requirement(r)
            for r in importlib.metadata.requires("rnnrepro") or []
            if "extra ==" not in r}


def test_the_report_command_needs_nothing_undeclared():
    """`snakemake --report` needs Snakemake's `reports` extra (pygments): rnnrepro declares it,
    and the conda environment pins every package of it."""
    snakemake = declared()["snakemake"]
    assert "reports" in snakemake.extras
    extra = [Requirement(r) for r in importlib.metadata.requires("snakemake")
             if re.search(r"""extra\s*==\s*["']reports["']""", r)]
    assert extra, "Snakemake's metadata lists no reports extra"
    conda = (ROOT / "envs" / "rnnrepro.yaml").read_text()
    for requirement in extra:
        assert re.search(rf"^\s*- {requirement.name}==", conda, re.M), requirement.name
