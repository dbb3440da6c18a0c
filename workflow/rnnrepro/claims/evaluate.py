"""Verdicts: each comparison of ``paper/claims.yaml`` evaluated on the results tables.

For a comparison, every run selected by ``a`` (and ``b``) gives one number (its measure); runs
are grouped into observations by ``pair_by`` (several runs of one side in an observation, e.g.
the three permutations of a group for one seed, are averaged), the observations both sides
have are paired, and the effect of each is ``a − b`` or ``(a − b) / a`` (``a − reference``
with a reference, one observation per run). The mean effect gets a Student t interval; the
verdict says whether it excludes 0 on the claimed side.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from rnnrepro.claims import checks
from rnnrepro.claims.spec import TABLES, Claim, Comparison, Measure, Settings, TableSpec

SUPPORTED, CONTRADICTED, INCONCLUSIVE, NOT_RUN = (
    "supported", "contradicted", "inconclusive", "not run")
# magnitude: the paper's stated magnitudes against our interval (rnnrepro.claims.checks);
# budget: what each side trained on ("unequal: ..." makes a direction inconclusive); n_needed:
# a planning figure for inconclusive comparisons; readings: how an open claim's readings agree.
VERDICT_COLUMNS = (
    "claim", "paper", "where", "summary", "comparison", "reading", "data", "statistic",
    "effect", "expect", "n", "mean", "ci_low", "ci_high", "interval", "verdict", "reason",
    "claimed_text", "magnitude", "budget", "n_needed", "readings", "a_mean", "b_mean",
    "reference", "units", "differences", "note")


@dataclass
class Outcome:
    """The evaluation of one comparison (one row of verdicts.csv)."""

    observations: list[str] = field(default_factory=list)
    differences: list[float] = field(default_factory=list)
    a_values: list[float] = field(default_factory=list)
    b_values: list[float] = field(default_factory=list)
    reference: float | None = None
    note: str = ""
    missing: str = ""
    # Per paired observation, the budgets its runs trained on (a side, b side): unequal ones
    # are flagged
    a_budgets: list[tuple[float, ...]] = field(default_factory=list)
    b_budgets: list[tuple[float, ...]] = field(default_factory=list)


def t_interval(values: Sequence[float], confidence: float) -> tuple[float, float, float]:
    """Mean and the two-sided Student t interval of the mean (n >= 2)."""
    data = np.asarray(values, dtype=float)
    mean = float(data.mean())
    sem = float(data.std(ddof=1)) / math.sqrt(len(data))
    half = float(stats.t.ppf(0.5 + confidence / 2, len(data) - 1)) * sem
    return mean, mean - half, mean + half


def verdict(n: int, low: float | None, high: float | None, direction: int, min_n: int,
            missing: str = "") -> tuple[str, str]:
    """(verdict, reason) from the interval of the mean effect and the claimed direction."""
    if n == 0:
        return NOT_RUN, missing or "no paired runs"
    if n < min_n or low is None or high is None:
        return INCONCLUSIVE, f"n = {n} < {min_n}: no interval"
    if low > 0 or high < 0:
        agrees = (low > 0) == (direction > 0)
        side = "above" if low > 0 else "below"
        return ((SUPPORTED, f"CI {side} 0, as claimed") if agrees
                else (CONTRADICTED, f"CI {side} 0, against the claim"))
    return INCONCLUSIVE, "CI includes 0"


def select(frame: pd.DataFrame, selector: Mapping[str, Sequence[Any]]) -> pd.DataFrame:
    """Rows whose columns take one of the selector's values."""
    mask = pd.Series(True, index=frame.index)
    for column, values in selector.items():
        column_values = frame[column]
        if pd.api.types.is_numeric_dtype(column_values):
            mask &= np.isclose(column_values.to_numpy(dtype=float)[:, None],
                               np.asarray(values, dtype=float)).any(axis=1)
        else:
            mask &= column_values.isin(values)
    return frame[mask]


