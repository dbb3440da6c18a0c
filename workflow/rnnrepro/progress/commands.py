"""``rnnrepro progress``: one line per training job of the configured workflow and the
remaining wall time, read from ``results/`` only (works while ``snakemake`` runs).
``rnnrepro plan``: what the configured training jobs will cost, before any runs."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from rnnrepro.command_helpers import UserError, load_config
from rnnrepro.paths import results_dir


def _config_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--configfile", action="append", default=[], metavar="FILE",
                        help="the config files given to snakemake (merged over config.yaml in "
                             "order; repeat the option)")
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 1,
                        help="cores the run uses (snakemake --cores), for the estimate")
    parser.add_argument("--root", default=".",
                        help="the repository root (holds config.yaml and workflow/)")


def _load(args: argparse.Namespace) -> dict:
    if args.cores < 1:
        raise UserError(f"--cores {args.cores}: give at least 1")
    return load_config(args.root, args.configfile)


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``rnnrepro progress`` and ``rnnrepro plan``."""
    plan = sub.add_parser(
        "plan", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        help="what the configured training jobs will cost (core-hours, GPU-hours, wall time)",
        description="One line per kind of training job of the configured workflow: jobs, "
                    "core-hours each and in all at config.yaml's measured CPU rates, the "
                    "estimated GPU-hours; then the totals and the wall time on --cores. The "
                    "same work model as the cluster time limits (rnnrepro/job_time.py).")
    _config_options(plan)
    plan.set_defaults(func=plan_command)

    parser = sub.add_parser(
        "progress", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        help="where each training job of the workflow stands, and the time left",
        description=" ".join(__doc__.split("\n\n")[0].split()))
    _config_options(parser)
    parser.add_argument("--results-dir", default=None,
                        help="folder of the results (default: results/<preset> of the config)")
    parser.add_argument("--stage", choices=("memory", "increment", "renet"), action="append",
                        help="only these stages (repeat the option; default: all)")
    parser.set_defaults(func=progress_command)


def plan_command(args: argparse.Namespace) -> int:
    from rnnrepro.progress.plan import report

    config = _load(args)
    source = " + ".join(["config.yaml", *args.configfile])
    print(report(config, args.cores, source))
    return 0


def progress_command(args: argparse.Namespace) -> int:
    from rnnrepro.progress.jobs import training_jobs
    from rnnrepro.progress.status import describe, statuses, summary
    from rnnrepro.results import imported

    config = _load(args)
    if args.results_dir is None:
        args.results_dir = str(Path(args.root) / results_dir(config["preset"]))
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
