"""The ReNet stage's datasets, declared once (Visin et al., Tables 1-2): each one's name in the
config, rules and folders, its name in print, and its image shape; and where a ReNet job
writes below ``results/<preset>/`` (its run folder and log, as Snakemake patterns).

The commands' choices, the rules' wildcard, the summaries' order, the figures' and tables'
labels, the FLOP model behind the time limits and the config schema's enum all come from here
or are checked against it (tests/test_declarations.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Dataset:
    """One ReNet dataset."""

    name: str                            # config, rules, folders: results/<preset>/renet/<name>
    display: str                         # in figures and tables
    input_shape: tuple[int, int, int]    # channels, height, width of an image


DATASETS = (
    Dataset("mnist", "MNIST", (1, 28, 28)),
    Dataset("cifar10", "CIFAR-10", (3, 32, 32)),
    Dataset("svhn", "SVHN", (3, 32, 32)),
)
NAMES = tuple(dataset.name for dataset in DATASETS)    # the paper's order
DISPLAY = {dataset.name: dataset.display for dataset in DATASETS}
INPUT_SHAPES = {dataset.name: dataset.input_shape for dataset in DATASETS}

RUN_FOLDER = "{dataset}/seed{seed}"
RUN = f"renet/{RUN_FOLDER}"
LOG = "logs/renet/{dataset}/seed{seed}.log"


def config_problems(config: Mapping[str, Any]) -> list[str]:
    """What the config lacks for the datasets it runs (``renet.datasets``): each must be
    declared here and have its model (``renet.models.<name>``), its raw files
    (``data.files.<name>``) and its preparation keys (``data.<name>``)."""
    problems = []
    for name in config["renet"]["datasets"]:
        if name not in NAMES:
            problems.append(f"renet.datasets: {name!r} is not a declared dataset "
                            f"({', '.join(NAMES)}); declare it in "
                            "workflow/rnnrepro/renet/datasets.py")
            continue
        needs = {f"renet.models.{name}": name in config["renet"]["models"],
                 f"data.files.{name}": name in config["data"]["files"],
                 f"data.{name}": name in config["data"]}
        problems += [f"{key}: missing; renet.datasets runs {name}, which needs it"
                     for key, present in needs.items() if not present]
    return problems
