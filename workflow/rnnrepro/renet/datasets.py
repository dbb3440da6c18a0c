"""The ReNet stage's datasets, declared once (Visin et al., Tables 1-2): each one's name in the
config, rules and folders, its name in print, and its image shape; and where a ReNet job
writes below ``results/<preset>/`` (its run folder and log, as Snakemake patterns).

The commands' choices, the rules' wildcard, the summaries' order, the figures' and tables'
labels, the FLOP model behind the time limits and the config schema's enum all come from here
or are checked against it (tests/test_declarations.py).
"""

from __future__ import annotations

from dataclasses import dataclass


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
