"""Input/target sequences of the increment task and the "complicated" digit order.

Input: the N digits twice (length 2N). Target: the first N outputs repeat the input digits, the
last N are the digits of (x + 1) mod K^N. In the "complicated" order a fixed permutation of the
N positions is applied to both halves of input and target with the paper's convention
``new[i] = old[perm[i]]`` (Fig. 4: perm [4,0,1,3,2] turns 3 3 1 0 2 into 2 3 3 0 1).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rnnrepro.files import read_json, write_json

CONVENTION = "new[i] = old[permutation[i]] on each half of input and target"


def increment(numbers: np.ndarray, base: int) -> np.ndarray:
    """Digits of (x + 1) mod K^N for every row, by a vectorised carry.

    The carry into position j is 1 exactly when all lower digits are K-1 (and always 1 into
    position 0), so new_j = (d_j + carry_j) mod K; K^N - 1 wraps to 0.
    """
    is_max = numbers == base - 1
    carry = np.ones_like(numbers)
    carry[..., 1:] = np.cumprod(is_max[..., :-1], axis=-1)
    return ((numbers + carry) % base).astype(numbers.dtype)


def make_permutation(base: int, digits: int, seed: int) -> np.ndarray:
    """The fixed random order of the N digit positions for (K, N), seeded by (seed, K, N)."""
    return np.random.default_rng([seed, base, digits]).permutation(digits)


def apply_permutation(numbers: np.ndarray, permutation: np.ndarray) -> np.ndarray:
    """Reorder the digit axis: ``new[..., i] = old[..., permutation[i]]``."""
    return numbers[..., permutation]


def invert_permutation(permutation: np.ndarray) -> np.ndarray:
    """The permutation that undoes ``permutation`` under :func:`apply_permutation`."""
    return np.argsort(permutation)


def make_sequences(numbers: np.ndarray, base: int,
                   permutation: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(inputs, targets), each of shape (count, 2N), for numbers of shape (count, N)."""
    following = increment(numbers, base)
    if permutation is not None:
        numbers = apply_permutation(numbers, permutation)
        following = apply_permutation(following, permutation)
    inputs = np.concatenate([numbers, numbers], axis=-1)
    targets = np.concatenate([numbers, following], axis=-1)
    return inputs, targets


def check_permutation(permutation: np.ndarray, digits: int, where: str) -> np.ndarray:
    """Return ``permutation`` as an int array if it reorders 0..N-1, else raise naming ``where``."""
    perm = np.asarray(permutation)
    if perm.shape != (digits,) or sorted(perm.tolist()) != list(range(digits)):
        raise ValueError(f"{where}: {perm.tolist()} is not a permutation of 0..{digits - 1}")
    return perm.astype(np.int64)


def write_permutation(path: str | Path, permutation: np.ndarray, base: int, digits: int,
                      seed: int) -> None:
    """Save the permutation of one (K, N) as JSON (atomically)."""
    write_json(path, {"base": base, "digits": digits, "seed": seed, "convention": CONVENTION,
                      "permutation": [int(p) for p in permutation]})


def read_permutation(path: str | Path, base: int, digits: int) -> np.ndarray:
    """Load a permutation file and check it belongs to (K, N)."""
    data = read_json(path)
    if not isinstance(data, dict) or "permutation" not in data:
        raise ValueError(f"{path}: no 'permutation' key; delete it and rerun its rule")
    if (data.get("base"), data.get("digits")) != (base, digits):
        raise ValueError(f"{path}: written for K={data.get('base')}, N={data.get('digits')}, "
                         f"not K={base}, N={digits}")
    return check_permutation(data["permutation"], digits, str(path))
