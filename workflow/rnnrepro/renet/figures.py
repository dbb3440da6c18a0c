"""Learning curves of the ReNet runs: training and validation error per epoch, one panel per
dataset (``paper/figures/renet-curves.pdf``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from rnnrepro import sanity
from rnnrepro.files import paired_runs
from rnnrepro.renet.datasets import DISPLAY
from rnnrepro.renet.summary import load_metrics

DATASET_NAMES = DISPLAY
HISTORY_COLUMNS = ("epoch", "train_error", "val_error")


def load_history(path: Path) -> pd.DataFrame:
    """A run's history.csv, checked for the columns drawn."""
    frame = sanity.read_history(path, HISTORY_COLUMNS)
    for column in ("train_error", "val_error"):
        sanity.check_column(path, frame, column, 0, 1)
    return frame


def _label_2_and_5(value: float, _pos: int) -> str:
    """Minor log-axis labels at 2x and 5x a power of ten only (1x are the major ticks)."""
    if value <= 0:
        return ""
    leading = round(value / 10 ** math.floor(math.log10(value)))
    return f"{value:g}" if leading in (2, 5) else ""


def plot_curves(metrics_paths: Sequence[str | Path], history_paths: Sequence[str | Path],
                output: str | Path, png: str | Path) -> None:
    """Train (dashed) and validation (solid) error in % per epoch; a dot marks the best epoch."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    from rnnrepro.plotting import COLUMN_WIDTH, FULL_WIDTH, save_figure, save_not_run, setup_style

    histories = dict(paired_runs(metrics_paths, history_paths))
    runs = load_metrics(metrics_paths)
    if not runs:
        save_not_run(output, png, "ReNet learning curves",
                     "not run in this preset (renet.datasets is empty)")
        return
    datasets = list(dict.fromkeys(run["dataset"] for run in runs))
    setup_style()
    width = COLUMN_WIDTH if len(datasets) == 1 else FULL_WIDTH
    fig, axes = plt.subplots(1, len(datasets), figsize=(width, 2.3), squeeze=False)
    palette = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, dataset in zip(axes[0], datasets, strict=True):
        for i, run in enumerate(r for r in runs if r["dataset"] == dataset):
            history = load_history(histories[run["path"]])
            color = palette[i % len(palette)]
            label = f"seed {run['seed']}"
            ax.plot(history["epoch"], history["val_error"] * 100, color=color,
                    linestyle="-", label=f"validation, {label}")
            ax.plot(history["epoch"], history["train_error"] * 100, color=color,
                    linestyle="--", label=f"training, {label}")
            best = history.loc[history["epoch"] == run["best_epoch"]]
            ax.plot(best["epoch"], best["val_error"] * 100, "o", color=color, markersize=3,
                    label="best validation epoch" if i == 0 else None)
        ax.set_title(DATASET_NAMES.get(dataset, dataset))
        ax.set_xlabel("epoch")
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _pos: f"{value:g}"))
        ax.yaxis.set_minor_formatter(FuncFormatter(_label_2_and_5))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(loc="upper right", frameon=False)
    axes[0][0].set_ylabel("error (%)")
    save_figure(fig, output, png)
