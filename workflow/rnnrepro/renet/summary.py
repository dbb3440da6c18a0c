"""The ReNet runs' summary, read only from their metrics.json:

* ``results/<preset>/renet/summary.csv``: one row per run (test errors as fractions in [0, 1]);
* ``results/<preset>/renet/errors.csv``: each dataset's test error in % over its seeds (n, mean,
sample
  std), the numbers Table 2 prints; the paper stage only formats them (Table 1 comes from
  config.yaml).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rnnrepro import sanity
from rnnrepro.aggregate import column_names, summarize, summary_columns
from rnnrepro.files import write_csv
from rnnrepro.renet.datasets import NAMES, RUN_FOLDER

DATASET_ORDER = NAMES
SUMMARY_COLUMNS = ("dataset", "seed", "test_error", "val_error", "best_epoch", "epochs_run",
                   "parameters")
ERROR_COLUMNS = ("dataset", "n", *column_names("test_error_percent"))


def load_metrics(paths: Sequence[str | Path]) -> list[dict[str, Any]]:
    """Read every run's metrics.json, checking the keys the summary and figure use (none: a
    preset without ReNet, ``renet.datasets: []``)."""
    runs = []
    for path in paths:
        metrics = sanity.read_metrics(path)
        missing = set(SUMMARY_COLUMNS) - set(metrics)
        if missing:
            raise ValueError(f"{path}: missing key(s) {sorted(missing)}; rerun its renet_train "
                             "job")
        check_run(Path(path), metrics)
        runs.append({**metrics, "path": Path(path)})
    seen: dict[tuple[str, int], Path] = {}
    for run in runs:
        key = (run["dataset"], run["seed"])
        if key in seen:
            raise ValueError(f"{run['path']} and {seen[key]} are both {key[0]} seed {key[1]}")
        seen[key] = run["path"]
    return sorted(runs, key=lambda r: (_dataset_rank(r["dataset"]), r["dataset"], r["seed"]))


def check_run(path: Path, metrics: Mapping[str, Any]) -> None:
    """A run's metrics are what its folder says and hold possible numbers only (errors are
    fractions: 0 to 1, i.e. 0 to 100 %)."""
    fields = sanity.folder_fields(path, RUN_FOLDER)
    sanity.check_run(path, metrics, {"dataset": fields["dataset"], "seed": int(fields["seed"])})
    for key in ("test_error", "val_error"):
        sanity.check_value(path, key, metrics[key], 0, 1)
    for key in ("test_loss", "val_loss"):
        if key in metrics:
            sanity.check_value(path, key, metrics[key], 0, math.inf)
    epochs = sanity.check_integer(path, "epochs_run", metrics["epochs_run"], 1, 10**6)
    sanity.check_integer(path, "best_epoch", metrics["best_epoch"], 1, epochs)


def _dataset_rank(name: str) -> int:
    return DATASET_ORDER.index(name) if name in DATASET_ORDER else len(DATASET_ORDER)


def errors(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each dataset's test error in percent over its seeds, in the summary's order."""
    out = []
    for dataset in dict.fromkeys(row["dataset"] for row in rows):
        values = [row["test_error"] * 100 for row in rows if row["dataset"] == dataset]
        out.append({"dataset": dataset, "n": len(values),
                    **summary_columns("test_error_percent", summarize(values))})
    return out


def write_summary(metrics_paths: Sequence[str | Path], output: str | Path,
                  errors_path: str | Path) -> list[dict]:
    """Write summary.csv (one row per run) and errors.csv (per dataset); return the runs' rows."""
    rows = [{c: run[c] for c in SUMMARY_COLUMNS} for run in load_metrics(metrics_paths)]
    write_csv(output, rows, SUMMARY_COLUMNS)
    write_csv(errors_path, errors(rows), ERROR_COLUMNS)
    return rows
