"""One table of every increment job's final hold-out accuracies, from the jobs' metrics.json."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rnnrepro.files import read_json

JOB_KEYS = ("base", "digits", "order", "cell", "seed")
SUMMARY_COLUMNS = (*JOB_KEYS, "minibatches", "final_digit_acc", "final_number_acc")


def read_metrics(path: str | Path) -> dict[str, Any]:
    """A job's metrics.json, checked to hold the summary's columns."""
    data = read_json(path)
    missing = [key for key in SUMMARY_COLUMNS if not isinstance(data, dict) or key not in data]
    if missing:
        raise ValueError(f"{path}: missing {missing}; not an increment metrics.json "
                         "(delete it and rerun its training job)")
    return data


def summary_rows(paths: Iterable[str | Path]) -> list[dict[str, Any]]:
    """Summary rows sorted by task, order, cell and seed; a job listed twice is an error."""
    rows: dict[tuple, dict[str, Any]] = {}
    for path in paths:
        metrics = read_metrics(path)
        key = tuple(metrics[k] for k in JOB_KEYS)
        if key in rows:
            raise ValueError(f"{path}: job {dict(zip(JOB_KEYS, key, strict=True))} "
                             "appears twice in the inputs")
        rows[key] = {column: metrics[column] for column in SUMMARY_COLUMNS}
    return [rows[key] for key in sorted(rows)]
