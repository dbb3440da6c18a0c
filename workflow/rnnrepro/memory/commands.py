"""Command-line commands of the memory stage (Kolesau et al., sec. 3.2)."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Mapping
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


def register(sub: argparse._SubParsersAction) -> None:
    """Add this stage's subcommands to the `rnnrepro` parser."""
    p = sub.add_parser("memory-train", help="train the IRNN on one MNIST representation",
                       description="Train one (representation, learning rate, seed) run; "
                       "resumes from its checkpoint after an interruption.")
    p.add_argument("--data", required=True, type=Path,
                   help="processed MNIST folder or its manifest.json")
    p.add_argument("--permutations", type=Path,
                   help="permutations.json of the data stage (permuted representations only)")
    p.add_argument("--representation", required=True, help="e.g. transposed-perm1")
    p.add_argument("--learning-rate", required=True, type=float)
    p.add_argument("--seed", required=True, type=int)
    add_training_arguments(p, "memory")
    p.add_argument("--latency", required=True, type=Path, help="latency.csv to write")
    p.set_defaults(func=train_command)

    p = sub.add_parser("memory-summary", help="Tables 2-4 and Fig. 9 data from all runs")
    p.add_argument("--metrics", required=True, nargs="*", type=Path,
                   help="metrics.json of every run (none: the stage is not run)")
    p.add_argument("--histories", required=True, nargs="*", type=Path,
                   help="history.csv of every run, in the order of --metrics")
    for name in ("table2", "table3", "variants", "groups", "table4", "curves", "epochs",
                 "notes"):
        p.add_argument(f"--{name}", required=True, type=Path)
    p.add_argument("--settings", type=load_settings, default={},
                   help="recorded in notes.json (preset, sweep)")
    p.set_defaults(func=summary_command)

    p = sub.add_parser("memory-figure-curves", help="Fig. 9: validation accuracy per epoch")
    p.add_argument("--curves", required=True, type=Path, help="curves.csv of memory-summary")
    p.add_argument("--output", required=True, type=Path, help="the figure as PDF")
    p.add_argument("--png", required=True, type=Path, help="the figure as PNG")
    p.set_defaults(func=curves_command)

    p = sub.add_parser("memory-figure-gallery",
                       help="Table 1: one test digit in every representation")
    p.add_argument("--data", required=True, nargs="?", type=Path,
                   help="processed MNIST (none: the stage is not run)")
    p.add_argument("--permutations", nargs="?", type=Path)
    p.add_argument("--settings", type=load_settings, required=True,
                   help="{representations: [...], gallery_index: i}")
    p.add_argument("--output", required=True, type=Path, help="the figure as PDF")
    p.add_argument("--png", required=True, type=Path, help="the figure as PNG")
    p.set_defaults(func=gallery_command)

    p = sub.add_parser("memory-figure-samples", help="Fig. 8: sample MNIST digits")
    p.add_argument("--data", required=True, nargs="?", type=Path,
                   help="processed MNIST (none: the stage is not run, the figure says so)")
    p.add_argument("--settings", type=load_settings, required=True, help="{sample_digits: n}")
    p.add_argument("--output", required=True, type=Path, help="the figure as PDF")
    p.add_argument("--png", required=True, type=Path, help="the figure as PNG")
    p.set_defaults(func=samples_command)


def _dataset(path: Path | None) -> Any:
    from rnnrepro.data.processed import ProcessedDataset

    if path is None:
        raise UserError("--data: give the processed MNIST "
                        "(results/<preset>/data/mnist/manifest.json)")
    root = path.parent if path.name == "manifest.json" else path
    try:
        return ProcessedDataset(root)
    except FileNotFoundError as err:
        raise UserError(str(err)) from err


def _permutations(path: Path | None, names: list[str]) -> Mapping[str, Any] | None:
    from rnnrepro.memory.representations import needs_permutations

    if not any(needs_permutations(n) for n in names):
        return None
    if path is None:
        raise UserError(f"{', '.join(names)}: permuted representations need --permutations "
                        "(results/<preset>/data/permutations.json)")
    if not path.exists():
        raise UserError(f"{path} missing; run `snakemake {path}` (data stage)")
    from rnnrepro.data.errors import DataError
    from rnnrepro.data.permutations import load_permutations

    try:
        return load_permutations(path)
    except (DataError, ValueError) as err:
        raise UserError(str(err)) from err


