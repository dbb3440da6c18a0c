"""The cpu preset plans the runs its claims need (dry run only: the real run is documented in
docs/cpu-preset.md) and changes sizes only, never code paths."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import yaml

from conftest import copy_repo, planned_memory_runs, run_snakemake

REPO = Path(__file__).resolve().parents[1]
CPU = "workflow/presets/cpu.yaml"


def test_cpu_preset_plans_the_claims_runs(tmp_path):
    workdir = copy_repo(tmp_path / "repo")
    proc = run_snakemake(workdir, "-n", "--quiet", "rules", "--configfile", CPU)
    counts = Counter({rule: int(n) for rule, n in
                      re.findall(r"^(\w+)\s+(\d+)$", proc.stdout, re.M)})
    config = yaml.safe_load((REPO / CPU).read_text())
    seeds = config["memory"]["seeds"]
    assert len(seeds) >= 3 and config["memory"]["learning_rates"] == [3.0e-5]
    assert counts["memory_train"] == 13 * len(seeds)
    assert counts["increment_train"] == 18
    assert counts["renet_train"] == 1 and counts["claims"] == 1
    assert config["increment"]["epochs"] * config["increment"]["batches_per_epoch"] == 51200
    # The 784-step runs are shortened through memory.pixel_runs; the 28-step runs reach the
    # epochs the M5 claim needs (its min_epochs in paper/claims.yaml).
    claims = yaml.safe_load((REPO / "paper" / "claims.yaml").read_text())["claims"]
    m5 = next(c for c in claims if c["id"] == "M5")["comparisons"][0]["measure"]
    assert config["memory"]["epochs"] >= m5["min_epochs"]
    assert set(config["memory"]["pixel_runs"]) <= {"epochs", "train_subset"}


def test_pixel_runs_settings_reach_only_the_784_step_jobs(tmp_path):
    workdir = copy_repo(tmp_path / "repo")
    proc = run_snakemake(workdir, "-n", "-p", "--configfile", CPU, "--",
                         "results/cpu/memory/flattened-perm1/lr3e-05/seed2/metrics.json",
                         "results/cpu/memory/original/lr3e-05/seed2/metrics.json")
    settings = {rep: run_settings for rep, _, _, run_settings in planned_memory_runs(proc.stdout)}
    config = yaml.safe_load((REPO / CPU).read_text())["memory"]
    assert settings["flattened-perm1"]["epochs"] == config["pixel_runs"]["epochs"]
    assert settings["flattened-perm1"]["train_subset"] == config["pixel_runs"]["train_subset"]
    assert settings["original"]["epochs"] == config["epochs"]
    assert settings["original"]["train_subset"] is None
