"""The ``renet.training`` config section as one training job reads it (``--settings``).

Every key is required: config.yaml states each value with its source, the schema checks it, and
nothing here falls back to a value of its own (one place for every default).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True)
class TrainSettings:
    """``renet.training`` of config.yaml (every key required: config.yaml holds the defaults)."""

    learning_rate: float
    batch_size: int
    dropout: float
    input_mask: float
    max_epochs: int
    patience: int
    recurrent_init: str
    weight_decay: float
    bf16: bool
    eval_batch_size: int

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any], where: str = "renet.training") -> TrainSettings:
        names = {f.name for f in fields(cls)}
        missing, unknown = names - set(cfg), set(cfg) - names
        if missing:
            raise ValueError(f"{where}: missing key(s) {sorted(missing)}")
        if unknown:
            raise ValueError(f"{where}: unknown key(s) {sorted(unknown)}")
        settings = cls(**{f.name: cfg[f.name] for f in fields(cls)})
        for name in ("learning_rate", "batch_size", "max_epochs", "patience", "eval_batch_size"):
            if not getattr(settings, name) > 0:
                raise ValueError(f"{where}.{name} = {getattr(settings, name)!r}: must be > 0")
        for name in ("dropout", "input_mask"):
            if not 0 <= getattr(settings, name) < 1:
                raise ValueError(f"{where}.{name} = {getattr(settings, name)!r}: must be in [0, 1)")
        return settings
