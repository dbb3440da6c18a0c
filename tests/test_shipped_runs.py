"""Regression guard for the real runs shipped in ``runs/``: each archive, unpacked into a fresh
copy, rebuilds ``paper/tables.tex`` and ``results/<preset>/claims/verdicts.csv`` with no
training job, the verdicts equal the snapshot beside it (``runs/<preset>.verdicts.csv``), and
its tables print legibly in main.pdf. A code change
that alters what the same runs conclude fails here until the snapshot is deliberately updated
(runs/README.md says how)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from conftest import (
    REPO,
    build_main_pdf,
    copy_repo,
    layout_problems,
    run_snakemake,
    verdict_cell_problems,
)
from rnnrepro.cli import main

ARCHIVES = sorted((REPO / "runs").glob("*.tar.gz"))
# Compared as printed; the numbers within floating-point noise.
TEXT_COLUMNS = ["claim", "comparison", "reading", "n", "verdict", "reason", "magnitude",
                "budget", "n_needed", "readings", "units"]
NUMBER_COLUMNS = ["mean", "ci_low", "ci_high", "a_mean", "b_mean"]

pytestmark = pytest.mark.slow


def _preset(archive: Path) -> str:
    return archive.name.removesuffix(".tar.gz")


@pytest.mark.skipif(not ARCHIVES, reason="no results archive shipped in runs/ yet")
@pytest.mark.parametrize("archive", ARCHIVES, ids=_preset)
def test_shipped_archive_rebuilds_its_verdicts_without_training(archive, tmp_path,
                                                                monkeypatch):
    preset = _preset(archive)
    snapshot = archive.with_name(f"{preset}.verdicts.csv")
    assert snapshot.exists(), f"{snapshot} is missing: ship the snapshot with the archive"
    workdir = copy_repo(tmp_path / "repo")
    shutil.rmtree(workdir / "runs")
    configfile = f"workflow/presets/{preset}.yaml"
    monkeypatch.chdir(workdir)
    assert main(["results", "unpack", str(archive), "--configfile", configfile]) == 0
    proc = run_snakemake(workdir, "paper/tables.tex", "paper/increment-table.tex",
                         f"results/{preset}/claims/verdicts.csv", "--cores", "2",
                         "--configfile", configfile)
    ran = re.findall(r"^(?:local)?rule (\w+):", proc.stdout + proc.stderr, re.M)
    assert "paper_tables" in ran and not [rule for rule in ran if rule.endswith("_train")]
    rebuilt = pd.read_csv(workdir / f"results/{preset}/claims/verdicts.csv",
                          keep_default_na=False)
    expected = pd.read_csv(snapshot, keep_default_na=False)
    pd.testing.assert_frame_equal(rebuilt[TEXT_COLUMNS], expected[TEXT_COLUMNS])
    pd.testing.assert_frame_equal(
        rebuilt[NUMBER_COLUMNS].replace("", float("nan")).astype(float),
        expected[NUMBER_COLUMNS].replace("", float("nan")).astype(float), rtol=1e-9)
    if shutil.which("latexmk"):
        # Its main.pdf (figures stood in for: they need the data) prints every table at the
        # footnote size or larger, within the line and a page.
        tables = workdir / "paper/tables.tex"
        build = build_main_pdf(tmp_path / "build", tables, workdir / "paper/increment-table.tex")
        labels = set(re.findall(r"\\label\{(tab:[^}]*)\}", tables.read_text()))
        assert layout_problems((build / "latex/main.log").read_text(errors="replace"),
                               labels) == []
        assert verdict_cell_problems(tables.read_text(), tmp_path / "widths") == []


@pytest.mark.skipif(not (REPO / "runs" / "paper-rows.tar.gz").exists(), reason="not shipped")
def test_unpacking_with_the_wrong_preset_names_the_right_one_first(tmp_path, monkeypatch,
                                                                   capsys):
    """An archive unpacked without its preset is refused; the first line says which preset
    made it and the file to pass, then a few of the differing keys; nothing is written."""
    workdir = copy_repo(tmp_path / "repo")
    monkeypatch.chdir(workdir)
    archive = REPO / "runs" / "paper-rows.tar.gz"
    assert main(["results", "unpack", str(archive)]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert "was made with the paper-rows preset: pass --configfile " \
           "workflow/presets/paper-rows.yaml (you gave config.yaml alone)" in error[0]
    assert "Nothing was written" in error[0]
    assert len(error) <= 1 + 5 + 1  # the line, at most five keys, "... and N more"
    assert not (workdir / "results").exists() or not any((workdir / "results").rglob("*.csv"))
