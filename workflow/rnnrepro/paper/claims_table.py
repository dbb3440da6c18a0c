"""The claims tables (``tab:claims``, ``tab:claims-continued``, ``tab:claims-renet`` and
``tab:claims-increment`` in ``paper/tables.tex``), formatted from verdicts.csv only (the paper
stage renders them; the claims stage computes).

Every number it prints is a column of ``results/<preset>/claims/verdicts.csv`` rounded for print:
relative effects in percent with one decimal, other effects with three decimals.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
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


# Reasons the verdict column abbreviates (the caption's legend explains them); any other text
# (budgets, the claims' notes) becomes a lettered note under the table.
_SHORT_REASONS = ((re.compile(r"CI (above|below) 0, (as claimed|against the claim)"), ""),
                  (re.compile(r"CI includes 0"), "CI ∋ 0"),
                  (re.compile(r"n = \d+ < (\d+): no interval"), r"n < \1"),
                  (re.compile(r"(no runs of .*|no paired runs)"), r"\1"))
LEGEND = ("CI ∋ 0: the interval includes 0; n ≈ k: the units that would decide (a planning "
          "figure); †: the readings of the measure disagree; (a), (b), …: notes below the table.")


class Notes:
    """Lettered notes under a table: one letter per distinct text, in order of first use."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def mark(self, text: str) -> str:
        """``(a)`` for ``text``, the same letter for the same text."""
        if text not in self.texts:
            self.texts.append(text)
        return f"({chr(ord('a') + self.texts.index(text))})"

    def lines(self) -> list[str]:
        """``(a) text`` per note."""
        return [f"({chr(ord('a') + i)}) {text}" for i, text in enumerate(self.texts)]


def _short_reason(reason: str, notes: Notes) -> tuple[str, list[str]]:
    """(abbreviation, note marks) of a verdict's reason: known reasons shortened, unequal
    budgets and anything else moved to a note."""
    marks = []
    if reason.startswith("unequal budgets: "):
        budget, _, reason = reason.removeprefix("unequal budgets: ").rpartition("; ")
        marks.append(notes.mark(f"unequal budgets: {budget}"))
    for pattern, short in _SHORT_REASONS:
        if pattern.fullmatch(reason):
            return pattern.sub(short, reason), marks
    return "", [*marks, notes.mark(reason)]


@dataclass(frozen=True)
class Verdict:
    """A verdict cell's parts: the verdict, whether its readings disagree (†), its note marks,
    and, for a verdict that is not plain, the abbreviated reason and the planning figure."""

    verdict: str
    disagree: bool
    marks: tuple[str, ...]
    details: tuple[str, ...]

    def head(self, dagger: bool = True) -> str:
        """The first line: the verdict, † (unless ``dagger`` is off) and the note marks."""
        return " ".join([self.verdict, *(["†"] if dagger and self.disagree else []),
                         *self.marks])


def verdict_parts(row: pd.Series, notes: Notes) -> Verdict:
    """The parts of a verdicts.csv row's cell (its notes marked in ``notes``)."""
    reason, marks = _short_reason(row["reason"], notes)
    details = [reason] if row["verdict"] not in ("supported", "contradicted") else []
    if not pd.isna(row["n_needed"]):
        details.append(f"n ≈ {int(row['n_needed'])}")
    if row["note"] and row["note"] != row["reason"]:
        marks.append(notes.mark(row["note"]))
    return Verdict(row["verdict"], row["readings"].startswith("disagree"), tuple(marks),
                   tuple(text for text in dict.fromkeys(details) if text))


def verdict_text(row: pd.Series, notes: Notes) -> str:
    """The verdict cell: its head, over the reason and planning figure (two lines at most)."""
    parts = verdict_parts(row, notes)
    return "\n".join(line for line in (parts.head(), "; ".join(parts.details)) if line)


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


def _body(frame: pd.DataFrame, notes: Notes) -> list[Row | str]:
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
                         Cell(verdict_text(row, notes))])
    if not body:
        body.append([Cell("no claims in this table", span=7, align="l", italic=True)])
    return body


def _reading_cell(row: pd.Series, notes: Notes) -> str:
    """Ours over the verdict, for one reading (the verdict over its reason when nothing ran);
    "CI ∋ 0" is left out, as the interval above shows it, and the readings' disagreement (†)
    is marked on the comparison."""
    parts = verdict_parts(row, notes)
    details = "; ".join(d for d in parts.details if d != "CI ∋ 0")
    if ours(row) == MISSING:
        return "\n".join(line for line in (parts.head(dagger=False), details) if line)
    return f"{ours(row)}\n{parts.head(dagger=False)}" + (f"; {details}" if details else "")


