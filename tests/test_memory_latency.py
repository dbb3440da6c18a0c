"""Latency (Table 2): the issue's examples and a brute-force reference."""

from __future__ import annotations

import numpy as np
import pytest

from rnnrepro.memory.latency import distribution, latency


def reference(row: list[int]) -> int:
    """The authors' procedure: pop answers equal to the final one off the end, count the rest."""
    answers = [-1, *row]
    final = answers[-1]
    while answers[-1] == final:
        answers.pop()
    return len(answers)


@pytest.mark.parametrize(("row", "value"), [([3, 3, 3, 3], 1), ([1, 3, 3, 3], 2),
                                            ([3, 1, 3, 3], 3), ([3, 3, 3, 1], 4), ([7], 1)])
def test_examples(row, value):
    assert latency(np.array([row])).tolist() == [value]


@pytest.mark.parametrize("steps", [1, 2, 5, 28])
def test_matches_brute_force_on_random_predictions(steps):
    rng = np.random.default_rng(steps)
    # Few classes so long stable suffixes are common, plus rows biased towards settling.
    preds = rng.integers(0, 3, size=(2000, steps))
    settle = rng.integers(0, steps, size=2000)
    preds[np.arange(steps) >= settle[:, None]] = 1
    got = latency(preds)
    assert got.dtype == np.int64
    assert got.tolist() == [reference(row) for row in preds.tolist()]


def test_distribution_counts_every_step():
    rows = distribution(np.array([1, 1, 4, 2]), steps=5)
    assert rows == [{"latency": 1, "count": 2}, {"latency": 2, "count": 1},
                    {"latency": 3, "count": 0}, {"latency": 4, "count": 1},
                    {"latency": 5, "count": 0}]
    with pytest.raises(ValueError):
        distribution(np.array([6]), steps=5)


def test_rejects_bad_shapes():
    with pytest.raises(ValueError):
        latency(np.array([1, 2, 3]))
