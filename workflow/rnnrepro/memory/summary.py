"""Tables 2-4 and the Fig. 9 curves of the memory-capacity experiment, from the runs' files.

Reads only each run's ``metrics.json`` and ``history.csv``, and writes tidy CSVs the paper stage
only formats (every number it prints is in one of them):

* ``table2_latency.csv``: latency mean of every run (the paper lists the 28-step groups);
* ``table3_runs.csv``: each run's best epoch by validation accuracy, sorted by it;
* ``variants.csv``: each (representation, learning rate) over its seeds: n, mean and sample std
  of every number Tables 2-4 print, and whether it is its group's best (:func:`best_variants`);
* ``groups.csv``: each group's latency over all its runs (Table 2's "mean" rows);
* ``table4_best.csv``: every run (seed) of each group's best variant (the paper's Table 4 rows);
* ``curves.csv``: per-epoch history of the runs in Table 4 (Fig. 9);
* ``epochs.csv``: per-epoch history of every run (what the claims are checked on);
* ``notes.json``: what the numbers mean and where they differ from the paper's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from rnnrepro import sanity
from rnnrepro.aggregate import column_names, summarize, summary_columns
from rnnrepro.files import paired_runs, write_csv, write_json
from rnnrepro.memory.representations import GROUP_ORDER, steps
from rnnrepro.memory.runs import BEST_KEYS, RUN_FOLDER, current_metrics, run_label
from rnnrepro.memory.settings import run_section

TABLE2_COLUMNS = ["variant", "representation", "group", "learning_rate", "seed", "steps",
                  "latency_mean"]
# A run's best epoch (Table 3's columns and the test set's) and its training budget: epochs run
# and training images (the claims flag comparisons of unequal budgets).
BEST_COLUMNS = ["epoch", *BEST_KEYS]
BUDGET_COLUMNS = ["epochs_run", "train_images"]
TABLE3_COLUMNS = ["variant", "representation", "group", "learning_rate", "seed", *BEST_COLUMNS,
                  *BUDGET_COLUMNS]
CURVE_COLUMNS = ["group", "variant", "representation", "learning_rate", "seed", "epoch", "acc",
                 "val_acc", "test_acc", "loss", "val_loss", "test_loss"]
EPOCH_COLUMNS = ["representation", "group", "learning_rate", "seed", "epoch", "acc", "val_acc",
                 "test_acc", "loss", "val_loss", "test_loss"]
# Summarized over seeds per variant: the reproduced columns of Tables 3 and 4, and Table 2's.
VARIANT_METRICS = ("epoch", "acc", "val_acc", "test_acc", "loss", "val_loss", "latency")
VARIANT_COLUMNS = ["variant", "representation", "learning_rate", "group", "n", "best",
                   *[c for m in VARIANT_METRICS for c in column_names(m)]]
GROUP_COLUMNS = ["group", "n", *column_names("latency")]
HISTORY_COLUMNS = {"epoch", "loss", "acc", "val_loss", "val_acc", "test_loss", "test_acc"}
METRIC_KEYS = {"variant", "representation", "group", "learning_rate", "seed", "steps", "best",
               "latency_mean", "sizes"}

NOTES = {
    "validation": (
        "The authors' 'vacc' and 'vloss' (Tables 3-4, Fig. 9; our val_acc and val_loss) were "
        "measured on the MNIST test "
        "set: their code passed the test set as Keras validation_data and picked the best "
        "epoch by it. Ours are measured on a held-out validation split cut from the end of "
        "the training images (data.mnist.splits: 10,000 in the full run), which also selects "
        "the best epoch; test accuracy and loss of that epoch are reported separately "
        "(test_acc, test_loss) and never used for selection."),
    "train_metrics": (
        "acc and loss are running means over the epoch's minibatches, as Keras reports them."),
    "latency": (
        "Latency of a test sample: the 1-based step from which the per-step prediction (output "
        "layer applied at every step) equals the final prediction and stays equal to the last "
        "step; compared with the final answer, not the label. latency_mean averages it over "
        "the test set, using the weights of the best epoch by validation accuracy. The paper's "
        "Table 2 lists the 28-step groups only; table2_latency.csv has every run."),
    "model": (
        "IRNN as in the authors' Keras code: 128 ReLU units, identity recurrent weights, "
        "N(0, 0.001^2) input weights, zero bias (PyTorch's second recurrent bias is frozen at "
        "zero, so parameter counts and RMSprop updates match Keras), Glorot-uniform output "
        "layer with zero bias (Keras' Dense default), RMSprop (rho 0.9, eps 1e-7 outside the "
        "square root), batch 16, cross-entropy on the last output, no clipping. Keras clips "
        "probabilities to [1e-7, 1 - 1e-7] inside its cross-entropy; we use the exact "
        "log-softmax."),
    "epoch": "Epochs are counted from 1 (epoch 1 = after the first pass over the training set).",
    "variant": ("variants.csv's variant: representation @ learning rate, e.g. "
                "'transposed@3e-05', summarized over its seeds (n, <metric>_mean, <metric>_std: "
                "sample std, empty when n = 1; latency = the runs' latency_mean). In "
                "table3_runs.csv and metrics.json, `variant` is its Table 3 name, with batch "
                "size and hidden size: 'transposed random permute 2@16@128@3e-05'."),
    "best": ("The best variant of a group has the highest mean validation accuracy over its "
             "seeds (ties: the first run label in alphabetical order). It is Table 4's row, "
             "table4_best.csv holds its runs and curves.csv their histories (Fig. 9)."),
}


def load_runs(metrics_paths: Sequence[str | Path], history_paths: Sequence[str | Path],
              settings: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Each run's metrics plus its history (the two lists name the runs in the same order;
    none: a preset without the memory stage, ``memory.representations: []``). ``settings``
    (``{memory: ...}``, the summary's): each history's epochs are checked against it."""
    memory = (settings or {}).get("memory")
    runs = []
    for path, history_path in paired_runs(metrics_paths, history_paths):
        metrics = current_metrics(sanity.read_metrics(path))
        missing = METRIC_KEYS - set(metrics)
        if missing:
            raise ValueError(f"{path}: missing key(s) {sorted(missing)}; rerun its memory_train "
                             "job")
        history = sanity.read_history(history_path, HISTORY_COLUMNS)
        check_run(path, metrics, history_path, history, memory)
        runs.append({**metrics, "history": history, "path": str(path)})
    return runs


