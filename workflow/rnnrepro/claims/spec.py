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
    the allowed values of its categorical keys, and how a run's training budget is counted:
    in ``budget_unit``, the product of ``budget`` columns (per-run tables), or the last axis
    value a measure reads times the ``budget`` column (per-epoch tables; none: 1 per step)."""

    keys: tuple[str, ...]
    numeric: tuple[str, ...]
    axis: str | None = None
    categories: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    budget: tuple[str, ...] = ()
    budget_unit: str = ""


MEMORY_KEYS = ("group", "representation", "permutation", "learning_rate", "seed")
TABLES: dict[str, TableSpec] = {
    "memory_runs": TableSpec(
        keys=MEMORY_KEYS,
        numeric=("epoch", "acc", "val_acc", "loss", "val_loss", "test_acc", "test_loss",
                 "latency_mean"),
        categories={"group": GROUP_ORDER}, budget=("epochs_run", "train_images"),
        budget_unit="images"),
    "memory_epochs": TableSpec(
        keys=MEMORY_KEYS,
        numeric=("acc", "val_acc", "test_acc", "loss", "val_loss", "test_loss"),
        axis="epoch", categories={"group": GROUP_ORDER}, budget=("train_images",),
        budget_unit="images"),
    "increment_evaluations": TableSpec(
        keys=("base", "digits", "order", "cell", "seed"),
        numeric=("digit_acc", "number_acc", "train_loss"),
        axis="minibatch",
        categories={"order": ("simple", "complicated"), "cell": ("rnn", "lstm", "gru")},
        budget_unit="minibatches"),
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
    at_last: bool = False                   # ... or at the run's last epoch (evaluation) ...
    relative_to_best: bool = False          # ... divided by the run's maximum
    min_epochs: int = 0                     # runs with fewer epochs are left out
    scale: float = 1.0


# Tables of published.yaml a claimed magnitude may be derived from: the paper's own numbers
# (Table 4: each group's best vacc; Table 2: each group's latency values, averaged).
PUBLISHED_TABLES = ("best", "latency")


@dataclass(frozen=True)
class Magnitude:
    """One statement of a claimed effect size: a number or [low, high] in the effect's units,
    or the paper's own table (``table``: a and b rows of published.yaml, the effect computed
    from them when evaluated), with its ``source`` (the text, or which table)."""

    source: str
    text: str = ""
    value: float | tuple[float, float] | None = None
    table: tuple[str, str, str] | None = None   # (published table, row a, row b)


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
    claimed: tuple[Magnitude, ...] = ()
    reading: str = ""                       # which reading of an open claim's measure

    @property
    def claimed_text(self) -> str:
        """The paper's words for the effect (its first stated magnitude)."""
        return self.claimed[0].text if self.claimed else ""


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
        raise ClaimsError(f"{where}.measure: must be a mapping like {{column: val_acc}}")
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
    at_epoch = raw.get("at_epoch")
    at_last = at_epoch == "last"
    if not (at_epoch is None or at_last or (isinstance(at_epoch, int) and at_epoch >= 1)):
        raise ClaimsError(f"{where}.measure.at_epoch: an epoch (1, 2, ...) or 'last', got "
                          f"{at_epoch!r}")
    return Measure(column=column, epochs=epochs, over_all="over" in raw,
                   at_epoch=None if at_last else at_epoch, at_last=at_last,
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


def _magnitude(raw: Any, where: str) -> Magnitude:
    if not isinstance(raw, Mapping):
        raise ClaimsError(f"{where}: must be a mapping {{value, text, source}} or "
                          "{table: {name, a, b}, source}")
    _check_keys(raw, ("value", "text", "source", "table"), where)
    value, table = raw.get("value"), raw.get("table")
    if value is not None and table is not None:
        raise ClaimsError(f"{where}: give value or table, not both")
    if isinstance(value, list):
        if len(value) != 2 or not all(isinstance(v, (int, float)) for v in value):
            raise ClaimsError(f"{where}.value: expected a number or [low, high]")
        value = (float(min(value)), float(max(value)))
    elif value is not None:
        if not isinstance(value, (int, float)):
            raise ClaimsError(f"{where}.value: expected a number, got {value!r}")
        value = float(value)
    rows = None
    if table is not None:
        if (not isinstance(table, Mapping) or set(table) != {"name", "a", "b"}
                or table["name"] not in PUBLISHED_TABLES):
            raise ClaimsError(f"{where}.table: expected {{name: one of "
                              f"{list(PUBLISHED_TABLES)}, a: <row>, b: <row>}}, got {table!r}")
        rows = (str(table["name"]), str(table["a"]), str(table["b"]))
    return Magnitude(source=str(raw.get("source", "text")), text=str(raw.get("text", "")),
                     value=value, table=rows)


def _claimed(raw: Any, where: str) -> tuple[Magnitude, ...]:
    """The paper's magnitudes of an effect: one mapping, or a list (the text's and its tables'
    where they differ)."""
    if raw is None:
        return ()
    items = raw if isinstance(raw, list) else [raw]
    return tuple(_magnitude(item, f"{where}.claimed[{i}]") for i, item in enumerate(items))


def _readings(raw: Any, claim_id: str) -> list[tuple[str, Any]]:
    """A claim's readings of an open measure: [(label, raw measure)], or [] when it has none."""
    if raw is None:
        return []
    where = f"claim {claim_id}.readings"
    if not isinstance(raw, list) or len(raw) < 2:
        raise ClaimsError(f"{where}: a list of at least two {{label, measure}}")
    readings = []
    for index, item in enumerate(raw):
        if not isinstance(item, Mapping) or set(item) != {"label", "measure"}:
            raise ClaimsError(f"{where}[{index}]: expected {{label, measure}}, got {item!r}")
        readings.append((str(item["label"]), item["measure"]))
    if len({label for label, _ in readings}) != len(readings):
        raise ClaimsError(f"{where}: two readings share a label")
    return readings


def _comparisons(raw: Any, claim_id: str, index: int, readings: list[tuple[str, Any]]
                 ) -> list[Comparison]:
    """A comparison of the claims file: one per reading of the claim (its own measure when the
    claim has no readings)."""
    if not readings:
        return [_comparison(raw, claim_id, index)]
    if isinstance(raw, Mapping) and "measure" in raw:
        raise ClaimsError(f"claim {claim_id}, comparison {index + 1}: the claim's readings "
                          "give the measure; remove this comparison's measure")
    if not isinstance(raw, Mapping):
        raise ClaimsError(f"claim {claim_id}, comparison {index + 1}: must be a mapping")
    return [_comparison({**raw, "measure": measure}, claim_id, index, reading=label)
            for label, measure in readings]


def _comparison(raw: Any, claim_id: str, index: int, reading: str = "") -> Comparison:
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
    claimed = _claimed(raw.get("claimed"), where)
    return Comparison(
        claim=claim_id, label=label, data=data,
        measure=_measure(raw.get("measure"), table, where),
        a=_selector(raw.get("a"), table, f"{where}.a"),
        b=None if has_reference else _selector(raw.get("b"), table, f"{where}.b"),
        pair_by=pair_by, effect=effect, direction=EXPECT[expect],
        reference=reference if isinstance(reference, str) else
        (None if reference is None else float(reference)),
        claimed=claimed, reading=reading)


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
        _check_keys(raw, ("id", "paper", "where", "summary", "quote", "readings", "comparisons"),
                    where)
        paper = _need(raw, "paper", where, str)
        if paper not in PAPERS:
            raise ClaimsError(f"{where}.paper: {paper!r}; expected one of {list(PAPERS)}")
        comparisons = _need(raw, "comparisons", where, list)
        if not comparisons:
            raise ClaimsError(f"{where}.comparisons: empty")
        readings = _readings(raw.get("readings"), claim_id)
        claims.append(Claim(
            id=claim_id, paper=paper, where=_need(raw, "where", where, str),
            summary=_need(raw, "summary", where, str),
            quote=" ".join(_need(raw, "quote", where, str).split()),
            comparisons=tuple(expanded for i, c in enumerate(comparisons)
                              for expanded in _comparisons(c, claim_id, i, readings))))
    return settings, claims


def load(path: str | Path) -> tuple[Settings, list[Claim]]:
    """Read and validate ``paper/claims.yaml``."""
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise ClaimsError(f"{path}: cannot read ({err})") from err
    return parse(document, str(path))
