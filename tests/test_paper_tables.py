"""Paper stage, fast: tables.tex from synthetic results, parsed back and checked cell by cell.

Every reproduced number in the generated LaTeX must equal (to its printed precision) the value
recomputed here from the result files, every published number must equal paper/published.yaml,
rows that did not run must read "—", and several seeds must give mean ± sample std and n.
The checkers below are reused by tests/test_paper_pipeline.py on the real quick-run output.
"""

from __future__ import annotations

import contextlib
import math
import re
import shutil
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import build_main_pdf, layout_problems, verdict_cell_problems
from rnnrepro.cli import main
from rnnrepro.renet import datasets
from rnnrepro.renet.units import UNIT_NAMES

REPO = Path(__file__).resolve().parents[1]
PUBLISHED = REPO / "paper" / "published.yaml"
RENET_DATASETS = datasets.NAMES
MISSING = "—"

# --------------------------------------------------------------------------------------------
# Parsing the generated LaTeX back


@dataclass
class ParsedTable:
    label: str
    caption: str
    columns: list[str]            # last header row, multicolumns expanded
    rows: list[list[str]]         # body rows (cleaned cells); section rows have one cell


_CLEAN = [(r"$\pm$", "±"), (r"$-$", "−"), (r"$^{*}$", "*"), (r"$\times$", "×"),
          (r"$\Delta$", "Δ"), ("---", "—"), ("--", "–"), (r"\_", "_"), (r"\%", "%"),
          (r"$<$", "<"), (r"$>$", ">"), (r"$\approx$", "≈"), ("\\quad$''$", "″"),
          (r"$\ni$", "∋"), (r"$\dagger$", "†")]


def _joined_lines(match: re.Match) -> str:
    """A cell's stacked lines as plain text: joined by spaces, "±std" as "± std"."""
    lines = match.group(1).split("\\\\")
    return " ".join(re.sub(r"^\$\\pm\$(?=\S)", r"$\\pm$ ", line) for line in lines)


def clean(cell: str) -> str:
    """LaTeX cell -> the plain text the generator started from (stacked lines joined by a
    space)."""
    cell = cell.strip()
    cell = re.sub(r"\\rnnlines\{[lcr]\}\{(.*)\}$", _joined_lines, cell)
    cell = cell.replace(r"\newline ", " ")
    while True:
        match = re.fullmatch(r"\\(?:textbf|emph|texttt)\{(.*)\}", cell)
        if not match:
            break
        cell = match.group(1)
    for latex, text in _CLEAN:
        cell = cell.replace(latex, text)
    return cell


def split_row(line: str) -> list[tuple[str, int]]:
    """Cells of one tabular row as (cleaned text, span)."""
    line = line.strip()
    assert line.endswith(r"\\"), line
    out = []
    for raw in re.split(r"(?<!\\)&", line[:-2]):
        raw = raw.strip()
        match = re.fullmatch(r"\\multicolumn\{(\d+)\}\{[^}]*\}\{(.*)\}", raw)
        if match:
            out.append((clean(match.group(2)), int(match.group(1))))
        else:
            out.append((clean(raw), 1))
    return out


def parse_tables(text: str) -> dict[str, ParsedTable]:
    """Every table of a generated file, by label."""
    tables = {}
    for block in re.findall(r"\\begin\{table\*?\}(.*?)\\end\{table\*?\}", text, re.S):
        label = re.search(r"\\label\{([^}]*)\}", block).group(1)
        caption = re.search(r"\\caption\{(.*)\}\n\\label", block, re.S).group(1)
        tabular = re.search(r"\\toprule\n(.*?)\\bottomrule", block, re.S).group(1)
        head, body = tabular.split("\\midrule\n", 1)
        header = [split_row(line) for line in head.splitlines()
                  if line.strip() and not line.startswith(r"\cmidrule")]
        columns = [text for text, span in header[-1] for text in [text] + [""] * (span - 1)]
        rows = []
        for line in body.splitlines():
            if not line.strip() or line.strip() == r"\midrule":
                continue
            cells = split_row(line)
            assert sum(span for _, span in cells) == len(columns), (label, line)
            rows.append([text for text, _ in cells])
        tables[label] = ParsedTable(label, caption, columns, rows)
    return tables


def best_rows(table: ParsedTable) -> list[list[str]]:
    """Table 4's rows with the best run in a column of its own, after the published columns
    (its first cell prints the group over the run): [group, 5 published, run, n, ...]."""
    assert table.columns[0] == "Group best run", table.columns
    rows = []
    for row in table.rows:
        group, run = row[0].rsplit(" ", 1)
        rows.append([group, *row[1:6], run, *row[6:]])
    return rows


def number(text: str) -> float:
    return float(text.replace("−", "-").replace("+", ""))


def decimals(text: str) -> int:
    return len(text.split(".")[1]) if "." in text else 0


def assert_close(printed: str, expected: float, what: str) -> None:
    """``printed`` is ``expected`` rounded to the printed number of decimals."""
    assert printed != MISSING, f"{what}: printed — but a value exists ({expected})"
    tolerance = 0.5 * 10 ** -decimals(printed) + 1e-9
    assert abs(number(printed) - expected) <= tolerance, f"{what}: {printed} != {expected}"


def assert_summary(mean_cell: str, n_cell: str | None, values: Sequence[float],
                   what: str) -> None:
    """"mean ± std" (or the plain value for one) and n, recomputed from ``values``."""
    values = [float(v) for v in values]
    if not values:
        assert mean_cell == MISSING, f"{what}: expected —, got {mean_cell}"
        if n_cell is not None:
            assert n_cell == MISSING, what
        return
    if n_cell is not None:
        assert n_cell == str(len(values)), f"{what}: n {n_cell} != {len(values)}"
    if len(values) == 1:
        assert "±" not in mean_cell, what
        assert_close(mean_cell, values[0], what)
    else:
        mean, std = (part.strip() for part in mean_cell.split("±"))
        assert_close(mean, statistics.fmean(values), what + " mean")
        assert_close(std, statistics.stdev(values), what + " std")


