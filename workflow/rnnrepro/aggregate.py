"""Summaries over seeds (mean, sample std, n): computed by the stages' summary commands, written
to their CSVs as ``<metric>_mean`` / ``<metric>_std`` columns beside ``n``, and read back by the
paper stage, which only formats them."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Summary:
    """Mean and sample standard deviation (ddof=1) of ``n`` values; std is 0 when n == 1."""

    mean: float
    std: float
    n: int


def summarize(values: Iterable[float]) -> Summary | None:
    """Summary of the finite values given; None when there are none."""
    data = [float(v) for v in values]
    if not data:
        return None
    bad = [v for v in data if not math.isfinite(v)]
    if bad:
        raise ValueError(f"non-finite value(s) {bad} in results; rerun the job that wrote them")
    mean = math.fsum(data) / len(data)
    if len(data) == 1:
        return Summary(mean, 0.0, 1)
    var = math.fsum((v - mean) ** 2 for v in data) / (len(data) - 1)
    return Summary(mean, math.sqrt(var), len(data))


def summary_columns(metric: str, summary: Summary) -> dict[str, float | None]:
    """``{metric}_mean`` and ``{metric}_std`` of a CSV row (the std is empty when n == 1)."""
    return {f"{metric}_mean": summary.mean,
            f"{metric}_std": summary.std if summary.n > 1 else None}


def column_names(metric: str) -> tuple[str, str]:
    return f"{metric}_mean", f"{metric}_std"


def from_columns(row: Mapping[str, Any], metric: str, n: int) -> Summary:
    """The :class:`Summary` a CSV row holds for ``metric`` (see :func:`summary_columns`)."""
    std = 0.0 if n == 1 else float(row[f"{metric}_std"])
    return Summary(float(row[f"{metric}_mean"]), std, int(n))
