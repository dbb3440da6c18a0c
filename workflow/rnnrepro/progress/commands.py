"""``rnnrepro progress``: one line per training job of the configured workflow and the
remaining wall time, read from ``results/`` only (works while ``snakemake`` runs)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import yaml

from rnnrepro.commandline import UserError


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``rnnrepro progress``."""
    parser = sub.add_parser(
        "progress", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        help="where each training job of the workflow stands, and the time left",
        description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--configfile", action="append", default=[], metavar="FILE",
                        help="the config files given to snakemake (merged over config.yaml in "
                             "order; repeat the option)")
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 1,
                        help="cores the run uses (snakemake --cores), for the estimate")
    parser.add_argument("--results-dir", default="results", help="folder of the results")
    parser.add_argument("--root", default=".",
                        help="the repository root (holds config.yaml and workflow/)")
    parser.add_argument("--stage", choices=("memory", "increment", "renet"), action="append",
                        help="only these stages (repeat the option; default: all)")
    parser.set_defaults(func=progress_command)


def progress_command(args: argparse.Namespace) -> int:
    from rnnrepro.config_types import load
    from rnnrepro.progress.jobs import training_jobs
    from rnnrepro.progress.status import describe, statuses, summary
    from rnnrepro.sharing import imported

    if args.cores < 1:
        raise UserError(f"--cores {args.cores}: give at least 1")
    try:
        config = load(args.root, args.configfile)
    except (OSError, ValueError, yaml.YAMLError) as err:
        raise UserError(f"cannot load the config ({err})") from err
    try:
        runs = imported.load(args.results_dir, config)
    except ValueError as err:
        raise UserError(str(err)) from err
    jobs = [job for job in training_jobs(config) if not args.stage or job.stage in args.stage]
    found = statuses(jobs, Path(args.results_dir), runs.path if runs else str)
    for status in found:
        print(describe(status))
    print(summary(found, args.cores))
    return 0