def assert_difference(cell: str, reproduced: Sequence[float], published: float | None,
                      what: str) -> None:
    if not reproduced or published is None:
        assert cell == MISSING, f"{what}: Δ should be —, got {cell}"
        return
    assert cell[0] in "+−", f"{what}: Δ {cell} has no sign"
    assert_close(cell, statistics.fmean(float(v) for v in reproduced) - published, what + " Δ")


def lr_label(lr: float) -> str:
    return f"{float(lr):g}"


# --------------------------------------------------------------------------------------------
# Checkers (shared with the quick-run test)


def check_renet_architectures(table: ParsedTable, published: Mapping[str, Any],
                              renet: Mapping[str, Any]) -> None:
    arch = published["renet"]["architectures"]["datasets"]
    rows = {row[0]: row[1:] for row in table.rows}
    run = set(renet["datasets"])
    for i, name in enumerate(RENET_DATASETS):
        expect_paper = arch[name]
        paper = {k: v[2 * i] for k, v in rows.items()}
        ours = {k: v[2 * i + 1] for k, v in rows.items()}
        assert paper["$N_{\\mathrm{RE}}$"] == str(expect_paper["renet_layers"])
        assert paper["$d_{\\mathrm{RE}}$"] == "–".join(map(str, expect_paper["hidden"]))
        assert paper["$d_{\\mathrm{FC}}$"] == "–".join(map(str, expect_paper["fc"]))
        assert paper["$N_{\\mathrm{FC}}$"] == str(len(expect_paper["fc"]))
        # The paper's GRU is its sec. 4.2 equation (reset before U); ours names its variant.
        assert paper["Recurrent unit"] == UNIT_NAMES[expect_paper["cell"]]
        assert paper["Flipping"] == ("yes" if expect_paper["flip"] else "no")
        if name not in run:
            assert set(ours.values()) == {MISSING}, name
            continue
        model = renet["models"][name]
        assert ours["$N_{\\mathrm{RE}}$"] == str(len(model["layers"]))
        assert ours["$d_{\\mathrm{RE}}$"] == "–".join(str(layer["hidden"])
                                                     for layer in model["layers"])
        assert ours["$w_p \\times h_p$"] == "–".join(
            f"[{layer['patch'][1]}×{layer['patch'][0]}]" for layer in model["layers"])
        assert ours["$d_{\\mathrm{FC}}$"] == "–".join(map(str, model["fc"]))
        assert ours["Recurrent unit"] == UNIT_NAMES[model["cell"]]
        assert ours["Flipping"] == ("yes" if model["flip"] else "no")
        assert ours["Shifting"] == ("yes" if model["shift"] else "no")


def check_renet_errors(table: ParsedTable, published: Mapping[str, Any],
                       summary: pd.DataFrame) -> None:
    assert table.columns == ["Model", "Test error (%)", "n", "Δ (pp)"]
    sections: dict[str, list[list[str]]] = {}
    current = None
    for row in table.rows:
        if len(row) == 1:
            current = row[0]
            sections[current] = []
        else:
            sections[current].append(row)
    assert list(sections) == ["(a) MNIST", "(b) CIFAR-10", "(c) SVHN"]
    for name, rows in zip(RENET_DATASETS, sections.values(), strict=True):
        block = published["renet"]["test_errors"]["datasets"][name]["rows"]
        errors = (summary.loc[summary["dataset"] == name, "test_error"] * 100).tolist()
        paper_renet = next(r for r in block if r.get("renet"))["error"]
        printed = iter(rows)
        for entry in block:
            row = next(printed)
            if entry.get("renet"):
                assert row[0] == "ReNet (paper)"
                assert number(row[1]) == pytest.approx(entry["error"], abs=1e-12)
                ours = next(printed)
                assert ours[0].startswith("ReNet (reproduced")
                assert_summary(ours[1], ours[2], errors, f"ReNet {name}")
                assert_difference(ours[3], errors, paper_renet, f"ReNet {name}")
            else:
                assert row[0] == entry["model"] + ("*" if entry["cnn"] else ""), row
                assert number(row[1]) == pytest.approx(entry["error"], abs=1e-12), row
                assert row[2:] == ["", ""]
        assert next(printed, None) is None, f"{name}: extra rows"


def check_latency(table: ParsedTable, published: Mapping[str, Any],
                  frame: pd.DataFrame) -> None:
    paper = {r["model"]: r["values"] for r in published["memory"]["latency"]["rows"]}
    groups: dict[str, list[list[str]]] = {}
    current = None
    for row in table.rows:
        if row[0] and row[0] != "mean":
            current = row[0]
            groups[current] = []
        groups[current].append(row)
    assert set(paper) <= set(groups), "every published group has rows"
    assert set(frame["group"]) <= set(groups), "every reproduced group has rows"
    for group, rows in groups.items():
        *runs, mean_row = rows
        assert mean_row[0] == "mean"
        values = paper.get(group, [])
        printed = [r[1] for r in runs if r[1] not in ("", MISSING)]
        assert [number(v) for v in printed] == pytest.approx(values, abs=0), group
        ours = frame[frame["group"] == group]
        assert_summary(mean_row[4], mean_row[5], ours["latency_mean"].tolist(), group)
        if values:
            assert_summary(mean_row[1], mean_row[2], values, group + " published")
        assert_difference(mean_row[6], ours["latency_mean"].tolist(),
                          statistics.fmean(values) if values else None, group)
        expected_labels = {f"{rep}@{lr_label(lr)}"
                           for rep, lr in zip(ours["representation"], ours["learning_rate"],
                                              strict=True)}
        labels = {r[3] for r in runs if r[3] not in ("", MISSING)}
        assert labels == expected_labels, group
        for row in runs:
            if row[3] in ("", MISSING):
                continue
            rep, lr = row[3].split("@")
            sel = ours[(ours["representation"] == rep)
                       & (ours["learning_rate"].map(lr_label) == lr)]
            assert_summary(row[4], row[5], sel["latency_mean"].tolist(), row[3])


