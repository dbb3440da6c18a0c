"""The ``memory:`` config section as one training run reads it (``--settings``).

Every key is required: config.yaml states each value with its source, the schema checks it, and
nothing here falls back to a value of its own (one place for every default).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

# Keys of config["memory"] that describe the sweep, not one run (accepted and ignored).
SWEEP_KEYS = frozenset({"representations", "learning_rates", "seeds", "figures"})


@dataclass(frozen=True)
class TrainSettings:
    """Per-run settings of config.yaml's ``memory:`` section (``rmsprop`` flattened)."""

    hidden_size: int
    batch_size: int
    epochs: int
    input_weight_std: float
    rho: float
    eps: float
    train_subset: int | None
    eval_batch_size: int

    @classmethod
    def from_config(cls, section: Mapping[str, Any], where: str = "memory") -> TrainSettings:
        """Build from the config section; a missing or unknown key or a bad value raises
        ValueError naming it."""
        data = {k: v for k, v in section.items() if k not in SWEEP_KEYS}
        rmsprop = data.pop("rmsprop", None)
        if not isinstance(rmsprop, Mapping) or set(rmsprop) != {"rho", "eps"}:
            raise ValueError(f"{where}.rmsprop = {rmsprop!r}: expected {{rho: ..., eps: ...}}")
        data.update(rmsprop)
        names = {f.name for f in fields(cls)}
        missing, unknown = names - set(data), set(data) - names
        if missing:
            raise ValueError(f"{where}: missing key(s) {sorted(missing)} (config.yaml states "
                             "every one)")
        if unknown:
            raise ValueError(f"{where}: unknown key(s) {sorted(unknown)}; expected "
                             f"{sorted(names - {'rho', 'eps'})} and rmsprop")
        settings = cls(**data)
        for key in ("input_weight_std", "rho", "eps"):
            value = getattr(settings, key)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"{where}.{key} must be a number, got {value!r}")
        for key in ("hidden_size", "batch_size", "epochs", "eval_batch_size"):
            value = getattr(settings, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{where}.{key} must be a positive integer, got {value!r}")
        subset = settings.train_subset
        if subset is not None and (isinstance(subset, bool) or not isinstance(subset, int)
                                   or subset < 1):
            raise ValueError(f"{where}.train_subset must be null or a positive integer, "
                             f"got {subset!r}")
        if not 0 < settings.rho < 1 or settings.eps <= 0 or settings.input_weight_std <= 0:
            raise ValueError(f"{where}: need 0 < rmsprop.rho < 1, rmsprop.eps > 0 and "
                             "input_weight_std > 0")
        return settings
