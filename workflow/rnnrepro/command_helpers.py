"""What every command of the ``rnnrepro`` CLI shares, below the stages' command modules (which
import it, while :mod:`rnnrepro.cli` imports them): the user error, the ``--settings`` format
both ways, the config a run uses, and the training device."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


class UserError(Exception):
    """A problem the user can fix (bad input, missing file); printed without a traceback."""


def load_config(root: str | Path, configfiles: list[str], what: str = "config"
                ) -> dict[str, Any]:
    """The config a ``snakemake --configfile ...`` run in ``root`` uses
    (:func:`rnnrepro.config_types.load`), its failures as a one-line :class:`UserError`."""
    from rnnrepro.config_types import load

    try:
        return load(root, configfiles)
    except (OSError, ValueError, yaml.YAMLError) as err:
        raise UserError(f"cannot load the {what} ({err})") from err


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


def add_job_settings(parser: argparse.ArgumentParser, section: str,
                     settings_help: str | None = None) -> None:
    """``--settings`` and ``--speed`` of a training command: the config keys that change its
    results and those that only change its speed (:mod:`rnnrepro.job_settings`)."""
    parser.add_argument("--settings", type=load_settings, required=True,
                        help=settings_help or f"the {section} keys that change results "
                                              "(JSON/YAML inline or file)")
    parser.add_argument("--speed", type=load_settings, default={},
                        help=f"the {section} keys that only change speed, e.g. eval_batch_size "
                             "(may also be given in --settings)")


@dataclass(frozen=True)
class TrainingFiles:
    """The files a training command writes: its outputs, and what it keeps to resume."""

    history: Path
    metrics: Path
    checkpoint: Path
    best: Path | None


def add_training_arguments(parser: argparse.ArgumentParser, section: str,
                           settings_help: str | None = None, *, best: bool = True,
                           threads: int | None = None,
                           threads_help: str = "CPU threads for torch (default: torch's)"
                           ) -> None:
    """The flags every training command shares: ``--settings`` and ``--speed``
    (:func:`add_job_settings`), ``--device``, ``--threads``, the ``--history`` and ``--metrics``
    it writes, and its ``--checkpoint`` and (``best``) ``--best`` weights, which default to
    the folder of ``--metrics`` (:func:`training_files`)."""
    from rnnrepro.paths import BEST_FILE, CHECKPOINT_FILE

    add_job_settings(parser, section, settings_help)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    parser.add_argument("--threads", type=int, default=threads, help=threads_help)
    parser.add_argument("--history", required=True, type=Path, help="history.csv to write")
    parser.add_argument("--metrics", required=True, type=Path, help="metrics.json to write")
    parser.add_argument("--checkpoint", type=Path,
                        help=f"checkpoint file (default: {CHECKPOINT_FILE} beside --metrics)")
    if best:
        parser.add_argument("--best", type=Path, help="best-validation weights (default: "
                                                      f"{BEST_FILE} beside --metrics)")


def training_files(args: argparse.Namespace) -> TrainingFiles:
    """The files of :func:`add_training_arguments`, defaults filled in."""
    from rnnrepro.paths import BEST_FILE, CHECKPOINT_FILE

    folder = args.metrics.parent
    best = (args.best or folder / BEST_FILE) if hasattr(args, "best") else None
    return TrainingFiles(args.history, args.metrics, args.checkpoint or folder / CHECKPOINT_FILE,
                         best)


def training_device(requested: str, threads: int | None) -> Any:
    """Set torch's CPU threads (when given) and return the device for a training command;
    an unavailable device is a :class:`UserError`."""
    import torch

    from rnnrepro.execution import pick_device

    if threads:
        torch.set_num_threads(threads)
    try:
        return pick_device(requested)
    except RuntimeError as err:
        raise UserError(str(err)) from err


def settings_json(settings: Any) -> str:
    """Compact JSON for a rule's ``--settings`` (the inverse of :func:`load_settings`)."""
    return json.dumps(settings, sort_keys=True, separators=(",", ":"))
