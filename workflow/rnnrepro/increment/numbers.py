"""N-digit base-K numbers as digit arrays, lowest order first (Kolesau et al., sec. 3.1).

A number is a row of N digits, ``row[i]`` being the coefficient of K^i, so every operation is exact
for any K^N (2^32, 10^40, ...): no floats, no machine-integer overflow. Python ints appear only in
the conversions used by tests and for small enumerations.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

DIGIT_DTYPE = np.uint8  # bases up to 36 (the config schema's limit) fit


def check_task(base: int, digits: int) -> None:
    """Reject a base or digit count the digit arrays cannot hold."""
    if not 2 <= base <= 36:
        raise ValueError(f"base must be in 2..36, got {base}")
    if digits < 1:
        raise ValueError(f"digits must be >= 1, got {digits}")


def count_numbers(base: int, digits: int) -> int:
    """K^N as an exact Python int."""
    return base**digits


def draw_numbers(rng: np.random.Generator, count: int, base: int, digits: int,
                 interesting_probability: float) -> np.ndarray:
    """Draw ``count`` numbers from the paper's training distribution, shape (count, digits).

    With probability ``1 - p`` a number is uniform over [0, K^N): N independent uniform digits.
    With probability ``p`` it is "interesting": T uniform over {0..N}, then
    x = (K^T - 1) + R * K^T with R uniform over [0, K^(N-T)), i.e. the T lowest digits are K-1
    and the others uniform. The generator is consumed the same way whatever the outcome.
    """
    check_task(base, digits)
    numbers = rng.integers(0, base, size=(count, digits), dtype=DIGIT_DTYPE)
    interesting = rng.random(count) < interesting_probability
    trailing = rng.integers(0, digits + 1, size=count)
    carries = interesting[:, None] & (np.arange(digits)[None, :] < trailing[:, None])
    numbers[carries] = base - 1
    return numbers


def all_numbers(base: int, digits: int) -> np.ndarray:
    """Every number 0 .. K^N - 1 in increasing order, shape (K^N, digits); for small K^N only."""
    check_task(base, digits)
    total = count_numbers(base, digits)
    if total > 2**31:
        raise ValueError(f"{base}^{digits} = {total} numbers are too many to enumerate")
    values = np.arange(total, dtype=np.int64)[:, None]
    weights = base ** np.arange(digits, dtype=np.int64)[None, :]
    return ((values // weights) % base).astype(DIGIT_DTYPE)


def from_int(value: int, base: int, digits: int) -> np.ndarray:
    """Digits of ``value`` (0 <= value < K^N), lowest order first."""
    if not 0 <= value < count_numbers(base, digits):
        raise ValueError(f"{value} is not an {digits}-digit base-{base} number")
    out = np.zeros(digits, dtype=DIGIT_DTYPE)
    for i in range(digits):
        value, out[i] = divmod(value, base)
    return out


def from_ints(values: Iterable[int], base: int, digits: int) -> np.ndarray:
    """Stack :func:`from_int` over ``values``, shape (len(values), digits)."""
    rows = [from_int(v, base, digits) for v in values]
    return np.stack(rows) if rows else np.zeros((0, digits), dtype=DIGIT_DTYPE)


def to_int(row: Sequence[int] | np.ndarray, base: int) -> int:
    """The exact Python int a digit row (lowest order first) stands for."""
    value = 0
    for digit in reversed([int(d) for d in row]):
        if not 0 <= digit < base:
            raise ValueError(f"digit {digit} is not a base-{base} digit")
        value = value * base + digit
    return value


def to_ints(numbers: np.ndarray, base: int) -> list[int]:
    """:func:`to_int` over the rows of ``numbers``."""
    return [to_int(row, base) for row in numbers]
