"""A small table model and its two renderings: LaTeX (booktabs) for the paper, HTML for the report.

Cell and caption text is plain Unicode (``±``, ``—``, ``Δ``, ``×``, ``−``) with `backticks` for
code; :func:`latex_text` turns it into LaTeX, :func:`html_text` into HTML, so both renderings
come from the very same strings.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

MIDRULE = "midrule"

_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                  "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
                  "^": r"\textasciicircum{}"}
_LATEX_UNICODE = {"±": r"$\pm$", "—": "---", "–": "--", "Δ": r"$\Delta$", "×": r"$\times$",
                  "−": r"$-$", "≤": r"$\le$", "≥": r"$\ge$", "·": r"$\cdot$", "…": r"\dots{}",
                  "η": r"$\eta$", "’": "'", "“": "``", "”": "''", "š": r"\v{s}", "Š": r"\v{S}",
                  "\u00a0": "~", "<": r"$<$", ">": r"$>$", "|": r"$|$",
                  "≈": r"$\approx$", "″": r"\quad$''$", "∋": r"$\ni$", "†": r"$\dagger$"}
_CODE = re.compile(r"`([^`]*)`")
_COLUMN = re.compile(r"(?:>\{[^{}]*(?:\{[^{}]*\}[^{}]*)*\})?(?:[lcr]|p\{[^}]*\})")


@dataclass(frozen=True)
class Cell:
    """One table cell. ``latex`` replaces the rendering of ``text`` in LaTeX (math symbols)."""

    text: str = ""
    span: int = 1
    bold: bool = False
    italic: bool = False
    align: str | None = None
    latex: str | None = None


Row = list[Cell]


@dataclass
class Table:
    """A booktabs table: header rows, body rows (or :data:`MIDRULE`), caption and label."""

    macro: str                 # LaTeX command that places the table, e.g. ``rnnTableRenetErrors``
    label: str                 # ``tab:renet-errors``
    title: str                 # short name for the report (``ReNet Table 2: test errors``)
    caption: str
    columns: str               # tabular column spec, one letter per column
    header: list[Row]
    body: list[Row | str] = field(default_factory=list)
    wide: bool = False         # table* (both columns) instead of table
    size: str = "small"        # font size command inside the float
    colsep: str = ""           # \tabcolsep inside the float (e.g. "3pt"); "" keeps LaTeX's
    stack_pm: bool = False     # LaTeX: "mean ± std" cells on two lines (mean, then ± std)
    notes: list[str] = field(default_factory=list)   # lines under the table (its legend's notes)

    @property
    def alignments(self) -> list[str]:
        """Each column's alignment letter (``p`` for ``p{...}`` columns)."""
        return [_letter(m) for m in _COLUMN.findall(self.columns)]

    @property
    def width(self) -> int:
        """Number of columns: ``l``, ``c``, ``r`` and ``p{...}`` (each may have a ``>{...}``
        prefix) count one each."""
        return len(_COLUMN.findall(self.columns))

    def check(self) -> None:
        """Every row fills exactly the declared columns."""
        for row in [*self.header, *self.body]:
            if row == MIDRULE:
                continue
            used = sum(cell.span for cell in row)
            if used != self.width:
                raise ValueError(f"{self.label}: row {[c.text for c in row]} spans {used} "
                                 f"columns, table has {self.width}")


def cells(*texts: str | Cell) -> Row:
    """A row from strings and cells."""
    return [t if isinstance(t, Cell) else Cell(str(t)) for t in texts]


def latex_text(text: str) -> str:
    """Escape LaTeX specials, map the Unicode symbols used here, and `code` to ``\\texttt``."""
    parts = []
    pos = 0
    for match in _CODE.finditer(text):
        parts.append(_latex_plain(text[pos:match.start()]))
        parts.append(r"\texttt{" + _latex_plain(match.group(1)) + "}")
        pos = match.end()
    parts.append(_latex_plain(text[pos:]))
    return "".join(parts)


def _latex_plain(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch) or _LATEX_UNICODE.get(ch) or ch for ch in text)


