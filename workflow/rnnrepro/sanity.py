"""Sanity of a training run's files, checked by each stage's summary before anything is
aggregated, whether the run trained here or came from an archive: sizes within
:data:`MAX_BYTES`, histories non-empty with their columns, numbers finite and in range, and the
run fields of ``metrics.json`` equal to the run its folder names. A violation is a
``ValueError`` naming the file, the key or column, the value and the allowed range.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from rnnrepro.files import read_json

# The largest real files are increment histories of 51,201 evaluations (3-5 MB, estimated at
# 52-100 bytes a row); metrics.json files are a few kB. The same room as results archives
# allow for a member (64 MiB).
MAX_BYTES = {"metrics.json": 2**20, "history.csv": 64 * 2**20, "latency.csv": 2**20}
RERUN = "delete the run's folder and rerun its training job (or unpack a sound archive)"


def _check_size(path: Path) -> None:
    limit = MAX_BYTES.get(path.name, MAX_BYTES["history.csv"])
    if not path.exists():
        raise FileNotFoundError(f"{path}: file not found; rerun its training job")
    size = path.stat().st_size
    if size > limit:
        raise ValueError(f"{path}: {size:,} bytes, over the limit of {limit:,} for a "
                         f"{path.name}; {RERUN}")


def read_metrics(path: str | Path) -> dict[str, Any]:
    """A run's metrics.json: within its size limit, a JSON object."""
    path = Path(path)
    _check_size(path)
    try:
        data = read_json(path)
    except RecursionError as err:  # nested past Python's limit: not a metrics file
        raise ValueError(f"{path}: not valid JSON (nested too deeply); {RERUN}") from err
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a JSON object; {RERUN}")
    return data


def read_history(path: str | Path, columns: Iterable[str]) -> pd.DataFrame:
    """A run's history.csv: within its size limit, non-empty, holding ``columns``."""
    path = Path(path)
    _check_size(path)
    try:
        frame = pd.read_csv(path)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, ValueError) as err:
        raise ValueError(f"{path}: not a readable CSV ({str(err).splitlines()[0]}); "
                         f"{RERUN}") from err
    missing = sorted(set(columns) - set(frame.columns))
    if missing or frame.empty:
        raise ValueError(f"{path}: {'no rows' if not missing else f'missing column(s) {missing}'}"
                         f"; {RERUN}")
    return frame


def check_value(path: str | Path, key: str, value: Any, low: float, high: float) -> float:
    """``value`` as a float, finite and within [low, high] (a boolean is not a number)."""
    try:
        number = math.nan if isinstance(value, bool) else float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not (math.isfinite(number) and low <= number <= high):
        raise ValueError(f"{path}: {key} = {value!r} is not a number in [{low:g}, {high:g}]; "
                         f"{RERUN}")
    return number


def check_column(path: str | Path, frame: pd.DataFrame, column: str, low: float,
                 high: float, skip_first_nan: bool = False) -> None:
    """Every value of a history column finite and within [low, high] (``skip_first_nan``: the
    first row may be NaN, e.g. the training loss before any training)."""
    values = frame[column]
    if skip_first_nan and pd.isna(values.iloc[0]):
        values = values.iloc[1:]
    numbers = pd.to_numeric(values, errors="coerce")
    bad = ~(numbers.between(low, high)) | numbers.isna()
    if bad.any():
        row = int(bad.to_numpy().argmax()) + (len(frame) - len(values))
        value = frame[column].iloc[row]
        value = value.item() if hasattr(value, "item") else value   # numpy -> Python scalar
        raise ValueError(f"{path}: column {column} = {value!r} (row "
                         f"{row + 1}) is not a number in [{low:g}, {high:g}]; {RERUN}")


def check_run(path: str | Path, metrics: Mapping[str, Any], expected: Mapping[str, Any]
              ) -> None:
    """The run fields of ``metrics`` equal to those its folder names (``expected``)."""
    for key, value in expected.items():
        found = metrics.get(key)
        same = (math.isclose(float(found), float(value), rel_tol=1e-9)
                if isinstance(value, float) and isinstance(found, (int, float))
                else found == value)
        if not same:
            raise ValueError(f"{path}: {key} = {found!r}, but its folder is the run with "
                             f"{key} = {value!r} (files of two runs swapped?); {RERUN}")


def folder_fields(path: str | Path, pattern: str) -> dict[str, str]:
    """The fields a run folder pattern (e.g. ``K{base}-N{digits}/{order}/{cell}/seed{seed}``)
    names, read from the tail of ``path``'s folder; a folder of another shape is an error."""
    parts = re.split(r"\{(\w+)\}", pattern)
    regex = "".join(re.escape(text) if i % 2 == 0 else f"(?P<{text}>[^/]+)"
                    for i, text in enumerate(parts))
    folder = Path(path).parent.as_posix()
    match = re.search(f"(?:^|/){regex}$", folder)
    if match is None:
        raise ValueError(f"{path}: its folder is not a run folder ({pattern}); {RERUN}")
    return match.groupdict()


def check_integer(path: str | Path, key: str, value: Any, low: int, high: int) -> int:
    """``value`` a whole number within [low, high] (1.5 or true are not)."""
    number = check_value(path, key, value, low, high)
    if number != int(number):
        raise ValueError(f"{path}: {key} = {value!r} is not a whole number; {RERUN}")
    return int(number)


def check_epochs(path: str | Path, frame: pd.DataFrame, column: str = "epoch") -> None:
    """The history's rows are epochs 1, 2, ..., n in order."""
    expected = list(range(1, len(frame) + 1))
    found = pd.to_numeric(frame[column], errors="coerce").tolist()
    if found != expected:
        row = next(i for i, (a, b) in enumerate(zip(found, expected, strict=True)) if a != b)
        raise ValueError(f"{path}: row {row + 1} is epoch {found[row]:g}, "
                         f"expected {row + 1} (epochs 1..{len(frame)} in order); {RERUN}")


def check_length(path: str | Path, frame: pd.DataFrame, expected: int, what: str) -> None:
    """A finished run's history holds as many rows as the config trains."""
    if len(frame) != expected:
        raise ValueError(f"{path}: {len(frame)} {what}, but the config trains {expected} "
                         f"(a run of another config?); {RERUN}")


def check_row(path: str | Path, values: Mapping[str, Any], row: pd.Series,
              columns: Mapping[str, str], where: str, prefix: str = "") -> None:
    """metrics.json's ``values`` (each key of ``columns`` it holds) equal the history ``row``'s
    columns; ``where`` names the row in the message ("the history's epoch 3 has")."""
    for key, column in columns.items():
        if key in values and not math.isclose(float(values[key]), float(row[column]),
                                              rel_tol=1e-9, abs_tol=1e-12):
            raise ValueError(f"{path}: {prefix}{key} = {values[key]!r}, but {where} "
                             f"{column} = {row[column]!r}; {RERUN}")
