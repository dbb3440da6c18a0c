"""The paper-rows preset: the 28-step row and column runs at the paper's budget, and nothing
else trained; a preset may leave the increment and ReNet stages out (the paper still builds)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import QUICK, copy_repo, planned_memory_runs, planned_rules, run_snakemake

PAPER_ROWS = "workflow/presets/paper-rows.yaml"
ROWS = ("original", "transposed", "original-perm0", "transposed-perm0")


def test_paper_rows_plans_exactly_the_twelve_long_runs(tmp_path):
    workdir = copy_repo(tmp_path / "repo")
    proc = run_snakemake(workdir, "-n", "-p", "--configfile", PAPER_ROWS)
    counts = planned_rules(proc.stdout)
    trained = {rule for rule in counts if rule.endswith("_train")}
    assert trained == {"memory_train"} and counts["memory_train"] == 12
    runs = planned_memory_runs(proc.stdout)
    assert sorted((rep, seed) for rep, _, seed, _ in runs) == sorted(
        (rep, seed) for rep in ROWS for seed in (0, 1, 2))
    for _, lr, _, settings in runs:
        assert lr == 3e-5
        assert settings["epochs"] == 250
        assert settings["train_subset"] is None


def _without_stages(workdir: Path) -> str:
    """A config file leaving the increment and ReNet stages out, as paper-rows does."""
    path = workdir / "no-stages.yaml"
    path.write_text(yaml.safe_dump({"increment": {"tasks": []}, "renet": {"datasets": []}}))
    return path.name


@pytest.mark.slow  # the full quick-run fixture: minutes
def test_a_preset_without_increment_and_renet_builds_the_paper(quick_run, quick_cache,
                                                                tmp_path):
    """The quick memory runs (restored from the quick run's output cache: no training job
    runs) with the other two stages left out: their summaries are empty, their figures say they
    were not run, their claims read "not run", and the paper still compiles."""
    workdir = copy_repo(tmp_path / "repo")
    shutil.copytree(quick_run / "results/quick/data", workdir / "results/quick/data")
    extra = _without_stages(workdir)
    proc = run_snakemake(workdir, "--cores", "2", "--configfile", QUICK, extra,
                         cache=quick_cache)
    assert not re.search(r"^rule \w+_train:", proc.stdout + proc.stderr, re.M)
    assert pd.read_csv(workdir / "results/quick/increment/evaluations.csv").empty
    assert pd.read_csv(workdir / "results/quick/renet/summary.csv").empty
    verdicts = pd.read_csv(workdir / "results/quick/claims/verdicts.csv")
    assert set(verdicts.loc[verdicts["claim"].isin(["M6", "R1"]), "verdict"]) == {"not run"}
    assert (verdicts.loc[verdicts["claim"] == "M1", "n"] >= 1).all()
    for name in ("increment-K2-N32", "increment-K10-N7", "increment-K4-N15", "renet-curves"):
        assert (workdir / "paper/figures" / f"{name}.png").stat().st_size > 0
    increment_table = (workdir / "paper/increment-table.tex").read_text()
    assert "not run in this preset" in increment_table
    if shutil.which("latexmk"):
        assert (workdir / "paper/main.pdf").stat().st_size > 0


@pytest.mark.parametrize("stage", ["increment", "renet"])
def test_figure_of_a_stage_left_out_says_so(tmp_path, stage):
    """The placeholder figure is drawn by the stage's own command with no runs given."""
    from rnnrepro.cli import main

    pdf, png = tmp_path / "f.pdf", tmp_path / "f.png"
    if stage == "increment":
        args = ["increment-figure", "--base", "2", "--digits", "32", "--history", "--metrics"]
    else:
        args = ["renet-figure", "--metrics", "--histories"]
    assert main([*args, "--output", str(pdf), "--png", str(png)]) in (0, None)
    assert pdf.read_bytes().startswith(b"%PDF") and png.stat().st_size > 0
