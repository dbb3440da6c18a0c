"""Increment task data: numbers, sequences, the complicated order, the hold-out set."""

from __future__ import annotations

import json
import random
import subprocess
import sys

import numpy as np
import pytest

from rnnrepro import cli
from rnnrepro.increment.holdout import build_holdout, read_holdout, write_holdout
from rnnrepro.increment.numbers import (
    all_numbers,
    draw_numbers,
    from_int,
    from_ints,
    to_int,
    to_ints,
)
from rnnrepro.increment.sequences import (
    apply_permutation,
    increment,
    invert_permutation,
    make_permutation,
    make_sequences,
    read_permutation,
    write_permutation,
)

PAPER_PERMUTATION = np.array([4, 0, 1, 3, 2])


def test_worked_example_simple_order():
    """Fig. 3: K=4, N=5, x=543."""
    inputs, targets = make_sequences(from_ints([543], 4, 5), 4)
    assert inputs.tolist() == [[3, 3, 1, 0, 2, 3, 3, 1, 0, 2]]
    assert targets.tolist() == [[3, 3, 1, 0, 2, 0, 0, 2, 0, 2]]


def test_worked_example_complicated_order(tmp_path):
    """Fig. 4: the same number after permutation [4, 0, 1, 3, 2], read back from its file."""
    path = tmp_path / "permutation.json"
    write_permutation(path, PAPER_PERMUTATION, base=4, digits=5, seed=0)
    permutation = read_permutation(path, 4, 5)
    inputs, targets = make_sequences(from_ints([543], 4, 5), 4, permutation)
    assert inputs.tolist() == [[2, 3, 3, 0, 1, 2, 3, 3, 0, 1]]
    assert targets.tolist() == [[2, 3, 3, 0, 1, 2, 0, 0, 0, 2]]


def trailing_share(base: int, digits: int, at_least: int, interesting: float) -> float:
    """P(at least ``at_least`` lowest digits equal K-1) under the paper's distribution:
    uniform: K^-m; interesting: T ~ U{0..N}, certain if T >= m, else the m-T digits above the
    forced ones must be K-1 by chance."""
    uniform = base**-at_least
    forced = sum(1.0 if t >= at_least else base ** -(at_least - t) for t in range(digits + 1))
    return (1 - interesting) * uniform + interesting * forced / (digits + 1)


def test_share_of_trailing_nines_matches_analytic_value():
    numbers = draw_numbers(np.random.default_rng(123), 100_000, 10, 7, 0.1)
    share = (numbers[:, :3] == 9).all(axis=1).mean()
    expected = trailing_share(10, 7, 3, 0.1)
    assert 0.06 < expected < 0.07  # 0.9e-3 + 0.1 * (5 + 1e-3 + 1e-2 + 1e-1) / 8
    assert abs(share - expected) <= 0.005


def test_interesting_numbers_follow_the_formula():
    """p=1: every x is (K^T - 1) + R K^T, so x + 1 is divisible by K^T for some T in 0..N, and
    every T occurs (T = N gives K^N - 1)."""
    base, digits = 3, 4
    numbers = to_ints(draw_numbers(np.random.default_rng(5), 5000, base, digits, 1.0), base)
    trailing = [next(t for t in range(digits, -1, -1) if (x + 1) % base**t == 0) for x in numbers]
    assert set(trailing) == set(range(digits + 1))
    assert numbers.count(base**digits - 1) > 5000 / (digits + 1) * 0.8


@pytest.mark.parametrize("base,digits", [(2, 32), (10, 7), (4, 15), (2, 70), (36, 25)])
def test_targets_are_x_plus_one_mod_k_to_the_n(base, digits):
    modulus = base**digits
    rng = random.Random(base * 1000 + digits)
    values = [0, 1, modulus - 1, modulus - 2, base ** (digits - 1) - 1,
              *(rng.randrange(modulus) for _ in range(300))]
    numbers = from_ints(values, base, digits)
    assert to_ints(numbers, base) == values
    inputs, targets = make_sequences(numbers, base)
    assert to_ints(targets[:, digits:], base) == [(x + 1) % modulus for x in values]
    assert (targets[:, :digits] == numbers).all() and (inputs[:, digits:] == numbers).all()
    assert to_int(increment(from_int(modulus - 1, base, digits), base), base) == 0