def _budget(row: Mapping[str, Any], columns: Sequence[str], steps: float = 1.0) -> float | None:
    """A run's training budget: ``steps`` times the product of its budget ``columns``; None
    when the table does not record them."""
    budget = steps
    for column in columns:
        if column not in row or pd.isna(row[column]):
            return None
        budget *= float(row[column])
    return budget


def run_measures(frame: pd.DataFrame, spec: TableSpec, measure: Measure
                 ) -> tuple[pd.DataFrame, str]:
    """One row per run: its keys, ``value`` and ``budget`` (what it trained on up to the last
    epoch the measure reads); plus a note on runs left out."""
    keys, axis = list(spec.keys), spec.axis
    if frame.empty:
        return pd.DataFrame(columns=[*keys, "value", "budget"]), ""
    if axis is None:
        out = frame.loc[:, keys].assign(
            value=frame[measure.column] * measure.scale,
            budget=[_budget(row, spec.budget) for row in frame.to_dict("records")])
        return out, ""
    rows, short = [], 0
    for run_keys, run in frame.groupby(keys, sort=True):
        run = run.sort_values(axis)
        column, last = run[measure.column], run[axis].max()
        if measure.at_epoch is not None and last < max(measure.min_epochs, measure.at_epoch):
            short += 1
            continue
        if measure.epochs is not None:
            inside = (run[axis] >= measure.epochs[0]) & (run[axis] <= measure.epochs[1])
            if not inside.any():
                short += 1
                continue
            value, used = float(column[inside].mean()), run.loc[inside, axis].max()
        elif measure.over_all:
            value, used = float(column.mean()), last
        else:
            used = last if measure.at_last else measure.at_epoch
            value = float(column[run[axis] == used].iloc[0])
            if measure.relative_to_best:
                value /= float(column.max())
        rows.append({**dict(zip(keys, run_keys, strict=True)), "value": value * measure.scale,
                     "budget": _budget(run.iloc[0], spec.budget, float(used))})
    note = (f"{short} run(s) end before epoch "
            f"{max(measure.min_epochs, measure.at_epoch or 0, (measure.epochs or (0, 0))[0])}"
            if short else "")
    return pd.DataFrame(rows, columns=[*keys, "value", "budget"]), note


def _rank_note(error: float, cnn_errors: Sequence[float]) -> str:
    """Where a test error would rank among Table 2's convolutional rows."""
    rank = 1 + sum(e < error for e in cnn_errors)
    return f"{error:.2f} %: rank {rank} of {len(cnn_errors) + 1} with the CNN rows"


def _observation_label(keys: Sequence[str], values: Sequence[Any]) -> str:
    return " ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                    for k, v in zip(keys, values, strict=True))


def _observations(runs: pd.DataFrame, pair_by: Sequence[str]) -> pd.Series:
    return runs.groupby(list(pair_by), sort=True)["value"].mean()


def _observation_budgets(runs: pd.DataFrame, pair_by: Sequence[str]) -> pd.Series:
    """Per observation, the distinct budgets of its runs (empty where the table records none)."""
    return runs.groupby(list(pair_by), sort=True)["budget"].agg(
        lambda budgets: tuple(sorted({float(b) for b in budgets if not pd.isna(b)})))


