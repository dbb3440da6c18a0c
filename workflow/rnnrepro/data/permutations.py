"""Fixed random permutations of rows, columns and pixels of a 28x28 image.

Saved once (seeded) to a JSON file that every memory-capacity job reads, so all jobs use the
very same orders: ``{"seed", "count", "rows": [count x 28 ints], "columns": [count x 28],
"pixels": [count x 784]}``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from rnnrepro.data.errors import DataError
from rnnrepro.files import read_json, write_json

LENGTHS = {"rows": 28, "columns": 28, "pixels": 784}


def make_permutations(seed: int, count: int) -> dict[str, Any]:
    """``count`` permutations of each kind from one seeded generator (rows, columns, pixels)."""
    rng = np.random.default_rng(seed)
    data: dict[str, Any] = {"seed": int(seed), "count": int(count)}
    for kind, length in LENGTHS.items():
        data[kind] = [rng.permutation(length).tolist() for _ in range(count)]
    return data


def write_permutations(path: str | Path, seed: int, count: int) -> dict[str, Any]:
    data = make_permutations(seed, count)
    write_json(path, data)
    return data


def load_permutations(path: str | Path) -> dict[str, list[np.ndarray]]:
    """``{"rows": [...], "columns": [...], "pixels": [...]}`` of int64 index arrays.

    Each entry is checked to be a true permutation of the right length.
    """
    path = Path(path)
    data = read_json(path)
    hint = "delete it and rerun `snakemake results/<preset>/data/permutations.json`"
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a JSON object; {hint}")
    result: dict[str, list[np.ndarray]] = {}
    for kind, length in LENGTHS.items():
        entries = data.get(kind)
        if not isinstance(entries, list) or not entries:
            raise DataError(f"{path}: missing or empty {kind!r} list; {hint}")
        if "count" in data and len(entries) != data["count"]:
            raise DataError(f"{path}: {len(entries)} {kind} permutations but count is "
                            f"{data['count']}; {hint}")
        arrays = []
        for i, entry in enumerate(entries):
            array = np.asarray(entry)
            if (array.shape != (length,) or not np.issubdtype(array.dtype, np.integer)
                    or not np.array_equal(np.sort(array), np.arange(length))):
                raise DataError(f"{path}: {kind}[{i}] is not a permutation of 0..{length - 1}; "
                                f"{hint}")
            arrays.append(array.astype(np.int64))
        result[kind] = arrays
    return result
