"""The claims table (``tab:claims`` in ``paper/tables.tex``), formatted from verdicts.csv only.

Every number it prints is a column of ``results/claims/verdicts.csv`` rounded for print:
relative effects in percent with one decimal, other effects with three decimals.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from rnnrepro.claims.evaluate import VERDICT_COLUMNS
from rnnrepro.files import read_csv_columns
from rnnrepro.paper.layout import MIDRULE, Cell, Row, Table, cells
from rnnrepro.paper.stats import MISSING, signed

TITLE = "Claims of both papers: verdicts"


def read_verdicts(path: str | Path) -> pd.DataFrame:
    """``results/claims/verdicts.csv``, checked for its columns."""
    frame = read_csv_columns(path, VERDICT_COLUMNS, rerun="claims")
    text = ["summary", "where", "comparison", "reason", "claimed_text", "note"]
    return frame.assign(**{column: frame[column].astype(object).fillna("").astype(str)
                           for column in text})


def _number(value: float, relative: bool) -> str:
    """A printed effect: percent with one decimal for relative effects, else 3 decimals."""
    return f"{signed(value * 100, 1)} %" if relative else signed(value, 3)


def ours(row: pd.Series) -> str:
    """Mean effect and its interval, e.g. ``+1.2 % [−0.3, +2.7]``; "—" when nothing ran."""
    if row["n"] == 0 or pd.isna(row["mean"]):
        return MISSING
    relative = row["effect"] == "relative"
    text = _number(float(row["mean"]), relative)
    if not pd.isna(row["ci_low"]):
        low, high = (_number(float(row[k]), relative) for k in ("ci_low", "ci_high"))
        text += f" [{low.removesuffix(' %')}, {high.removesuffix(' %')}]"
    return text


def evidence(row: pd.Series) -> str:
    """The paper's side: its stated magnitude (text), or the published number it printed."""
    text = row["claimed_text"] or ""
    if not text and not pd.isna(row["reference"]) and row["effect"] == "a − reference":
        reference = float(row["reference"])
        text = f"{reference:g}" + (" %" if "× 100" in row["statistic"] else "")
    return text or MISSING


def claims_table(frame: pd.DataFrame, preset: str) -> Table:
    """One block per claim (its id, summary and place in the paper), one row per comparison."""
    header = [cells("Claim", "Comparison (a vs b)", "Paper", "Ours: mean [95 % CI]", "n",
                    "Verdict")]
    body: list[Row | str] = []
    for claim_id, rows in frame.groupby("claim", sort=False):
        if body:
            body.append(MIDRULE)
        first = rows.iloc[0]
        body.append([Cell(str(claim_id), bold=True),
                     Cell(f"{first['summary']} ({first['where']})", span=5, align="l",
                          italic=True)])
        for _, row in rows.iterrows():
            reason = "" if row["verdict"] in ("supported", "contradicted") else row["reason"]
            details = "; ".join(dict.fromkeys(text for text in (reason, row["note"]) if text))
            verdict = row["verdict"] + (f" ({details})" if details else "")
            body.append([Cell(""), Cell(str(row["comparison"]), align="l"), Cell(evidence(row)),
                         Cell(ours(row)), Cell(str(int(row["n"]))),
                         Cell(verdict, align="l")])
    caption = (
        f"Claims of both papers and their verdicts on this run (preset `{preset}`): "
        "`paper/claims.yaml` states each claim as a comparison of runs, `rnnrepro claims` "
        "evaluates it on `results/` (`results/claims/verdicts.csv` has every unit's "
        "difference). "
        "Ours: mean effect a − b over n units paired by seed (and permutation or cell), "
        "relative effects (a − b)/a in percent, with its Student t 95 % interval; supported: "
        "the interval excludes 0 on the claimed side, contradicted: on the other side, "
        "inconclusive: it includes 0 or n < 2, not run: no results.")
    return Table(macro="rnnTableClaims", label="tab:claims", title=TITLE, caption=caption,
                 columns="llllrl", header=header, body=body, wide=True, size="footnotesize")

