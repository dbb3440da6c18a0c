"""One ReNet training job's settings: the ``renet.training`` keys it reads, each marked as
changing its results or only its speed (:mod:`rnnrepro.job_settings`).

Every key is required: config.yaml states each value with its source and the schema
(``renet.schema.yaml``) its type and range; nothing here holds a value of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rnnrepro.job_settings import RESULT, SPEED, JobSettings, result, speed


@dataclass(frozen=True)
class RenetSettings(JobSettings):
    """``renet.training`` of config.yaml."""

    WHERE = "renet.training"
    SCHEMA = ("renet.schema.yaml", ("properties", "training"))

    learning_rate: float = result()
    batch_size: int = result()
    dropout: float = result()
    input_mask: float = result()
    max_epochs: int = result()
    patience: int = result()
    recurrent_init: str = result()
    weight_decay: float = result()
    precision: str = result()      # fp32 | bf16-mixed: other rounding, other numbers
    eval_batch_size: int = speed()


def with_precision(training: Mapping[str, Any]) -> dict[str, Any]:
    """``renet.training`` as the current code reads it: a config written before ``precision``
    (archives of earlier runs) said ``bf16: false`` (float32 everywhere) or ``bf16: true``
    (bfloat16 autocast, CUDA only), now ``precision: fp32`` or ``bf16-mixed``."""
    values = dict(training)
    if "precision" not in values and "bf16" in values:
        values["precision"] = "bf16-mixed" if values.pop("bf16") else "fp32"
    return values


def run_settings(config: Mapping[str, Any], dataset: str) -> dict[str, Any]:
    """``--settings`` of one ReNet run, from the config: its dataset's model (Table 1), the
    result keys of ``renet.training``, the subset."""
    renet = config["renet"]
    training = {key: with_precision(renet["training"])[key]
                for key in RenetSettings.keys(RESULT)}
    return {"model": renet["models"][dataset], "training": training,
            "train_subset": renet["train_subset"]}


def run_speed(config: Mapping[str, Any]) -> dict[str, Any]:
    """``--speed`` of every ReNet run: the speed keys of ``renet.training``."""
    return {key: config["renet"]["training"][key] for key in RenetSettings.keys(SPEED)}
