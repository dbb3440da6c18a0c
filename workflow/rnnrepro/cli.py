"""Command-line interface: ``rnnrepro <command> ...``; every Snakemake rule runs one command.

Each stage registers its commands from its own ``commands`` module. Heavy imports (torch) happen
inside the command handlers, so ``rnnrepro --help`` stays fast.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from rnnrepro import __version__
from rnnrepro.allocator import reuse_freed_memory
from rnnrepro.command_helpers import UserError
from rnnrepro.execution import StopRequested, setup_logging

log = logging.getLogger("rnnrepro")

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rnnrepro", description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--version", action="version", version=f"rnnrepro {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="<command>")
    from rnnrepro.claims import commands as claims
    from rnnrepro.data import commands as data
    from rnnrepro.increment import commands as increment
    from rnnrepro.memory import commands as memory
    from rnnrepro.paper import commands as paper
    from rnnrepro.progress import commands as progress
    from rnnrepro.renet import commands as renet
    from rnnrepro.results import commands as results

    for stage in (data, memory, increment, renet, claims, paper, results, progress):
        stage.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # OpenMP threads wait passively between parallel regions instead of spinning: with the
    # RNNs' many small per-step ops, spinning made a 2-thread ReNet job 5-10x slower whenever
    # the CPU was shared (benchmarks/renet_speed.py). Read once when torch loads libgomp, so it
    # is set before anything imports torch; a value in the environment wins.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    # Freed memory stays in the process: a ReNet step's large tensors are then reused instead
    # of faulted in again every step (rnnrepro.allocator; same numbers, 10-30 % faster steps).
    reuse_freed_memory()
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


if __name__ == "__main__":
    sys.exit(main())
