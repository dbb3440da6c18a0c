"""``paper/claims.yaml``: the papers' claims as checkable comparisons, loaded and validated.

Validation needs no results: every comparison must name a data table this package knows, a
column of that table, run values that exist in the experiments (a group, order, cell or
dataset name), and a direction. A mistake stops with a :class:`ClaimsError` naming the claim id
and the key, before anything is evaluated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from rnnrepro.memory.representations import GROUP_ORDER
from rnnrepro.renet.summary import DATASET_ORDER

EFFECTS = ("difference", "relative")
EXPECT = {"a > b": 1, "a < b": -1, "a > reference": 1, "a < reference": -1}
PAPERS = ("memory", "renet")


@dataclass(frozen=True)
class TableSpec:
    """What a results table holds: run keys, numeric columns, the epoch axis (per-epoch tables),
    and the allowed values of its categorical keys."""

    keys: tuple[str, ...]
    numeric: tuple[str, ...]
    axis: str | None = None
    categories: Mapping[str, Sequence[Any]] = field(default_factory=dict)


MEMORY_KEYS = ("group", "representation", "permutation", "learning_rate", "seed")
TABLES: dict[str, TableSpec] = {
    "memory_runs": TableSpec(
        keys=MEMORY_KEYS,
        numeric=("epoch", "acc", "vacc", "loss", "vloss", "test_acc", "test_loss",
                 "latency_mean"),
        categories={"group": GROUP_ORDER}),
    "memory_epochs": TableSpec(
        keys=MEMORY_KEYS,
        numeric=("acc", "val_acc", "test_acc", "loss", "val_loss", "test_loss"),
        axis="epoch", categories={"group": GROUP_ORDER}),
    "increment_evaluations": TableSpec(
        keys=("base", "digits", "order", "cell", "seed"),
        numeric=("digit_acc", "number_acc", "train_loss"),
        axis="minibatch",
        categories={"order": ("simple", "complicated"), "cell": ("rnn", "lstm", "gru")}),
    "renet_runs": TableSpec(
        keys=("dataset", "seed"), numeric=("test_error", "val_error", "best_epoch"),
        categories={"dataset": DATASET_ORDER}),
}


class ClaimsError(ValueError):
    """A claims file that cannot be evaluated; the message names the claim and the key."""


@dataclass(frozen=True)
class Measure:
    """How one number per run is read from a table."""

    column: str
    epochs: tuple[int, int] | None = None   # mean over these epochs (inclusive)
    over_all: bool = False                  # mean over every row of the run
    at_epoch: int | None = None             # the value at this epoch ...
    relative_to_best: bool = False          # ... divided by the run's maximum
    min_epochs: int = 0                     # runs with fewer epochs are left out
    scale: float = 1.0


@dataclass(frozen=True)
class Comparison:
    """One checkable statement: runs ``a`` against runs ``b`` (or a reference value)."""

    claim: str
    label: str
    data: str
    measure: Measure
    a: Mapping[str, tuple[Any, ...]]
    b: Mapping[str, tuple[Any, ...]] | None
    pair_by: tuple[str, ...]
    effect: str
    direction: int                          # +1: claimed a > b; -1: claimed a < b
    reference: float | str | None = None    # number, or "published" (ReNet Table 2 row)
    claimed_value: float | tuple[float, float] | None = None
    claimed_text: str = ""


@dataclass(frozen=True)
class Claim:
    id: str
    paper: str
    where: str
    summary: str
    quote: str
    comparisons: tuple[Comparison, ...]


@dataclass(frozen=True)
class Settings:
    confidence: float
    interval: str
    min_n: int


def _need(mapping: Mapping[str, Any], key: str, where: str, kind: type | tuple[type, ...]
          ) -> Any:
    if key not in mapping:
        raise ClaimsError(f"{where}: missing key {key!r}")
    value = mapping[key]
    if not isinstance(value, kind):
        raise ClaimsError(f"{where}: {key!r} must be {getattr(kind, '__name__', kind)}, "
                          f"got {value!r}")
    return value


def _check_keys(mapping: Mapping[str, Any], allowed: Sequence[str], where: str) -> None:
    unknown = sorted(set(mapping) - set(allowed))
    if unknown:
        raise ClaimsError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(allowed)}")


def _measure(raw: Any, table: TableSpec, where: str) -> Measure:
    if not isinstance(raw, Mapping):
        raise ClaimsError(f"{where}.measure: must be a mapping like {{column: vacc}}")
    _check_keys(raw, ("column", "epochs", "over", "at_epoch", "relative_to_best", "min_epochs",
                      "scale"), f"{where}.measure")
    column = _need(raw, "column", f"{where}.measure", str)
    if column not in table.numeric:
        raise ClaimsError(f"{where}.measure.column: statistic {column!r} does not exist; "
                          f"choose one of {list(table.numeric)}")
    per_epoch = [k for k in ("epochs", "over", "at_epoch") if k in raw]
    if table.axis is None and per_epoch:
        raise ClaimsError(f"{where}.measure: {per_epoch} need a per-epoch table "
                          "(memory_epochs or increment_evaluations)")
    if table.axis is not None and len(per_epoch) != 1:
        raise ClaimsError(f"{where}.measure: a per-epoch table needs exactly one of 'epochs', "
                          "'over: all' or 'at_epoch'")
    epochs = raw.get("epochs")
    if epochs is not None:
        if (not isinstance(epochs, list) or len(epochs) != 2
                or not all(isinstance(e, int) and e >= 0 for e in epochs)
                or epochs[0] > epochs[1]):
            raise ClaimsError(f"{where}.measure.epochs: expected [first, last], got {epochs!r}")
        epochs = (epochs[0], epochs[1])
    if "over" in raw and raw["over"] != "all":
        raise ClaimsError(f"{where}.measure.over: only 'all' is known, got {raw['over']!r}")
    return Measure(column=column, epochs=epochs, over_all="over" in raw,
                   at_epoch=raw.get("at_epoch"),
                   relative_to_best=bool(raw.get("relative_to_best", False)),
                   min_epochs=int(raw.get("min_epochs", 0)), scale=float(raw.get("scale", 1.0)))


def _selector(raw: Any, table: TableSpec, where: str) -> dict[str, tuple[Any, ...]]:
    if not isinstance(raw, Mapping) or not raw:
        raise ClaimsError(f"{where}: must be a non-empty mapping of column: value(s)")
    selector = {}
    for column, value in raw.items():
        if column not in table.keys:
            raise ClaimsError(f"{where}.{column}: no such run key; choose from "
                              f"{list(table.keys)}")
        values = tuple(value) if isinstance(value, list) else (value,)
        allowed = table.categories.get(column)
        if allowed is not None:
            unknown = [v for v in values if v not in allowed]
            if unknown:
                raise ClaimsError(f"{where}.{column}: run group(s) {unknown} do not exist; "
                                  f"known: {list(allowed)}")
        selector[column] = values
    return selector


def _claimed(raw: Any, where: str) -> tuple[float | tuple[float, float] | None, str]:
    if raw is None:
        return None, ""
    if not isinstance(raw, Mapping):
        raise ClaimsError(f"{where}.claimed: must be a mapping {{value, text}}")
    _check_keys(raw, ("value", "text"), f"{where}.claimed")
    value = raw.get("value")
    if isinstance(value, list):
        if len(value) != 2 or not all(isinstance(v, (int, float)) for v in value):
            raise ClaimsError(f"{where}.claimed.value: expected a number or [low, high]")
        value = (float(min(value)), float(max(value)))
    elif value is not None:
        if not isinstance(value, (int, float)):
            raise ClaimsError(f"{where}.claimed.value: expected a number, got {value!r}")
        value = float(value)
    return value, str(raw.get("text", ""))


def _comparison(raw: Any, claim_id: str, index: int) -> Comparison:
    where = f"claim {claim_id}, comparison {index + 1}"
    if not isinstance(raw, Mapping):
        raise ClaimsError(f"{where}: must be a mapping")
    _check_keys(raw, ("label", "data", "measure", "a", "b", "pair_by", "effect", "expect",
                      "reference", "claimed"), where)
    label = _need(raw, "label", where, str)
    where = f"claim {claim_id}, comparison {label!r}"
    data = _need(raw, "data", where, str)
    if data not in TABLES:
        raise ClaimsError(f"{where}.data: unknown results table {data!r}; known: "
                          f"{list(TABLES)}")
    table = TABLES[data]
    expect = _need(raw, "expect", where, str)
    if expect not in EXPECT:
        raise ClaimsError(f"{where}.expect: {expect!r}; expected one of {list(EXPECT)}")
    has_reference = "reference" in raw
    if has_reference == ("b" in raw) or has_reference != expect.endswith("reference"):
        raise ClaimsError(f"{where}: give either b (with expect 'a > b' / 'a < b') or "
                          "reference (with expect 'a > reference' / 'a < reference')")
    reference = raw.get("reference")
    if has_reference and not (isinstance(reference, (int, float)) or reference == "published"):
        raise ClaimsError(f"{where}.reference: a number or 'published', got {reference!r}")
    if reference == "published" and data != "renet_runs":
        raise ClaimsError(f"{where}.reference: 'published' is defined for renet_runs only")
    pair_by = tuple(raw.get("pair_by", ()))
    for column in pair_by:
        if column not in table.keys:
            raise ClaimsError(f"{where}.pair_by: {column!r} is not a run key of {data}; "
                              f"choose from {list(table.keys)}")
    if not has_reference and not pair_by:
        raise ClaimsError(f"{where}.pair_by: a paired comparison needs at least one key")
    effect = raw.get("effect", "difference")
    if effect not in EFFECTS:
        raise ClaimsError(f"{where}.effect: {effect!r}; expected one of {list(EFFECTS)}")
    if has_reference and effect != "difference":
        raise ClaimsError(f"{where}.effect: a reference comparison is a difference")
    claimed_value, claimed_text = _claimed(raw.get("claimed"), where)
    return Comparison(
        claim=claim_id, label=label, data=data,
        measure=_measure(raw.get("measure"), table, where),
        a=_selector(raw.get("a"), table, f"{where}.a"),
        b=None if has_reference else _selector(raw.get("b"), table, f"{where}.b"),
        pair_by=pair_by, effect=effect, direction=EXPECT[expect],
        reference=reference if isinstance(reference, str) else
        (None if reference is None else float(reference)),
        claimed_value=claimed_value, claimed_text=claimed_text)


def parse(document: Any, source: str = "claims") -> tuple[Settings, list[Claim]]:
    """Validate a claims document (the parsed YAML); raises :class:`ClaimsError`."""
    if not isinstance(document, Mapping):
        raise ClaimsError(f"{source}: expected a mapping with 'settings' and 'claims'")
    _check_keys(document, ("settings", "claims"), source)
    raw_settings = document.get("settings") or {}
    _check_keys(raw_settings, ("confidence", "interval", "min_n"), f"{source}: settings")
    settings = Settings(confidence=float(raw_settings.get("confidence", 0.95)),
                        interval=str(raw_settings.get("interval", "t")),
                        min_n=int(raw_settings.get("min_n", 2)))
    if not 0 < settings.confidence < 1 or settings.interval != "t" or settings.min_n < 2:
        raise ClaimsError(f"{source}: settings need 0 < confidence < 1, interval 't' and "
                          f"min_n >= 2, got {raw_settings}")
    raw_claims = document.get("claims")
    if not isinstance(raw_claims, list) or not raw_claims:
        raise ClaimsError(f"{source}: 'claims' must be a non-empty list")
    claims, seen = [], set()
    for index, raw in enumerate(raw_claims):
        if not isinstance(raw, Mapping) or not isinstance(raw.get("id"), str):
            raise ClaimsError(f"{source}: claim {index + 1} needs an 'id'")
        claim_id = raw["id"]
        if claim_id in seen:
            raise ClaimsError(f"{source}: claim id {claim_id!r} appears twice")
        seen.add(claim_id)
        where = f"claim {claim_id}"
        _check_keys(raw, ("id", "paper", "where", "summary", "quote", "comparisons"), where)
        paper = _need(raw, "paper", where, str)
        if paper not in PAPERS:
            raise ClaimsError(f"{where}.paper: {paper!r}; expected one of {list(PAPERS)}")
        comparisons = _need(raw, "comparisons", where, list)
        if not comparisons:
            raise ClaimsError(f"{where}.comparisons: empty")
        claims.append(Claim(
            id=claim_id, paper=paper, where=_need(raw, "where", where, str),
            summary=_need(raw, "summary", where, str),
            quote=" ".join(_need(raw, "quote", where, str).split()),
            comparisons=tuple(_comparison(c, claim_id, i) for i, c in enumerate(comparisons))))
    return settings, claims


def load(path: str | Path) -> tuple[Settings, list[Claim]]:
    """Read and validate ``paper/claims.yaml``."""
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise ClaimsError(f"{path}: cannot read ({err})") from err
    return parse(document, str(path))
