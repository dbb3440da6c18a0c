"""The equal-budget preset: M2's four representations, every run on the same 4 x 10,000
training images, and nothing else trained."""

from __future__ import annotations

from conftest import copy_repo, planned_memory_runs, planned_rules, run_snakemake

EQUAL_BUDGET = "workflow/presets/equal-budget.yaml"
REPRESENTATIONS = ("original", "transposed", "flattened", "transposed-flattened")


def test_equal_budget_plans_twelve_runs_of_one_budget(tmp_path):
    workdir = copy_repo(tmp_path / "repo")
    proc = run_snakemake(workdir, "-n", "-p", "--configfile", EQUAL_BUDGET)
    counts = planned_rules(proc.stdout)
    assert {rule for rule in counts if rule.endswith("_train")} == {"memory_train"}
    runs = planned_memory_runs(proc.stdout)
    assert sorted((rep, seed) for rep, _, seed, _ in runs) == sorted(
        (rep, seed) for rep in REPRESENTATIONS for seed in (0, 1, 2))
    assert {lr for _, lr, _, _ in runs} == {3e-5}
    assert {(settings["epochs"], settings["train_subset"]) for *_, settings in runs} == {
        (4, 10000)}
