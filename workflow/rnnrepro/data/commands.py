"""Command-line commands of the data stage: download, prepare-*, make-permutations, samples."""

from __future__ import annotations

import argparse
import functools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rnnrepro.command_helpers import UserError, load_settings

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

    p = sub.add_parser("prepare-mnist", formatter_class=defaults,
                       help="MNIST IDX files -> processed dataset (50k/10k/10k, [0, 1])")
    for flag in ("--train-images", "--train-labels", "--test-images", "--test-labels"):
        p.add_argument(flag, required=True, type=Path)
    _output_and_settings(p, "{splits, files: {<name>: {checksum, gzip_payload}}}")
    p.set_defaults(func=_prepare_mnist)

    p = sub.add_parser("prepare-cifar10", formatter_class=defaults,
                       help="CIFAR-10 tarball -> processed dataset (40k/10k/10k, ZCA)")
    p.add_argument("--archive", required=True, type=Path, help="cifar-10-python.tar.gz")
    _output_and_settings(p, "{splits, zca_epsilon, files: {<name>: {checksum}}}")
    p.set_defaults(func=_prepare_cifar10)

    p = sub.add_parser("prepare-svhn", formatter_class=defaults,
                       help="SVHN .mat files -> processed dataset (543,949/60,439/26,032)")
    p.add_argument("--train", required=True, type=Path, help="train_32x32.mat")
    p.add_argument("--extra", required=True, type=Path, help="extra_32x32.mat")
    p.add_argument("--test", required=True, type=Path, help="test_32x32.mat")
    _output_and_settings(p, "{splits, split_seed, files: {<name>: {checksum}}}")
    p.set_defaults(func=_prepare_svhn)

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


def _setting(settings: dict[str, Any], key: str, config_key: str) -> Any:
    if key not in settings:
        raise UserError(f"--settings lacks {key!r} (config key {config_key})")
    return settings[key]


@_user_errors
def _download(args: argparse.Namespace) -> None:
    from rnnrepro.data.download import fetch

    settings = {**args.fetch_settings, **args.settings}
    name = args.filename or args.output.name
    where = f"data.files.<dataset>.{name}"
    fetch(name, _setting(settings, "checksum", f"{where}.checksum"),
          _setting(settings, "sources", f"{where}.sources"), args.output,
          local_dir=settings.get("local_dir"),
          gzip_payload=bool(settings.get("gzip_payload", False)),
          attempts=int(settings.get("attempts", 3)),
          backoff=float(settings.get("backoff_seconds", 2.0)),
          timeout=float(settings.get("timeout_seconds", 60.0)))


def _verified(paths: list[Path], settings: dict[str, Any], dataset: str) -> None:
    from rnnrepro.data.checksums import verify_inputs

    verify_inputs(paths, _setting(settings, "files", f"data.files.{dataset}"))


def _raw(paths: list[Path], settings: dict[str, Any]) -> dict[str, Any]:
    """The manifest's record of the raw files the dataset came from."""
    return {"raw": {path.name: settings["files"][path.name]["checksum"] for path in paths}}


@_user_errors
def _prepare_mnist(args: argparse.Namespace) -> None:
    from rnnrepro.data.mnist import prepare_mnist

    paths = [args.train_images, args.train_labels, args.test_images, args.test_labels]
    splits = _setting(args.settings, "splits", "data.mnist.splits")
    _verified(paths, args.settings, "mnist")
    prepare_mnist(*paths, args.output, splits, extra=_raw(paths, args.settings))
    log.info("wrote %s", args.output / "manifest.json")


@_user_errors
def _prepare_cifar10(args: argparse.Namespace) -> None:
    from rnnrepro.data.cifar10 import prepare_cifar10

    splits = _setting(args.settings, "splits", "data.cifar10.splits")
    epsilon = float(_setting(args.settings, "zca_epsilon", "data.cifar10.zca_epsilon"))
    files = _setting(args.settings, "files", "data.files.cifar10")
    entry = files.get(args.archive.name)
    if entry is None:
        raise UserError(f"--settings files has no checksum for {args.archive.name!r}")
    prepare_cifar10(args.archive, args.output, splits, epsilon, entry["checksum"])
    log.info("wrote %s", args.output / "manifest.json")


@_user_errors
def _prepare_svhn(args: argparse.Namespace) -> None:
    from rnnrepro.data.svhn import prepare_svhn

    paths = [args.train, args.extra, args.test]
    splits = _setting(args.settings, "splits", "data.svhn.splits")
    seed = int(_setting(args.settings, "split_seed", "data.svhn.split_seed"))
    _verified(paths, args.settings, "svhn")
    prepare_svhn(*paths, args.output, splits, seed, extra=_raw(paths, args.settings))
    log.info("wrote %s", args.output / "manifest.json")


@_user_errors
def _make_permutations(args: argparse.Namespace) -> None:
    from rnnrepro.data.permutations import write_permutations

    write_permutations(args.output, int(_setting(args.settings, "seed", "data.permutations.seed")),
                       int(_setting(args.settings, "count", "data.permutations.count")))
    log.info("wrote %s", args.output)


@_user_errors
def _make_mnist_sample(args: argparse.Namespace) -> None:
    from rnnrepro.data.mnist import make_sample

    make_sample(args.source, args.output, args.train, args.test)
