"""One memory training run's settings: the ``memory:`` keys it reads, each marked as changing
its results or only its speed (:mod:`rnnrepro.job_settings`).

Every key is required: config.yaml states each value with its source and the schema
(``memory.schema.yaml``) its type and range; nothing here holds a value of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rnnrepro.job_settings import RESULT, JobSettings, RMSprop, result, speed
from rnnrepro.memory.representations import PIXELS, steps


@dataclass(frozen=True)
class MemorySettings(JobSettings):
    """The ``memory:`` keys one run reads (``memory.pixel_runs`` already applied)."""

    WHERE = "memory"
    SCHEMA = ("memory.schema.yaml", ())

    hidden_size: int = result()
    batch_size: int = result()
    epochs: int = result()
    input_weight_std: float = result()
    rmsprop: RMSprop = result()
    train_subset: int | None = result()
    eval_batch_size: int = speed()


def run_section(memory: Mapping[str, Any], representation: str) -> dict[str, Any]:
    """The ``memory:`` section as one run of ``representation`` reads it: for the 784-step
    representations, ``memory.pixel_runs`` (epochs, train_subset) over the section's values."""
    section = dict(memory)
    if steps(representation) == PIXELS:
        section.update(memory.get("pixel_runs") or {})
    return section


def run_settings(config: Mapping[str, Any], representation: str,
                 kind: str = RESULT) -> dict[str, Any]:
    """``--settings`` (``kind`` RESULT) or ``--speed`` (SPEED) of one memory run, from the
    config, with ``memory.pixel_runs`` applied to the 784-step representations."""
    memory = run_section(config["memory"], representation)
    return {key: memory[key] for key in MemorySettings.keys(kind)}
