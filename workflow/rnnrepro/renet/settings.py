"""One ReNet training job's settings: the ``renet.training`` keys it reads, each marked as
changing its results or only its speed (:mod:`rnnrepro.job_settings`).

Every key is required: config.yaml states each value with its source and the schema
(``renet.schema.yaml``) its type and range; nothing here holds a value of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rnnrepro.job_settings import JobSettings, result, speed


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