def html_text(text: str) -> str:
    """Escape HTML and turn `code` into ``<code>``."""
    return _CODE.sub(lambda m: f"<code>{m.group(1)}</code>", html.escape(text, quote=False))


def _letter(spec: str) -> str:
    """The alignment letter of a column spec (``p`` for ``p{...}``)."""
    return spec[-1] if spec[-1] in "lcr" else "p"


def _latex_lines(lines: Sequence[str], align: str) -> str:
    """Lines stacked in one cell: in a ``p`` column, broken with ``\\newline`` (each may still
    wrap); elsewhere ``\\rnnlines``, a nested tabular aligned at its first line."""
    if align == "p":
        return r"\newline ".join(latex_text(line) for line in lines)
    return rf"\rnnlines{{{align}}}{{" + r"\\".join(latex_text(line) for line in lines) + "}"


def _latex_cell(cell: Cell, align: str, stack_pm: bool) -> str:
    """A cell's LaTeX: text with a newline is stacked in lines, and with ``stack_pm`` so is
    "mean ± std" (mean, then "± std"); the plain text is the lines joined by spaces."""
    if cell.latex is not None:
        body = cell.latex
    elif "\n" in cell.text:
        body = _latex_lines(cell.text.split("\n"), _letter(cell.align or align))
    elif stack_pm and " ± " in cell.text:
        mean, std = cell.text.split(" ± ", 1)
        body = _latex_lines([mean, f"±{std}"], _letter(cell.align or align))
    else:
        body = latex_text(cell.text)
    if cell.bold and body:
        body = r"\textbf{" + body + "}"
    if cell.italic and body:
        body = r"\emph{" + body + "}"
    if cell.span > 1 or cell.align:
        body = rf"\multicolumn{{{cell.span}}}{{{cell.align or 'c'}}}{{{body}}}"
    return body


def _latex_row(row: Row, table: Table) -> str:
    alignments, cells_out, column = table.alignments, [], 0
    for cell in row:
        cells_out.append(_latex_cell(cell, alignments[column], table.stack_pm))
        column += cell.span
    return " & ".join(cells_out) + r" \\"


def _cmidrules(row: Row) -> str:
    """``\\cmidrule`` under every spanning header cell that has text."""
    rules, col = [], 1
    for cell in row:
        if cell.span > 1 and cell.text:
            rules.append(rf"\cmidrule(lr){{{col}-{col + cell.span - 1}}}")
        col += cell.span
    return " ".join(rules)


def render_latex(table: Table) -> str:
    """The table as a command definition: ``\\newcommand{\\<macro>}{<float>}``."""
    table.check()
    env = "table*" if table.wide else "table"
    lines = [rf"\newcommand{{\{table.macro}}}{{%",
             rf"\begin{{{env}}}[tbp]",
             r"\centering",
             rf"\caption{{{latex_text(table.caption)}}}",
             rf"\label{{{table.label}}}",
             rf"\{table.size}",
             *([rf"\setlength{{\tabcolsep}}{{{table.colsep}}}"] if table.colsep else []),
             rf"\rnnfitwidth{{{table.label}}}{{%",
             rf"\begin{{tabular}}{{{table.columns}}}",
             r"\toprule"]
    for row in table.header:
        lines.append(_latex_row(row, table))
        rules = _cmidrules(row)
        if rules:
            lines.append(rules)
    lines.append(r"\midrule")
    for row in table.body:
        lines.append(r"\midrule" if row == MIDRULE else _latex_row(row, table))
    lines += [r"\bottomrule", r"\end{tabular}}"]
    if table.notes:
        lines.append(r"\par\smallskip\parbox{\linewidth}{\raggedright "
                     + r"\quad ".join(latex_text(note) for note in table.notes) + "}")
    lines += [rf"\end{{{env}}}}}", ""]
    return "\n".join(lines)


