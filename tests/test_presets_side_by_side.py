"""Presets live side by side in one clone: each keeps results/<preset>/, so switching between
them retrains nothing, and a command that names no preset over other presets' results stops in
one line instead of planning the full config's training."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest

from conftest import QUICK, REPO, copy_repo, run_snakemake
from rnnrepro.cli import main

pytestmark = pytest.mark.slow

PAPER_ROWS = "workflow/presets/paper-rows.yaml"


def trained(output: str) -> list[str]:
    return [rule for rule in re.findall(r"^(?:local)?rule (\w+):", output, re.M)
            if rule.endswith("_train")]


def test_a_second_preset_in_the_clone_leaves_the_first_untouched(quick_run, tmp_path,
                                                                  monkeypatch):
    """The quick run, then the shipped paper-rows archive unpacked and its tables rebuilt in
    the same clone, then the quick preset again: no training job anywhere, and the quick
    tables come back byte for byte."""
    workdir = copy_repo(tmp_path / "repo")
    shutil.copytree(quick_run / "results" / "quick", workdir / "results" / "quick",
                    symlinks=True)
    # The same clone keeps Snakemake's records of what made each file (params, inputs), which
    # rebuild paper/ when the preset changes; a copy takes them along.
    shutil.copytree(quick_run / ".snakemake" / "metadata", workdir / ".snakemake" / "metadata")
    quick_tables = (quick_run / "paper" / "tables.tex").read_bytes()

    monkeypatch.chdir(workdir)
    assert main(["results", "unpack", str(REPO / "runs" / "paper-rows.tar.gz"),
                 "--configfile", PAPER_ROWS]) == 0
    assert (workdir / "results/paper-rows/imported/archive.json").exists()
    rows = run_snakemake(workdir, "--cores", "2", "paper/tables.tex", "--configfile", PAPER_ROWS)
    assert not trained(rows.stdout + rows.stderr)
    assert "paper-rows" in (workdir / "paper/tables.tex").read_text()

    plan = run_snakemake(workdir, "-n", "results/archive/quick.tar.gz", "paper/tables.tex",
                         "--configfile", QUICK)
    assert not trained(plan.stdout + plan.stderr), plan.stdout[-3000:]
    quick = run_snakemake(workdir, "--cores", "2", "results/archive/quick.tar.gz",
                          "paper/tables.tex", "--configfile", QUICK)
    assert not trained(quick.stdout + quick.stderr)
    assert (workdir / "paper/tables.tex").read_bytes() == quick_tables
    assert (workdir / "results/archive/quick.tar.gz").stat().st_size > 0
    if shutil.which("latexmk") and shutil.which("pdftotext"):  # the quick PDF, from its runs
        pdf = run_snakemake(workdir, "--cores", "2", "paper/main.pdf", "--configfile", QUICK)
        assert not trained(pdf.stdout + pdf.stderr)
        text = subprocess.run(["pdftotext", str(workdir / "paper/main.pdf"), "-"],
                              capture_output=True, text=True, check=True).stdout
        assert "preset quick" in text and "paper-rows" not in text

    # No --configfile: one line naming both presets, no plan of the full config's training.
    done = subprocess.run([sys.executable, "-m", "snakemake", "-n", "paper/tables.tex"],
                          cwd=workdir, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert "results/ holds the results of the paper-rows, quick preset(s), not the full " \
           "config's: add --configfile workflow/presets/paper-rows.yaml or --configfile " \
           "workflow/presets/quick.yaml" in output
    assert not trained(output)
    full = subprocess.run([sys.executable, "-m", "snakemake", "-n", "paper/tables.tex",
                           "--config", "preset=full"], cwd=workdir, capture_output=True,
                          text=True, timeout=300)
    assert full.returncode == 0 and "memory_train" in full.stdout  # asked for: planned


def test_an_old_layout_results_folder_is_told_how_to_move(tmp_path):
    workdir = copy_repo(tmp_path / "repo")
    (workdir / "results" / "memory").mkdir(parents=True)
    (workdir / "results" / "data").mkdir()
    done = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--configfile", QUICK],
                          cwd=workdir, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert "results/ holds results in the layout before each preset had its own folder " \
           "(results/data/...): move them to the folder of the preset that made them, e.g. " \
           "mkdir results/quick && mv results/{data,memory} results/quick/" \
           in done.stdout + done.stderr
