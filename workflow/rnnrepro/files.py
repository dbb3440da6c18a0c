"""Atomic file output: write to a temporary name beside the target, rename when complete.

A crash or a kill never leaves a half-written file under the final name.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it to ``target`` on success.

    ``suffix`` keeps an extension that a writer insists on (``np.save`` adds ``.npy``).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial" + suffix,
                               dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    tmp_path.chmod(0o666 & ~umask)  # mkstemp makes 0600; results are ordinary files
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextlib.contextmanager
def atomic_open(target: str | os.PathLike[str], mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temporary file for writing; it replaces ``target`` only if the block succeeds."""
    with atomic_path(target) as tmp, open(tmp, mode, newline="" if "b" not in mode else None) as fh:
        yield fh
        fh.flush()
        os.fsync(fh.fileno())


def write_json(target: str | os.PathLike[str], data: Any) -> None:
    """Write ``data`` as indented JSON, atomically."""
    with atomic_open(target) as fh:
        json.dump(data, fh, indent=2, sort_keys=False, default=_json_default)
        fh.write("\n")


def read_json(path: str | os.PathLike[str]) -> Any:
    """Read a JSON file, naming the file if it is missing or malformed."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: file not found")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err}); delete it and rerun its rule") from err


def paired_runs(metrics_paths: Sequence[str | os.PathLike[str]],
                history_paths: Sequence[str | os.PathLike[str]]) -> list[tuple[Path, Path]]:
    """(metrics.json, history.csv) of each run, given as two lists in the same order; a count
    mismatch or a history from another run's folder is a ValueError naming the files."""
    if len(metrics_paths) != len(history_paths):
        raise ValueError(f"{len(metrics_paths)} metrics.json but {len(history_paths)} "
                         "history.csv given; pass one history per run, in the same order")
    pairs = [(Path(m), Path(h)) for m, h in zip(metrics_paths, history_paths, strict=True)]
    for metrics, history in pairs:
        if metrics.parent != history.parent:
            raise ValueError(f"{history} is not the history of {metrics} (give both of each "
                             "run in the same order)")
    return pairs


def read_csv_columns(path: str | os.PathLike[str], columns: Iterable[str],
                     rerun: str) -> pd.DataFrame:
    """A results CSV as a DataFrame, checked to hold ``columns``; a missing column names the file
    and the rule to ``rerun`` that writes it."""
    import pandas as pd  # here, not at the top: most commands never read a CSV

    frame = pd.read_csv(path)
    missing = set(columns) - set(frame.columns)
    if missing:
        raise ValueError(f"{path}: missing column(s) {sorted(missing)}; rerun {rerun}")
    return frame


def write_csv(target: str | os.PathLike[str], rows: Iterable[Mapping[str, Any]],
              columns: Sequence[str] | None = None) -> None:
    """Write dict rows as CSV with a header, atomically. Columns default to the first row's keys."""
    rows = list(rows)
    if columns is None:
        columns = list(rows[0].keys()) if rows else []
    with atomic_open(target) as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns), extrasaction="raise")
        writer.writeheader()
        writer.writerows(rows)


def _json_default(value: Any) -> Any:
    """Convert numpy scalars and arrays (and paths) to plain JSON values."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")
