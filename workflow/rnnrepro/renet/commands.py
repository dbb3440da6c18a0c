"""Command-line commands of the renet stage (Visin et al., 2015)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from rnnrepro.command_helpers import (
    UserError,
    add_training_arguments,
    training_device,
    training_files,
)
from rnnrepro.renet.datasets import NAMES

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    """Add this stage's subcommands to the `rnnrepro` parser."""
    p = sub.add_parser("renet-train", help="train one ReNet (dataset, seed)",
                       description="Train one ReNet of Table 1 with early stopping and evaluate "
                       "its best-validation weights on the test set; resumes from its "
                       "checkpoint after an interruption.")
    p.add_argument("--data", required=True, type=Path,
                   help="processed dataset folder or its manifest.json")
    p.add_argument("--dataset", required=True, choices=NAMES)
    p.add_argument("--seed", required=True, type=int)
    add_training_arguments(p, "renet.training", "{model: renet.models.<dataset>, training: the "
                           "renet.training keys that change results, train_subset: n|null}")
    p.set_defaults(func=train_command)

    p = sub.add_parser("renet-summary", help="one row per ReNet run: test error etc. (Table 2)")
    p.add_argument("--metrics", required=True, nargs="*", type=Path,
                   help="metrics.json of every run")
    p.add_argument("--output", required=True, type=Path, help="summary CSV (one row per run)")
    p.add_argument("--errors", required=True, type=Path,
                   help="CSV of each dataset's test error over its seeds (Table 2)")
    p.set_defaults(func=summary_command)

    p = sub.add_parser("renet-figure", help="learning curves: train/validation error per epoch")
    p.add_argument("--metrics", required=True, nargs="*", type=Path,
                   help="metrics.json of every run")
    p.add_argument("--histories", required=True, nargs="*", type=Path,
                   help="history.csv of every run, in the order of --metrics")
    p.add_argument("--output", required=True, type=Path, help="the figure as PDF")
    p.add_argument("--png", required=True, type=Path, help="the figure as PNG")
    p.set_defaults(func=figure_command)


def train_command(args: argparse.Namespace) -> None:

    from rnnrepro.renet.train import Job, train

    try:
        job = Job.from_settings(args.dataset, args.seed, args.settings, args.speed)
    except (TypeError, ValueError) as err:
        raise UserError(f"--settings: {err}") from err
    device = training_device(args.device, args.threads)
    root = args.data.parent if args.data.name == "manifest.json" else args.data
    try:
        files = training_files(args)
        train(job, data_root=root, history_path=files.history, metrics_path=files.metrics,
              checkpoint_path=files.checkpoint, best_path=files.best, device=device)
    except (FileNotFoundError, ValueError, FloatingPointError) as err:
        raise UserError(str(err)) from err


def summary_command(args: argparse.Namespace) -> None:
    from rnnrepro.renet.summary import write_summary

    try:
        write_summary(args.metrics, args.output, args.errors)
    except (FileNotFoundError, ValueError) as err:
        raise UserError(str(err)) from err


def figure_command(args: argparse.Namespace) -> None:
    from rnnrepro.renet.figures import plot_curves

    try:
        plot_curves(args.metrics, args.histories, args.output, args.png)
    except (FileNotFoundError, ValueError) as err:
        raise UserError(str(err)) from err
