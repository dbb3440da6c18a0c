"""The claims tables (``tab:claims`` and ``tab:claims-increment`` in ``paper/tables.tex``),
formatted from verdicts.csv only (the paper stage renders them; the claims stage computes).

Every number it prints is a column of ``results/<preset>/claims/verdicts.csv`` rounded for print:
relative effects in percent with one decimal, other effects with three decimals.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from rnnrepro.claims.evaluate import VERDICT_COLUMNS
from rnnrepro.files import read_csv_columns
from rnnrepro.paper.layout import MIDRULE, Cell, Row, Table, cells
from rnnrepro.paper.stats import MISSING, signed

TITLE = "Claims of both papers: verdicts"


def read_verdicts(path: str | Path) -> pd.DataFrame:
    """``results/<preset>/claims/verdicts.csv``, checked for its columns."""
    frame = read_csv_columns(path, VERDICT_COLUMNS, rerun="claims")
    text = ["summary", "where", "comparison", "reading", "reason", "claimed_text", "magnitude",
            "budget", "readings", "note"]
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


def _comparison(row: pd.Series, first: bool) -> str:
    """The comparison's label with its reading; later readings of it name the reading only."""
    if not row["reading"]:
        return str(row["comparison"])
    return f"{row['comparison']}: {row['reading']}" if first else f"  ″ {row['reading']}"


def verdict_text(row: pd.Series) -> str:
    """The verdict with what qualifies it: the reason (unless plainly supported or
    contradicted), unequal budgets, readings that disagree, the planning figure, notes."""
    details = []
    if row["verdict"] not in ("supported", "contradicted"):
        details.append(row["reason"])
    if row["readings"].startswith("disagree"):
        details.append("readings disagree")
    if not pd.isna(row["n_needed"]):
        details.append(f"n ≈ {int(row['n_needed'])}")
    details.append(row["note"])
    details = [text for text in dict.fromkeys(details) if text]
    return row["verdict"] + (f" ({'; '.join(details)})" if details else "")


def _claim_blocks(frame: pd.DataFrame, width: int) -> Iterator[tuple[list[Row | str],
                                                                     pd.DataFrame]]:
    """Per claim: the rows that open its block (a rule between blocks, then its id and its
    summary and place across ``width`` - 1 columns) and its verdict rows."""
    for index, (claim_id, rows) in enumerate(frame.groupby("claim", sort=False)):
        first = rows.iloc[0]
        heading: list[Row | str] = [MIDRULE] if index else []
        heading.append([Cell(str(claim_id), bold=True),
                        Cell(f"{first['summary']} ({first['where']})", span=width - 1,
                             align="l", italic=True)])
        yield heading, rows


def _body(frame: pd.DataFrame) -> list[Row | str]:
    body: list[Row | str] = []
    for heading, rows in _claim_blocks(frame, 7):
        body += heading
        seen: set[str] = set()
        for _, row in rows.iterrows():
            label = _comparison(row, row["comparison"] not in seen)
            seen.add(row["comparison"])
            # No align on the p{} columns: a \multicolumn would stop their text wrapping.
            body.append([Cell(""), Cell(label), Cell(evidence(row)), Cell(ours(row)),
                         Cell(row["magnitude"] or MISSING), Cell(str(int(row["n"]))),
                         Cell(verdict_text(row))])
    if not body:
        body.append([Cell("no claims in this table", span=7, align="l", italic=True)])
    return body


def _readings_body(frame: pd.DataFrame) -> tuple[list[str], list[Row | str]]:
    """The readings of the claims in ``frame`` (all alike) and one row per comparison: ours
    and the verdict under each reading."""
    readings = list(dict.fromkeys(frame["reading"]))
    body: list[Row | str] = []
    for heading, rows in _claim_blocks(frame, 3 + len(readings)):
        body += heading
        for label, comparison in rows.groupby("comparison", sort=False):
            by_reading = {row["reading"]: row for _, row in comparison.iterrows()}
            if list(by_reading) != readings:
                raise ValueError(f"claim {rows.iloc[0]['claim']}, {label!r}: readings "
                                 f"{list(by_reading)}, expected {readings}")
            row = comparison.iloc[0]
            paper = f" (paper: {row['claimed_text']})" if row["claimed_text"] else ""
            body.append([Cell(""), Cell(f"{label}{paper}"), Cell(str(int(row["n"]))),
                         *[Cell(f"{ours(r)} {verdict_text(r)}")
                           for r in by_reading.values()]])
    return readings, body


CAPTION = "Columns and verdicts: Section Claims and verdicts."
# Fits the 7 in text width of main.tex at footnotesize with 3 pt column gaps; long cells wrap.
WRAP = r">{\raggedright\arraybackslash}p"
COLUMNS = f"l{WRAP}{{3.6cm}}{WRAP}{{2.0cm}}l{WRAP}{{3.6cm}}r{WRAP}{{3.0cm}}"


def claims_tables(frame: pd.DataFrame, preset: str) -> list[Table]:
    """Table tab:claims (the MNIST and ReNet claims, one row per comparison and reading) and
    tab:claims-increment (the increment task's: one row per comparison, one column per
    reading of its open measure)."""
    header = [cells("Claim", "Comparison (a vs b)", "Paper", "Ours: mean [95 % CI]",
                    "Paper vs ours", "n", "Verdict")]
    increment = frame["data"] == "increment_evaluations"
    readings, body = _readings_body(frame[increment])
    width = 13.4 / max(len(readings), 1)
    return [
        Table(macro="rnnTableClaims", label="tab:claims", title=TITLE,
              caption=(f"Claims of the memory paper on MNIST and of ReNet, and their verdicts on "
                       f"this run (preset `{preset}`). Ours: mean effect a − b (relative "
                       f"effects (a − b)/a in percent) with its Student t 95 % interval over n "
                       f"paired units; ″: another reading of the same comparison; n ≈ k: the "
                       f"units that would decide (a planning figure). " + CAPTION),
              columns=COLUMNS, header=header, body=_body(frame[~increment]), wide=True,
              size="footnotesize", colsep="3pt"),
        Table(macro="rnnTableClaimsIncrement", label="tab:claims-increment",
              title=f"{TITLE} (increment task)",
              caption=(f"Claims on the increment task and their verdicts on this run (preset "
                       f"`{preset}`), under every reading of the open measure (one column "
                       f"each): ours, mean difference simple − complicated [95 % CI] over n "
                       f"paired units, and the verdict (n ≈ k: the units that would decide, "
                       f"a planning figure). " + CAPTION),
              columns=f"l{WRAP}{{3.0cm}}r" + f"{WRAP}{{{width:.2f}cm}}" * len(readings),
              header=[cells("Claim", "Comparison (a vs b)", "n", *readings)], body=body,
              wide=True, size="footnotesize", colsep="3pt"),
    ]
