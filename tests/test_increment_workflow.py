"""The increment rules end to end through Snakemake: quick preset, one small (K, N)."""

from __future__ import annotations

import pandas as pd
import pytest

from conftest import QUICK, copy_repo, run_snakemake
from rnnrepro.files import read_json

OVERRIDE = """\
increment:
  tasks: [{base: 2, digits: 6}]
  orders: [simple, complicated]
  cells: [gru]
  epochs: 1
  batches_per_epoch: 40
  eval_every: 20
"""
TARGETS = ("results/quick/increment/summary.csv", "paper/figures/increment-K2-N6.pdf")


@pytest.mark.slow
def test_increment_rules_end_to_end(tmp_path):
    workdir = copy_repo(tmp_path / "repo")
    (workdir / "tiny.yaml").write_text(OVERRIDE)
    run_snakemake(workdir, *TARGETS, "--cores", "2", "--configfile", QUICK, "tiny.yaml")

    task = workdir / "results/quick/increment/K2-N6"
    assert (task / "permutation.json").exists() and (task / "holdout.npz").exists()
    summary = pd.read_csv(workdir / TARGETS[0])
    assert sorted(summary["order"]) == ["complicated", "simple"]
    assert set(summary["minibatches"]) == {40}
    for order in ("simple", "complicated"):
        run = task / order / "gru" / "seed0"
        assert sorted(p.name for p in run.iterdir()) == ["history.csv", "metrics.json"]
        assert pd.read_csv(run / "history.csv")["minibatch"].tolist() == [0, 20, 40]
        metrics = read_json(run / "metrics.json")
        assert metrics["holdout"]["exhaustive"] and metrics["holdout"]["size"] == 64
        assert (metrics["permutation"] is None) == (order == "simple")
    assert (workdir / "paper/figures/increment-K2-N6.png").exists()
    assert (workdir / "results/quick/logs/increment/K2-N6/complicated-gru-seed0.log").exists()

    again = run_snakemake(workdir, *TARGETS, "--cores", "2", "--configfile", QUICK, "tiny.yaml",
                          "--dry-run")
    assert "Nothing to be done" in again.stdout + again.stderr
