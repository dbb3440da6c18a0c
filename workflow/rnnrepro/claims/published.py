"""The published numbers (``paper/published.yaml``): loading and shape checks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from rnnrepro.memory.runs import from_paper_name

RUN_METRICS = ("epoch", "acc", "val_acc", "loss", "val_loss")


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
    except (KeyError, TypeError, ValueError, AssertionError) as err:
        raise PublishedError(f"{path}: malformed ({err!r}); compare with its git history") from err
    return data


def _check(data: dict[str, Any]) -> None:
    renet = data["renet"]
    for name, arch in renet["architectures"]["datasets"].items():
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
        from_paper_name(row["model"])


def renet_row(dataset_block: dict[str, Any]) -> dict[str, Any]:
    """The paper's own (bold) ReNet row of a Table 2 block."""
    return next(row for row in dataset_block["rows"] if row.get("renet"))
