"""The number formats the tables print (seed summaries come from :mod:`rnnrepro.aggregate`)."""

from __future__ import annotations

from rnnrepro.aggregate import Summary

MISSING = "—"


def fixed(value: float | None, decimals: int) -> str:
    """``value`` with ``decimals`` decimals; "—" for None. Uses a true minus sign."""
    if value is None:
        return MISSING
    text = f"{value:.{decimals}f}"
    if text.startswith("-"):
        text = "−" + text[1:] if float(text) != 0 else text[1:]
    return text


def mean_std(summary: Summary | None, decimals: int) -> str:
    """"mean ± std" when n > 1, the plain value when n == 1, "—" when nothing ran."""
    if summary is None:
        return MISSING
    if summary.n == 1:
        return fixed(summary.mean, decimals)
    return f"{fixed(summary.mean, decimals)} ± {fixed(summary.std, decimals)}"


def count(summary: Summary | None) -> str:
    """n, or "—" when nothing ran."""
    return MISSING if summary is None else str(summary.n)


def signed(value: float | None, decimals: int) -> str:
    """A difference with its sign always shown (``+0.012``, ``−0.012``); "—" for None."""
    if value is None:
        return MISSING
    text = fixed(abs(value), decimals)
    negative = value < 0 and float(f"{abs(value):.{decimals}f}") != 0
    return ("−" if negative else "+") + text


def difference(reproduced: Summary | None, published: float | None) -> float | None:
    """reproduced mean − published, or None when either is missing."""
    if reproduced is None or published is None:
        return None
    return reproduced.mean - published


def shortest(value: float) -> str:
    """A published number as the paper prints it (``22.114``, ``0.4``): Python's shortest repr."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text
