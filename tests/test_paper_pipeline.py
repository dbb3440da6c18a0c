"""Paper stage, end to end on the quick preset: generated tables against the real results,
single-target rebuilds (through `snakemake -n`), and the compiled PDF."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from conftest import (
    QUICK,
    copy_repo,
    layout_problems,
    page_fill,
    run_snakemake,
    verdict_cell_problems,
)
from test_paper_tables import (
    best_rows,
    check_all,
    check_numbers_in_results,
    claims_rows,
    is_row_of,
    lr_label,
    parse_tables,
    printed_order,
)

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
PAPER_FIGURES = ["increment-K2-N32", "increment-K10-N7", "increment-K4-N15", "memory-curves",
                 "memory-representations", "memory-samples", "renet-curves"]
TABLE_LABELS = ["tab:renet-architectures", "tab:renet-errors", "tab:memory-latency",
                "tab:memory-runs", "tab:memory-best", "tab:claims", "tab:claims-continued",
                "tab:claims-renet", "tab:claims-increment", "tab:increment-final"]


def merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Snakemake's --configfile merge: nested mappings update key by key."""
    out = dict(base)
    for key, value in override.items():
        out[key] = (merged(out[key], value) if isinstance(value, dict)
                    and isinstance(out.get(key), dict) else value)
    return out


def quick_config(repo: Path) -> dict[str, Any]:
    return merged(yaml.safe_load((repo / "config.yaml").read_text()),
                  yaml.safe_load((repo / QUICK).read_text()))


def planned_jobs(workdir: Path, *targets: str) -> list[tuple[str, list[str]]]:
    """(rule, outputs) of every job `snakemake -n` plans for ``targets`` (quick preset)."""
    # Targets first: --configfile takes every following word as another config file.
    proc = run_snakemake(workdir, "-n", *targets, "--configfile", QUICK)
    jobs: list[tuple[str, list[str]]] = []
    for line in proc.stdout.splitlines():
        match = re.match(r"^(?:local)?(?:rule|checkpoint) (\S+):$", line)
        if match:
            jobs.append((match.group(1), []))
        elif jobs and line.strip().startswith("output:"):
            jobs[-1][1].extend(p.strip() for p in line.split(":", 1)[1].split(","))
    return jobs


def test_quick_tables_match_the_results(quick_run):
    config = quick_config(quick_run)
    results = {
        "renet": pd.read_csv(quick_run / "results/quick/renet/summary.csv"),
        "latency": pd.read_csv(quick_run / "results/quick/memory/summary/table2_latency.csv"),
        "runs": pd.read_csv(quick_run / "results/quick/memory/summary/table3_runs.csv"),
        "increment": pd.read_csv(quick_run / "results/quick/increment/summary.csv"),
        "verdicts": pd.read_csv(quick_run / "results/quick/claims/verdicts.csv"),
    }
    settings = {"preset": config["preset"], "renet": config["renet"],
                "increment": config["increment"]}
    published = yaml.safe_load((quick_run / "paper/published.yaml").read_text())
    check_all(quick_run / "paper/tables.tex", quick_run / "paper/increment-table.tex",
              published, results, settings)


def test_quick_best_runs_agree_with_the_memory_stage(quick_run):
    """Table 4's best variant per group is the one variants.csv marks, whose runs are
    table4_best.csv's and whose histories are Fig. 9's curves.csv (any number of seeds)."""
    summary = quick_run / "results/quick/memory/summary"
    variants = pd.read_csv(summary / "variants.csv")
    best = variants[variants["best"]].set_index("group")["variant"].to_dict()
    rows = {row[0]: row for row in best_rows(parse_tables(
        (quick_run / "paper/tables.tex").read_text())["tab:memory-best"])}
    assert {group: rows[group][6] for group in best} == best
    for name in ("table4_best.csv", "curves.csv"):
        frame = pd.read_csv(summary / name)
        labels = {f"{rep}@{lr_label(lr)}"
                  for rep, lr in zip(frame["representation"], frame["learning_rate"],
                                     strict=True)}
        assert labels == set(best.values()), name


def test_quick_tables_print_only_numbers_of_the_results(quick_run):
    """Every reproduced number of tables.tex is in a summary file under results/."""
    assert check_numbers_in_results(quick_run / "paper/tables.tex",
                                    quick_run / "results" / "quick") > 40


def test_quick_run_is_complete(quick_run):
    proc = run_snakemake(quick_run, "-n", "--configfile", QUICK)
    assert "Nothing to be done" in proc.stdout + proc.stderr
    for name in PAPER_FIGURES:
        for suffix in (".pdf", ".png"):
            assert (quick_run / "paper/figures" / (name + suffix)).stat().st_size > 0


@pytest.mark.parametrize("figure", PAPER_FIGURES)
def test_a_deleted_figure_is_rebuilt_alone(quick_run, figure, tmp_path):
    target = f"paper/figures/{figure}.pdf"
    kept = tmp_path / f"{figure}.pdf"
    shutil.move(quick_run / target, kept)
    try:
        jobs = planned_jobs(quick_run, target)
    finally:
        shutil.move(kept, quick_run / target)
    assert len(jobs) == 1, jobs
    assert target in jobs[0][1], jobs


