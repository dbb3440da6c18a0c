"""The training jobs of a config: where each one writes (folder and log, relative to
``results/``), how many epochs or minibatches it trains and which validation metric it
reports, from the run and log patterns the rules use (each stage's: ``memory.runs``,
``increment.runs``, ``renet.datasets``), so
``rnnrepro progress`` reads the same files they write.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rnnrepro.increment import runs as increment_runs
from rnnrepro.memory import runs as memory_runs
from rnnrepro.renet import datasets as renet_datasets


@dataclass(frozen=True)
class TrainingJob:
    """One training job of the workflow: a model (experiment x variant x seed)."""

    stage: str                 # memory, increment or renet
    name: str                  # the run folder below the stage, e.g. original/lr3e-05/seed0
    folder: str                # below results/
    log: str                   # below results/
    length: int                # epochs (ReNet: at most; early stopping) or minibatches
    axis: str                  # "epoch" or "minibatch": the history's axis
    metric: str                # the validation column of its history
    kind: tuple[Any, ...]      # jobs of one kind train at one rate (for estimates)


def memory_jobs(config: Mapping[str, Any]) -> list[TrainingJob]:
    """Every IRNN run: representation x learning rate x seed (memory.pixel_runs applied)."""
    from rnnrepro.memory.representations import steps
    from rnnrepro.memory.settings import run_settings as memory_run_settings

    memory, jobs = config["memory"], []
    for representation in memory["representations"]:
        settings = memory_run_settings(config, representation)
        for lr in memory["learning_rates"]:
            for seed in memory["seeds"]:
                name = memory_runs.run_folder(representation, lr, seed)
                keys = {"representation": representation, "lr": memory_runs.lr_label(lr),
                        "seed": seed}
                jobs.append(TrainingJob(
                    "memory", name, memory_runs.RUN.format(**keys), memory_runs.LOG.format(**keys),
                    int(settings["epochs"]), "epoch", "val_acc",
                    ("memory", steps(representation), settings["train_subset"])))
    return jobs


def increment_jobs(config: Mapping[str, Any]) -> list[TrainingJob]:
    """Every increment job: task x order x cell x seed."""
    increment, jobs = config["increment"], []
    minibatches = int(increment["epochs"]) * int(increment["batches_per_epoch"])
    for task in increment["tasks"]:
        for order in increment["orders"]:
            for cell in increment["cells"]:
                for seed in increment["seeds"]:
                    keys = {**task, "order": order, "cell": cell, "seed": seed}
                    folder = increment_runs.RUN.format(**keys)
                    jobs.append(TrainingJob(
                        "increment", folder.removeprefix("increment/"), folder,
                        increment_runs.LOG.format(**keys), minibatches, "minibatch", "digit_acc",
                        ("increment", task["base"], task["digits"], cell)))
    return jobs


def renet_jobs(config: Mapping[str, Any]) -> list[TrainingJob]:
    """Every ReNet run: dataset x seed."""
    renet, jobs = config["renet"], []
    for dataset in renet["datasets"]:
        for seed in renet["seeds"]:
            keys = {"dataset": dataset, "seed": seed}
            folder = renet_datasets.RUN.format(**keys)
            jobs.append(TrainingJob(
                "renet", folder.removeprefix("renet/"), folder, renet_datasets.LOG.format(**keys),
                int(renet["training"]["max_epochs"]), "epoch", "val_error",
                ("renet", dataset)))
    return jobs


def training_jobs(config: Mapping[str, Any]) -> list[TrainingJob]:
    """Every training job of the configured workflow, stage by stage."""
    return [*memory_jobs(config), *increment_jobs(config), *renet_jobs(config)]
