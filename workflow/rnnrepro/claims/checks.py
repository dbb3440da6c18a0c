"""What a verdict says beyond its direction: how the paper's magnitudes sit against our interval,
whether both sides trained on the same budget, how many observations would decide an open
comparison, and whether the readings of an open claim agree.

Magnitudes and distances are in the effect's units (relative effects as fractions); the texts
print relative effects in percent.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from rnnrepro.claims.spec import Comparison, Magnitude

CONSISTENT, PAPER_ABOVE, PAPER_BELOW, NO_INTERVAL = (
    "consistent", "paper above", "paper below", "no interval")
MAGNITUDE_COLUMNS = ("claim", "comparison", "reading", "source", "claimed_text", "claimed_low",
                     "claimed_high", "n", "mean", "ci_low", "ci_high", "check", "distance")
# Beyond this many observations a planning figure says nothing useful.
MAX_OBSERVATIONS = 10_000


@dataclass(frozen=True)
class MagnitudeCheck:
    """The paper's magnitude (a number: low == high, or a range) against our interval.
    ``distance``: how far the paper's value lies outside our interval (positive either way;
    0 when consistent), or ours − paper's when there is no interval."""

    source: str
    text: str
    low: float
    high: float
    check: str
    distance: float


def claimed_range(magnitude: Magnitude, effect: str,
                  paper_tables: Mapping[str, Mapping[str, float]]) -> tuple[float, float, str]:
    """(low, high, text) of a stated magnitude; a table magnitude is computed from the paper's
    own numbers (published.yaml) with the comparison's effect."""
    if magnitude.table is not None:
        name, a_row, b_row = magnitude.table
        try:
            a, b = paper_tables[name][a_row], paper_tables[name][b_row]
        except KeyError as err:
            raise ValueError(f"published.yaml has no {name} row {err}; fix claims.yaml's "
                             f"table magnitude {magnitude.table}") from err
        value = (a - b) / a if effect == "relative" else a - b
        text = magnitude.text or f"{a:g} vs {b:g}"
        return value, value, text
    if isinstance(magnitude.value, tuple):
        return magnitude.value[0], magnitude.value[1], magnitude.text
    if magnitude.value is None:
        raise ValueError(f"magnitude {magnitude} states no value")
    return magnitude.value, magnitude.value, magnitude.text


def check_magnitude(low: float, high: float, mean: float | None, ci: tuple[float, float] | None
                    ) -> tuple[str, float | None]:
    """(check, distance) of the paper's [low, high] against our interval (or mean)."""
    if mean is None:
        return NO_INTERVAL, None
    if ci is None:
        nearest = min(max(mean, low), high)
        return NO_INTERVAL, mean - nearest
    if high < ci[0]:
        return PAPER_BELOW, ci[0] - high
    if low > ci[1]:
        return PAPER_ABOVE, low - ci[1]
    return CONSISTENT, 0.0


def magnitude_checks(comparison: Comparison, mean: float | None,
                     ci: tuple[float, float] | None,
                     paper_tables: Mapping[str, Mapping[str, float]]) -> list[MagnitudeCheck]:
    """Every stated magnitude with a value (text or table) of a comparison, checked."""
    checks = []
    for magnitude in comparison.claimed:
        if magnitude.value is None and magnitude.table is None:
            continue
        low, high, text = claimed_range(magnitude, comparison.effect, paper_tables)
        check, distance = check_magnitude(low, high, mean, ci)
        checks.append(MagnitudeCheck(magnitude.source, text, low, high, check,
                                     distance if distance is not None else math.nan))
    return checks


def format_effect(value: float, effect: str) -> str:
    """An effect size as printed: relative ones in percent, others with 3 significant digits."""
    text = f"{value * 100:.1f} %" if effect == "relative" else f"{value:.3g}"
    return text.replace("-", "−")


def describe_magnitudes(checks: Sequence[MagnitudeCheck], effect: str) -> str:
    """One line per comparison, e.g. "text 0.7 %: below our CI by 1.8 points; Table 4 1.5 %:
    consistent" (points: percentage points of a relative effect)."""
    points = " points" if effect == "relative" else ""
    parts = []
    for check in checks:
        value = format_effect(check.low, effect)
        if check.high != check.low:
            value = f"{format_effect(check.low, effect).removesuffix(' %')}–" \
                    f"{format_effect(check.high, effect)}"
        head = f"{check.source} {value}"
        distance = format_effect(abs(check.distance), effect).removesuffix(" %") + points
        if check.check == CONSISTENT:
            parts.append(f"{head}: consistent")
        elif check.check == NO_INTERVAL:
            parts.append(f"{head}: no interval" if math.isnan(check.distance) else
                         f"{head}: no interval (ours {'+' if check.distance >= 0 else '−'}"
                         f"{distance} from it)")
        else:
            side = "below" if check.check == PAPER_BELOW else "above"
            parts.append(f"{head}: {side} our CI by {distance}")
    return "; ".join(parts)


def budget_text(a_budgets: Sequence[tuple[float, ...]], b_budgets: Sequence[tuple[float, ...]],
                unit: str) -> tuple[bool, str]:
    """(unequal, text) of the paired observations' training budgets: "1,000,000 images per run" or
    "1,000,000 vs 40,000 images"; ("", False) where the table records no budget."""
    a = sorted({b for budgets in a_budgets for b in budgets})
    b = sorted({v for budgets in b_budgets for v in budgets})
    if not a or not b:
        return False, ""
    unequal = any(x != y for x, y in zip(a_budgets, b_budgets, strict=True))

    def span(values: Sequence[float]) -> str:
        text = f"{values[0]:,.0f}"
        return text if len(values) == 1 else f"{text}–{values[-1]:,.0f}"

    if not unequal:
        return False, f"{span(a)} {unit} per run"
    return True, f"{span(a)} vs {span(b)} {unit}"


def observations_needed(differences: Sequence[float], confidence: float) -> int | None:
    """Planning figure: the fewest observations at which the t interval would exclude 0 if the
    observed mean and standard deviation held; None when they cannot tell (n < 2, no spread,
    zero mean) or past :data:`MAX_OBSERVATIONS`."""
    if len(differences) < 2:
        return None
    data = np.asarray(differences, dtype=float)
    mean, sd = abs(float(data.mean())), float(data.std(ddof=1))
    if sd == 0 or mean == 0:
        return None
    quantile = 0.5 + confidence / 2
    for n in range(2, MAX_OBSERVATIONS + 1):
        if float(stats.t.ppf(quantile, n - 1)) * sd / math.sqrt(n) < mean:
            return n
    return None


def readings_agreement(rows: Sequence[Mapping[str, Any]]) -> str:
    """How the readings of one comparison agree: "" for a single reading; "agree"; or
    "disagree: supported under 'X'; contradicted under 'Y' and 'Z'" when one reading supports and
    another contradicts; "differ: ..." when the verdicts differ otherwise (readings quoted: their
    names hold commas)."""
    if len(rows) < 2:
        return ""
    verdicts = [row["verdict"] for row in rows]
    if len(set(verdicts)) == 1:
        return "agree"
    word = ("disagree" if {"supported", "contradicted"} <= set(verdicts) else "differ")
    by_verdict: dict[str, list[str]] = {}
    for row in rows:
        by_verdict.setdefault(row["verdict"], []).append(row["reading"])
    return f"{word}: " + "; ".join(
        f"{verdict} under " + " and ".join(f"'{reading}'" for reading in readings)
        for verdict, readings in by_verdict.items())
