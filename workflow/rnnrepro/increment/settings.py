"""The ``increment:`` config section as passed to the commands' ``--settings``.

Commands read only the keys they need, so a rule can pass a subset, and a person can pass the
whole section (or a file holding it) by hand. Unknown keys are an error: a typo must not fall back
to some value silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

# Keys of the config section (workflow/schemas/increment.schema.yaml).
SECTION_KEYS = frozenset({
    "tasks", "orders", "cells", "seeds", "hidden_size", "batch_size", "learning_rate", "rmsprop",
    "epochs", "batches_per_epoch", "interesting_probability", "holdout_size", "eval_every",
    "eval_batch_size", "checkpoint_every", "permutation_seed", "holdout_seed", "units",
})


GATE_ACTIVATIONS = ("hard_sigmoid", "sigmoid")
GRU_RESETS = ("before", "after")
INITS = {"input_init": ("glorot_uniform", "pytorch"),
         "recurrent_init": ("orthogonal", "pytorch"),
         "bias_init": ("zeros", "pytorch")}


@dataclass(frozen=True)
class UnitSettings:
    """How the increment task's LSTM and GRU compute and start (config ``increment.units``)."""

    gate_activation: str
    gru_reset: str
    input_init: str
    recurrent_init: str
    bias_init: str
    lstm_forget_bias: float

    def __post_init__(self) -> None:
        allowed = {"gate_activation": GATE_ACTIVATIONS, "gru_reset": GRU_RESETS, **INITS}
        for key, values in allowed.items():
            if getattr(self, key) not in values:
                raise ValueError(f"increment.units.{key} = {getattr(self, key)!r}; expected "
                                 f"one of {list(values)}")

    @classmethod
    def from_config(cls, raw: Mapping[str, Any]) -> UnitSettings:
        """From the config's mapping; every key is required (config.yaml states Keras 2's)."""
        names = {f.name for f in fields(cls)}
        unknown, missing = sorted(set(raw) - names), sorted(names - set(raw))
        if unknown:
            raise ValueError(f"increment.units: unknown key(s) {unknown}")
        if missing:
            raise ValueError(f"increment.units: missing key(s) {missing}")
        return cls(**raw)


class SettingsError(ValueError):
    """A missing, unknown or ill-typed ``--settings`` key."""


def check_keys(settings: Mapping[str, Any]) -> None:
    unknown = sorted(set(settings) - SECTION_KEYS)
    if unknown:
        raise SettingsError(f"--settings: unknown increment key(s) {unknown}; "
                            f"expected keys of config.yaml's increment section")


def require(settings: Mapping[str, Any], key: str, kind: type, *, minimum: float | None = None,
            maximum: float | None = None, section: str = "increment") -> Any:
    """``settings[key]`` converted to ``kind`` and range-checked; the error names the key."""
    name = f"{section}.{key}"
    if key not in settings:
        raise SettingsError(f"--settings: missing key {name}")
    value = settings[key]
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise SettingsError(f"--settings: {name} = {value!r} is not an integer")
    if kind is float and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise SettingsError(f"--settings: {name} = {value!r} is not a number")
    value = kind(value)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise SettingsError(f"--settings: {name} = {value!r} is outside [{minimum}, {maximum}]")
    return value


@dataclass(frozen=True)
class TrainSettings:
    """Everything a training job's numbers depend on (plus two evaluation-only sizes)."""

    hidden_size: int
    batch_size: int
    learning_rate: float
    rho: float
    eps: float
    epochs: int
    batches_per_epoch: int
    interesting_probability: float
    eval_every: int
    eval_batch_size: int     # evaluation only: does not change results
    checkpoint_every: int    # minibatches between checkpoints (rounded to a multiple of eval_every)
    units: UnitSettings      # the LSTM's and GRU's equations

    @classmethod
    def from_config(cls, settings: Mapping[str, Any]) -> TrainSettings:
        check_keys(settings)
        rmsprop = settings.get("rmsprop")
        if not isinstance(rmsprop, Mapping) or set(rmsprop) != {"rho", "eps"}:
            raise SettingsError(f"--settings: increment.rmsprop = {rmsprop!r} must be "
                                "{rho: ..., eps: ...}")
        return cls(
            hidden_size=require(settings, "hidden_size", int, minimum=1),
            batch_size=require(settings, "batch_size", int, minimum=1),
            learning_rate=require(settings, "learning_rate", float, minimum=0),
            rho=require(rmsprop, "rho", float, minimum=0, maximum=1, section="increment.rmsprop"),
            eps=require(rmsprop, "eps", float, minimum=0, section="increment.rmsprop"),
            epochs=require(settings, "epochs", int, minimum=1),
            batches_per_epoch=require(settings, "batches_per_epoch", int, minimum=1),
            interesting_probability=require(settings, "interesting_probability", float,
                                            minimum=0, maximum=1),
            eval_every=require(settings, "eval_every", int, minimum=1),
            eval_batch_size=require(settings, "eval_batch_size", int, minimum=1),
            checkpoint_every=require(settings, "checkpoint_every", int, minimum=1),
            units=_units(settings.get("units")),
        )

    @property
    def minibatches(self) -> int:
        return self.epochs * self.batches_per_epoch

    @property
    def unit_size(self) -> int:
        """Minibatches per checkpointed unit: a multiple of ``eval_every`` near
        ``checkpoint_every``, so evaluations never straddle a checkpoint."""
        return self.eval_every * max(1, round(self.checkpoint_every / self.eval_every))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def result_dict(self) -> dict[str, Any]:
        """The settings a run's numbers depend on (the checkpoint fingerprint)."""
        out = self.as_dict()
        out.pop("eval_batch_size")
        return out


def _units(raw: Any) -> UnitSettings:
    """``increment.units``; errors name the key."""
    if not isinstance(raw, Mapping):
        raise SettingsError(f"--settings: increment.units = {raw!r} must be a mapping")
    try:
        return UnitSettings.from_config(raw)
    except (TypeError, ValueError) as err:
        raise SettingsError(f"--settings: {err}") from err