def evaluate_comparison(comparison: Comparison, tables: Mapping[str, pd.DataFrame],
                        published: Mapping[str, tuple[float, Sequence[float]]]
                        ) -> Outcome:
    """Pair the runs of a comparison and compute each observation's effect. ``published`` maps a
    dataset to the paper's ReNet test error and its convolutional rows' errors (percent)."""
    spec = TABLES[comparison.data]
    frame = tables[comparison.data]
    a_runs, a_note = run_measures(select(frame, comparison.a), spec, comparison.measure)
    outcome = Outcome(note=a_note)
    if comparison.b is None:
        reference = comparison.reference
        if reference == "published":
            datasets = comparison.a.get("dataset", ())
            if len(datasets) != 1 or datasets[0] not in published:
                raise ValueError(f"claim {comparison.claim}, comparison {comparison.label!r}: "
                                 "reference 'published' needs a: {dataset: <one dataset>}")
            reference, cnn_errors = published[datasets[0]]
            if not a_runs.empty:
                outcome.note = _rank_note(float(a_runs["value"].mean()), cnn_errors)
        outcome.reference = float(reference)
        if a_runs.empty:
            outcome.missing = a_note or "no runs of a"
        for _, row in a_runs.iterrows():
            outcome.observations.append(_observation_label(spec.keys, [row[k] for k in spec.keys]))
            outcome.a_values.append(float(row["value"]))
            outcome.differences.append(float(row["value"]) - outcome.reference)
        return outcome
    b_runs, b_note = run_measures(select(frame, comparison.b), spec, comparison.measure)
    outcome.note = "; ".join(n for n in (a_note, b_note) if n)
    if a_runs.empty or b_runs.empty:
        sides = [side for side, runs in (("a", a_runs), ("b", b_runs)) if runs.empty]
        outcome.missing = outcome.note or f"no runs of {' and '.join(sides)}"
        return outcome
    a_obs, b_obs = (_observations(a_runs, comparison.pair_by),
                    _observations(b_runs, comparison.pair_by))
    a_budgets = _observation_budgets(a_runs, comparison.pair_by)
    b_budgets = _observation_budgets(b_runs, comparison.pair_by)
    common = a_obs.index.intersection(b_obs.index)
    unmatched = len(a_obs) + len(b_obs) - 2 * len(common)
    if unmatched:
        outcome.note = "; ".join(filter(None, [outcome.note,
                                               f"{unmatched} observation(s) unpaired"]))
    if common.empty:
        outcome.missing = f"no a and b runs share {', '.join(comparison.pair_by)}"
    for key in common:
        a_value, b_value = float(a_obs[key]), float(b_obs[key])
        values = key if isinstance(key, tuple) else (key,)
        outcome.observations.append(_observation_label(comparison.pair_by, values))
        outcome.a_values.append(a_value)
        outcome.b_values.append(b_value)
        outcome.a_budgets.append(a_budgets[key])
        outcome.b_budgets.append(b_budgets[key])
        outcome.differences.append(
            a_value - b_value if comparison.effect == "difference"
            else (a_value - b_value) / a_value)
    return outcome


def _statistic(comparison: Comparison) -> str:
    m = comparison.measure
    text = m.column
    if m.epochs is not None:
        text = f"mean {m.column}, epochs {m.epochs[0]}–{m.epochs[1]}"
    elif m.over_all:
        text = f"mean {m.column} over all evaluations"
    elif m.at_epoch is not None or m.at_last:
        at = "the last evaluation" if m.at_last else f"epoch {m.at_epoch}"
        text = f"{m.column} at {at}" + (" / run's best" if m.relative_to_best else "")
    return text + (f" × {m.scale:g}" if m.scale != 1 else "")


def _expect(comparison: Comparison) -> str:
    other = "reference" if comparison.b is None else "b"
    return f"a {'>' if comparison.direction > 0 else '<'} {other}"


def _mean(values: Sequence[float]) -> float | None:
    return float(np.mean(values)) if values else None


