"""The tables' fit to the page: ``\\rnnfitwidth`` keeps a table at its size when it fits, shrinks
it when it does not, but never below the footnote size, and says so in the log."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import (
    FOOTNOTE_PT,
    layout_problems,
    pdflatex,
    table_fonts,
    verdict_cell_problems,
)
from rnnrepro.paper.layout import Table, cells, render_latex_file

pytestmark = pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed")


def _table(label: str, columns: int, size: str) -> Table:
    return Table(macro=f"rnnTable{label.title()}", label=f"tab:{label}", title=label,
                 caption=label, columns="r" * columns, header=[cells(*["header"] * columns)],
                 body=[cells(*["0.123 ± 0.004"] * columns)], wide=True, size=size)


def _compile(tmp_path: Path, tables: list[Table]) -> str:
    (tmp_path / "tables.tex").write_text(render_latex_file(tables, ["test"]))
    body = "".join(rf"\{t.macro}\clearpage" for t in tables)
    (tmp_path / "main.tex").write_text(
        "\\documentclass[10pt,twocolumn]{article}\\usepackage{graphicx}\\usepackage{booktabs}"
        "\\usepackage{array}\\input{tables}\\begin{document}" + body + "\\end{document}\n")
    return pdflatex(tmp_path, "main.tex")


def test_a_table_is_shrunk_only_as_far_as_the_footnote_size(tmp_path):
    log = _compile(tmp_path, [_table("narrow", 3, "small"), _table("wide", 7, "small")])
    fonts = table_fonts(log)
    assert fonts["tab:narrow"] == (9.0, 9.0)                 # fits: printed as set
    assert FOOTNOTE_PT < fonts["tab:wide"][1] < 9.0          # shrunk to the line, still legible
    assert layout_problems(log, {"tab:narrow", "tab:wide"}) == []


def test_a_table_too_wide_at_the_footnote_size_is_a_problem(tmp_path):
    log = _compile(tmp_path, [_table("huge", 30, "small")])
    assert table_fonts(log)["tab:huge"] == (9.0, FOOTNOTE_PT)    # stops at the footnote size
    assert layout_problems(log, {"tab:huge"}) == [
        "Package rnnrepro Warning: table tab:huge is wider than the line at the footnote size "
        "on input line 1."]


def test_a_missing_table_is_a_problem(tmp_path):
    log = _compile(tmp_path, [_table("narrow", 3, "footnotesize")])
    assert table_fonts(log) == {"tab:narrow": (8.0, 8.0)}
    assert layout_problems(log, {"tab:narrow", "tab:other"}) == ["tab:other: not in the log"]


def test_verdict_cells_wider_or_longer_than_two_lines_are_found(tmp_path):
    block = "\n".join([
        r"\begin{table*}[tbp]", r"\label{tab:claims}",
        r"\begin{tabular}{l>{\raggedright\arraybackslash}p{2.0cm}lllr"
        r">{\raggedright\arraybackslash}p{2.0cm}}",
        r"\toprule", r"Claim & a & b & c & d & n & Verdict \\", r"\midrule",
        r" & x & y & z & w & 2 & supported \\",
        r" & x & y & z & w & 2 & inconclusive\newline n $\approx$ 20 \\",
        r" & x & y & z & w & 2 & inconclusive because the interval includes zero \\",
        r" & x & y & z & w & 2 & a\newline b\newline c \\",
        r"\bottomrule", r"\end{tabular}", r"\end{table*}"])
    assert verdict_cell_problems(block, tmp_path) == [
        "tab:claims: 'inconclusive because the interval includes zero' is 172 pt wide, its "
        "column 57 pt",
        r"tab:claims: 'a\\newline b\\newline c' takes more than two lines"]
