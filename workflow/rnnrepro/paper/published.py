"""The published numbers (``paper/published.yaml``): loading, shape checks, run-name mapping."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

RENET_DATASETS = ("mnist", "cifar10", "svhn")
RUN_METRICS = ("epoch", "acc", "vacc", "loss", "vloss")
# The paper's Table 3 model name: representation[ random permute k]@batch@hidden@learning rate.
_RUN_NAME = re.compile(r"^(?P<name>[a-z -]+?)(?: random permute (?P<perm>\d+))?"
                       r"@(?P<batch>\d+)@(?P<hidden>\d+)@(?P<lr>[0-9.e+-]+)$")


class PublishedError(ValueError):
    """published.yaml is missing something the tables need."""


def load(path: str | Path) -> dict[str, Any]:
    """Read published.yaml and check the blocks the tables use are all there."""
    path = Path(path)
    if not path.exists():
        raise PublishedError(f"{path}: not found (it is part of the repository; restore it)")
    data = yaml.safe_load(path.read_text())
    try:
        _check(data)
    except (KeyError, TypeError, AssertionError) as err:
        raise PublishedError(f"{path}: malformed ({err!r}); compare with its git history") from err
    return data


def _check(data: dict[str, Any]) -> None:
    renet = data["renet"]
    for name in RENET_DATASETS:
        arch = renet["architectures"]["datasets"][name]
        assert len(arch["patches"]) == len(arch["hidden"]) == arch["renet_layers"], name
        rows = renet["test_errors"]["datasets"][name]["rows"]
        assert sum(bool(r.get("renet")) for r in rows) == 1, f"{name}: one ReNet row"
        for row in rows:
            float(row["error"])
    memory = data["memory"]
    for row in memory["latency"]["rows"]:
        assert row["values"], row["model"]
    for block in ("runs", "best"):
        for row in memory[block]["rows"]:
            for key in RUN_METRICS:
                float(row[key])
    for row in memory["runs"]["rows"]:
        run_key(row["model"])


def run_key(model: str) -> tuple[str, str]:
    """(our representation, learning-rate label) of a Table 3 model name.

    ``transposed random permute 2@16@128@3e-05`` -> ``("transposed-perm2", "3e-05")``.
    """
    match = _RUN_NAME.match(model)
    if not match:
        raise PublishedError(f"cannot read the Table 3 model name {model!r}")
    name = match["name"]
    representation = name if match["perm"] is None else f"{name}-perm{match['perm']}"
    return representation, lr_label(float(match["lr"]))


def lr_label(lr: float) -> str:
    """``3e-05`` style label, as in result paths and the paper's run names."""
    return f"{float(lr):g}"


def renet_row(dataset_block: dict[str, Any]) -> dict[str, Any]:
    """The paper's own (bold) ReNet row of a Table 2 block."""
    return next(row for row in dataset_block["rows"] if row.get("renet"))
