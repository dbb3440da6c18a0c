"""The results tables claims are evaluated on, read from the experiments' summary files only
(the rule ``claims`` passes them; their paths are defined once, in ``workflow/rules/common.smk``:
``MEMORY_SUMMARY_OUTPUTS``, ``INCREMENT_EVALUATIONS``, ``RENET_SUMMARY``).

======================  =================================  =====================
table                   file(s) below results/<preset>/    one row per
======================  =================================  =====================
memory_runs             memory/summary/table3_runs.csv     IRNN run (best epoch)
                        + table2_latency.csv (latency_mean)
memory_epochs           memory/summary/epochs.csv          run and epoch
                        + table3_runs.csv (train_images, for the budget)
increment_evaluations   increment/evaluations.csv          job and evaluation
renet_runs              renet/summary.csv                  ReNet run
======================  =================================  =====================

``permutation`` (memory tables) is the permutation number of a random-permute representation
and -1 for the others.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from rnnrepro.claims.spec import TABLES
from rnnrepro.files import read_csv_columns
from rnnrepro.memory.representations import parse

NO_PERMUTATION = -1


def _permutation(frame: pd.DataFrame) -> pd.DataFrame:
    perms = [parse(name)[1] for name in frame["representation"]]
    return frame.assign(permutation=[NO_PERMUTATION if p is None else p for p in perms])


RUN_KEYS = ["representation", "learning_rate", "seed"]


def memory_runs(table3: str | Path, table2: str | Path) -> pd.DataFrame:
    """Each run's best epoch and budget (Table 3) with its latency (Table 2)."""
    spec = TABLES["memory_runs"]
    best_epoch = [c for c in spec.numeric if c != "latency_mean"]
    runs = read_csv_columns(table3, ("representation", "group", "learning_rate", "seed",
                                     *best_epoch, *spec.budget), rerun="memory_summary")
    latency = read_csv_columns(table2, ("representation", "learning_rate", "seed",
                                        "latency_mean"), rerun="memory_summary")
    merged = runs.merge(latency[[*RUN_KEYS, "latency_mean"]], on=RUN_KEYS, how="left",
                        validate="one_to_one")
    return _permutation(merged)


def memory_epochs(path: str | Path, table3: str | Path) -> pd.DataFrame:
    """Every run's history, one row per epoch, with the run's training images (Table 3)."""
    spec = TABLES["memory_epochs"]
    frame = read_csv_columns(path, ("representation", "group", "learning_rate", "seed",
                                    "epoch", *spec.numeric), rerun="memory_summary")
    runs = read_csv_columns(table3, (*RUN_KEYS, *spec.budget), rerun="memory_summary")
    merged = frame.merge(runs[[*RUN_KEYS, *spec.budget]], on=RUN_KEYS, how="left",
                         validate="many_to_one")
    return _permutation(merged)


def increment_evaluations(path: str | Path) -> pd.DataFrame:
    """Every increment job's hold-out evaluations."""
    spec = TABLES["increment_evaluations"]
    return read_csv_columns(path, (*spec.keys, "minibatch", *spec.numeric),
                            rerun="increment_summary")


def renet_runs(path: str | Path) -> pd.DataFrame:
    """One row per ReNet run (errors are fractions)."""
    spec = TABLES["renet_runs"]
    return read_csv_columns(path, (*spec.keys, *spec.numeric), rerun="renet_summary")


def load(paths: Mapping[str, str | Path]) -> dict[str, pd.DataFrame]:
    """Every table, from the paths keyed ``memory_runs``, ``memory_latency``,
    ``memory_epochs``, ``increment_evaluations`` and ``renet_runs``."""
    return {
        "memory_runs": memory_runs(paths["memory_runs"], paths["memory_latency"]),
        "memory_epochs": memory_epochs(paths["memory_epochs"], paths["memory_runs"]),
        "increment_evaluations": increment_evaluations(paths["increment_evaluations"]),
        "renet_runs": renet_runs(paths["renet_runs"]),
    }


def published_errors(published: Mapping[str, Any]) -> dict[str, tuple[float, list[float]]]:
    """Per dataset: the paper's ReNet test error and its convolutional rows' errors (percent),
    from a loaded ``published.yaml`` (Table 2)."""
    errors = {}
    for dataset, block in published["renet"]["test_errors"]["datasets"].items():
        rows = block["rows"]
        renet = next(float(r["error"]) for r in rows if r.get("renet"))
        errors[dataset] = (renet, [float(r["error"]) for r in rows if r.get("cnn")])
    return errors


def paper_tables(published: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """The memory paper's own numbers a claimed magnitude may be derived from: ``best`` (Table
    4: each group's best vacc) and ``latency`` (Table 2: the mean of each group's values)."""
    memory = published["memory"]
    return {
        "best": {row["model"]: float(row["val_acc"]) for row in memory["best"]["rows"]},
        "latency": {row["model"]: sum(map(float, row["values"])) / len(row["values"])
                    for row in memory["latency"]["rows"]},
    }
