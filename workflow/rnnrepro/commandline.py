"""What every command of the ``rnnrepro`` CLI shares, below the stages' command modules (which
import it, while :mod:`rnnrepro.cli` imports them): the user error, the ``--settings`` format
both ways, the config a run uses, and the training device."""

from __future__ import annotations

import argparse
import json
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


def settings_json(settings: Any) -> str:
    """Compact JSON for a rule's ``--settings`` (the inverse of :func:`load_settings`)."""
    return json.dumps(settings, sort_keys=True, separators=(",", ":"))
