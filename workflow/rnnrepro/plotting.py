"""Shared figure style: two-column paper sizes, readable in grayscale, saved as PDF and PNG."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import seaborn as sns

from rnnrepro.files import atomic_path

logging.getLogger("fontTools").setLevel(logging.WARNING)  # silence PDF font-subsetting chatter

COLUMN_WIDTH = 3.4   # inches, one column of a two-column paper
FULL_WIDTH = 7.0     # inches, both columns
LINESTYLES = ("-", "--", ":", "-.", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1)))
MARKERS = ("o", "s", "^", "D", "v", "x", "P", "*")


def setup_style() -> None:
    """Seaborn paper context, a colour-blind palette and serif fonts matching LaTeX."""
    sns.set_theme(context="paper", style="whitegrid", palette="colorblind",
                  rc={"font.family": "serif", "axes.titlesize": 8, "axes.labelsize": 8,
                      "xtick.labelsize": 7, "ytick.labelsize": 7, "legend.fontsize": 6.5,
                      "lines.linewidth": 1.1, "savefig.dpi": 200, "pdf.fonttype": 42})


def line_styles() -> Iterator[dict]:
    """Endless (colour, linestyle, marker) combinations that stay distinct in grayscale."""
    palette = sns.color_palette("colorblind")
    i = 0
    while True:
        yield {"color": palette[i % len(palette)], "linestyle": LINESTYLES[i % len(LINESTYLES)],
               "marker": MARKERS[i % len(MARKERS)], "markevery": 0.1, "markersize": 3}
        i += 1


def save_figure(fig: plt.Figure, pdf_path: str | Path, png_path: str | Path) -> None:
    """Save ``fig`` as a PDF and a PNG (each atomically) and close it."""
    pdf_path, png_path = Path(pdf_path), Path(png_path)
    for path, suffix in ((pdf_path, ".pdf"), (png_path, ".png")):
        if path.suffix != suffix:
            raise ValueError(f"{path}: expected a {suffix} file name")
    fig.tight_layout()
    for path in (pdf_path, png_path):
        with atomic_path(path, suffix=path.suffix) as tmp:
            fig.savefig(tmp, format=path.suffix[1:], metadata=_metadata(path))
    plt.close(fig)


def save_not_run(pdf_path: str | Path, png_path: str | Path, title: str, reason: str) -> None:
    """A one-column figure saying what was not run and why: the paper includes every figure,
    and a preset may leave a stage out (e.g. ``increment.tasks: []``)."""
    setup_style()
    fig, ax = plt.subplots(figsize=(COLUMN_WIDTH, 1.0))
    ax.set_axis_off()
    ax.text(0.5, 0.62, title, ha="center", va="center", fontsize=8, weight="bold")
    ax.text(0.5, 0.3, reason, ha="center", va="center", fontsize=7, style="italic", wrap=True)
    save_figure(fig, pdf_path, png_path)


def _metadata(path: Path) -> dict:
    """Fixed metadata so the same data gives byte-identical files."""
    if path.suffix == ".pdf":
        return {"CreationDate": None, "Creator": "rnnrepro"}
    return {"Software": "rnnrepro"}
