"""The hold-out set of one (K, N): built once, saved, read by every training job of that task.

All K^N numbers when K^N <= size (the paper: "formed of all possible K^N"), otherwise ``size``
numbers from the training distribution, drawn with a generator seeded by (seed, K, N) only, so
every order, cell and seed of a task is scored on the same numbers.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnrepro.files import atomic_path
from rnnrepro.increment.numbers import (
    DIGIT_DTYPE,
    all_numbers,
    check_task,
    count_numbers,
    draw_numbers,
)


@dataclass(frozen=True)
class Holdout:
    """Hold-out numbers (count, N) of one task, lowest digit first."""

    numbers: np.ndarray
    base: int
    digits: int
    exhaustive: bool  # True: every number of [0, K^N) once

    def digest(self) -> str:
        """Short content hash; a training checkpoint only resumes against the same set."""
        return hashlib.sha256(np.ascontiguousarray(self.numbers).tobytes()).hexdigest()[:16]


def build_holdout(base: int, digits: int, size: int, seed: int,
                  interesting_probability: float) -> Holdout:
    """All K^N numbers if there are at most ``size``, else ``size`` seeded draws."""
    check_task(base, digits)
    if count_numbers(base, digits) <= size:
        return Holdout(all_numbers(base, digits), base, digits, exhaustive=True)
    rng = np.random.default_rng([seed, base, digits])
    numbers = draw_numbers(rng, size, base, digits, interesting_probability)
    return Holdout(numbers, base, digits, exhaustive=False)


def write_holdout(path: str | Path, holdout: Holdout) -> None:
    """Save as ``.npz`` (atomically)."""
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez(tmp, numbers=holdout.numbers, base=holdout.base, digits=holdout.digits,
                 exhaustive=holdout.exhaustive)


def read_holdout(path: str | Path, base: int, digits: int) -> Holdout:
    """Load a hold-out file and check it belongs to (K, N) and holds valid digits."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: not found; run `rnnrepro increment-holdout`")
    try:
        with np.load(path) as data:
            numbers, got_base, got_digits = data["numbers"], int(data["base"]), int(data["digits"])
            exhaustive = bool(data["exhaustive"])
    except (KeyError, ValueError, OSError) as err:
        raise ValueError(f"{path}: not a hold-out file ({err}); delete it and rerun its rule") \
            from err
    if (got_base, got_digits) != (base, digits):
        raise ValueError(f"{path}: written for K={got_base}, N={got_digits}, "
                         f"not K={base}, N={digits}")
    if numbers.ndim != 2 or numbers.shape[1] != digits or len(numbers) == 0:
        raise ValueError(f"{path}: numbers have shape {numbers.shape}, expected (count, {digits})")
    if numbers.dtype != DIGIT_DTYPE or int(numbers.max()) >= base:
        raise ValueError(f"{path}: numbers are not base-{base} digits")
    return Holdout(numbers, base, digits, exhaustive)