RUN_COLUMNS = ["epoch", "acc", "val_acc", "loss", "val_loss"]
OUR_COLUMNS = ["epoch", "acc", "val_acc", "test_acc", "loss", "val_loss"]
# The printed headers: the paper's names.
HEADERS = {"val_acc": "vacc", "val_loss": "vloss", "test_acc": "test acc"}


def _check_reproduced(cells: Sequence[str], n_cell: str, sel: pd.DataFrame, what: str) -> None:
    for column, cell in zip(OUR_COLUMNS, cells, strict=True):
        assert_summary(cell, n_cell, sel[column].tolist(), f"{what} {column}")


def check_runs(table: ParsedTable, published: Mapping[str, Any], frame: pd.DataFrame) -> None:
    assert table.columns == ["Representation", "lr", *(HEADERS.get(c, c) for c in RUN_COLUMNS),
                             "n", "epoch", "acc", "vacc", "test acc", "loss", "vloss", "Δ vacc"]
    paper_rows = published["memory"]["runs"]["rows"]
    assert len(table.rows) >= len(paper_rows)
    seen = set()
    for i, row in enumerate(table.rows):
        rep, lr = row[0], row[1]
        seen.add((rep, lr))
        if i < len(paper_rows):
            entry = paper_rows[i]
            name = entry["model"].split("@")[0]
            m = re.fullmatch(r"(.+) random permute (\d)", name)
            assert rep == (f"{m[1]}-perm{m[2]}" if m else name), (rep, entry["model"])
            assert lr == entry["model"].split("@")[-1]
            for column, cell in zip(RUN_COLUMNS, row[2:7], strict=True):
                assert number(cell) == pytest.approx(entry[column], abs=0), (rep, column)
        else:
            entry = None
            assert row[2:7] == [MISSING] * 5
        sel = frame[(frame["representation"] == rep)
                    & (frame["learning_rate"].map(lr_label) == lr)]
        _check_reproduced(row[8:14], row[7], sel, f"{rep}@{lr}")
        assert_difference(row[14], sel["val_acc"].tolist(), entry and entry["val_acc"], rep)
    expected = {(r, lr_label(lr)) for r, lr in zip(frame["representation"],
                                                    frame["learning_rate"], strict=True)}
    assert expected <= seen


def check_best(table: ParsedTable, published: Mapping[str, Any], frame: pd.DataFrame) -> None:
    paper = {r["model"]: r for r in published["memory"]["best"]["rows"]}
    groups = [row[0] for row in best_rows(table)]
    assert groups[:len(paper)] == list(paper), "the paper's groups first, in its order"
    assert set(frame["group"]) <= set(groups)
    for row in best_rows(table):
        entry = paper.get(row[0])
        for column, cell in zip(RUN_COLUMNS, row[1:6], strict=True):
            if entry:
                assert number(cell) == pytest.approx(entry[column], abs=0), (row[0], column)
            else:
                assert cell == MISSING
        ours = frame[frame["group"] == row[0]]
        if ours.empty:
            assert row[6:] == [MISSING] * 9
            continue
        means = ours.groupby(["representation", ours["learning_rate"].map(lr_label)])["val_acc"]
        (rep, lr) = means.mean().idxmax()
        assert row[6] == f"{rep}@{lr}", row[0]
        sel = ours[(ours["representation"] == rep) & (ours["learning_rate"].map(lr_label) == lr)]
        _check_reproduced(row[8:14], row[7], sel, row[0])
        assert_difference(row[14], sel["val_acc"].tolist(), entry and entry["val_acc"], row[0])


def check_increment(table: ParsedTable, frame: pd.DataFrame,
                    increment: Mapping[str, Any]) -> None:
    assert table.columns == ["Task", "Cell", "minibatches", "n", "digit acc", "number acc",
                             "n", "digit acc", "number acc", "Δ digit", "Δ number"]
    task = None
    rows_seen = 0
    for row in table.rows:
        if row[0]:
            task = tuple(int(x) for x in re.fullmatch(r"K = (\d+), N = (\d+)", row[0]).groups())
        cell = row[1].lower()
        sel = frame[(frame["base"] == task[0]) & (frame["digits"] == task[1])
                    & (frame["cell"] == cell)]
        what = f"K={task[0]} N={task[1]} {cell}"
        if sel.empty:
            assert row[2] == MISSING
        else:
            assert row[2] == str(int(sel["minibatches"].max()))
        numbers, digits = {}, {}
        for order, offset in (("simple", 3), ("complicated", 6)):
            part = sel[sel["order"] == order]
            assert_summary(row[offset + 1], row[offset], part["final_digit_acc"].tolist(),
                           f"{what} {order} digit")
            assert_summary(row[offset + 2], row[offset], part["final_number_acc"].tolist(),
                           f"{what} {order} number")
            numbers[order] = part["final_number_acc"].tolist()
            digits[order] = part["final_digit_acc"].tolist()
        for column, values in ((9, digits), (10, numbers)):
            if values["simple"] and values["complicated"]:
                assert_close(row[column], statistics.fmean(values["complicated"])
                             - statistics.fmean(values["simple"]), f"{what} Δ {column}")
            else:
                assert row[column] == MISSING
        rows_seen += 1
    expected = len(increment["tasks"]) * len(increment["cells"])
    assert rows_seen >= expected


VERDICT = re.compile(r"(supported|contradicted|inconclusive|not run)\b")
CLAIMS_COLUMNS = ["Claim", "Comparison (a vs b)", "Paper", "Ours: mean [95 % CI]",
                  "Paper vs ours", "n", "Verdict"]


