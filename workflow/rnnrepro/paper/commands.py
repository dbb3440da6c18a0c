"""Command-line commands of the paper stage: the generated LaTeX tables (and their HTML view)."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rnnrepro.command_helpers import UserError, load_settings

log = logging.getLogger("rnnrepro")


def register(sub: argparse._SubParsersAction) -> None:
    """Add this stage's subcommands to the `rnnrepro` parser."""
    tables = sub.add_parser(
        "paper-tables", help="paper/tables.tex: the papers' tables, published beside reproduced",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    tables.add_argument("--published", required=True, help="paper/published.yaml")
    tables.add_argument("--renet-errors", required=True, help="results/<preset>/renet/errors.csv")
    tables.add_argument("--memory-variants", required=True,
                        help="results/<preset>/memory/summary/variants.csv")
    tables.add_argument("--memory-groups", required=True,
                        help="results/<preset>/memory/summary/groups.csv")
    tables.add_argument("--verdicts", required=True, help="results/<preset>/claims/verdicts.csv")
    tables.add_argument("--settings", required=True, type=load_settings,
                        help="JSON: {preset, renet: {datasets, models}}")
    tables.add_argument("--output", required=True, help="the .tex file to write")
    tables.add_argument("--html", required=True, help="the same tables as an HTML page")
    tables.set_defaults(func=paper_tables)

    increment = sub.add_parser(
        "paper-increment-table",
        help="paper/increment-table.tex: final increment accuracies (ours, not in the paper)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    increment.add_argument("--summary", required=True,
                           help="results/<preset>/increment/summary.csv")
    increment.add_argument("--settings", required=True, type=load_settings,
                           help="JSON: {preset, increment: {tasks, cells}}")
    increment.add_argument("--output", required=True, help="the .tex file to write")
    increment.add_argument("--html", required=True, help="the same table as an HTML page")
    increment.set_defaults(func=paper_increment_table)


def _preamble(output: str, command: str, rule: str, preset: str,
              inputs: Sequence[str]) -> list[str]:
    return [f"{output}: GENERATED FILE, do not edit.",
            f"Written by `rnnrepro {command}` (Snakemake rule {rule}, workflow/rules/paper.smk);",
            f"rebuild it with `snakemake {output}`.",
            f"Preset: {preset}. Inputs: {', '.join(inputs)}.",
            "Each table is a command (\\rnnTable...) that paper/main.tex places where it is",
            "discussed; published numbers come from paper/published.yaml only."]


def _preset(settings: dict[str, Any]) -> str:
    if "preset" not in settings:
        raise UserError("--settings needs 'preset' (the preset name printed in captions)")
    return str(settings["preset"])


def paper_tables(args: argparse.Namespace) -> int:
    """Write tables.tex and its HTML view from the results and published.yaml."""
    from rnnrepro.claims.published import PublishedError, load
    from rnnrepro.files import atomic_open
    from rnnrepro.paper import memory_tables, renet_tables
    from rnnrepro.paper.claims_table import claims_tables, read_verdicts
    from rnnrepro.paper.layout import latex_text, render_html, render_latex_file

    preset = _preset(args.settings)
    inputs = [args.published, args.renet_errors, args.memory_variants, args.memory_groups,
              args.verdicts]
    for path in inputs:
        if not Path(path).exists():
            raise UserError(f"{path}: not found; build it first (snakemake {path})")
    try:
        published = load(args.published)
        renet = renet_tables.read_errors(args.renet_errors)
        runs = memory_tables.read_variants(args.memory_variants)
        groups = memory_tables.read_groups(args.memory_groups)
        verdicts = read_verdicts(args.verdicts)
    except (PublishedError, ValueError) as err:
        raise UserError(str(err)) from err
    renet_settings = args.settings.get("renet", {})
    tables = [renet_tables.architectures_table(published, renet_settings, preset),
              renet_tables.errors_table(published, renet, preset),
              memory_tables.latency_table(published, runs, groups, preset),
              memory_tables.runs_table(published, runs, preset),
              memory_tables.best_table(published, runs, preset),
              *claims_tables(verdicts, preset)]
    definitions = [r"\providecommand{\rnnpreset}{}",
                   rf"\renewcommand{{\rnnpreset}}{{{latex_text(preset)}}}"]
    with atomic_open(args.output) as fh:
        fh.write(render_latex_file(tables, _preamble(args.output, "paper-tables", "paper_tables",
                                                     preset, inputs), definitions))
    with atomic_open(args.html) as fh:
        fh.write(render_html(tables, f"Tables of the papers, reproduced (preset {preset})",
                             [f"Generated by `rnnrepro paper-tables` from {', '.join(inputs)}; "
                              f"the same tables as {args.output}."]))
    log.info("wrote %d tables to %s and %s", len(tables), args.output, args.html)
    return 0


def paper_increment_table(args: argparse.Namespace) -> int:
    """Write increment-table.tex (ours: the paper has no such table) and its HTML view."""
    from rnnrepro.files import atomic_open
    from rnnrepro.paper.increment_table import increment_table, read_summary
    from rnnrepro.paper.layout import render_html, render_latex_file

    preset = _preset(args.settings)
    if not Path(args.summary).exists():
        raise UserError(f"{args.summary}: not found; build it first (snakemake {args.summary})")
    try:
        frame = read_summary(args.summary)
        table = increment_table(frame, args.settings.get("increment", {}), preset)
    except (KeyError, ValueError) as err:
        raise UserError(f"{args.summary} / --settings: {err}") from err
    with atomic_open(args.output) as fh:
        fh.write(render_latex_file([table], _preamble(args.output, "paper-increment-table",
                                                      "paper_increment_table", preset,
                                                      [args.summary])))
    with atomic_open(args.html) as fh:
        fh.write(render_html([table], f"Increment task, reproduced (preset {preset})",
                             [f"Generated by `rnnrepro paper-increment-table` from "
                              f"{args.summary}; the same table as {args.output}."]))
    log.info("wrote %s and %s", args.output, args.html)
    return 0
