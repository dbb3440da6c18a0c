"""Our increment table: final hold-out accuracies, simple vs complicated digit order, per (K, N)
and cell. Not a table of the paper (it shows these runs only as curves, Figs. 5-7)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from rnnrepro.aggregate import Summary, summarize
from rnnrepro.files import read_csv_columns
from rnnrepro.paper.layout import MIDRULE, Cell, Row, Table, cells
from rnnrepro.paper.stats import MISSING, count, mean_std, signed

SUMMARY_COLUMNS = ("base", "digits", "order", "cell", "seed", "minibatches", "final_digit_acc",
                   "final_number_acc")
ORDERS = ("simple", "complicated")
ACC_DECIMALS = 3


def read_summary(path: str) -> pd.DataFrame:
    """``results/<preset>/increment/summary.csv``, checked for the columns used here."""
    return read_csv_columns(path, SUMMARY_COLUMNS, rerun="increment_summary")


def _summaries(rows: pd.DataFrame) -> tuple[Summary | None, Summary | None]:
    return summarize(rows["final_digit_acc"]), summarize(rows["final_number_acc"])


def _delta(simple: Summary | None, complicated: Summary | None) -> float | None:
    return complicated.mean - simple.mean if simple and complicated else None


def increment_table(frame: pd.DataFrame, settings: Mapping[str, Any], preset: str) -> Table:
    """One row per (K, N) task and cell: both orders' final accuracies and their difference."""
    tasks = [(int(t["base"]), int(t["digits"])) for t in settings["tasks"]]
    tasks += sorted({(int(b), int(d)) for b, d in zip(frame["base"], frame["digits"],
                                                      strict=True)} - set(tasks))
    cell_names = list(settings["cells"])
    cell_names += sorted(set(frame["cell"]) - set(cell_names))
    header = [[Cell(""), Cell(""), Cell(""), Cell("simple order", span=3),
               Cell("complicated order", span=3), Cell("complicated − simple", span=2)],
              cells("Task", "Cell", "minibatches", "n", "digit acc", "number acc", "n",
                    "digit acc", "number acc", "Δ digit", "Δ number")]
    body: list[Row | str] = []
    for base, digits in tasks:
        if body:
            body.append(MIDRULE)
        task = frame[(frame["base"] == base) & (frame["digits"] == digits)]
        for index, cell in enumerate(cell_names):
            rows = task[task["cell"] == cell]
            by_order = {order: _summaries(rows[rows["order"] == order]) for order in ORDERS}
            minibatches = MISSING if rows.empty else str(int(rows["minibatches"].max()))
            deltas = [_delta(by_order["simple"][i], by_order["complicated"][i]) for i in (0, 1)]
            row = [Cell(f"K = {base}, N = {digits}" if index == 0 else ""), Cell(cell.upper()),
                   Cell(minibatches)]
            for order in ORDERS:
                digit, number = by_order[order]
                row += [Cell(count(number)), Cell(mean_std(digit, ACC_DECIMALS)),
                        Cell(mean_std(number, ACC_DECIMALS))]
            body.append([*row, *[Cell(signed(d, ACC_DECIMALS)) for d in deltas]])
    if not body:
        body.append([Cell("not run in this preset (increment.tasks is empty)", span=11,
                          align="l", italic=True)])
    return Table(
        macro="rnnTableIncrement", label="tab:increment-final",
        title="Increment task: final hold-out accuracies (ours)",
        caption=("Not a table of the paper (ours): final hold-out accuracies of the increment "
                 "task after the last minibatch, simple (least significant digit first) vs "
                 "complicated (fixed random digit order) input order. digit acc = share of "
                 "the 2N outputs that are right; number acc = share of hold-out numbers whose "
                 "N incremented digits are all right; Δ = complicated − simple. The "
                 "paper shows these runs only as curves (Figs. 5–7) and states no end point to "
                 f"compare with. Preset `{preset}`: mean ± sample std over n seeds when n > 1; "
                 "— = not run."),
        columns="llr" + "r" * 8, header=header, body=body, wide=True, size="footnotesize",
        stack_pm=True)
