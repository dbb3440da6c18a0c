"""Which figures ``paper/main.tex`` includes: read from the document itself, so the rule that
compiles it asks for exactly the figures it shows (whatever a preset runs: a stage or task it
leaves out draws a figure saying so)."""

from __future__ import annotations

import re
from pathlib import Path

# \rnnfigure{<name>.pdf}{label}{caption}: main.tex's one figure command.
FIGURE = re.compile(r"\\rnnfigure\{([\w.-]+)\.pdf\}")


def included_figures(tex: str | Path) -> list[str]:
    """The names (without .pdf) of the figures ``tex`` includes, in document order; an error
    names the file when it includes none."""
    names = FIGURE.findall(Path(tex).read_text())
    if not names:
        raise ValueError(f"{tex}: no \\rnnfigure{{<name>.pdf}}{{...}}{{...}} found; the paper "
                         "rule needs the figures the document includes")
    return list(dict.fromkeys(names))
