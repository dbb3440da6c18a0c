"""What one training job is, stated once per stage: a frozen dataclass whose every field says
whether it changes the job's results or only how fast they are computed.

A stage's settings class (``rnnrepro.<stage>.settings``) declares each field with
:func:`result` or :func:`speed`. Everything that asks "is this the same run?" derives from it:

- the rule's ``--settings`` (result fields; a Snakemake param, so a change reruns the job and
  changes the output cache's key) and ``--speed`` (speed fields; a resource, so it does neither);
- the checkpoint fingerprint (result fields: a checkpoint resumes under another speed);
- the results archive's config comparison (:mod:`rnnrepro.results.training`).

The config schema (``workflow/schemas/<section>.schema.yaml``) is the one statement of each
value's type and range; :meth:`JobSettings.from_parts` checks the values it receives against
it, so a command run by hand gets the same errors as the Snakefile.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, ClassVar, TypeVar, get_type_hints

import yaml

RESULT, SPEED = "result", "speed"
SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"

S = TypeVar("S", bound="JobSettings")


def result() -> Any:
    """A field that changes the job's numbers (a training key)."""
    return dataclasses.field(metadata={"affects": RESULT})


def speed() -> Any:
    """A field that only changes how fast the numbers are computed (e.g. evaluation batch)."""
    return dataclasses.field(metadata={"affects": SPEED})


@dataclass(frozen=True)
class RMSprop:
    """Keras' RMSprop constants (``rmsprop:`` of the memory and increment sections):
    ``a = rho*a + (1-rho)*g^2``, ``w -= lr*g / (sqrt(a) + eps)``."""

    rho: float
    eps: float


class JobSettings:
    """Base of a stage's settings dataclass. ``WHERE`` names its config section (messages);
    ``SCHEMA`` is the schema file and the path of that section inside it."""

    WHERE: ClassVar[str]
    SCHEMA: ClassVar[tuple[str, tuple[str, ...]]]

    @classmethod
    def keys(cls, kind: str) -> tuple[str, ...]:
        """The names of the fields declared ``kind`` (:data:`RESULT` or :data:`SPEED`)."""
        return tuple(f.name for f in dataclasses.fields(cls)  # type: ignore[arg-type]
                     if f.metadata.get("affects", RESULT) == kind)

    @classmethod
    def split(cls, section: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """The config section's result keys and speed keys (what a rule passes)."""
        return ({k: section[k] for k in cls.keys(RESULT)},
                {k: section[k] for k in cls.keys(SPEED)})

    @classmethod
    def from_parts(cls: type[S], results: Mapping[str, Any],
                   speeds: Mapping[str, Any] | None = None) -> S:
        """Build from ``--settings`` and ``--speed``; every field is required, and a missing
        or unknown key or a value the schema refuses raises ValueError naming it."""
        values = {**results, **(speeds or {})}
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        missing, unknown = sorted(names - set(values)), sorted(set(values) - names)
        if missing:
            raise ValueError(f"{cls.WHERE}: missing key(s) {missing} (config.yaml states every "
                             "one)")
        if unknown:
            raise ValueError(f"{cls.WHERE}: unknown key(s) {unknown}; expected {sorted(names)}")
        check_against_schema(values, cls.SCHEMA, cls.WHERE)
        hints = get_type_hints(cls)
        return cls(**{name: _build(hints[name], value) for name, value in values.items()})

    def results(self) -> dict[str, Any]:
        """The result fields as plain data: the checkpoint fingerprint's settings."""
        return {k: _plain(getattr(self, k)) for k in self.keys(RESULT)}

    def speeds(self) -> dict[str, Any]:
        return {k: _plain(getattr(self, k)) for k in self.keys(SPEED)}


def _build(kind: Any, value: Any) -> Any:
    """A nested settings dataclass from its mapping (the schema has checked its keys)."""
    if isinstance(kind, type) and dataclasses.is_dataclass(kind) and isinstance(value, Mapping):
        return kind(**value)
    return value


def _plain(value: Any) -> Any:
    return dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value


@cache
def _section_schema(file: str, path: tuple[str, ...]) -> dict[str, Any]:
    document = yaml.safe_load((SCHEMAS / file).read_text())
    section = document
    for key in path:
        section = section[key]
    return {"$defs": document.get("$defs", {}), "type": "object",
            "properties": section["properties"]}


def check_against_schema(values: Mapping[str, Any], schema: tuple[str, tuple[str, ...]],
                         where: str) -> None:
    """Check each value against its property in the config schema; ValueError names the
    first key that fails and says what the schema expects."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(_section_schema(*schema))
    error = jsonschema.exceptions.best_match(validator.iter_errors(dict(values)))
    if error is not None:
        key = ".".join(str(part) for part in (where, *error.absolute_path))
        raise ValueError(f"{key} = {error.instance!r}: {error.message} "
                         f"(workflow/schemas/{schema[0]})")
