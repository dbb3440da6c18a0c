"""Shared fixtures: the repository root and one quick-preset run of the whole pipeline."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
QUICK = "workflow/presets/quick.yaml"
# Generated or run-state folders never copied into a test workspace.
_SKIP = {".snakemake", ".git", ".pytest_cache", ".ruff_cache", "__pycache__", "logs"}
_SKIP_AT_ROOT = {"results"}     # results/, not the package rnnrepro/results/


def copy_repo(dest: Path) -> Path:
    """Copy the working tree (without results or run state) to ``dest`` and return it."""
    def ignore(folder: str, names: list[str]) -> set[str]:
        skip = {n for n in names if n in _SKIP or n.endswith(".egg-info")}
        if Path(folder).resolve() == REPO.resolve():
            skip |= _SKIP_AT_ROOT & set(names)
        if Path(folder).resolve() == (REPO / "paper").resolve():
            generated = {"figures", "tables.tex", "increment-table.tex", "provenance.tex",
                         "main.pdf"}
            skip |= {n for n in names
                     if n in generated or (n.startswith("main.") and n != "main.tex")}
        return skip

    shutil.copytree(REPO, dest, ignore=ignore)
    return dest


def run_snakemake(workdir: Path, *args: str, timeout: float = 1800,
                  cache: Path | None = None, own_code: bool = False
                  ) -> subprocess.CompletedProcess:
    """Run snakemake in ``workdir`` (with ``--cache`` in the output cache ``cache``, if given;
    with ``own_code``, the workdir's own rnnrepro package, for a copy whose code a test
    changed); fail the test with its output if it fails."""
    cmd = [sys.executable, "-m", "snakemake", *args]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    if own_code:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(workdir / "workflow"),
                                                          env.get("PYTHONPATH")]))
    if cache is not None:
        cmd.append("--cache")
        env["SNAKEMAKE_OUTPUT_CACHE"] = str(cache)
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=timeout,
                          env=env)
    if proc.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} failed ({proc.returncode}) in {workdir}:\n"
                    f"{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}")
    return proc


def planned_rules(plan: str) -> Counter[str]:
    """How many jobs of each rule a ``snakemake -n`` plan (or a run's log) lists."""
    return Counter(re.findall(r"^(?:local)?rule (\w+):$", plan, re.M))


def planned_memory_runs(plan: str) -> list[tuple[str, float, int, dict]]:
    """The memory training jobs of a ``snakemake -n -p`` plan, read from their printed
    commands: (representation, learning rate, seed, the ``--settings`` they train with)."""
    return [(rep, float(lr), int(seed), yaml.safe_load(settings)) for rep, lr, seed, settings
            in re.findall(r"--representation (\S+) --learning-rate (\S+) --seed (\d+) "
                          r"--settings '([^']*)'", plan)]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def quick_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The output cache (SNAKEMAKE_OUTPUT_CACHE) the quick run stores its training jobs in.

    With RNNREPRO_QUICK_RUN, RNNREPRO_QUICK_CACHE names the cache that run used.
    """
    reuse = os.environ.get("RNNREPRO_QUICK_CACHE")
    return Path(reuse) if reuse else tmp_path_factory.mktemp("output-cache")


@pytest.fixture(scope="session")
def quick_run(tmp_path_factory: pytest.TempPathFactory, quick_cache: Path) -> Path:
    """A copy of the repository on which the quick preset has run end to end (once per session),
    with ``--cache``: its training jobs are in ``quick_cache``.

    Set RNNREPRO_QUICK_RUN=<folder> to reuse a folder where the quick preset already ran.
    """
    reuse = os.environ.get("RNNREPRO_QUICK_RUN")
    if reuse:
        return Path(reuse)
    workdir = copy_repo(tmp_path_factory.mktemp("quick") / "repo")
    run_snakemake(workdir, "--cores", "2", "--configfile", QUICK, cache=quick_cache)
    return workdir


def path_without(folder: Path, *commands: str) -> str:
    """A PATH with every command of the current PATH except ``commands``: one folder of
    symlinks, so a test can run the pipeline on a machine "without" e.g. latexmk."""
    folder.mkdir(parents=True, exist_ok=True)
    for directory in os.environ["PATH"].split(os.pathsep):
        if not os.path.isdir(directory):
            continue
        for entry in os.scandir(directory):
            target = folder / entry.name
            if entry.name in commands or target.exists() or target.is_symlink():
                continue
            if os.access(entry.path, os.X_OK) and not entry.is_dir():
                target.symlink_to(entry.path)
    return str(folder)


@pytest.fixture(scope="session")
def repo_config() -> dict:
    """config.yaml as the Snakefile sees it (typed and validated by the schema): the values
    every stage's settings come from."""
    from rnnrepro.config_types import load

    return load(REPO)



# A 10 pt article's \footnotesize: the smallest font a table of main.pdf may print in.
FOOTNOTE_PT = 8.0
_TABLE_LINE = re.compile(r"^rnnrepro table (\S+): font ([\d.]+)pt printed at ([\d.]+)pt, "
                         r"width ([\d.]+)pt of ([\d.]+)pt, height ([\d.]+)pt$", re.M)


def table_fonts(log: str) -> dict[str, tuple[float, float]]:
    """Each table's (font, printed font) in points, from the lines ``\\rnnfitwidth`` writes to
    ``main.log``."""
    return {m[1]: (float(m[2]), float(m[3])) for m in _TABLE_LINE.finditer(log)}


def layout_problems(log: str, labels: set[str]) -> list[str]:
    """What makes main.pdf's tables hard to read, from its log: a table not placed, printed
    below the footnote size, wider than the line at it, or taller than a page."""
    fonts = table_fonts(log)
    problems = [f"{label}: not in the log" for label in sorted(labels - set(fonts))]
    problems += [f"{label}: printed at {printed} pt" for label, (_, printed) in fonts.items()
                 if printed < FOOTNOTE_PT - 1e-3]
    problems += re.findall(r"Package rnnrepro Warning: [^\n]*", log)
    problems += re.findall(r"LaTeX Warning: Float too large[^\n]*", log)
    return problems


def build_main_pdf(build: Path, tables: Path, increment_table: Path) -> Path:
    """Compile paper/main.tex in ``build`` with the given generated tables, a provenance line
    and plain stand-in figures; fail the test with latexmk's output if it fails. Returns the
    folder (main.pdf; LaTeX's main.log in its ``latex`` folder)."""
    from rnnrepro.results import provenance

    (build / "figures").mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "paper" / "main.tex", build)
    shutil.copy(tables, build / "tables.tex")
    shutil.copy(increment_table, build / "increment-table.tex")
    record = {"archive": "cpu_run #1.tar.gz", "archive_sha256": "ab" * 32, "preset": "cpu",
              "version": "0.1.0", "commit": "1234567"}
    runs = ["results/imported/memory/a/seed0/metrics.json", "results/renet/mnist/seed0/x.csv"]
    (build / "provenance.tex").write_text(provenance.tex(provenance.describe(
        runs, results_dir="results", record=record, preset="quick", commit="89ab_cd",
        version="0.1.0")))
    figures = re.findall(r"^\\rnnfigure\{([^}]*)\}", (REPO / "paper" / "main.tex").read_text(),
                         re.M)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for name in figures:
        wide = name.startswith(("memory-representations", "increment"))
        fig, ax = plt.subplots(figsize=(7 if wide else 3.4, 2.5))
        ax.plot([0, 1], [0, 1])
        fig.savefig(build / "figures" / name)
        plt.close(fig)
    proc = subprocess.run(["bash", str(REPO / "workflow/scripts/build-pdf.sh"), "main.tex",
                           "latex", "main.pdf"],
                          cwd=build, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        pytest.fail(f"main.tex did not compile in {build}:\n{proc.stdout[-3000:]}")
    return build


def pdflatex(folder: Path, tex: str) -> str:
    """Compile ``folder/tex`` once with pdflatex (log lines unwrapped, as build-pdf.sh sets
    them); fail the test with its output if it fails. Returns the log."""
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", tex],
                          cwd=folder, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "max_print_line": "10000"})
    assert proc.returncode == 0, proc.stdout[-2000:]
    return (folder / tex).with_suffix(".log").read_text(errors="replace")