def _row(claim: Claim, comparison: Comparison, outcome: Outcome, settings: Settings,
         paper_tables: Mapping[str, Mapping[str, float]]
         ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The verdicts.csv row of one evaluated comparison, and its magnitudes.csv rows."""
    n = len(outcome.differences)
    mean, low, high = _mean(outcome.differences), None, None
    if n >= settings.min_n:
        _, low, high = t_interval(outcome.differences, settings.confidence)
    result, reason = verdict(n, low, high, comparison.direction, settings.min_n,
                             outcome.missing)
    unequal, budget = checks.budget_text(outcome.a_budgets, outcome.b_budgets,
                                         TABLES[comparison.data].budget_unit)
    if unequal and result in (SUPPORTED, CONTRADICTED):
        result, reason = INCONCLUSIVE, f"unequal budgets: {budget}; {reason}"
    elif unequal:
        reason = f"unequal budgets: {budget}; {reason}"
    ci = None if low is None or high is None else (low, high)
    found = checks.magnitude_checks(comparison, mean, ci, paper_tables)
    row = {
        "claim": claim.id, "paper": claim.paper, "where": claim.where,
        "summary": claim.summary, "comparison": comparison.label,
        "reading": comparison.reading, "data": comparison.data,
        "statistic": _statistic(comparison),
        "effect": comparison.effect if comparison.b is not None else "a − reference",
        "expect": _expect(comparison), "n": n, "mean": mean, "ci_low": low, "ci_high": high,
        "interval": f"t {settings.confidence:.0%}".replace("%", " %"),
        "verdict": result, "reason": reason, "claimed_text": comparison.claimed_text,
        "magnitude": checks.describe_magnitudes(found, comparison.effect),
        "budget": ("unequal: " if unequal else "") + budget,
        "n_needed": (checks.observations_needed(outcome.differences, settings.confidence)
                     if result == INCONCLUSIVE and not unequal else None),
        "readings": "",
        "a_mean": _mean(outcome.a_values), "b_mean": _mean(outcome.b_values),
        "reference": outcome.reference,
        # Named "units" in verdicts.csv (the statistician's unit of a paired comparison), as
        # since its first version: the runs/ snapshots and users' scripts read that column.
        "units": "; ".join(outcome.observations),
        "differences": "; ".join(f"{d:.6g}" for d in outcome.differences),
        "note": outcome.note,
    }
    magnitudes = [{"claim": claim.id, "comparison": comparison.label,
                   "reading": comparison.reading, "source": check.source,
                   "claimed_text": check.text, "claimed_low": check.low,
                   "claimed_high": check.high, "n": n, "mean": mean, "ci_low": low,
                   "ci_high": high, "check": check.check, "distance": check.distance}
                  for check in found]
    return row, magnitudes


@dataclass
class Evaluation:
    """Every claim evaluated: verdicts.csv's rows and magnitudes.csv's rows."""

    verdicts: list[dict[str, Any]]
    magnitudes: list[dict[str, Any]]


def evaluate_claims(claims: Sequence[Claim], settings: Settings,
                    tables: Mapping[str, pd.DataFrame],
                    published: Mapping[str, tuple[float, Sequence[float]]],
                    paper_tables: Mapping[str, Mapping[str, float]] | None = None
                    ) -> Evaluation:
    """Evaluate every comparison (one per reading of an open claim). ``paper_tables``: the
    paper's own numbers a table magnitude is derived from (``results.paper_tables``)."""
    evaluation = Evaluation([], [])
    for claim in claims:
        for comparison in claim.comparisons:
            outcome = evaluate_comparison(comparison, tables, published)
            row, magnitudes = _row(claim, comparison, outcome, settings, paper_tables or {})
            evaluation.verdicts.append(row)
            evaluation.magnitudes.extend(magnitudes)
    by_comparison: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in evaluation.verdicts:
        by_comparison.setdefault((row["claim"], row["comparison"]), []).append(row)
    for rows in by_comparison.values():
        agreement = checks.readings_agreement(rows)
        for row in rows:
            row["readings"] = agreement
    return evaluation


def verdict_rows(claims: Sequence[Claim], settings: Settings,
                 tables: Mapping[str, pd.DataFrame],
                 published: Mapping[str, tuple[float, Sequence[float]]],
                 paper_tables: Mapping[str, Mapping[str, float]] | None = None
                 ) -> list[dict[str, Any]]:
    """One row per claim, comparison and reading (the columns of :data:`VERDICT_COLUMNS`)."""
    return evaluate_claims(claims, settings, tables, published, paper_tables).verdicts
