"""Reusing the quick run's training in a fresh clone: Snakemake's output cache (`--cache`) and the
results archive (`results/archive/quick.tar.gz`, `rnnrepro results unpack`). Neither may run a
training command; both must give the same `paper/tables.tex`."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from conftest import QUICK, copy_repo, run_snakemake

pytestmark = pytest.mark.slow
TRAINING_RULES = ("memory_train", "increment_train", "renet_train")
# The log each training command writes (`> {log}`): empty when no training command ran.
TRAINING_LOGS = ("memory/*/lr*/seed*.log", "increment/K*-N*/*-seed*.log", "renet/*/seed*.log")


def training_outputs(workdir: Path) -> set[str]:
    """Every training output of a finished run, relative to its root."""
    patterns = ("results/quick/memory/*/lr*/seed*/*", "results/quick/increment/K*-N*/*/*/seed*/*",
                "results/quick/renet/*/seed*/*")
    return {str(path.relative_to(workdir)) for pattern in patterns
            for path in workdir.glob(pattern) if path.suffix in (".csv", ".json")}


def training_logs(workdir: Path) -> list[Path]:
    """The training logs that a command wrote to (Snakemake creates a job's log file empty)."""
    logs = workdir / "results/quick/logs"
    return [path for pattern in TRAINING_LOGS for path in logs.glob(pattern)
            if path.stat().st_size]


def job_stats(output: str) -> Counter[str]:
    """Jobs per rule of Snakemake's "Job stats" table."""
    table = output.split("Job stats:", 1)[1].split("total", 1)[0]
    return Counter({m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", table, re.M)})


def runs_from_cache(output: str) -> set[str]:
    """Run folders a dry run takes from the cache (it names one output file per job)."""
    return {str(Path(path).parent) for path in re.findall(
        r"Output file (\S+) will be obtained from global between-workflow cache", output)}


def runs_of(paths: set[str]) -> set[str]:
    return {str(Path(path).parent) for path in paths}


def test_a_fresh_clone_takes_every_training_job_from_the_output_cache(quick_run, quick_cache,
                                                                      tmp_path):
    expected = training_outputs(quick_run)
    assert len(expected) == 26 * 3 + 18 * 2 + 2
    clone = copy_repo(tmp_path / "clone")

    plan = run_snakemake(clone, "-n", "--configfile", QUICK, cache=quick_cache)
    assert runs_from_cache(plan.stdout + plan.stderr) == runs_of(expected)
    assert len(runs_of(expected)) == 45

    run = run_snakemake(clone, "--cores", "2", "--configfile", QUICK, cache=quick_cache)
    log = run.stdout + run.stderr
    assert set(re.findall(r"Symlinking output file (\S+) from cache", log)) == expected
    assert training_logs(clone) == [], "no training command ran"
    assert (clone / "paper/tables.tex").read_bytes() == \
        (quick_run / "paper/tables.tex").read_bytes()

    # A training parameter changed: exactly that stage's jobs miss the cache and train.
    other = copy_repo(tmp_path / "other")
    plan = run_snakemake(other, "-n", "--configfile", QUICK, "--config", "memory={epochs: 3}",
                         cache=quick_cache)
    stats, cached = job_stats(plan.stdout), runs_from_cache(plan.stdout + plan.stderr)
    assert stats["memory_train"] == 26 and stats["increment_train"] == 18
    assert cached == {run for run in runs_of(expected)
                      if not run.startswith("results/quick/memory/")}


def test_an_archive_rebuilds_the_paper_in_a_fresh_clone_without_training(quick_run, tmp_path):
    archive = "results/archive/quick.tar.gz"
    run_snakemake(quick_run, archive, "--cores", "1", "--configfile", QUICK)
    clone = copy_repo(tmp_path / "clone")

    unpack = subprocess.run(
        [sys.executable, "-m", "rnnrepro", "results", "unpack", str(quick_run / archive),
         "--configfile", QUICK], cwd=clone, capture_output=True, text=True, timeout=300)
    assert unpack.returncode == 0, unpack.stderr
    assert "45 training runs (116 files) imported" in unpack.stderr

    target = "paper/main.pdf" if shutil.which("latexmk") else "paper/tables.tex"
    run = run_snakemake(clone, "--cores", "2", target, "--configfile", QUICK)
    stats = job_stats(run.stdout + run.stderr)
    assert stats["paper_tables"] == 1 and stats["memory_summary"] == 1
    assert not any(stats[rule] for rule in TRAINING_RULES), stats
    assert training_logs(clone) == []
    assert (clone / "paper/tables.tex").read_bytes() == \
        (quick_run / "paper/tables.tex").read_bytes()
    provenance = (clone / "paper/provenance.tex").read_text()
    assert "All 45 training runs were imported from archive" in provenance
    assert "quick.tar.gz" in provenance

    # Nothing reruns the imported runs: not the data jobs' new outputs (mtime), nor params,
    # code or input triggers, which Snakemake has no record of for them.
    again = run_snakemake(clone, "-n", target, "--configfile", QUICK)
    assert "Nothing to be done" in again.stdout + again.stderr
    # Once the config differs from the archive's for a stage, that stage trains again, alone.
    changed = run_snakemake(clone, "-n", "--configfile", QUICK,
                            "--config", "memory={epochs: 3}")
    stats = job_stats(changed.stdout)
    assert stats["memory_train"] == 26
    assert stats["increment_train"] == 0 and stats["renet_train"] == 0
