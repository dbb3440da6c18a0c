"""The time limit a cluster job asks for, from the work the job does (``--profile slurm``).

Each training job counts its own work from the config, in the quantities its cost grows with
(:func:`memory_work`, :func:`increment_work`, :func:`renet_work`), and config.yaml's
``resources`` gives the seconds per quantity on each device. The first attempt asks for

    minutes + margin * sum(work[q] * seconds_per[device][q]) / 60

and a retry for ``attempt`` times as much. A 28-step memory run thus asks for a small fraction
of a 784-step one, and a preset that shortens the runs shortens their requests. No torch here:
the Snakefile computes this for every job of a dry run.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from rnnrepro.increment.settings import WEIGHT_BLOCKS
from rnnrepro.memory.representations import steps
from rnnrepro.memory.settings import run_settings as memory_run_settings
from rnnrepro.renet.flops import INPUT_SHAPES, training_flops


def training_images(config: Mapping[str, Any], dataset: str, subset: int | None) -> int:
    """Training images of a dataset: the configured split, or the subset when smaller."""
    train = config["data"][dataset]["splits"]["train"]
    return train if subset is None else min(subset, train)


def memory_work(config: Mapping[str, Any], representation: str) -> dict[str, float]:
    """Sequence steps trained (steps x epochs x training images, ``pixel_runs`` applied),
    sequences trained (a step's cost beside the steps: the minibatch's optimizer step and
    bookkeeping, which dominate at 28 steps) and sequence steps evaluated (validation and test
    images after every epoch)."""
    settings = memory_run_settings(config, representation)
    images = training_images(config, "mnist", settings["train_subset"])
    splits = config["data"]["mnist"]["splits"]
    length, epochs = steps(representation), settings["epochs"]
    return {"trained_step": float(length * epochs * images),
            "trained_sequence": float(epochs * images),
            "evaluated_step": float(length * epochs * (splits["validation"] + splits["test"]))}


def increment_work(config: Mapping[str, Any], base: int, digits: int,
                   cell: str) -> dict[str, float]:
    """Digit steps trained (minibatches x batch x 2N) and hold-out digits evaluated times the
    cell's weight blocks (evaluations x hold-out numbers x 2N x 1 for the IRNN, 3 for the GRU,
    4 for the LSTM: the evaluation's arithmetic grows with them)."""
    increment = config["increment"]
    minibatches = increment["epochs"] * increment["batches_per_epoch"]
    evaluations = math.ceil(minibatches / increment["eval_every"]) + 1
    holdout = min(base ** digits, increment["holdout_size"])
    length = 2 * digits
    return {"trained_digit": float(minibatches * increment["batch_size"] * length),
            "evaluated_block": float(evaluations * holdout * length * WEIGHT_BLOCKS[cell])}


def renet_work(config: Mapping[str, Any], dataset: str) -> dict[str, float]:
    """GFLOP of training (at most ``max_epochs`` epochs of the training images) and of the
    validation pass after each epoch (a forward pass: a third of a training step's FLOPs)."""
    renet = config["renet"]
    per_image = training_flops(renet["models"][dataset], INPUT_SHAPES[dataset]) / 1e9
    splits = config["data"][dataset]["splits"]
    images = training_images(config, dataset, renet["train_subset"]) + splits["validation"] / 3
    return {"gflop": renet["training"]["max_epochs"] * images * per_image}


def device_kind(device: str) -> str:
    """Which rates apply: ``cpu`` for device cpu, else ``gpu`` (a cluster job asks for one)."""
    return "cpu" if device == "cpu" else "gpu"


def seconds(resources: Mapping[str, Any], rule: str, work: Mapping[str, float],
            device: str) -> float:
    """The expected run time of a job of ``rule`` doing ``work`` on ``device`` at config.yaml's
    rates (core-seconds on the CPU), before the margin."""
    rates = resources[rule]["seconds_per"][device_kind(device)]
    unknown = sorted(set(work) - set(rates))
    if unknown:
        raise ValueError(f"resources.{rule}.seconds_per.{device_kind(device)} lacks "
                         f"{unknown} (config.yaml states a rate for each)")
    return sum(amount * rates[quantity] for quantity, amount in work.items())


def minutes(resources: Mapping[str, Any], rule: str, work: Mapping[str, float],
            device: str) -> int:
    """The first attempt's time limit of a job of ``rule`` doing ``work`` on ``device``."""
    expected = seconds(resources, rule, work, device)
    return math.ceil(resources[rule]["minutes"] + resources["margin"] * expected / 60)
