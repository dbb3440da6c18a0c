"""Command-line interface: ``rnnrepro <command> ...``; every Snakemake rule runs one command.

Each stage registers its commands from its own ``commands`` module. Heavy imports (torch) happen
inside the command handlers, so ``rnnrepro --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from rnnrepro import __version__
from rnnrepro.runtime import StopRequested, setup_logging

log = logging.getLogger("rnnrepro")

STAGES = ("data", "memory", "increment", "renet", "claims", "paper", "sharing", "progress")


class UserError(Exception):
    """A problem the user can fix (bad input, missing file); printed without a traceback."""


def load_settings(value: str) -> dict[str, Any]:
    """Parse ``--settings``: inline JSON, or the path of a JSON/YAML file (e.g. a run's
    ``settings.json``), so a rule's command line can be rerun by hand."""
    text = value
    if not value.lstrip().startswith("{"):
        path = Path(value)
        if not path.exists():
            raise argparse.ArgumentTypeError(f"--settings: {value!r} is neither JSON nor a file")
        text = path.read_text()
    try:
        # JSON first: YAML 1.1 reads JSON's exponent floats (1e-07) as strings.
        data = json.loads(text)
    except json.JSONDecodeError:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise argparse.ArgumentTypeError(f"--settings: cannot parse ({err})") from err
    if not isinstance(data, dict):
        raise argparse.ArgumentTypeError("--settings must be a mapping")
    return data


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rnnrepro", description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--version", action="version", version=f"rnnrepro {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="<command>")
    import importlib

    for stage in STAGES:
        importlib.import_module(f"rnnrepro.{stage}.commands").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # OpenMP threads wait passively between parallel regions instead of spinning: with the
    # RNNs' many small per-step ops, spinning made a 2-thread ReNet job 5-10x slower whenever
    # the CPU was shared (benchmarks/renet_speed.py). Read once when torch loads libgomp, so it
    # is set before anything imports torch; a value in the environment wins.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(logging.DEBUG if args.verbose else logging.INFO)
    try:
        result = args.func(args)
    except StopRequested as stop:
        log.warning("%s; the checkpoint is kept, rerun the same command to resume", stop)
        return StopRequested.exit_code
    except UserError as err:
        command = " ".join(filter(None, [args.command, getattr(args, "verb", None)]))
        print(f"rnnrepro {command}: error: {err}", file=sys.stderr)
        return 2
    return int(result or 0)


def training_device(requested: str, threads: int | None) -> Any:
    """Set torch's CPU threads (when given) and return the device for a training command;
    an unavailable device is a :class:`UserError`."""
    import torch

    from rnnrepro.runtime import pick_device

    if threads:
        torch.set_num_threads(threads)
    try:
        return pick_device(requested)
    except RuntimeError as err:
        raise UserError(str(err)) from err


def dump_settings(settings: dict[str, Any]) -> str:
    """Compact JSON for a rule's command line (the inverse of :func:`load_settings`)."""
    return json.dumps(settings, sort_keys=True, separators=(",", ":"))


if __name__ == "__main__":
    sys.exit(main())
