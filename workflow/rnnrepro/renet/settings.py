"""One ReNet training job's settings: the ``renet.training`` keys it reads, each marked as
changing its results or only its speed (:mod:`rnnrepro.job_settings`).

Every key is required: config.yaml states each value with its source and the schema
(``renet.schema.yaml``) its type and range; nothing here holds a value of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from rnnrepro.job_settings import JobSettings, result, speed


@dataclass(frozen=True)
class TrainSettings(JobSettings):
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
    bf16: bool = result()          # bf16 autocast on CUDA: other rounding, other numbers
    eval_batch_size: int = speed()
