"""MNIST digits as sequences: the 13 representations of Kolesau et al. (sec. 3.2, Table 1).

Every representation is a fixed rearrangement of the 784 pixels of a 28x28 image, described by
an index array ``order`` of shape (steps, features): ``sequence[n, t, f] = image[n].flat[order[t,
f]]`` (row-major pixel numbers). One gather builds a whole batch, the inverse is one scatter, and
the train, validation and test splits use the very same ``order`` array.

=========================  =====  ========  =================================================
name                       steps  features  step t is
=========================  =====  ========  =================================================
original                   28     28        row t (top to bottom)
transposed                 28     28        column t (left to right); features top to bottom
original-perm{k}           28     28        row ``rows[k][t]`` (saved permutation k)
transposed-perm{k}         28     28        column ``columns[k][t]``
flattened                  784    1         pixel t, row-major
transposed-flattened       784    1         pixel t, column-major
flattened-perm{k}          784    1         pixel ``pixels[k][t]`` (row-major pixel number)
=========================  =====  ========  =================================================
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np

SIDE = 28
PIXELS = SIDE * SIDE
BASES = ("original", "transposed", "flattened", "transposed-flattened")
# Which saved permutation list a permuted representation draws from.
PERMUTED = {"original": "rows", "transposed": "columns", "flattened": "pixels"}
# The paper's group names (Tables 2 and 4), keyed by our base name (+ "-perm").
GROUPS = {
    "original": "original",
    "transposed": "transposed",
    "original-perm": "original random permute",
    "transposed-perm": "transposed random permute",
    "flattened": "flattened",
    "transposed-flattened": "transposed-flattened",
    "flattened-perm": "flattened random permute",
}
GROUP_ORDER = tuple(GROUPS.values())
# Every representation name, as one regular expression: the plain orders, and the three random
# kinds with a permutation number. The rules' wildcard and the config schema's pattern are this
# (tests/test_declarations.py).
NAME_PATTERN = ("(original|transposed|flattened|transposed-flattened"
                "|(original|transposed|flattened)-perm[0-9]+)")
_NAME = re.compile(r"^(original|transposed|flattened|transposed-flattened)(?:-perm([0-9]+))?$")

Permutations = Mapping[str, Sequence[np.ndarray]]


def parse(name: str) -> tuple[str, int | None]:
    """Split ``transposed-perm2`` into ``("transposed", 2)``; ``original`` into ``("original",
    None)``. Raises ValueError for names outside the 13 (7 kinds) of the paper."""
    match = _NAME.match(name)
    if not match or (match.group(2) is not None and match.group(1) not in PERMUTED):
        raise ValueError(
            f"unknown representation {name!r}; expected one of {', '.join(BASES)} or "
            f"{'/'.join(PERMUTED)}-perm<k>")
    return match.group(1), None if match.group(2) is None else int(match.group(2))


def steps(name: str) -> int:
    """Sequence length of a representation: 28 (rows or columns) or 784 (pixels)."""
    return SIDE if parse(name)[0] in ("original", "transposed") else PIXELS


def needs_permutations(name: str) -> bool:
    """True for the randomly permuted representations."""
    return parse(name)[1] is not None


def group(name: str) -> str:
    """The paper's group (Table 4 row) a representation belongs to."""
    base, perm = parse(name)
    return GROUPS[base + ("-perm" if perm is not None else "")]


def display_name(name: str) -> str:
    """The paper's name of a representation in Table 3 (``transposed random permute 2``)."""
    perm = parse(name)[1]
    return group(name) if perm is None else f"{group(name)} {perm}"


def pixel_order(name: str, permutations: Permutations | None = None) -> np.ndarray:
    """The (steps, features) array of row-major pixel numbers that defines ``name``."""
    base, perm = parse(name)
    grid = np.arange(PIXELS, dtype=np.int64).reshape(SIDE, SIDE)  # grid[row, column]
    if perm is None:
        chosen = None
    else:
        kind = PERMUTED[base]
        if permutations is None or kind not in permutations:
            raise ValueError(f"representation {name!r} needs the saved {kind!r} permutations")
        available = permutations[kind]
        if perm >= len(available):
            raise ValueError(f"representation {name!r} needs {kind} permutation {perm}, but only "
                             f"{len(available)} are saved; raise data.permutations.count")
        chosen = np.asarray(available[perm], dtype=np.int64)
        size = PIXELS if kind == "pixels" else SIDE
        if chosen.shape != (size,) or not np.array_equal(np.sort(chosen), np.arange(size)):
            raise ValueError(f"{kind} permutation {perm} is not a permutation of 0..{size - 1}")
    if base == "original":
        order = grid if chosen is None else grid[chosen]
    elif base == "transposed":
        order = grid.T if chosen is None else grid.T[chosen]
    elif base == "flattened":
        order = grid.reshape(PIXELS, 1) if chosen is None else chosen.reshape(PIXELS, 1)
    else:  # transposed-flattened
        order = grid.T.reshape(PIXELS, 1)
    return np.ascontiguousarray(order)


def to_sequence(images: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Rearrange a batch of images (N, 28, 28), (N, 1, 28, 28) or (N, 784) into sequences
    (N, steps, features) following ``order``; works on NumPy arrays and torch tensors."""
    flat = images.reshape(len(images), PIXELS)
    return flat[:, order]


def from_sequence(sequences: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Invert :func:`to_sequence`: sequences (N, steps, features) back to images (N, 28, 28)."""
    sequences = np.asarray(sequences)
    flat = np.empty((len(sequences), PIXELS), dtype=sequences.dtype)
    flat[:, np.asarray(order).ravel()] = sequences.reshape(len(sequences), -1)
    return flat.reshape(len(sequences), SIDE, SIDE)

