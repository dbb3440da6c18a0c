"""ReNet Table 1 (architectures: paper vs this run's config) and Table 2 (test errors)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rnnrepro.aggregate import Summary, from_columns
from rnnrepro.claims.published import renet_row
from rnnrepro.files import read_csv_columns
from rnnrepro.paper.layout import MIDRULE, Cell, Row, Table, cells, latex_text
from rnnrepro.paper.stats import MISSING, count, difference, mean_std, signed
from rnnrepro.renet.datasets import DISPLAY
from rnnrepro.renet.datasets import NAMES as RENET_DATASETS
from rnnrepro.renet.summary import ERROR_COLUMNS
from rnnrepro.renet.units import UNIT_NAMES

DATASET_NAMES = DISPLAY
ERROR_DECIMALS = 2


def _patch(patch: Sequence[int]) -> str:
    """Config patches are [height, width]; Table 1 prints w_p × h_p."""
    return f"[{patch[1]}×{patch[0]}]"


def _yes_no(flag: bool) -> str:
    return "yes" if flag else "no"


def architecture_rows(arch: Mapping[str, Any]) -> dict[str, str]:
    """Table 1's rows of one published architecture (published.yaml form)."""
    return {
        "n_re": str(arch["renet_layers"]),
        "patches": "–".join(_patch(p) for p in arch["patches"]),
        "d_re": "–".join(map(str, arch["hidden"])),
        "n_fc": str(len(arch["fc"])),
        "d_fc": "–".join(map(str, arch["fc"])) or MISSING,
        "f_fc": arch["fc_activation"],
        "cell": UNIT_NAMES.get(arch["cell"], arch["cell"]),
        "flip": _yes_no(arch["flip"]),
        "shift": _yes_no(arch["shift"]),
    }


def config_architecture(model: Mapping[str, Any]) -> dict[str, Any]:
    """A ``renet.models`` config entry in published.yaml form (FC activation: ReLU, in code)."""
    return {"renet_layers": len(model["layers"]),
            "patches": [layer["patch"] for layer in model["layers"]],
            "hidden": [layer["hidden"] for layer in model["layers"]],
            "fc": list(model["fc"]), "fc_activation": "max(0, x)", "cell": model["cell"],
            "flip": model["flip"], "shift": model["shift"]}


ROW_LABELS = (
    ("n_re", Cell("N_RE", latex=r"$N_{\mathrm{RE}}$")),
    ("patches", Cell("w_p × h_p", latex=r"$w_p \times h_p$")),
    ("d_re", Cell("d_RE", latex=r"$d_{\mathrm{RE}}$")),
    ("n_fc", Cell("N_FC", latex=r"$N_{\mathrm{FC}}$")),
    ("d_fc", Cell("d_FC", latex=r"$d_{\mathrm{FC}}$")),
    ("f_fc", Cell("f_FC", latex=r"$f_{\mathrm{FC}}$")),
    ("cell", Cell("Recurrent unit")),
    ("flip", Cell("Flipping")),
    ("shift", Cell("Shifting")),
)


def architectures_table(published: Mapping[str, Any], renet_settings: Mapping[str, Any],
                        preset: str) -> Table:
    """ReNet Table 1: each dataset's architecture in the paper and in this run's config."""
    arch = published["renet"]["architectures"]["datasets"]
    run = set(renet_settings.get("datasets", ()))
    models = renet_settings.get("models", {})
    paper_rows = {name: architecture_rows(arch[name]) for name in RENET_DATASETS}
    ours = {name: architecture_rows(config_architecture(models[name]))
            for name in RENET_DATASETS if name in run and name in models}
    header = [[Cell(""), *[Cell(DATASET_NAMES[n], span=2) for n in RENET_DATASETS]],
              [Cell(""), *[Cell(t) for _ in RENET_DATASETS for t in ("paper", "this run")]]]
    body: list[Row | str] = []
    for key, label in ROW_LABELS:
        row = [label]
        for name in RENET_DATASETS:
            row += [Cell(_stacked(paper_rows[name][key])),
                    Cell(_stacked(ours[name][key]) if name in ours else MISSING)]
        body.append(row)
    return Table(
        macro="rnnTableRenetArchitectures", label="tab:renet-architectures",
        title="ReNet Table 1: model architectures",
        caption=("ReNet Table 1: model architectures in the paper and in this run's "
                 f"configuration (`renet.models`, preset `{preset}`). Rows: number of ReNet "
                 "layers, patch sizes, units per ReNet layer, number and width of the fully "
                 "connected layers, their activation, the recurrent unit (Sec. 4.2 of the "
                 "paper) and the data augmentation. The FC activation max(0, x) is fixed in "
                 "the model code. — = dataset not run in this preset."),
        columns="l" + "cc" * len(RENET_DATASETS), header=header, body=body, wide=True,
        size="footnotesize", colsep="3pt")


def _stacked(text: str) -> str:
    """A long unit name on lines of its own: ``GRU,`` / ``reset before U`` / ``(paper eq.)``."""
    return text.replace(", ", ",\n").replace(" (", "\n(")


def read_errors(path: str) -> dict[str, Summary]:
    """``results/<preset>/renet/errors.csv``: each dataset's test error (%) over its seeds."""
    frame = read_csv_columns(path, ERROR_COLUMNS, rerun="renet_summary")
    return {str(row["dataset"]): from_columns(row, "test_error_percent", row["n"])
            for row in frame.to_dict("records")}


def errors_table(published: Mapping[str, Any], errors: Mapping[str, Summary],
                 preset: str) -> Table:
    """ReNet Table 2: literature rows, the paper's ReNet and the reproduced ReNet per dataset."""
    blocks = published["renet"]["test_errors"]["datasets"]
    header = [cells("Model", "Test error\n(%)", "n", "Δ (pp)")]
    body: list[Row | str] = []
    for index, name in enumerate(RENET_DATASETS):
        if index:
            body.append(MIDRULE)
        body.append([Cell(f"({chr(ord('a') + index)}) {DATASET_NAMES[name]}", span=4, align="l",
                          italic=True)])
        ours = errors.get(name)
        paper_error = float(renet_row(blocks[name])["error"])
        for row in blocks[name]["rows"]:
            value = f"{float(row['error']):.{ERROR_DECIMALS}f}"
            if row.get("renet"):
                body.append([Cell("ReNet (paper)", bold=True), Cell(value, bold=True),
                             Cell(""), Cell("")])
                body.append(cells("ReNet (reproduced)",
                                  mean_std(ours, ERROR_DECIMALS), count(ours),
                                  signed(difference(ours, paper_error), ERROR_DECIMALS)))
            else:
                mark = "*" if row.get("cnn") else ""
                body.append([Cell(row["model"] + mark,
                                  latex=latex_text(row["model"]) + (r"$^{*}$" if mark else "")),
                             Cell(value), Cell(""), Cell("")])
    return Table(
        macro="rnnTableRenetErrors", label="tab:renet-errors",
        title="ReNet Table 2: test errors",
        caption=("ReNet Table 2: test errors (%) reported in the literature (* = convolutional "
                 "network), the paper's ReNet (bold) and our reproduction with preset "
                 f"`{preset}`: mean ± sample std over n seeds when n > 1, Δ = reproduced − "
                 "published ReNet in percentage points. Each run is early-stopped on its "
                 "validation split and evaluated once on the test set. — = not run in this "
                 "preset."),
        columns="lrrr", header=header, body=body, size="footnotesize", colsep="4pt",
        stack_pm=True)