def test_drawn_numbers_are_valid_digits_beyond_machine_integers():
    numbers = draw_numbers(np.random.default_rng(0), 1000, 36, 40, 0.1)
    assert numbers.shape == (1000, 40) and numbers.max() < 36
    assert max(to_ints(numbers, 36)) < 36**40
    assert max(to_ints(numbers, 36)) > 2**128  # exact far beyond 64-bit integers


def test_all_numbers_enumerates_in_order():
    assert to_ints(all_numbers(3, 4), 3) == list(range(81))


def test_permutation_round_trips(tmp_path):
    permutation = make_permutation(4, 15, seed=2018)
    assert sorted(permutation.tolist()) == list(range(15))
    assert (make_permutation(4, 15, seed=2018) == permutation).all()
    assert not (make_permutation(4, 15, seed=1) == permutation).all()
    numbers = draw_numbers(np.random.default_rng(1), 200, 4, 15, 0.1)
    shuffled = apply_permutation(numbers, permutation)
    assert not (shuffled == numbers).all()
    assert (apply_permutation(shuffled, invert_permutation(permutation)) == numbers).all()
    assert (apply_permutation(np.arange(5), PAPER_PERMUTATION) == PAPER_PERMUTATION).all()
    path = tmp_path / "p.json"
    write_permutation(path, permutation, 4, 15, 2018)
    assert (read_permutation(path, 4, 15) == permutation).all()


def test_permutation_file_errors_name_the_file(tmp_path):
    path = tmp_path / "p.json"
    write_permutation(path, make_permutation(4, 5, 0), 4, 5, 0)
    with pytest.raises(ValueError, match=r"p\.json.*K=4, N=5"):
        read_permutation(path, 4, 6)
    path.write_text(json.dumps({"base": 4, "digits": 5, "permutation": [0, 0, 1, 2, 3]}))
    with pytest.raises(ValueError, match=r"p\.json.*not a permutation"):
        read_permutation(path, 4, 5)


def test_holdout_is_exhaustive_when_small():
    holdout = build_holdout(3, 5, size=300, seed=7, interesting_probability=0.1)
    assert holdout.exhaustive and to_ints(holdout.numbers, 3) == list(range(243))
    drawn = build_holdout(3, 6, size=300, seed=7, interesting_probability=0.1)
    assert not drawn.exhaustive and drawn.numbers.shape == (300, 6)


def test_holdout_is_identical_across_runs_and_processes(tmp_path):
    settings = json.dumps({"holdout_size": 20000, "holdout_seed": 7,
                           "interesting_probability": 0.1})
    first, second = tmp_path / "a.npz", tmp_path / "b.npz"
    assert cli.main(["increment-holdout", "--base", "2", "--digits", "32", "--settings",
                     settings, "--output", str(first)]) == 0
    subprocess.run([sys.executable, "-m", "rnnrepro", "increment-holdout", "--base", "2",
                    "--digits", "32", "--settings", settings, "--output", str(second)],
                   check=True, capture_output=True)
    a, b = read_holdout(first, 2, 32), read_holdout(second, 2, 32)
    assert a.numbers.shape == (20000, 32) and (a.numbers == b.numbers).all()
    assert a.digest() == b.digest()
    other = build_holdout(2, 32, 20000, seed=8, interesting_probability=0.1)
    assert other.digest() != a.digest()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npz", "b.npz"]  # no leftovers


def test_holdout_file_checks(tmp_path):
    path = tmp_path / "h.npz"
    write_holdout(path, build_holdout(2, 8, 100, 7, 0.1))
    with pytest.raises(ValueError, match=r"h\.npz.*K=2, N=8"):
        read_holdout(path, 3, 8)
    with pytest.raises(FileNotFoundError, match=r"missing\.npz"):
        read_holdout(tmp_path / "missing.npz", 2, 8)
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match=r"bad\.npz"):
        read_holdout(tmp_path / "bad.npz", 2, 8)