def check_run(path: Path, metrics: Mapping[str, Any], history_path: Path,
              history: pd.DataFrame, memory: Mapping[str, Any] | None = None) -> None:
    """A run's files are what its folder says, hold possible numbers only and agree with each
    other: steps those of the representation, latency within them, the best epoch one row of
    the history and equal to it, as many epochs as the config trains (when ``memory`` given)."""
    fields = sanity.folder_fields(path, RUN_FOLDER)
    sanity.check_run(path, metrics, {"representation": fields["representation"],
                                     "learning_rate": float(fields["lr"]),
                                     "seed": int(fields["seed"])})
    length = steps(fields["representation"])
    sanity.check_value(path, "steps", metrics["steps"], length, length)
    sanity.check_value(path, "latency_mean", metrics["latency_mean"], 1, length)
    best = metrics["best"] if isinstance(metrics["best"], Mapping) else {}
    for key in ("acc", "val_acc", "test_acc"):
        sanity.check_value(path, f"best.{key}", best.get(key), 0, 1)
    for key in ("loss", "val_loss", "test_loss"):
        sanity.check_value(path, f"best.{key}", best.get(key), 0, math.inf)
    sizes = metrics["sizes"] if isinstance(metrics["sizes"], Mapping) else {}
    sanity.check_value(path, "sizes.train", sizes.get("train"), 1, math.inf)
    for column in ("acc", "val_acc", "test_acc"):
        sanity.check_column(history_path, history, column, 0, 1)
    for column in ("loss", "val_loss", "test_loss"):
        sanity.check_column(history_path, history, column, 0, math.inf)
    sanity.check_epochs(history_path, history)
    if memory is not None:
        sanity.check_length(history_path, history,
                            int(run_section(memory, fields["representation"])["epochs"]),
                            "epochs")
    epoch = sanity.check_integer(path, "best.epoch", best.get("epoch"), 1, len(history))
    sanity.check_row(path, best, history.iloc[epoch - 1], {k: k for k in BEST_KEYS},
                     f"the history's epoch {epoch} has", prefix="best.")


def _run_fields(run: Mapping[str, Any]) -> dict[str, Any]:
    return {k: run[k] for k in ("variant", "representation", "group", "learning_rate", "seed")}


