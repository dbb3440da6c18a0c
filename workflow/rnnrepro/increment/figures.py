"""Figs. 5-7: hold-out accuracy vs minibatch, simple vs complicated, one panel per cell type.

Colour and marker tell the digit order apart, line style the metric (solid: per-digit accuracy,
the paper's curve; dotted: exact match of the incremented number), so the figure reads in
grayscale. With several seeds the line is their mean and a band spans min to max.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from rnnrepro.plotting import FULL_WIDTH, line_styles, save_figure, setup_style

CELL_ORDER = ("rnn", "lstm", "gru")
CELL_TITLES = {"rnn": "vanilla RNN (IRNN)", "lstm": "LSTM", "gru": "GRU"}
ORDERS = ("simple", "complicated")
METRICS = {"digit_acc": ("per-digit", "-"), "number_acc": ("exact match", ":")}


def read_history(path: str | Path) -> pd.DataFrame:
    """A job's history.csv, checked to hold the plotted columns."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: history file not found")
    frame = pd.read_csv(path)
    missing = [c for c in ("minibatch", *METRICS) if c not in frame.columns]
    if missing or frame.empty:
        raise ValueError(f"{path}: missing columns {missing} or no rows; "
                         "not an increment history.csv")
    return frame


def plot_task(runs: Sequence[tuple[dict[str, Any], pd.DataFrame]], base: int, digits: int,
              output: str | Path, png: str | Path) -> None:
    """Draw one (K, N) figure from (metrics, history) pairs and save it as PDF + PNG."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    frames = []
    for metrics, history in runs:
        if (metrics["base"], metrics["digits"]) != (base, digits):
            raise ValueError(f"run K={metrics['base']}, N={metrics['digits']} "
                             f"{metrics['order']} {metrics['cell']} does not belong to the "
                             f"K={base}, N={digits} figure")
        frames.append(history.assign(order=metrics["order"], cell=metrics["cell"],
                                     seed=metrics["seed"]))
    if not frames:
        raise ValueError(f"no runs to plot for K={base}, N={digits}")
    data = pd.concat(frames, ignore_index=True)
    cells = [c for c in CELL_ORDER if c in set(data["cell"])]

    setup_style()
    # A bottom row of its own holds the legend, so the layout save_figure tightens keeps it.
    fig, grid = plt.subplots(2, len(cells), figsize=(FULL_WIDTH, 2.5), squeeze=False,
                             gridspec_kw={"height_ratios": [1, 0.1]})
    axes = grid[0]
    for ax in axes[1:]:
        ax.sharey(axes[0])
        ax.tick_params(labelleft=False)
    legend_ax = fig.add_subplot(grid[1, 0].get_gridspec()[1, :])
    for ax in (*grid[1], legend_ax):
        ax.axis("off")
    styles = dict(zip(ORDERS, line_styles(), strict=False))
    for ax, cell in zip(axes, cells, strict=True):
        for order in ORDERS:
            subset = data[(data["cell"] == cell) & (data["order"] == order)]
            if subset.empty:
                continue
            style = styles[order]
            for metric, (metric_label, linestyle) in METRICS.items():
                stats = subset.groupby("minibatch")[metric].agg(["mean", "min", "max"])
                ax.plot(stats.index, stats["mean"], color=style["color"], linestyle=linestyle,
                        marker=style["marker"], markevery=style["markevery"],
                        markersize=style["markersize"],
                        fillstyle="full" if metric == "digit_acc" else "none",
                        label=f"{order}, {metric_label}")
                if subset["seed"].nunique() > 1:
                    ax.fill_between(stats.index, stats["min"], stats["max"],
                                    color=style["color"], alpha=0.15, linewidth=0)
        ax.set_title(CELL_TITLES[cell])
        ax.set_xlabel("minibatch")
        ax.set_ylim(0, 1.02)
        ax.xaxis.set_major_formatter(FuncFormatter(_thousands))
    axes[0].set_ylabel(f"hold-out accuracy (K={base}, N={digits})")
    handles, labels = axes[0].get_legend_handles_labels()
    legend_ax.legend(handles, labels, loc="center", ncol=len(labels), frameon=False)
    save_figure(fig, output, png)


def _thousands(value: float, _position: int) -> str:
    """Minibatch tick labels: 0, 500, 10k, 51.2k."""
    return f"{value / 1000:g}k" if abs(value) >= 1000 else f"{value:g}"
