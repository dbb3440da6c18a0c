"""Command-line commands of the data stage: download, prepare (any dataset, by its reader),
make-permutations, samples."""

from __future__ import annotations

import argparse
import functools
import importlib
import logging
import re
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from rnnrepro.command_helpers import UserError, load_settings
from rnnrepro.data.errors import setting

log = logging.getLogger("rnnrepro")


def register(sub: argparse._SubParsersAction) -> None:
    """Add this stage's subcommands to the `rnnrepro` parser."""
    defaults = argparse.ArgumentDefaultsHelpFormatter

    p = sub.add_parser("download", formatter_class=defaults,
                       help="fetch one raw file from its sources, verified and resumable")
    p.add_argument("--output", required=True, type=Path, help="where the verified file goes")
    p.add_argument("--filename", help="file name at the sources (default: the output's name)")
    p.add_argument("--settings", type=load_settings, required=True,
                   help="{checksum, gzip_payload}: what the file is")
    p.add_argument("--fetch-settings", type=load_settings, default={},
                   help="{sources, local_dir, attempts, backoff_seconds, timeout_seconds}: where "
                        "from and how (may also be given inside --settings)")
    p.set_defaults(func=_download)

    p = sub.add_parser("prepare", formatter_class=defaults,
                       help="a dataset's verified raw files -> its processed dataset",
                       description="Prepare a dataset with its reader, the module "
                       "rnnrepro.data.<dataset> (RAW_FILES: the raw files it reads; prepare(): "
                       "verify and write the processed dataset).")
    p.add_argument("--dataset", required=True, help="e.g. mnist, cifar10, svhn")
    p.add_argument("--raw", required=True, nargs="+", type=Path,
                   help="the dataset's raw files (data.files.<dataset>)")
    _output_and_settings(p, "{<the data.<dataset> keys>, files: {<name>: {checksum, "
                            "gzip_payload}}}")
    p.set_defaults(func=_prepare)

    p = sub.add_parser("make-permutations", formatter_class=defaults,
                       help="seeded row/column/pixel permutations for the memory experiment")
    p.add_argument("--output", required=True, type=Path, help="permutations.json")
    p.add_argument("--settings", type=load_settings, required=True, help="{seed, count}")
    p.set_defaults(func=_make_permutations)

    p = sub.add_parser("make-mnist-sample", formatter_class=defaults,
                       help="cut the bundled MNIST sample from the full MNIST files")
    p.add_argument("--source", required=True, type=Path, help="folder with the 4 MNIST .gz")
    p.add_argument("--output", required=True, type=Path, help="folder for the sample")
    p.add_argument("--train", type=int, default=10000, help="training images to keep")
    p.add_argument("--test", type=int, default=2000, help="test images to keep")
    p.set_defaults(func=_make_mnist_sample)


def _output_and_settings(parser: argparse.ArgumentParser, settings_help: str) -> None:
    parser.add_argument("--output", required=True, type=Path, help="processed dataset folder")
    parser.add_argument("--settings", type=load_settings, required=True, help=settings_help)


def _user_errors(handler: Callable[[argparse.Namespace], Any]
                 ) -> Callable[[argparse.Namespace], Any]:
    """Report data problems (bad checksum, missing file, bad config) without a traceback."""

    @functools.wraps(handler)
    def run(args: argparse.Namespace) -> Any:
        from rnnrepro.data.errors import DataError

        try:
            return handler(args)
        except DataError as err:
            raise UserError(str(err)) from err
        except FileNotFoundError as err:
            raise UserError(f"{err}") from err

    return run


@_user_errors
def _download(args: argparse.Namespace) -> None:
    from rnnrepro.data.download import fetch

    settings = {**args.fetch_settings, **args.settings}
    name = args.filename or args.output.name
    where = f"data.files.<dataset>.{name}"
    fetch(name, setting(settings, "checksum", f"{where}.checksum"),
          setting(settings, "sources", f"{where}.sources"), args.output,
          local_dir=settings.get("local_dir"),
          gzip_payload=bool(settings.get("gzip_payload", False)),
          attempts=int(settings.get("attempts", 3)),
          backoff=float(settings.get("backoff_seconds", 2.0)),
          timeout=float(settings.get("timeout_seconds", 60.0)))


READER_NAME = re.compile(r"[a-z][a-z0-9_]*")


def reader(dataset: str) -> ModuleType:
    """The module that prepares ``dataset``: ``rnnrepro.data.<dataset>``, with its
    ``RAW_FILES`` and ``prepare``."""
    if not READER_NAME.fullmatch(dataset):
        raise UserError(f"--dataset {dataset!r}: a dataset name is lowercase letters, digits "
                        "and _ (its reader is the module rnnrepro.data.<dataset>)")
    try:
        module = importlib.import_module(f"rnnrepro.data.{dataset}")
    except ModuleNotFoundError as err:
        raise UserError(f"--dataset {dataset}: no reader; add workflow/rnnrepro/data/"
                        f"{dataset}.py with RAW_FILES and prepare(files, output, settings)"
                        ) from err
    if not (hasattr(module, "RAW_FILES") and callable(getattr(module, "prepare", None))):
        raise UserError(f"rnnrepro.data.{dataset} is not a dataset reader: it needs RAW_FILES "
                        "and prepare(files, output, settings)")
    return module


@_user_errors
def _prepare(args: argparse.Namespace) -> None:
    module = reader(args.dataset)
    files = {path.name: path for path in args.raw}
    missing = [name for name in module.RAW_FILES if name not in files]
    if missing:
        raise UserError(f"--raw lacks {missing}, the raw files of {args.dataset} "
                        f"(data.files.{args.dataset})")
    module.prepare(files, args.output, args.settings)
    log.info("wrote %s", args.output / "manifest.json")


@_user_errors
def _make_permutations(args: argparse.Namespace) -> None:
    from rnnrepro.data.permutations import write_permutations

    write_permutations(args.output, int(setting(args.settings, "seed", "data.permutations.seed")),
                       int(setting(args.settings, "count", "data.permutations.count")))
    log.info("wrote %s", args.output)


@_user_errors
def _make_mnist_sample(args: argparse.Namespace) -> None:
    from rnnrepro.data.mnist import make_sample

    make_sample(args.source, args.output, args.train, args.test)
