"""Command-line config overrides typed by the config schema.

``snakemake --config memory='{epochs: 5}'`` parses the value with YAML's BaseLoader, which
leaves every nested scalar a string ('5'), so schema validation would refuse a number the user
typed. :func:`coerce` walks the merged config beside ``workflow/schemas/config.schema.yaml``
and turns a string into the number, boolean or null the schema expects at that key when the
string reads as one. Anything else is left as it is, so ``epochs: ten`` or ``epochs: -1``
still fails validation with the message naming the key.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

Schema = dict[str, Any]
_NULLS = {"", "~", "null", "Null", "NULL"}
_BOOLEANS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False,
             "FALSE": False}


def _types(schema: Schema) -> set[str]:
    kind = schema.get("type")
    if isinstance(kind, list):
        return set(kind)
    return {kind} if isinstance(kind, str) else set()


def _from_string(text: str, kinds: set[str]) -> tuple[bool, Any]:
    """(True, value) when ``text`` reads as one of the schema's non-string types."""
    if "integer" in kinds:
        try:
            return True, int(text)
        except ValueError:
            pass
    if "number" in kinds:
        try:
            return True, float(text)
        except ValueError:
            pass
    if "boolean" in kinds and text in _BOOLEANS:
        return True, _BOOLEANS[text]
    if "null" in kinds and text in _NULLS:
        return True, None
    return False, text


def _subschema(schema: Schema, key: str) -> Schema | None:
    if key in schema.get("properties", {}):
        return schema["properties"][key]
    for pattern, sub in schema.get("patternProperties", {}).items():
        if re.search(pattern, key):
            return sub
    extra = schema.get("additionalProperties")
    return extra if isinstance(extra, dict) else None


Resolver = Callable[[Schema, Schema], tuple[Schema, Schema]]


def _coerce(value: Any, schema: Schema | None, document: Schema, resolve: Resolver) -> Any:
    if schema is None:
        return value
    schema, document = resolve(schema, document)
    if isinstance(value, str):
        kinds = _types(schema)
        if "enum" in schema and value not in schema["enum"]:
            kinds |= {type_name(v) for v in schema["enum"]}
        if kinds and "string" not in kinds:
            ok, converted = _from_string(value, kinds)
            return converted if ok else value
        return value
    if isinstance(value, dict):
        return {key: _coerce(item, _subschema(schema, key), document, resolve)
                for key, item in value.items()}
    if isinstance(value, list):
        items = schema.get("items")
        return [_coerce(item, items if isinstance(items, dict) else None, document, resolve)
                for item in value]
    return value


def type_name(value: Any) -> str:
    """The JSON-schema type name of a plain value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return "string"


def coerce(config: dict[str, Any], schema_path: str | Path) -> dict[str, Any]:
    """Type string leaves of ``config`` in place by the schema (``$ref``s are files beside it);
    returns ``config``."""
    folder = Path(schema_path).parent
    files: dict[str, Schema] = {}

    def resolve(schema: Schema, document: Schema) -> tuple[Schema, Schema]:
        """Follow ``$ref``s: ``other.schema.yaml`` (a file beside this one), ``#/a/b`` (a
        pointer into the current document), or both."""
        while "$ref" in schema:
            name, _, pointer = schema["$ref"].partition("#")
            if name:
                if name not in files:
                    files[name] = yaml.safe_load((folder / name).read_text())
                document = files[name]
            schema = document
            for part in filter(None, pointer.split("/")):
                schema = schema[part]
        return schema, document

    root = yaml.safe_load(Path(schema_path).read_text())
    typed = _coerce(config, root, root, resolve)
    config.clear()
    config.update(typed)
    return config


CONFIG_SCHEMA = "workflow/schemas/config.schema.yaml"


def load(root: str | Path, configfiles: list[str | Path] = ()) -> dict[str, Any]:
    """The config a ``snakemake --configfile F...`` run in ``root`` uses: ``config.yaml``,
    each file merged over it in order (config.yaml states every stage's defaults), typed and
    validated by the schema, as the Snakefile does."""
    from snakemake.utils import update_config

    from rnnrepro.config_schema import validate

    root = Path(root)
    config = yaml.safe_load((root / "config.yaml").read_text())
    for path in configfiles:
        update_config(config, yaml.safe_load(Path(path).read_text()) or {})
    coerce(config, root / CONFIG_SCHEMA)
    validate(config, root / CONFIG_SCHEMA)  # ConfigError (a ValueError): one line
    return config