def claims_rows(tables: Mapping[str, ParsedTable]) -> list[list[str]]:
    """One printed row per verdict, in :func:`printed_order`, as [claim, comparison, paper,
    ours, paper vs ours, n, verdict]: tab:claims and tab:claims-renet as printed, then
    tab:claims-increment (one row per comparison, one "ours verdict" cell per reading) split per
    reading."""
    rows = []
    for label in ("tab:claims", "tab:claims-continued", "tab:claims-renet"):
        assert tables[label].columns == CLAIMS_COLUMNS
        rows += [row for row in tables[label].rows if len(row) == len(CLAIMS_COLUMNS)]
    matrix = tables["tab:claims-increment"]
    assert matrix.columns[:3] == ["Claim", "Comparison (a vs b)", "n"]
    readings = matrix.columns[3:]
    for row in matrix.rows:
        if len(row) != 3 + len(readings):
            continue
        for index, (reading, cell) in enumerate(zip(readings, row[3:], strict=True)):
            # Ours over the verdict; a reading where nothing ran prints the verdict only.
            match = re.fullmatch(r"(?:([+−][0-9.]+(?: %)?(?: \[[^]]*\])?) )?(.*)", cell)
            label = f"{row[1]}: {reading}" if index == 0 else f"″ {reading}"
            rows.append([row[0], label, "", match.group(1) or MISSING, None, row[2],
                         match.group(2)])
    return rows


def printed_order(verdicts: pd.DataFrame) -> pd.DataFrame:
    """verdicts.csv in the order the tables print it: tab:claims (the memory paper's MNIST
    claims), tab:claims-renet, then the increment claims."""
    increment = verdicts["data"] == "increment_evaluations"
    renet = verdicts["paper"] == "renet"
    return pd.concat([verdicts[~increment & ~renet], verdicts[renet], verdicts[increment]])


def is_row_of(cell: str, record: Mapping[str, Any]) -> bool:
    """A comparison cell prints its label and reading (later readings: the reading only; the
    increment table may add the paper's words to the label)."""
    reading = record["reading"] if isinstance(record["reading"], str) else ""
    if not reading:
        return cell == str(record["comparison"])
    return (cell == f"″ {reading}" or (cell.startswith(str(record["comparison"]))
                                       and cell.endswith(f": {reading}")))


def check_claims(tables: Mapping[str, ParsedTable], verdicts: pd.DataFrame) -> None:
    """Every comparison of verdicts.csv is a row: its n, verdict, magnitude check, and mean
    [interval] as printed (percent for relative effects) within rounding."""
    rows = claims_rows(tables)
    verdicts = printed_order(verdicts)
    headings = [row[0] for label in ("tab:claims", "tab:claims-continued", "tab:claims-renet",
                                     "tab:claims-increment")
                for row in tables[label].rows if len(row) == 2]
    assert headings == list(dict.fromkeys(verdicts["claim"]))
    assert len(rows) == len(verdicts)
    for row, (_, record) in zip(rows, verdicts.iterrows(), strict=True):
        what = f"claims: {record['comparison']}"
        assert is_row_of(row[1], record), (what, row[1])
        assert row[5] == str(int(record["n"])), what
        assert VERDICT.match(row[6])[1] == record["verdict"], what
        magnitude = record["magnitude"] if isinstance(record["magnitude"], str) else ""
        if row[4] is not None:     # the increment table has no magnitude column
            assert row[4] == (magnitude or MISSING), what
        if pd.isna(record["mean"]):
            assert row[3] == MISSING, what
            continue
        scale = 100 if record["effect"] == "relative" else 1
        match = re.fullmatch(r"([+−][0-9.]+)(?: %)?(?: \[([+−][0-9.]+), ([+−][0-9.]+)\])?",
                             row[3])
        assert match, (what, row[3])
        assert_close(match.group(1), record["mean"] * scale, what)
        if pd.isna(record["ci_low"]):
            assert match.group(2) is None, what
        else:
            assert_close(match.group(2), record["ci_low"] * scale, what)
            assert_close(match.group(3), record["ci_high"] * scale, what)


def check_generated_header(text: str, output: str, rule: str) -> None:
    first = text.splitlines()[0]
    assert first.startswith(f"% {output}: GENERATED"), first
    assert f"rule {rule}" in text.split("\n\n")[0]


def check_all(tables_tex: Path, increment_tex: Path, published: Mapping[str, Any],
              results: Mapping[str, pd.DataFrame], settings: Mapping[str, Any]) -> None:
    """Every table of the two generated files against the result frames and published.yaml."""
    text = tables_tex.read_text()
    check_generated_header(text, str(tables_tex.relative_to(tables_tex.parents[1])),
                           "paper_tables")
    tables = parse_tables(text)
    assert set(tables) == {"tab:renet-architectures", "tab:renet-errors", "tab:memory-latency",
                           "tab:memory-runs", "tab:memory-best", "tab:claims",
                           "tab:claims-continued", "tab:claims-renet", "tab:claims-increment"}
    for table in tables.values():
        assert f"preset \\texttt{{{settings['preset']}}}" in table.caption, table.label
    check_renet_architectures(tables["tab:renet-architectures"], published, settings["renet"])
    check_renet_errors(tables["tab:renet-errors"], published, results["renet"])
    check_latency(tables["tab:memory-latency"], published, results["latency"])
    check_runs(tables["tab:memory-runs"], published, results["runs"])
    check_best(tables["tab:memory-best"], published, results["runs"])
    check_claims(tables, results["verdicts"])
    inc_text = increment_tex.read_text()
    check_generated_header(inc_text, str(increment_tex.relative_to(increment_tex.parents[1])),
                           "paper_increment_table")
    inc = parse_tables(inc_text)
    assert list(inc) == ["tab:increment-final"]
    assert "Not a table of the paper" in inc["tab:increment-final"].caption
    check_increment(inc["tab:increment-final"], results["increment"], settings["increment"])


