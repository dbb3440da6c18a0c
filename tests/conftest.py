"""Shared fixtures: the repository root and one quick-preset run of the whole pipeline."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
QUICK = "workflow/presets/quick.yaml"
# Generated or run-state folders never copied into a test workspace.
_SKIP = {"results", ".snakemake", ".git", ".pytest_cache", ".ruff_cache", "__pycache__", "logs"}


def copy_repo(dest: Path) -> Path:
    """Copy the working tree (without results or run state) to ``dest`` and return it."""
    def ignore(folder: str, names: list[str]) -> set[str]:
        skip = {n for n in names if n in _SKIP or n.endswith(".egg-info")}
        if Path(folder).resolve() == (REPO / "paper").resolve():
            generated = {"figures", "tables.tex", "increment-table.tex", "provenance.tex",
                         "main.pdf"}
            skip |= {n for n in names
                     if n in generated or (n.startswith("main.") and n != "main.tex")}
        return skip

    shutil.copytree(REPO, dest, ignore=ignore)
    return dest


def run_snakemake(workdir: Path, *args: str, timeout: float = 1800,
                  cache: Path | None = None) -> subprocess.CompletedProcess:
    """Run snakemake in ``workdir`` (with ``--cache`` in the output cache ``cache``, if given);
    fail the test with its output if it fails."""
    cmd = [sys.executable, "-m", "snakemake", *args]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    if cache is not None:
        cmd.append("--cache")
        env["SNAKEMAKE_OUTPUT_CACHE"] = str(cache)
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=timeout,
                          env=env)
    if proc.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} failed ({proc.returncode}) in {workdir}:\n"
                    f"{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}")
    return proc


def planned_rules(plan: str) -> Counter[str]:
    """How many jobs of each rule a ``snakemake -n`` plan (or a run's log) lists."""
    return Counter(re.findall(r"^(?:local)?rule (\w+):$", plan, re.M))


def planned_memory_runs(plan: str) -> list[tuple[str, float, int, dict]]:
    """The memory training jobs of a ``snakemake -n -p`` plan, read from their printed
    commands: (representation, learning rate, seed, the ``--settings`` they train with)."""
    return [(rep, float(lr), int(seed), yaml.safe_load(settings)) for rep, lr, seed, settings
            in re.findall(r"--representation (\S+) --learning-rate (\S+) --seed (\d+) "
                          r"--settings '([^']*)'", plan)]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def quick_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The output cache (SNAKEMAKE_OUTPUT_CACHE) the quick run stores its training jobs in.

    With RNNREPRO_QUICK_RUN, RNNREPRO_QUICK_CACHE names the cache that run used.
    """
    reuse = os.environ.get("RNNREPRO_QUICK_CACHE")
    return Path(reuse) if reuse else tmp_path_factory.mktemp("output-cache")


@pytest.fixture(scope="session")
def quick_run(tmp_path_factory: pytest.TempPathFactory, quick_cache: Path) -> Path:
    """A copy of the repository on which the quick preset has run end to end (once per session),
    with ``--cache``: its training jobs are in ``quick_cache``.

    Set RNNREPRO_QUICK_RUN=<folder> to reuse a folder where the quick preset already ran.
    """
    reuse = os.environ.get("RNNREPRO_QUICK_RUN")
    if reuse:
        return Path(reuse)
    workdir = copy_repo(tmp_path_factory.mktemp("quick") / "repo")
    run_snakemake(workdir, "--cores", "2", "--configfile", QUICK, cache=quick_cache)
    return workdir


def path_without(folder: Path, *commands: str) -> str:
    """A PATH with every command of the current PATH except ``commands``: one folder of
    symlinks, so a test can run the pipeline on a machine "without" e.g. latexmk."""
    folder.mkdir(parents=True, exist_ok=True)
    for directory in os.environ["PATH"].split(os.pathsep):
        if not os.path.isdir(directory):
            continue
        for entry in os.scandir(directory):
            target = folder / entry.name
            if entry.name in commands or target.exists() or target.is_symlink():
                continue
            if os.access(entry.path, os.X_OK) and not entry.is_dir():
                target.symlink_to(entry.path)
    return str(folder)


@pytest.fixture(scope="session")
def repo_config() -> dict:
    """config.yaml as the Snakefile sees it (typed and validated by the schema): the values
    every stage's settings come from."""
    from rnnrepro.config_types import load

    return load(REPO)

