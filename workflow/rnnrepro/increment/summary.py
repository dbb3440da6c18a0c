"""Every increment job's hold-out accuracies, from the jobs' metrics.json and history.csv: the
final ones (``summary.csv``, one row per job) and every evaluation (``evaluations.csv``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from rnnrepro.files import paired_runs, read_json

JOB_KEYS = ("base", "digits", "order", "cell", "seed")
SUMMARY_COLUMNS = (*JOB_KEYS, "minibatches", "final_digit_acc", "final_number_acc")
EVALUATION_COLUMNS = (*JOB_KEYS, "minibatch", "epoch", "train_loss", "digit_acc", "number_acc")


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


def evaluation_rows(metrics_paths: Sequence[str | Path], history_paths: Sequence[str | Path]
                    ) -> list[dict[str, Any]]:
    """Every evaluation of every job (its keys from metrics.json, its rows from the history.csv
    in the same folder), sorted like the summary."""
    import pandas as pd

    jobs = []
    for metrics_path, history_path in paired_runs(metrics_paths, history_paths):
        metrics = read_metrics(metrics_path)
        history = pd.read_csv(history_path)
        missing = [c for c in EVALUATION_COLUMNS[len(JOB_KEYS):] if c not in history.columns]
        if missing or history.empty:
            raise ValueError(f"{history_path}: empty or missing column(s) {missing}; rerun its "
                             "increment_train job")
        keys = {k: metrics[k] for k in JOB_KEYS}
        jobs.append((tuple(keys.values()), [
            {**keys, **{c: record[c] for c in EVALUATION_COLUMNS[len(JOB_KEYS):]}}
            for record in history.to_dict("records")]))
    return [row for _, rows in sorted(jobs, key=lambda job: job[0]) for row in rows]