# --------------------------------------------------------------------------------------------
# Every reproduced number is in a results file: tables.tex -> file -> row -> column, one step

# Where each table's reproduced numbers are read from (paths relative to the results folder).
AGGREGATE_FILES = {"variants": "memory/summary/variants.csv", "groups": "memory/summary/groups.csv",
                   "errors": "renet/errors.csv", "verdicts": "claims/verdicts.csv"}
DATASET_SECTIONS = {"MNIST": "mnist", "CIFAR-10": "cifar10", "SVHN": "svhn"}


def assert_stored(cell: str, n_cell: str, row: Mapping[str, Any], metric: str,
                  what: str) -> None:
    """A printed "mean ± std" (or plain mean) and its n are the stored row's columns."""
    assert n_cell == str(int(row["n"])), f"{what}: n {n_cell} != {row['n']}"
    mean, _, std = (part.strip() for part in cell.partition("±"))
    assert_close(mean, float(row[f"{metric}_mean"]), f"{what} {metric}_mean")
    if int(row["n"]) > 1:
        assert_close(std, float(row[f"{metric}_std"]), f"{what} {metric}_std")
    else:
        assert not std, f"{what}: one seed, no std"


def check_numbers_in_results(tables_tex: Path, results: Path,
                             files: Mapping[str, str] = AGGREGATE_FILES) -> int:
    """Find every reproduced number tables.tex prints (not the published ones, nor Δ =
    reproduced − published) in the summary file that holds it, by row; returns the count."""
    tables = parse_tables(tables_tex.read_text())
    frames = {name: pd.read_csv(results / path) for name, path in files.items()}
    variants = {row["variant"]: row for row in frames["variants"].to_dict("records")}
    checked = 0

    dataset = None
    for row in tables["tab:renet-errors"].rows:
        if len(row) == 1:
            dataset = DATASET_SECTIONS[row[0].split(") ", 1)[1]]
        elif row[0].startswith("ReNet (reproduced"):
            stored = frames["errors"][frames["errors"]["dataset"] == dataset]
            if row[1] == MISSING:
                assert stored.empty, dataset
                continue
            assert_stored(row[1], row[2], stored.iloc[0], "test_error_percent", dataset)
            checked += 1

    groups = {row["group"]: row for row in frames["groups"].to_dict("records")}
    group = None
    for row in tables["tab:memory-latency"].rows:
        group = row[0] if row[0] not in ("", "mean") else group
        if row[0] == "mean":
            if row[4] != MISSING:
                assert_stored(row[4], row[5], groups[group], "latency", f"{group} mean")
                checked += 1
        elif row[3] not in ("", MISSING):
            assert variants[row[3]]["group"] == group, row[3]
            assert_stored(row[4], row[5], variants[row[3]], "latency", row[3])
            checked += 1

    metrics = ("epoch", "acc", "val_acc", "test_acc", "loss", "val_loss")
    for row in tables["tab:memory-runs"].rows:
        if row[7] != MISSING:
            stored = variants[f"{row[0]}@{row[1]}"]
            for metric, cell in zip(metrics, row[8:14], strict=True):
                assert_stored(cell, row[7], stored, metric, f"{row[0]}@{row[1]}")
            checked += 1
    for row in best_rows(tables["tab:memory-best"]):
        if row[6] != MISSING:
            stored = variants[row[6]]
            assert stored["best"] and stored["group"] == row[0], row[6]
            for metric, cell in zip(metrics, row[8:14], strict=True):
                assert_stored(cell, row[7], stored, metric, row[6])
            checked += 1

    verdict_rows = iter(printed_order(frames["verdicts"]).to_dict("records"))
    for row in claims_rows(tables):
        stored = next(verdict_rows)
        assert is_row_of(row[1], stored) and row[5] == str(int(stored["n"]))
        if row[3] == MISSING:
            continue
        # Relative effects print verdicts.csv's fraction in percent.
        scale = 100 if stored["effect"] == "relative" else 1
        numbers = re.findall(r"[+−-][0-9.]+", row[3])
        assert_close(numbers[0], float(stored["mean"]) * scale, f"{row[1]} mean")
        if len(numbers) == 3:
            assert_close(numbers[1], float(stored["ci_low"]) * scale, f"{row[1]} ci_low")
            assert_close(numbers[2], float(stored["ci_high"]) * scale, f"{row[1]} ci_high")
        checked += 1
    return checked


# --------------------------------------------------------------------------------------------
# Synthetic results

REPRESENTATIONS = ["original", "transposed", *[f"{b}-perm{k}" for b in ("original", "transposed")
                                               for k in range(3)],
                   "flattened", "transposed-flattened", *[f"flattened-perm{k}" for k in range(3)]]


def group_of(rep: str) -> str:
    base, _, perm = rep.partition("-perm")
    return base + (" random permute" if perm else "")


def variant_of(rep: str, lr: float) -> str:
    base, _, perm = rep.partition("-perm")
    name = f"{base} random permute {perm}" if perm else base
    return f"{name}@16@128@{lr:g}"