def _readings_body(frame: pd.DataFrame, notes: Notes) -> tuple[list[str], list[Row | str]]:
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
            dagger = " †" if row["readings"].startswith("disagree") else ""
            body.append([Cell(""), Cell(f"{label}{dagger}{paper}"), Cell(str(int(row["n"]))),
                         *[Cell(_reading_cell(r, notes)) for r in by_reading.values()]])
    return readings, body


CAPTION = "Columns and verdicts: Section Claims and verdicts."
# Fits the 7 in text width of main.tex at footnotesize with 3 pt column gaps; long cells wrap.
WRAP = r">{\raggedright\arraybackslash}p"
COLUMNS = f"l{WRAP}{{4.0cm}}{WRAP}{{2.0cm}}l{WRAP}{{3.6cm}}r{WRAP}{{2.5cm}}"


def _comparisons_table(frame: pd.DataFrame, macro: str, label: str, title: str, what: str,
                       preset: str) -> Table:
    """A table of comparisons, one row per comparison and reading (tab:claims, tab:claims-renet)."""
    notes = Notes()
    header = [cells("Claim", "Comparison (a vs b)", "Paper", "Ours: mean [95 % CI]",
                    "Paper vs ours", "n", "Verdict")]
    body = _body(frame, notes)
    return Table(macro=macro, label=label, title=title,
                 caption=(f"{what}, and their verdicts on this run (preset `{preset}`). Ours: "
                          "mean effect a − b (relative effects (a − b)/a in percent) with its "
                          "Student t 95 % interval over n paired units; ″: another reading of "
                          "the same comparison. " + LEGEND + " " + CAPTION),
                 columns=COLUMNS, header=header, body=body, wide=True, size="footnotesize",
                 colsep="3pt", notes=notes.lines())


def halves(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``frame``'s claims in two parts of about equal rows (a claim's heading counts one), split
    between claims: the memory paper's MNIST claims fill more than a page in one float."""
    claims = list(dict.fromkeys(frame["claim"]))
    sizes = [int((frame["claim"] == claim).sum()) + 1 for claim in claims]
    split = min(range(len(claims) + 1),
                key=lambda k: (max(sum(sizes[:k]), sum(sizes[k:])), -k))
    first = frame["claim"].isin(claims[:split])
    return frame[first], frame[~first]


def claims_tables(frame: pd.DataFrame, preset: str) -> list[Table]:
    """Tables tab:claims and tab:claims-continued (the memory paper's MNIST claims, in two
    halves) and tab:claims-renet (ReNet's), one row per comparison and reading, and
    tab:claims-increment (the increment task's: one row per comparison, one column per reading
    of its open measure)."""
    increment = frame["data"] == "increment_evaluations"
    renet = frame["paper"] == "renet"
    notes = Notes()
    readings, increment_body = _readings_body(frame[increment], notes)
    # The readings share 13 cm: one cell's "+0.380 [+0.195, +0.565]" needs 3.2 cm.
    width = 13.0 / max(len(readings), 1)
    first, second = halves(frame[~increment & ~renet])
    return [
        _comparisons_table(first, "rnnTableClaims", "tab:claims", TITLE,
                           "Claims of the memory paper on MNIST", preset),
        _comparisons_table(second, "rnnTableClaimsContinued", "tab:claims-continued",
                           f"{TITLE} (continued)",
                           "Claims of the memory paper on MNIST (continued)", preset),
        _comparisons_table(frame[renet], "rnnTableClaimsRenet", "tab:claims-renet",
                           f"{TITLE} (ReNet)", "Claims of the ReNet paper", preset),
        Table(macro="rnnTableClaimsIncrement", label="tab:claims-increment",
              title=f"{TITLE} (increment task)",
              caption=(f"Claims on the increment task and their verdicts on this run (preset "
                       f"`{preset}`), under every reading of the open measure (one column "
                       f"each): ours, mean difference simple − complicated [95 % CI] over n "
                       f"paired units, over the verdict. " + LEGEND + " " + CAPTION),
              columns=f"l{WRAP}{{2.6cm}}r" + f"{WRAP}{{{width:.2f}cm}}" * len(readings),
              header=[cells("Claim", "Comparison (a vs b)", "n", *readings)],
              body=increment_body, wide=True, size="footnotesize", colsep="2pt",
              notes=notes.lines()),
    ]
