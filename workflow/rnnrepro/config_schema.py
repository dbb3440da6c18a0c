"""Validate a config against its JSON schema and say what is wrong in one line.

Snakemake's ``validate`` reports the first error with the whole sub-schema it failed (100 to
250 lines for a typo) and a schema path. Here the most relevant error (jsonschema's
``best_match``) becomes one sentence naming the dotted key, the value and what the schema
allows, e.g. ``memory.epoch: not a key of memory (did you mean epochs?)``. NaN and infinite
numbers, which JSON schema's ``number`` admits, are refused too: NaN != NaN would make every
config comparison fail silently.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import yaml


class ConfigError(ValueError):
    """A config value the schema refuses; the message is one line."""


def key_name(path: Any) -> str:
    """``memory.pixel_runs.epochs``, ``increment.tasks[0].base``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


def _shown(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


@cache
def _validator(schema_path: str):
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    folder = Path(schema_path).parent

    def retrieve(uri: str) -> Resource:
        return Resource.from_contents(yaml.safe_load((folder / uri).read_text()))

    root = yaml.safe_load(Path(schema_path).read_text())
    return Draft202012Validator(root, registry=Registry(retrieve=retrieve))


def _non_finite(value: Any, path: tuple = ()) -> Iterator[tuple[tuple, float]]:
    if isinstance(value, float) and not math.isfinite(value):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _non_finite(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _non_finite(item, (*path, index))


def describe(error: Any) -> str:
    """One sentence for a jsonschema ``ValidationError``."""
    where = key_name(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))
        key = extra[0] if extra else "?"
        near = difflib.get_close_matches(str(key), allowed, n=1)
        hint = f"did you mean {near[0]}?" if near else f"its keys: {', '.join(allowed)}"
        return f"{key_name([*error.absolute_path, key])}: not a key of {where or 'the config'} " \
               f"({hint})"
    if error.validator == "required":
        return f"{where or 'the config'}: {error.message}"
    return f"{where or 'the config'} = {_shown(error.instance)}: {error.message}"


def validate(config: Any, schema_path: str | Path, what: str = "config") -> None:
    """Raise :class:`ConfigError` (one line, naming the dotted key) where ``config`` does not
    match the schema (``$ref``s are files beside it) or holds a NaN or infinite number."""
    from jsonschema.exceptions import best_match

    for path, value in _non_finite(config):
        raise ConfigError(f"{what} key {key_name(path)} = {value}: not a finite number")
    try:
        error = best_match(_validator(str(Path(schema_path).resolve())).iter_errors(config))
    except RecursionError as err:
        raise ConfigError(f"{what}: nested too deeply to check") from err
    if error is not None:
        raise ConfigError(f"{what} key {describe(error)}")
