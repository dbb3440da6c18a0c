"""``results/renet/summary.csv``: one row per ReNet run, read only from the runs' metrics.json.

The paper stage renders Table 2 from it (test errors, fractions in [0, 1]) and Table 1 from
config.yaml.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rnnrepro.files import read_json, write_csv

DATASET_ORDER = ("mnist", "cifar10", "svhn")
SUMMARY_COLUMNS = ("dataset", "seed", "test_error", "val_error", "best_epoch", "epochs_run",
                   "parameters")


def load_metrics(paths: Sequence[str | Path]) -> list[dict[str, Any]]:
    """Read every run's metrics.json, checking the keys the summary and figure use."""
    if not paths:
        raise ValueError("no runs given: pass at least one metrics.json")
    runs = []
    for path in paths:
        metrics = read_json(path)
        missing = set(SUMMARY_COLUMNS) - set(metrics)
        if missing:
            raise ValueError(f"{path}: missing key(s) {sorted(missing)}; rerun its renet_train "
                             "job")
        runs.append({**metrics, "path": Path(path)})
    seen: dict[tuple[str, int], Path] = {}
    for run in runs:
        key = (run["dataset"], run["seed"])
        if key in seen:
            raise ValueError(f"{run['path']} and {seen[key]} are both {key[0]} seed {key[1]}")
        seen[key] = run["path"]
    return sorted(runs, key=lambda r: (_dataset_rank(r["dataset"]), r["dataset"], r["seed"]))


def _dataset_rank(name: str) -> int:
    return DATASET_ORDER.index(name) if name in DATASET_ORDER else len(DATASET_ORDER)


def write_summary(metrics_paths: Sequence[str | Path], output: str | Path) -> list[dict]:
    rows = [{c: run[c] for c in SUMMARY_COLUMNS} for run in load_metrics(metrics_paths)]
    write_csv(output, rows, SUMMARY_COLUMNS)
    return rows