def synthetic_results(rng: np.random.Generator) -> dict[str, pd.DataFrame]:
    """Results in the stages' formats, with several seeds, one seed, and missing rows."""
    latency, runs = [], []
    for rep in REPRESENTATIONS:
        if rep == "flattened-perm2":
            continue                                    # not run: its rows must read "—"
        for lr in (3e-5, 1e-6):
            seeds = (0, 1, 2) if rep.startswith("transposed") else (0,)
            for seed in seeds:
                common = {"variant": variant_of(rep, lr), "representation": rep,
                          "group": group_of(rep), "learning_rate": lr, "seed": seed}
                steps = 784 if "flattened" in rep else 28
                latency.append({**common, "steps": steps,
                                "latency_mean": rng.uniform(1, steps)})
                runs.append({**common, "epoch": int(rng.integers(1, 240)),
                             **{k: rng.uniform(0.3, 1.0) for k in ("acc", "val_acc", "test_acc")},
                             **{k: rng.uniform(0.0, 1.5) for k in ("loss", "val_loss",
                                                                   "test_loss")}})
    runs_frame = pd.DataFrame(runs).sort_values("val_acc", ascending=False)
    renet = pd.DataFrame([{"dataset": "mnist", "seed": s, "test_error": rng.uniform(0.003, 0.05),
                           "val_error": 0.01, "best_epoch": 3, "epochs_run": 5,
                           "parameters": 12345} for s in (0, 1, 2)]
                         + [{"dataset": "cifar10", "seed": 0, "test_error": 0.1312,
                             "val_error": 0.12, "best_epoch": 40, "epochs_run": 50,
                             "parameters": 99}])
    increment = []
    for base, digits in ((2, 32), (10, 7), (4, 15)):
        for order in ("simple", "complicated"):
            for cell in ("rnn", "lstm", "gru"):
                if (base, cell, order) == (4, "gru", "complicated"):
                    continue                            # not run
                for seed in ((0, 1) if cell == "lstm" else (0,)):
                    increment.append({"base": base, "digits": digits, "order": order,
                                      "cell": cell, "seed": seed, "minibatches": 300,
                                      "final_digit_acc": rng.uniform(),
                                      "final_number_acc": rng.uniform()})
    return {"latency": pd.DataFrame(latency), "runs": runs_frame, "renet": renet,
            "increment": pd.DataFrame(increment), "verdicts": synthetic_verdicts(rng)}


def synthetic_verdicts(rng: np.random.Generator) -> pd.DataFrame:
    """verdicts.csv rows of every kind: relative and plain effects, with and without interval,
    not run."""
    from rnnrepro.claims.evaluate import VERDICT_COLUMNS

    rows = []
    for index, (claim, effect, n) in enumerate([("M1", "relative", 3), ("M1", "relative", 1),
                                                ("M4", "difference", 4), ("M4", "difference", 0),
                                                ("R1", "a − reference", 1)]):
        mean = None if n == 0 else rng.normal(0, 0.05)
        half = rng.uniform(0.001, 0.05) if n > 1 else None
        rows.append({column: "" for column in VERDICT_COLUMNS} | {
            "claim": claim, "summary": f"claim {claim}", "where": "Sec. 1",
            "comparison": f"comparison {index}", "effect": effect, "n": n, "mean": mean,
            "ci_low": None if half is None else mean - half,
            "ci_high": None if half is None else mean + half,
            "verdict": "inconclusive" if n < 3 else "supported",
            "reason": "n = 1 < 2: no interval" if n == 1 else "",
            "claimed_text": "relative 0.7 %" if effect == "relative" else "",
            "statistic": "test_error × 100", "reference": 0.45 if claim == "R1" else None})
    return pd.DataFrame(rows, columns=list(VERDICT_COLUMNS))


SETTINGS = {
    "preset": "synthetic",
    "renet": {"datasets": ["mnist", "cifar10"],
              "models": {"mnist": {"cell": "gru", "fc": [256], "flip": False, "shift": True,
                                   "layers": [{"patch": [2, 2], "hidden": 32},
                                              {"patch": [2, 2], "hidden": 32}]},
                         "cifar10": {"cell": "gru", "fc": [4096], "flip": True, "shift": True,
                                     "layers": [{"patch": [2, 2], "hidden": 320}] * 3},
                         "svhn": {"cell": "lstm", "fc": [4096, 4096], "flip": False,
                                  "shift": True, "layers": [{"patch": [2, 2], "hidden": 256}]
                                  * 3}}},
    "increment": {"tasks": [{"base": 2, "digits": 32}, {"base": 10, "digits": 7},
                            {"base": 4, "digits": 15}], "cells": ["rnn", "lstm", "gru"]},
}


def write_aggregates(results: Mapping[str, pd.DataFrame], folder: Path) -> None:
    """The summaries' aggregate files (variants.csv, groups.csv, errors.csv) of per-run frames,
    written by the summary stages' own functions."""
    from rnnrepro.files import write_csv
    from rnnrepro.memory import summary as memory_summary
    from rnnrepro.renet import summary as renet_summary

    keys = ["representation", "learning_rate", "seed"]
    merged = results["runs"].merge(results["latency"][[*keys, "latency_mean"]], on=keys)
    runs = [{**{k: row[k] for k in ("representation", "group", "learning_rate", "seed",
                                     "latency_mean")},
             "best": {m: row[m] for m in memory_summary.VARIANT_METRICS if m != "latency"}}
            for row in merged.to_dict("records")]
    write_csv(folder / "variants.csv", memory_summary.variants(runs),
              memory_summary.VARIANT_COLUMNS)
    write_csv(folder / "groups.csv", memory_summary.groups(runs), memory_summary.GROUP_COLUMNS)
    write_csv(folder / "errors.csv", renet_summary.errors(results["renet"].to_dict("records")),
              renet_summary.ERROR_COLUMNS)


def generate(workdir: Path, results: Mapping[str, pd.DataFrame],
             settings: Mapping[str, Any] = SETTINGS) -> tuple[Path, Path]:
    """Write the result files, run both commands in ``workdir`` with relative paths (as the
    rules do), and return the two generated .tex paths."""
    import json

    (workdir / "results").mkdir(parents=True, exist_ok=True)
    (workdir / "paper").mkdir(exist_ok=True)
    shutil.copy(PUBLISHED, workdir / "paper" / "published.yaml")
    for name, frame in results.items():
        frame.to_csv(workdir / "results" / f"{name}.csv", index=False)
    write_aggregates(results, workdir / "results")
    with contextlib.chdir(workdir):
        assert main(["paper-tables", "--published", "paper/published.yaml",
                     "--renet-errors", "results/errors.csv",
                     "--memory-variants", "results/variants.csv",
                     "--memory-groups", "results/groups.csv",
                     "--verdicts", "results/verdicts.csv",
                     "--settings", json.dumps({k: settings[k] for k in ("preset", "renet")}),
                     "--output", "paper/tables.tex", "--html", "results/tables.html"]) == 0
        assert main(["paper-increment-table", "--summary", "results/increment.csv",
                     "--settings",
                     json.dumps({k: settings[k] for k in ("preset", "increment")}),
                     "--output", "paper/increment-table.tex",
                     "--html", "results/increment.html"]) == 0
    return workdir / "paper" / "tables.tex", workdir / "paper" / "increment-table.tex"


