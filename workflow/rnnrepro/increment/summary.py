"""Every increment job's hold-out accuracies, from the jobs' metrics.json and history.csv: the
final ones (``summary.csv``, one row per job) and every evaluation (``evaluations.csv``)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any

import pandas as pd

from rnnrepro import sanity
from rnnrepro.files import paired_runs
from rnnrepro.increment.runs import RUN_FOLDER

JOB_KEYS = ("base", "digits", "order", "cell", "seed")
SUMMARY_COLUMNS = (*JOB_KEYS, "minibatches", "final_digit_acc", "final_number_acc")
EVALUATION_COLUMNS = (*JOB_KEYS, "minibatch", "epoch", "train_loss", "digit_acc", "number_acc")


def read_metrics(path: str | Path) -> dict[str, Any]:
    """A job's metrics.json, checked to hold the summary's columns, possible numbers only, and
    the job its folder names."""
    data = sanity.read_metrics(path)
    missing = [key for key in SUMMARY_COLUMNS if key not in data]
    if missing:
        raise ValueError(f"{path}: missing {missing}; not an increment metrics.json "
                         "(delete it and rerun its training job)")
    fields = sanity.folder_fields(path, RUN_FOLDER)
    sanity.check_run(path, data, {"base": int(fields["base"]), "digits": int(fields["digits"]),
                                  "order": fields["order"], "cell": fields["cell"],
                                  "seed": int(fields["seed"])})
    for key in ("final_digit_acc", "final_number_acc"):
        sanity.check_value(path, key, data[key], 0, 1)
    sanity.check_value(path, "minibatches", data["minibatches"], 0, math.inf)
    return data


def read_history(path: str | Path) -> pd.DataFrame:
    """A job's history.csv: its columns, accuracies in [0, 1], training losses finite and
    non-negative (the first evaluation, before any training, has none)."""
    history = sanity.read_history(path, EVALUATION_COLUMNS[len(JOB_KEYS):])
    for column in ("digit_acc", "number_acc"):
        sanity.check_column(path, history, column, 0, 1)
    sanity.check_column(path, history, "train_loss", 0, math.inf, skip_first_nan=True)
    sanity.check_column(path, history, "minibatch", 0, math.inf)
    return history


def check_agreement(path: str | Path, metrics: dict[str, Any], history: pd.DataFrame) -> None:
    """metrics.json agrees with its history: evaluations from minibatch 0 on, in order, the
    last at ``minibatches``, whose accuracies are the final ones."""
    steps = pd.to_numeric(history["minibatch"], errors="coerce").tolist()
    if steps[0] != 0 or any(b <= a for a, b in pairwise(steps)):
        raise ValueError(f"{path}: its history's minibatches are not 0, then increasing; "
                         f"{sanity.RERUN}")
    sanity.check_integer(path, "minibatches", metrics["minibatches"], steps[-1], steps[-1])
    sanity.check_row(path, metrics, history.iloc[-1], {"final_digit_acc": "digit_acc",
                                                       "final_number_acc": "number_acc"},
                     "its history ends with")


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
    jobs = []
    for metrics_path, history_path in paired_runs(metrics_paths, history_paths):
        metrics = read_metrics(metrics_path)
        history = read_history(history_path)
        check_agreement(metrics_path, metrics, history)
        keys = {k: metrics[k] for k in JOB_KEYS}
        jobs.append((tuple(keys.values()), [
            {**keys, **{c: record[c] for c in EVALUATION_COLUMNS[len(JOB_KEYS):]}}
            for record in history.to_dict("records")]))
    return [row for _, rows in sorted(jobs, key=lambda job: job[0]) for row in rows]
