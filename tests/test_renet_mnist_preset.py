"""The renet-mnist preset: one ReNet job, Table 1's MNIST model on the full MNIST, and nothing
else trained; a preset may leave the memory stage out (``memory.representations: []``) as it
may the increment and ReNet stages (dry run only: docs/renet-mnist.md has the real run)."""

from __future__ import annotations

import json
import re

from conftest import copy_repo, planned_rules, run_snakemake

RENET_MNIST = "workflow/presets/renet-mnist.yaml"


def test_renet_mnist_plans_one_renet_job_with_table_1s_mnist_model(tmp_path):
    workdir = copy_repo(tmp_path / "repo")
    proc = run_snakemake(workdir, "-n", "-p", "--configfile", RENET_MNIST)
    counts = planned_rules(proc.stdout)
    trained = {rule for rule in counts if rule.endswith("_train")}
    assert trained == {"renet_train"} and counts["renet_train"] == 1
    # The memory stage's summary and figures are planned with no runs and no data (they say
    # "not run"), as ReNet's are in a preset without it.
    assert "rnnrepro memory-summary --metrics  --histories " in proc.stdout
    assert "permutations" not in counts
    (job,) = re.findall(r"rnnrepro renet-train .*? --dataset (\S+) --seed (\d+) "
                        r"--settings '([^']*)'", proc.stdout)
    dataset, seed, settings = job[0], int(job[1]), json.loads(job[2])
    assert (dataset, seed) == ("mnist", 0)
    model = settings["model"]
    assert model["cell"] == "gru"
    assert model["layers"] == [{"patch": [2, 2], "hidden": 256}] * 2
    assert model["fc"] == [4096, 4096]
    assert model["flip"] is False and model["shift"] is True
    assert settings["training"]["precision"] == "bf16-mixed"
    assert settings["train_subset"] is None