@pytest.fixture
def published() -> dict[str, Any]:
    return yaml.safe_load(PUBLISHED.read_text())


@pytest.fixture
def generated(tmp_path: Path) -> tuple[Path, Path, dict[str, pd.DataFrame]]:
    results = synthetic_results(np.random.default_rng(7))
    tables, inc = generate(tmp_path, results)
    return tables, inc, results


# --------------------------------------------------------------------------------------------
# Tests


def test_every_number_matches_its_source(generated, published):
    tables, inc, results = generated
    check_all(tables, inc, published, results, SETTINGS)


def test_every_reproduced_number_is_in_a_results_file(generated):
    tables, _, _ = generated
    results = tables.parents[1] / "results"
    files = {"variants": "variants.csv", "groups": "groups.csv", "errors": "errors.csv",
             "verdicts": "verdicts.csv"}
    # 2 ReNet datasets; 24 variants (12 representations x 2 learning rates) and 7 groups in
    # Table 2, the 24 variants in Table 3, the 7 groups' best in Table 4; 4 claims that ran.
    assert check_numbers_in_results(tables, results, files) == 2 + (24 + 7) + 24 + 7 + 4
    # A number the summaries do not hold is caught.
    variants = pd.read_csv(results / "variants.csv")
    variants.loc[0, "acc_mean"] += 0.01
    variants.to_csv(results / "variants.csv", index=False)
    with pytest.raises(AssertionError, match="acc_mean"):
        check_numbers_in_results(tables, results, files)


def test_missing_rows_and_seed_summaries_are_visible(generated):
    tables_path, inc_path, _ = generated
    tables = parse_tables(tables_path.read_text())
    paper_rows = [row for row in tables["tab:renet-errors"].rows if row[0] == "ReNet (paper)"]
    renet_rows = [row for row in tables["tab:renet-errors"].rows
                  if row[0].startswith("ReNet (reproduced")]
    assert [row[2] for row in renet_rows] == ["3", "1", MISSING]     # mnist 3 seeds, svhn none
    assert "±" in renet_rows[0][1] and "±" not in renet_rows[1][1]
    assert renet_rows[2][1:] == [MISSING] * 3
    assert [row[1] for row in paper_rows] == ["0.45", "12.35", "2.38"]
    runs = {(row[0], row[1]): row for row in tables["tab:memory-runs"].rows}
    assert runs[("flattened-perm2", "3e-05")][7:] == [MISSING] * 8
    assert runs[("transposed", "3e-05")][7] == "3" and "±" in runs[("transposed", "3e-05")][10]
    assert runs[("original", "3e-05")][7] == "1"
    inc = parse_tables(inc_path.read_text())["tab:increment-final"].rows
    k4_gru = [row for row in inc if row[1] == "GRU"][-1]
    assert k4_gru[6:] == [MISSING] * 5


def test_a_preset_without_the_memory_stage_prints_the_papers_rows_only(tmp_path, published):
    """memory.representations: [] (the renet-mnist preset): the memory summary of no runs, as
    `rnnrepro memory-summary` writes it, keeps every published row of Tables 2-4 with "—" for
    ours, as a ReNet dataset not run does; the ReNet tables are unaffected."""
    summary = tmp_path / "summary"
    names = ("table2", "table3", "variants", "groups", "table4", "curves", "epochs")
    assert main(["memory-summary", "--metrics", "--histories",
                 *[arg for name in names for arg in (f"--{name}", str(summary / f"{name}.csv"))],
                 "--notes", str(summary / "notes.json")]) == 0
    results = synthetic_results(np.random.default_rng(3))
    results["runs"], results["latency"] = results["runs"].iloc[:0], results["latency"].iloc[:0]
    tables_tex, inc = generate(tmp_path / "work", results)
    for name in ("variants", "groups"):     # the files formatted are the summary's own
        assert ((tmp_path / "work/results" / f"{name}.csv").read_text()
                == (summary / f"{name}.csv").read_text())
    check_all(tables_tex, inc, published, results, SETTINGS)
    tables = parse_tables(tables_tex.read_text())
    runs, best = tables["tab:memory-runs"].rows, best_rows(tables["tab:memory-best"])
    assert len(runs) == len(published["memory"]["runs"]["rows"])
    assert all(row[7:] == [MISSING] * 8 for row in runs)
    assert len(best) == len(published["memory"]["best"]["rows"])
    assert all(row[6:] == [MISSING] * 9 for row in best)
    means = [row for row in tables["tab:memory-latency"].rows if row[0] == "mean"]
    assert len(means) == 4 and all(row[4:] == [MISSING] * 3 for row in means)
    renet = [row for row in tables["tab:renet-errors"].rows
             if row[0].startswith("ReNet (reproduced")]
    assert [row[2] for row in renet] == ["3", "1", MISSING]


