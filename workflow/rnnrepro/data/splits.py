"""Train/validation/test split sizes and the index sets that realise them."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from rnnrepro.data.errors import DataError


def check_split_sizes(dataset: str, splits: Mapping[str, int], training_pool: int,
                      test_pool: int) -> None:
    """Require train + validation == images in the training files and test == the test file.

    ``training_pool`` is the number of images the validation split is carved from.
    """
    train, validation, test = (int(splits[k]) for k in ("train", "validation", "test"))
    problems = []
    if train + validation != training_pool:
        problems.append(f"train + validation = {train} + {validation} = {train + validation}, "
                        f"but the training files hold {training_pool} images")
    if test != test_pool:
        problems.append(f"test = {test}, but the test file holds {test_pool} images")
    if problems:
        raise DataError(f"data.{dataset}.splits does not match the raw files: "
                        + "; ".join(problems) + f". Set data.{dataset}.splits accordingly "
                        "(or check that the right raw files were downloaded).")


def holdout_last(total: int, validation: int) -> tuple[slice, slice]:
    """Train = the first ``total - validation`` images, validation = the last ``validation``."""
    if not 0 < validation < total:
        raise ValueError(f"validation size {validation} must be in 1..{total - 1}")
    return slice(0, total - validation), slice(total - validation, total)


def shuffled_split(total: int, train: int, validation: int,
                   seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded shuffle of ``range(total)``: the first ``train`` indices train, the rest validate.

    The returned index arrays keep the shuffled order (images are stored in that order).
    """
    if train + validation != total or train < 1 or validation < 1:
        raise ValueError(f"train {train} + validation {validation} must equal {total}")
    order = np.random.default_rng(seed).permutation(total)
    return order[:train], order[train:]