def table2(runs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Latency mean per run, in the order given."""
    return [{**_run_fields(r), "steps": r["steps"], "latency_mean": r["latency_mean"]}
            for r in runs]


def table3(runs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Best epoch of each run by validation accuracy, sorted by it (descending)."""
    rows = [{**_run_fields(r), **{k: r["best"][k] for k in BEST_COLUMNS},
             "epochs_run": int(r["history"]["epoch"].max()),
             "train_images": int(r["sizes"]["train"])} for r in runs]
    return sorted(rows, key=lambda row: (-row["val_acc"], row["variant"], row["seed"]))


def variants(runs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each (representation, learning rate) over its seeds, with its group's best marked;
    sorted by run label."""
    by_label: dict[str, list[Mapping[str, Any]]] = {}
    for run in runs:
        by_label.setdefault(run_label(run["representation"], run["learning_rate"]), []).append(run)
    rows = []
    for label, seeds in sorted(by_label.items()):
        values = {m: [r["best"][m] for r in seeds] for m in VARIANT_METRICS if m != "latency"}
        values["latency"] = [r["latency_mean"] for r in seeds]
        first = seeds[0]
        row: dict[str, Any] = {"variant": label, "representation": first["representation"],
                               "learning_rate": first["learning_rate"], "group": first["group"],
                               "n": len(seeds), "best": False}
        for metric in VARIANT_METRICS:
            row.update(summary_columns(metric, summarize(values[metric])))
        rows.append(row)
    unknown = {row["group"] for row in rows} - set(GROUP_ORDER)
    if unknown:
        raise ValueError(f"unknown group(s) {sorted(unknown)} in the runs' metrics")
    best = best_variants(rows)
    for row in rows:
        row["best"] = best[row["group"]] == row["variant"]
    return rows


def best_variants(variant_rows: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """The one definition of "best" (Table 4, Fig. 9, table4_best.csv): per group, the run
    label with the highest mean validation accuracy over its seeds; ties: the first label."""
    best: dict[str, str] = {}
    for row in sorted(variant_rows, key=lambda r: (-r["val_acc_mean"], r["variant"])):
        best.setdefault(row["group"], row["variant"])
    return best


def groups(runs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each group's latency over all its runs (every variant and seed), in the paper's order."""
    rows = []
    for name in GROUP_ORDER:
        values = [r["latency_mean"] for r in runs if r["group"] == name]
        if values:
            rows.append({"group": name, "n": len(values),
                         **summary_columns("latency", summarize(values))})
    return rows


def table4(table3_rows: Sequence[Mapping[str, Any]], variant_rows: Sequence[Mapping[str, Any]]
           ) -> list[dict[str, Any]]:
    """Every run of each group's best variant, in Table 3's order."""
    best = {row["variant"] for row in variant_rows if row["best"]}
    return [dict(row) for row in table3_rows
            if run_label(row["representation"], row["learning_rate"]) in best]


def curves(runs: Sequence[Mapping[str, Any]], table4_rows: Sequence[Mapping[str, Any]]
           ) -> list[dict[str, Any]]:
    """Per-epoch history of each Table 4 run, in Table 4's order."""
    by_key = {(r["variant"], r["seed"]): r for r in runs}
    rows = []
    for best in table4_rows:
        run = by_key[(best["variant"], best["seed"])]
        for record in run["history"].to_dict("records"):
            rows.append({**_run_fields(run), **{k: record[k] for k in CURVE_COLUMNS[5:]}})
    return rows


def epochs(runs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per-epoch history of every run, sorted by representation, learning rate and seed."""
    rows = []
    for run in sorted(runs, key=lambda r: (r["representation"], r["learning_rate"], r["seed"])):
        fields = {k: run[k] for k in EPOCH_COLUMNS[:4]}
        for record in run["history"].to_dict("records"):
            rows.append({**fields, **{k: record[k] for k in EPOCH_COLUMNS[4:]}})
    return rows


def write_summary(metrics_paths: Sequence[str | Path], history_paths: Sequence[str | Path], *,
                  table2_path: str | Path, table3_path: str | Path, variants_path: str | Path,
                  groups_path: str | Path, table4_path: str | Path, curves_path: str | Path,
                  epochs_path: str | Path, notes_path: str | Path,
                  settings: Mapping[str, Any] | None = None) -> None:
    """Write every summary file (each atomically)."""
    runs = load_runs(metrics_paths, history_paths, settings)
    rows3 = table3(runs)
    variant_rows = variants(runs)
    rows4 = table4(rows3, variant_rows)
    write_csv(table2_path, table2(runs), columns=TABLE2_COLUMNS)
    write_csv(table3_path, rows3, columns=TABLE3_COLUMNS)
    write_csv(variants_path, variant_rows, columns=VARIANT_COLUMNS)
    write_csv(groups_path, groups(runs), columns=GROUP_COLUMNS)
    write_csv(table4_path, rows4, columns=TABLE3_COLUMNS)
    write_csv(curves_path, curves(runs, rows4), columns=CURVE_COLUMNS)
    write_csv(epochs_path, epochs(runs), columns=EPOCH_COLUMNS)
    write_json(notes_path, {**NOTES, "runs": len(runs),
                            "epochs": sorted({int(r["history"]["epoch"].max()) for r in runs}),
                            "settings": dict(settings or {})})