def test_tables_need_no_figure_job(tmp_path):
    """tables.tex needs the summaries and the claims (which read every experiment's results,
    the increment evaluations included), never a figure."""
    workdir = copy_repo(tmp_path / "repo")
    jobs = planned_jobs(workdir, "paper/tables.tex")
    rules = {rule for rule, _ in jobs}
    outputs = [path for _, paths in jobs for path in paths]
    assert {"paper_tables", "claims", "memory_train", "increment_train"} <= rules
    assert not [p for p in outputs if p.startswith("paper/figures/")], outputs
    assert not [r for r in rules if r.endswith("figure") or "figure_" in r], rules
    assert "paper_increment_table" not in rules and "paper_pdf" not in rules


@pytest.mark.skipif(shutil.which("latexmk") is None or shutil.which("pdftotext") is None,
                    reason="latexmk or pdftotext (poppler-utils) not installed")
def test_quick_pdf_has_every_table_and_no_undefined_reference(quick_run):
    pdf = quick_run / "paper/main.pdf"
    assert pdf.stat().st_size > 50_000
    # paper/ holds the sources and what users read; LaTeX's own files are in results/.
    assert {p.name for p in (quick_run / "paper").iterdir()} <= {
        "main.tex", "published.yaml", "claims.yaml", "tables.tex", "increment-table.tex",
        "provenance.tex", "figures", "main.pdf", "README.md"}
    log = (quick_run / "results/quick/paper/latex/main.log").read_text(errors="replace")
    assert not re.search(r"undefined|Rerun to get", log), "LaTeX log reports a problem"
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout
    assert "??" not in text
    for number in range(1, len(TABLE_LABELS) + 1):
        assert f"Table {number}:" in text
    preset = quick_config(quick_run)["preset"]
    assert f"preset {preset}" in text or f"preset: {preset}" in text


@pytest.mark.skipif(shutil.which("latexmk") is None, reason="latexmk not installed")
def test_quick_pdf_tables_are_readable(quick_run, tmp_path):
    """Every table at the footnote size or larger, within the line and a page; every verdict
    on at most two lines; only scalable fonts (a bitmap font would also stop microtype)."""
    log = (quick_run / "results/quick/paper/latex/main.log").read_text(errors="replace")
    assert layout_problems(log, set(TABLE_LABELS)) == []
    assert verdict_cell_problems((quick_run / "paper/tables.tex").read_text(),
                                 tmp_path) == []
    if shutil.which("pdffonts"):
        fonts = subprocess.run(["pdffonts", str(quick_run / "paper/main.pdf")],
                               capture_output=True, text=True, check=True).stdout
        assert "Type 3" not in fonts


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext not installed")
def test_no_page_of_the_quick_pdf_is_two_thirds_empty(quick_run):
    fills = page_fill(quick_run / "paper/main.pdf")
    assert len(fills) >= 6 and min(fills) > 1 / 3, [round(f, 2) for f in fills]


def test_quick_report_is_self_contained_with_every_figure_and_table(quick_run, tmp_path):
    report = tmp_path / "report.html"
    run_snakemake(quick_run, "--report", str(report), "--configfile", QUICK)
    html = report.read_text()
    for name in PAPER_FIGURES:
        assert f'"{name}.png"' in html or f'"{name}.pdf"' in html, f"{name}: no report item"
    for name in ("tables.html", "increment-table.html", "main.pdf", "verdicts.csv"):
        assert f'"{name}"' in html, f"{name} is not a report item"
    assert html.count("data:text/html;") >= 2 and "data:application/pdf;" in html
    assert 'src="http' not in html and "href=\"http" not in html.split("<body", 1)[0]


def test_quick_claims_have_a_verdict_each(quick_run):
    """Every comparison of claims.yaml, under each reading of its claim, has a row in
    verdicts.csv and in the claims tables."""
    claims = yaml.safe_load((quick_run / "paper/claims.yaml").read_text())["claims"]
    expected = [(c["label"], reading["label"] if reading else "")
                for claim in claims for c in claim["comparisons"]
                for reading in claim.get("readings", [None])]
    verdicts = pd.read_csv(quick_run / "results/quick/claims/verdicts.csv", keep_default_na=False)
    assert list(zip(verdicts["comparison"], verdicts["reading"], strict=True)) == expected
    assert set(verdicts["verdict"]) <= {"supported", "contradicted", "inconclusive", "not run"}
    assert (verdicts["reason"] != "").all()
    rows = claims_rows(parse_tables((quick_run / "paper/tables.tex").read_text()))
    assert len(rows) == len(expected)
    for row, record in zip(rows, printed_order(verdicts).to_dict("records"), strict=True):
        assert is_row_of(row[1], record), (row[1], record["comparison"])