# \rnnfitwidth{label}{tabular}: a tabular at its natural size; one wider than the line is
# scaled down, but never to a font below the footnote size (8 pt in a 10 pt document): what is
# still too wide then overflows, with a warning. Every table logs its font and scale
# ("rnnrepro table <label>: ..." in main.log), which tests/test_paper_layout.py reads.
FIT_MACRO = (
    r"\makeatletter",
    r"\providecommand{\rnnfitwidth}[2]{\sbox0{#2}%",
    r"  {\footnotesize\xdef\rnn@floor{\f@size}}%",
    r"  \dimen0=\f@size pt\relax\dimen4=\wd0",
    r"  \ifdim\wd0>\linewidth",
    r"    \dimen0=\dimexpr\f@size pt*\linewidth/\wd0\relax",
    r"    \ifdim\dimen0<\rnn@floor pt\relax\dimen0=\rnn@floor pt\relax",
    r"      \PackageWarning{rnnrepro}{table #1 is wider than the line at the footnote size}%",
    r"    \fi",
    r"    \dimen2=\dimexpr\wd0*\dimen0/\dimexpr\f@size pt\relax\relax",
    r"    \sbox0{\resizebox{\dimen2}{!}{\usebox0}}%",
    r"  \fi",
    r"  \typeout{rnnrepro table #1: font \f@size pt printed at \the\dimen0, width \the\dimen4",
    r"    \space of \the\linewidth, height \the\dimexpr\ht0+\dp0\relax}%",
    r"  \usebox0}",
    r"\makeatother",
    r"\providecommand{\rnnlines}[2]{\begin{tabular}[t]{@{}#1@{}}#2\end{tabular}}",
)


def render_latex_file(tables: Sequence[Table], preamble: Sequence[str],
                      definitions: Sequence[str] = ()) -> str:
    """A whole generated ``.tex`` file: comment lines, helper macros, one definition per table."""
    lines = [f"% {line}" if line else "%" for line in preamble]
    lines += ["", *definitions,
              *FIT_MACRO, ""]
    lines += [render_latex(table) for table in tables]
    return "\n".join(lines)


def _html_cell(cell: Cell, tag: str) -> str:
    body = "<br>".join(html_text(line) for line in cell.text.split("\n"))
    if cell.bold:
        body = f"<b>{body}</b>"
    if cell.italic:
        body = f"<i>{body}</i>"
    span = f' colspan="{cell.span}"' if cell.span > 1 else ""
    align = "left" if (cell.align or "") .startswith("l") else ""
    style = f' style="text-align:{align}"' if align else ""
    return f"<{tag}{span}{style}>{body}</{tag}>"


def render_html(tables: Sequence[Table], title: str, notes: Sequence[str] = ()) -> str:
    """A standalone HTML page with every table (for ``snakemake --report``)."""
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>{html.escape(title)}</title>",
           "<style>body{font-family:serif;max-width:70em;margin:1em auto;padding:0 1em}"
           "table{border-collapse:collapse;margin:.5em 0 2em}"
           "th,td{padding:.15em .6em;text-align:right;white-space:nowrap}"
           "td:first-child,th:first-child{text-align:left}"
           "thead{border-top:2px solid #000;border-bottom:1px solid #000}"
           "tbody{border-bottom:2px solid #000}tr.rule td{border-top:1px solid #000}"
           "caption{caption-side:top;text-align:left;font-size:.9em;padding-bottom:.4em}"
           "</style></head><body>", f"<h1>{html.escape(title)}</h1>"]
    out += [f"<p>{html_text(note)}</p>" for note in notes]
    for table in tables:
        table.check()
        out.append(f'<h2 id="{html.escape(table.label)}">{html_text(table.title)}</h2>')
        out.append(f"<table><caption>{html_text(table.caption)}</caption><thead>")
        out += ["<tr>" + "".join(_html_cell(c, "th") for c in row) + "</tr>"
                for row in table.header]
        out.append("</thead><tbody>")
        rule = False
        for row in table.body:
            if row == MIDRULE:
                rule = True
                continue
            cls = ' class="rule"' if rule else ""
            out.append(f"<tr{cls}>" + "".join(_html_cell(c, "td") for c in row) + "</tr>")
            rule = False
        out.append("</tbody></table>")
        out += [f"<p>{html_text(note)}</p>" for note in table.notes]
    out.append("</body></html>")
    return "\n".join(out) + "\n"
