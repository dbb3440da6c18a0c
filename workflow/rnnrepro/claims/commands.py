"""Command-line command of the claims stage: ``rnnrepro claims`` writes the verdicts CSV."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from rnnrepro.command_helpers import UserError

log = logging.getLogger("rnnrepro")


# Every argument is a required path: the claims, published.yaml, the summaries, the output.
ARGUMENTS = (
    ("--claims", "paper/claims.yaml"), ("--published", "paper/published.yaml"),
    ("--memory-runs", "results/<preset>/memory/summary/table3_runs.csv"),
    ("--memory-latency", "results/<preset>/memory/summary/table2_latency.csv"),
    ("--memory-epochs", "results/<preset>/memory/summary/epochs.csv"),
    ("--increment-evaluations", "results/<preset>/increment/evaluations.csv"),
    ("--renet-summary", "results/<preset>/renet/summary.csv"),
    ("--output", "the verdicts CSV to write (results/<preset>/claims/verdicts.csv)"),
    ("--magnitudes", "the magnitude checks CSV to write (results/<preset>/claims/magnitudes.csv)"),
)


def register(sub: argparse._SubParsersAction) -> None:
    """Add this stage's subcommand to the `rnnrepro` parser."""
    claims = sub.add_parser(
        "claims",
        help="results/<preset>/claims/verdicts.csv: a verdict for every claim of both papers",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    for flag, text in ARGUMENTS:
        claims.add_argument(flag, required=True, help=text)
    claims.set_defaults(func=claims_command)


def claims_command(args: argparse.Namespace) -> int:
    """Evaluate every comparison of the claims file and write one row per comparison."""
    from rnnrepro.claims import checks, evaluate, results, spec
    from rnnrepro.claims.published import PublishedError
    from rnnrepro.claims.published import load as load_published
    from rnnrepro.files import write_csv

    paths = {"memory_runs": args.memory_runs, "memory_latency": args.memory_latency,
             "memory_epochs": args.memory_epochs,
             "increment_evaluations": args.increment_evaluations,
             "renet_runs": args.renet_summary}
    for path in [args.claims, args.published, *paths.values()]:
        if not Path(path).exists():
            raise UserError(f"{path}: not found; build it first (snakemake {path})")
    try:
        settings, claims = spec.load(args.claims)
        published = load_published(args.published)
        tables = results.load(paths)
        evaluation = evaluate.evaluate_claims(claims, settings, tables,
                                              results.published_errors(published),
                                              results.paper_tables(published))
    except (spec.ClaimsError, PublishedError, ValueError) as err:
        raise UserError(str(err)) from err
    rows = evaluation.verdicts
    write_csv(args.output, rows, columns=evaluate.VERDICT_COLUMNS)
    write_csv(args.magnitudes, evaluation.magnitudes, columns=checks.MAGNITUDE_COLUMNS)
    for row in rows:
        interval = ("" if row["ci_low"] is None else
                    f" [{row['ci_low']:.4g}, {row['ci_high']:.4g}]")
        mean = "—" if row["mean"] is None else f"{row['mean']:.4g}"
        reading = f" [{row['reading']}]" if row["reading"] else ""
        log.info("%s %s%s: %s (n=%d, mean %s%s; %s)", row["claim"], row["comparison"],
                 reading, row["verdict"], row["n"], mean, interval, row["reason"])
    log.info("wrote %d verdicts of %d claims to %s", len(rows), len(claims), args.output)
    return 0