def _check_names(names: list[str]) -> None:
    from rnnrepro.memory.representations import parse

    for name in names:
        try:
            parse(name)
        except ValueError as err:
            raise UserError(str(err)) from err


def train_command(args: argparse.Namespace) -> None:

    from rnnrepro.memory.settings import MemorySettings
    from rnnrepro.memory.train import RunPaths, train_memory

    _check_names([args.representation])
    if not args.learning_rate > 0:
        raise UserError(f"--learning-rate must be positive, got {args.learning_rate}")
    try:
        settings = MemorySettings.from_parts(args.settings, args.speed)
    except (TypeError, ValueError) as err:
        raise UserError(f"--settings: {err}") from err
    device = training_device(args.device, args.threads)
    permutations = _permutations(args.permutations, [args.representation])
    files = training_files(args)
    paths = RunPaths(history=files.history, metrics=files.metrics, latency=args.latency,
                     checkpoint=files.checkpoint, best=files.best)
    try:
        train_memory(data_dir=_dataset(args.data).root, representation=args.representation,
                     learning_rate=args.learning_rate, seed=args.seed, settings=settings,
                     paths=paths, device=device, permutations=permutations)
    except ValueError as err:  # bad permutations or settings, reported with their source
        raise UserError(str(err)) from err


def summary_command(args: argparse.Namespace) -> None:
    from rnnrepro.memory.summary import write_summary

    try:
        write_summary(args.metrics, args.histories, table2_path=args.table2,
                      table3_path=args.table3, variants_path=args.variants,
                      groups_path=args.groups, table4_path=args.table4,
                      curves_path=args.curves, epochs_path=args.epochs, notes_path=args.notes,
                      settings=args.settings)
    except (FileNotFoundError, ValueError) as err:
        raise UserError(str(err)) from err


def curves_command(args: argparse.Namespace) -> None:
    from rnnrepro.memory.figures import plot_curves

    if not args.curves.exists():
        raise UserError(f"{args.curves} missing; run memory-summary first")
    try:
        plot_curves(args.curves, args.output, args.png)
    except ValueError as err:
        raise UserError(str(err)) from err


def gallery_command(args: argparse.Namespace) -> None:
    from rnnrepro.memory.figures import NOT_RUN, dataset_images, plot_gallery
    from rnnrepro.memory.representations import pixel_order
    from rnnrepro.plotting import save_not_run

    names = list(_setting(args.settings, "representations") or [])
    if not names:
        save_not_run(args.output, args.png, "Memory capacity: representations", NOT_RUN)
        return
    index = _setting(args.settings, "gallery_index")
    _check_names(names)
    permutations = _permutations(args.permutations, names)
    try:
        orders = {name: pixel_order(name, permutations) for name in names}
        images, _ = dataset_images(_dataset(args.data), "test",
                                   [int(index)])
    except ValueError as err:
        raise UserError(str(err)) from err
    plot_gallery(images[0], orders, args.output, args.png)


def samples_command(args: argparse.Namespace) -> None:
    from rnnrepro.memory.figures import NOT_RUN, dataset_images, plot_samples
    from rnnrepro.plotting import save_not_run

    count = int(_setting(args.settings, "sample_digits"))
    if count < 1:
        raise UserError(f"--settings: sample_digits must be positive, got {count}")
    if args.data is None:
        save_not_run(args.output, args.png, "Memory capacity: MNIST samples", NOT_RUN)
        return
    try:
        images, labels = dataset_images(_dataset(args.data), "train", range(count))
    except ValueError as err:
        raise UserError(str(err)) from err
    plot_samples(images, labels, args.output, args.png)


def _setting(settings: Mapping[str, Any], key: str) -> Any:
    """A required ``--settings`` key (config.yaml states its value); the error names it."""
    if key not in settings:
        raise UserError(f"--settings: missing key {key!r} (the rule passes it from config.yaml's "
                        "memory section)")
    return settings[key]
