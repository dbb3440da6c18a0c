"""Figures of the memory-capacity experiment: Table 1 (one digit in every representation),
Fig. 8 (sample digits) and Fig. 9 (validation-accuracy curves of each group's best run)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from rnnrepro.data.processed import ProcessedDataset
from rnnrepro.memory.representations import display_name, parse, to_sequence
from rnnrepro.plotting import (
    COLUMN_WIDTH,
    FULL_WIDTH,
    line_styles,
    save_figure,
    save_not_run,
    setup_style,
)

CMAP = "gray_r"  # ink dark on white paper
# What each figure says in a preset that leaves the memory stage out.
NOT_RUN = "not run in this preset (memory.representations is empty)"
logging.getLogger("fontTools").setLevel(logging.WARNING)  # PDF font subsetting chatter


def plot_curves(curves_csv: str | Path, pdf_path: str | Path, png_path: str | Path) -> None:
    """Fig. 9: validation accuracy per epoch of each group's best variant (its mean over seeds;
    the range over seeds shaded when there are several); no rows: the stage was not run."""
    import matplotlib.pyplot as plt

    data = pd.read_csv(curves_csv)
    if data.empty:
        save_not_run(pdf_path, png_path, "Memory capacity: training curves", NOT_RUN)
        return
    setup_style()
    fig, ax = plt.subplots(figsize=(COLUMN_WIDTH, 2.9))
    styles = line_styles()
    for group, rows in data.groupby("group", sort=False):
        by_epoch = rows.groupby("epoch")["val_acc"]
        mean = by_epoch.mean()
        line, = ax.plot(mean.index, mean.to_numpy(), label=group, **next(styles))
        if rows["seed"].nunique() > 1:
            ax.fill_between(mean.index, by_epoch.min().to_numpy(), by_epoch.max().to_numpy(),
                            color=line.get_color(), alpha=0.15, linewidth=0)
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation accuracy")
    ax.legend(loc="upper center", bbox_to_anchor=(0.42, -0.27), ncol=2, frameon=False,
              fontsize=6, handlelength=2.2, columnspacing=0.8)
    if data["epoch"].max() <= 10:
        ax.set_xticks(sorted(data["epoch"].unique()))
    save_figure(fig, pdf_path, png_path)


def plot_gallery(image: np.ndarray, orders: Mapping[str, np.ndarray], pdf_path: str | Path,
                 png_path: str | Path) -> None:
    """Table 1: one image (28, 28) in every representation.

    28-step sequences are drawn as (steps x features) images, time running top to bottom (the
    paper's "upside-down order"); 784-step sequences as strips, time running left to right.
    """
    import matplotlib.pyplot as plt

    short = [n for n, o in orders.items() if o.shape[1] > 1]
    long = [n for n, o in orders.items() if o.shape[1] == 1]
    setup_style()
    cols = max(len(short), 1)
    heights = [FULL_WIDTH / cols * 1.25] * bool(short) + [0.32] * len(long)
    fig = plt.figure(figsize=(FULL_WIDTH, sum(heights) + 0.2))
    grid = fig.add_gridspec(len(heights), cols, height_ratios=heights)
    for i, name in enumerate(short):
        ax = fig.add_subplot(grid[0, i])
        ax.imshow(to_sequence(image[None], orders[name])[0], cmap=CMAP, vmin=0, vmax=1,
                  interpolation="nearest")
        base, perm = parse(name)
        ax.set_title(base if perm is None else f"{base}\nperm. {perm}", fontsize=6.5)
        ax.set_xticks([])
        ax.set_yticks([])
        if i == 0:
            ax.set_ylabel("step", fontsize=7)
    for j, name in enumerate(long):
        ax = fig.add_subplot(grid[bool(short) + j, :])
        strip = to_sequence(image[None], orders[name])[0].T  # (1, 784)
        ax.imshow(strip, cmap=CMAP, vmin=0, vmax=1, aspect="auto", interpolation="nearest")
        ax.set_yticks([])
        ax.set_ylabel(display_name(name), rotation=0, ha="right", va="center", fontsize=6.5)
        ax.set_xticks(np.arange(0, strip.shape[1] + 1, 112) - 0.5 if j == len(long) - 1 else [])
        if j == len(long) - 1:
            ax.set_xticklabels([str(t) for t in range(0, strip.shape[1] + 1, 112)])
            ax.set_xlabel("step", fontsize=7)
        ax.grid(False)
    save_figure(fig, pdf_path, png_path)


def plot_samples(images: np.ndarray, labels: Sequence[int], pdf_path: str | Path,
                 png_path: str | Path, columns: int = 10) -> None:
    """Fig. 8: sample digits (N, 28, 28) in a grid, each titled with its label."""
    import matplotlib.pyplot as plt

    rows = -(-len(images) // columns)
    setup_style()
    size = COLUMN_WIDTH / columns
    fig, axes = plt.subplots(rows, columns, figsize=(COLUMN_WIDTH, rows * size * 1.25),
                             squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, image, label in zip(axes.ravel(), images, labels, strict=False):
        ax.imshow(image, cmap=CMAP, vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(str(int(label)), fontsize=6.5, pad=1.5)
    save_figure(fig, pdf_path, png_path)


def dataset_images(data: ProcessedDataset, split: str, indices: Sequence[int]
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Selected images of a split in [0, 1] as (N, 28, 28) with their labels."""
    images, labels = data.images(split), data.labels(split)
    bad = [i for i in indices if not 0 <= i < len(labels)]
    if bad:
        raise ValueError(f"{data.root}: {split} split has {len(labels)} images; index {bad[0]} "
                         "is out of range")
    batch = data.normalize(images[list(indices)])
    scaled = (batch - batch.min()) / max(float(batch.max() - batch.min()), 1e-12)
    return scaled.reshape(len(indices), 28, 28), labels[list(indices)]