def test_published_yaml_covers_the_papers_tables(published):
    memory = published["memory"]
    assert len(memory["runs"]["rows"]) == 26 and len(memory["best"]["rows"]) == 7
    config = yaml.safe_load((REPO / "config.yaml").read_text())["memory"]
    keys = set()
    for row in memory["runs"]["rows"]:
        name, _, _, lr = row["model"].split("@")
        m = re.fullmatch(r"(.+) random permute (\d)", name)
        keys.add((f"{m[1]}-perm{m[2]}" if m else name, lr))
    assert keys == {(rep, lr_label(lr)) for rep in config["representations"]
                    for lr in config["learning_rates"]}
    vaccs = [row["val_acc"] for row in memory["runs"]["rows"]]
    assert vaccs == sorted(vaccs, reverse=True), "Table 3 is sorted by vacc"
    metrics = ("epoch", "acc", "val_acc", "loss", "val_loss")
    for best in memory["best"]["rows"]:     # Table 4 repeats the best Table 3 row of its group
        members = [row for row in memory["runs"]["rows"]
                   if re.sub(r" \d$", "", row["model"].split("@")[0]) == best["model"]]
        assert [members[0][k] for k in metrics] == [best[k] for k in metrics], best["model"]
    assert [len(r["values"]) for r in memory["latency"]["rows"]] == [2, 2, 6, 6]
    for name in RENET_DATASETS:
        rows = published["renet"]["test_errors"]["datasets"][name]["rows"]
        assert [r["row"] for r in rows] == list(range(1, len(rows) + 1))
        errors = [r["error"] for r in rows]
        assert errors == sorted(errors)
    assert published["increment"]["figures"]["end_points_readable"] is False


def test_tables_are_byte_identical_on_rerun(tmp_path):
    results = synthetic_results(np.random.default_rng(1))
    first = [p.read_bytes() for p in generate(tmp_path / "a", results)]
    second = [p.read_bytes() for p in generate(tmp_path / "b", results)]
    assert first == second


def test_html_view_has_every_table(generated):
    tables, _, _ = generated
    page = (tables.parents[1] / "results" / "tables.html").read_text()
    assert page.count("<table>") == len(parse_tables(tables.read_text())) == 9
    assert "0.45" in page and "—" in page and "±" in page


def test_missing_input_is_a_clear_error(tmp_path, capsys):
    code = main(["paper-tables", "--published", str(PUBLISHED), "--renet-errors", "nope.csv",
                 "--memory-variants", "x.csv", "--memory-groups", "y.csv",
                 "--verdicts", "v.csv", "--settings",
                 '{"preset": "x"}', "--output", str(tmp_path / "t.tex"), "--html",
                 str(tmp_path / "t.html")])
    assert code == 2
    assert "nope.csv: not found" in capsys.readouterr().err
    assert not (tmp_path / "t.tex").exists()


def test_malformed_summary_names_the_file(tmp_path, capsys):
    results = synthetic_results(np.random.default_rng(2))
    generate(tmp_path, results)
    variants = pd.read_csv(tmp_path / "results" / "variants.csv").drop(columns=["val_acc_std"])
    variants.to_csv(tmp_path / "results" / "variants.csv", index=False)
    with contextlib.chdir(tmp_path):
        assert main(["paper-tables", "--published", "paper/published.yaml",
                     "--renet-errors", "results/errors.csv",
                     "--memory-variants", "results/variants.csv",
                     "--memory-groups", "results/groups.csv",
                     "--verdicts", "results/verdicts.csv", "--settings", '{"preset": "x"}',
                     "--output", "paper/t.tex", "--html", "results/t.html"]) == 2
    err = capsys.readouterr().err
    assert "variants.csv: missing column(s) ['val_acc_std']; rerun memory_summary" in err
    assert not (tmp_path / "paper" / "t.tex").exists()


@pytest.mark.skipif(shutil.which("latexmk") is None, reason="latexmk not installed")
def test_main_tex_compiles_with_readable_tables(generated, tmp_path):
    """main.tex compiles with no undefined reference, and every table of the generated files is
    printed at the footnote size or larger, within the line and a page."""
    tables, inc, _ = generated
    build = build_main_pdf(tmp_path / "build", tables, inc)
    log = (build / "latex/main.log").read_text(errors="replace")
    assert "undefined" not in log.lower()
    assert (build / "main.pdf").stat().st_size > 10_000
    labels = set(re.findall(r"\\label\{(tab:[^}]*)\}", tables.read_text() + inc.read_text()))
    assert len(labels) == 10
    assert layout_problems(log, labels) == []
    assert verdict_cell_problems(tables.read_text(), tmp_path / "widths") == []


def test_number_formats():
    from rnnrepro.aggregate import summarize
    from rnnrepro.paper.stats import fixed, mean_std, shortest, signed

    s = summarize([1.0, 2.0, 4.0])
    assert s.n == 3 and math.isclose(s.std, statistics.stdev([1.0, 2.0, 4.0]))
    assert mean_std(s, 2) == "2.33 ± 1.53"
    assert mean_std(summarize([0.5]), 3) == "0.500"
    assert mean_std(None, 3) == MISSING
    assert signed(-0.0004, 3) == "+0.000" and signed(-0.012, 3) == "−0.012"
    assert signed(0.0126, 2) == "+0.01"
    assert fixed(-0.0001, 2) == "0.00"
    assert shortest(22.114) == "22.114" and shortest(11.0) == "11"
    with pytest.raises(ValueError, match="non-finite"):
        summarize([1.0, float("nan")])


def test_the_paper_rule_asks_for_the_figures_main_tex_includes(tmp_path):
    from rnnrepro.paper.figures import included_figures

    names = included_figures(REPO / "paper/main.tex")
    assert sorted(names) == sorted(["renet-curves", "memory-representations", "memory-samples",
                                    "memory-curves", "increment-K2-N32", "increment-K10-N7",
                                    "increment-K4-N15"])
    tex = tmp_path / "main.tex"
    tex.write_text("\\documentclass{article}\\begin{document}\\end{document}")
    with pytest.raises(ValueError, match=r"main\.tex: no \\rnnfigure"):
        included_figures(tex)
    for name in ("tables", "increment-table"):
        assert f"\\input{{{name}}}" in (REPO / "paper/main.tex").read_text()
