"""Command-line commands of the increment stage (Kolesau et al., sec. 3.1; Figs. 5-7).

  increment-permutation   the fixed "complicated" digit order of one (K, N)
  increment-holdout       the hold-out numbers of one (K, N)
  increment-train         one job: (K, N) x order x cell x seed -> history.csv + metrics.json
  increment-summary       final accuracies of all jobs -> one CSV
  increment-figure        hold-out accuracy curves of one (K, N) -> PDF + PNG
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rnnrepro.command_helpers import (
    UserError,
    add_training_arguments,
    load_settings,
    training_device,
    training_files,
)

log = logging.getLogger(__name__)

ORDERS = ("simple", "complicated")
CELLS = ("rnn", "lstm", "gru")


def register(sub: argparse._SubParsersAction) -> None:
    """Add this stage's subcommands to the `rnnrepro` parser."""
    fmt = argparse.ArgumentDefaultsHelpFormatter

    p = sub.add_parser("increment-permutation", formatter_class=fmt,
                       help="write the fixed 'complicated' digit order of one (K, N)")
    _task_args(p)
    p.add_argument("--settings", type=load_settings, required=True,
                   help="increment config section (needs permutation_seed)")
    p.add_argument("--output", type=Path, required=True, help="permutation.json to write")
    p.set_defaults(func=_guard(cmd_permutation))

    p = sub.add_parser("increment-holdout", formatter_class=fmt,
                       help="write the hold-out numbers of one (K, N)")
    _task_args(p)
    p.add_argument("--settings", type=load_settings, required=True,
                   help="increment config section (needs holdout_size, holdout_seed, "
                        "interesting_probability)")
    p.add_argument("--output", type=Path, required=True, help="holdout.npz to write")
    p.set_defaults(func=_guard(cmd_holdout))

    p = sub.add_parser("increment-train", formatter_class=fmt,
                       help="train one model variant and record its hold-out accuracy curve")
    _task_args(p)
    p.add_argument("--order", choices=ORDERS, required=True)
    p.add_argument("--cell", choices=CELLS, required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--holdout", type=Path, required=True, help="holdout.npz of this (K, N)")
    p.add_argument("--permutation", type=Path,
                   help="permutation.json of this (K, N); required for --order complicated")
    add_training_arguments(p, "increment", best=False, threads=1,
                           threads_help="torch CPU threads (0: torch's default); a 16-unit "
                                        "model gains nothing from more, and they fight over "
                                        "shared cores")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("increment-summary", formatter_class=fmt,
                       help="one CSV of every job's final hold-out accuracies")
    p.add_argument("--metrics", type=Path, nargs="*", required=True, help="jobs' metrics.json")
    p.add_argument("--history", type=Path, nargs="*", required=True,
                   help="jobs' history.csv, in the order of --metrics")
    p.add_argument("--output", type=Path, required=True, help="summary CSV to write")
    p.add_argument("--evaluations", type=Path, required=True,
                   help="CSV of every job's every hold-out evaluation to write")
    p.set_defaults(func=_guard(cmd_summary))

    p = sub.add_parser("increment-figure", formatter_class=fmt,
                       help="hold-out accuracy vs minibatch of one (K, N) (Figs. 5-7)")
    _task_args(p)
    p.add_argument("--history", type=Path, nargs="*", required=True, help="jobs' history.csv")
    p.add_argument("--metrics", type=Path, nargs="*", required=True,
                   help="the same jobs' metrics.json, in the same order")
    p.add_argument("--output", type=Path, required=True, help="figure .pdf to write")
    p.add_argument("--png", type=Path, required=True, help="the same figure as .png")
    p.set_defaults(func=_guard(cmd_figure))


def _task_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--base", type=int, required=True, help="K, the number base (2..36)")
    parser.add_argument("--digits", type=int, required=True, help="N, digits per number")


def _guard(handler: Callable[[argparse.Namespace], Any]) -> Callable[[argparse.Namespace], Any]:
    """Report bad inputs (files, settings, values) as user errors, without a traceback."""
    def run(args: argparse.Namespace) -> Any:
        try:
            return handler(args)
        except (ValueError, FileNotFoundError) as err:
            raise UserError(str(err)) from err
    return run


def cmd_permutation(args: argparse.Namespace) -> None:
    from rnnrepro.increment.numbers import check_task
    from rnnrepro.increment.sequences import make_permutation, write_permutation
    from rnnrepro.increment.settings import PermutationSettings

    check_task(args.base, args.digits)
    seed = _settings(PermutationSettings, args.settings).permutation_seed
    permutation = make_permutation(args.base, args.digits, seed)
    write_permutation(args.output, permutation, args.base, args.digits, seed)
    log.info("K=%d N=%d permutation %s -> %s", args.base, args.digits, permutation.tolist(),
             args.output)


def cmd_holdout(args: argparse.Namespace) -> None:
    from rnnrepro.increment.holdout import build_holdout, write_holdout
    from rnnrepro.increment.settings import HoldoutSettings

    settings = _settings(HoldoutSettings, args.settings)
    holdout = build_holdout(args.base, args.digits, size=settings.holdout_size,
                            seed=settings.holdout_seed,
                            interesting_probability=settings.interesting_probability)
    write_holdout(args.output, holdout)
    log.info("K=%d N=%d hold-out: %d numbers (%s) -> %s", args.base, args.digits,
             len(holdout.numbers), "all of them" if holdout.exhaustive else "drawn",
             args.output)


def _settings(kind: Any, values: dict[str, Any]) -> Any:
    """``kind.from_parts(values)``; a missing, unknown or refused key is a UserError."""
    try:
        return kind.from_parts(values)
    except (TypeError, ValueError) as err:
        raise UserError(f"--settings: {err}") from err


def cmd_train(args: argparse.Namespace) -> None:
    from rnnrepro.checkpoint import CheckpointError
    from rnnrepro.increment.holdout import read_holdout
    from rnnrepro.increment.sequences import read_permutation
    from rnnrepro.increment.settings import IncrementSettings
    from rnnrepro.increment.train import Job, train_job

    if args.order == "complicated" and args.permutation is None:
        raise UserError("--order complicated needs --permutation (the task's permutation.json)")
    if args.order == "simple" and args.permutation is not None:
        raise UserError("--order simple takes no --permutation (digits stay in order)")
    device = training_device(args.device, args.threads)
    try:  # inputs only: an error during training keeps its traceback
        settings = IncrementSettings.from_parts(args.settings, args.speed)
        holdout = read_holdout(args.holdout, args.base, args.digits)
        permutation = (read_permutation(args.permutation, args.base, args.digits)
                       if args.permutation is not None else None)
    except (ValueError, FileNotFoundError) as err:
        raise UserError(str(err)) from err
    job = Job(args.base, args.digits, args.order, args.cell, args.seed)
    try:
        files = training_files(args)
        metrics = train_job(job, settings, holdout, permutation, device,
                            history_path=files.history, metrics_path=files.metrics,
                            checkpoint_path=files.checkpoint)
    except CheckpointError as err:  # a checkpoint that cannot be resumed: one line, no traceback
        raise UserError(str(err)) from err
    log.info("%s: final digit accuracy %.4f, exact match %.4f after %d minibatches", job.label,
             metrics["final_digit_acc"], metrics["final_number_acc"], metrics["minibatches"])


def cmd_summary(args: argparse.Namespace) -> None:
    from rnnrepro.files import write_csv
    from rnnrepro.increment.summary import (
        EVALUATION_COLUMNS,
        SUMMARY_COLUMNS,
        evaluation_rows,
        summary_rows,
    )

    rows = summary_rows(args.metrics)
    evaluations = evaluation_rows(args.metrics, args.history)
    write_csv(args.output, rows, columns=SUMMARY_COLUMNS)
    write_csv(args.evaluations, evaluations, columns=EVALUATION_COLUMNS)
    log.info("%d jobs -> %s; %d evaluations -> %s", len(rows), args.output, len(evaluations),
             args.evaluations)


def cmd_figure(args: argparse.Namespace) -> None:
    from rnnrepro.files import paired_runs, read_json
    from rnnrepro.increment.figures import plot_task, read_history
    from rnnrepro.plotting import save_not_run

    runs = [(read_json(metrics), read_history(history))
            for metrics, history in paired_runs(args.metrics, args.history)]
    if not runs:
        save_not_run(args.output, args.png, f"Increment, K = {args.base}, N = {args.digits}",
                     "not run in this preset (not in increment.tasks)")
        log.info("K=%d N=%d: not run in this preset -> %s", args.base, args.digits, args.output)
        return
    plot_task(runs, args.base, args.digits, args.output, args.png)
    log.info("K=%d N=%d: %d runs -> %s", args.base, args.digits, len(runs), args.output)