def typeset_widths(snippets: list[str], workdir: Path, size: str = "footnotesize") -> list[float]:
    """The natural widths (pt) of LaTeX snippets set at ``size`` in main.tex's document class,
    measured by pdflatex."""
    lines = [r"\documentclass[10pt,twocolumn]{article}\newlength{\rnnw}\begin{document}"]
    lines += [rf"\settowidth{{\rnnw}}{{\{size} {snippet}}}\typeout{{rnnwidth \the\rnnw}}"
              for snippet in snippets]
    lines.append(r"\end{document}")
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "widths.tex").write_text("\n".join(lines) + "\n")
    log = pdflatex(workdir, "widths.tex")
    return [float(w) for w in re.findall(r"^rnnwidth ([\d.]+)pt$", log, re.M)]


_CM = 72.27 / 2.54      # TeX points per centimetre


def verdict_cell_problems(tables_tex: str, workdir: Path) -> list[str]:
    """Verdict cells of the claims tables that take more than two lines: more than one
    ``\\newline``, or a line wider than its column (which LaTeX would wrap)."""
    cells: list[tuple[str, str, float]] = []    # (table, line, column width in pt)
    for block in re.findall(r"\\begin\{table\*?\}(.*?)\\end\{table\*?\}", tables_tex, re.S):
        label = re.search(r"\\label\{([^}]*)\}", block)[1]
        if not label.startswith("tab:claims"):
            continue
        widths = [float(w) * _CM for w in re.findall(r"p\{([\d.]+)cm\}",
                                                    re.search(r"\\begin\{tabular\}\{(.*)\}\n",
                                                              block)[1])]
        body = block.split("\\midrule\n", 1)[1].split("\\bottomrule")[0]
        for row in body.splitlines():
            parts = re.split(r"(?<!\\)&", row.strip().removesuffix(r"\\"))
            if len(parts) < 4:
                continue        # a claim's heading, a rule
            # tab:claims*: the verdict is the last column; tab:claims-increment: the readings'.
            verdicts = parts[-1:] if len(parts) == 7 else parts[3:]
            for cell, width in zip(verdicts, widths[-len(verdicts):], strict=True):
                lines = cell.strip().split(r"\newline ")
                if len(lines) > 2:
                    cells.append((label, cell.strip(), -1.0))
                cells += [(label, line, width) for line in lines]
    measured = typeset_widths([line for _, line, _ in cells], workdir)
    problems = []
    for (label, line, width), got in zip(cells, measured, strict=True):
        if width < 0:
            problems.append(f"{label}: {line!r} takes more than two lines")
        elif got > width:
            problems.append(f"{label}: {line!r} is {got:.0f} pt wide, its column {width:.0f} pt")
    return problems


def page_fill(pdf: Path) -> list[float]:
    """Per page of ``pdf``, the share of the text height its words span (top of the first to
    the bottom of the last; the page number left out), from ``pdftotext -bbox``."""
    html = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout
    fills = []
    for height, body in re.findall(r'<page width="[\d.]+" height="([\d.]+)">(.*?)</page>',
                                   html, re.S):
        page = float(height)
        words = [(float(top), float(bottom)) for top, bottom, text in re.findall(
                 r'<word xMin="[\d.]+" yMin="([\d.]+)" xMax="[\d.]+" yMax="([\d.]+)">([^<]*)<',
                 body) if not (float(top) > 0.9 * page and text.strip().isdigit())]
        # main.tex: letter paper (792 pt) with 0.75 in margins, a text height of 684 pt.
        span = max(b for _, b in words) - min(t for t, _ in words) if words else 0.0
        fills.append(span / (684 / 792 * page))
    return fills
