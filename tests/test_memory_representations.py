"""The 13 MNIST sequence representations: exact rearrangements built from the saved permutations."""

from __future__ import annotations

import numpy as np
import pytest

from rnnrepro.data.permutations import load_permutations, write_permutations
from rnnrepro.memory.representations import (
    display_name,
    from_sequence,
    group,
    pixel_order,
    to_sequence,
)
from rnnrepro.memory.runs import from_paper_name, paper_name, run_folder, run_label

NAMES = ["original", "transposed", "original-perm0", "original-perm1", "original-perm2",
         "transposed-perm0", "transposed-perm1", "transposed-perm2", "flattened",
         "transposed-flattened", "flattened-perm0", "flattened-perm1", "flattened-perm2"]


@pytest.fixture(scope="module")
def permutations(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[np.ndarray]]:
    path = tmp_path_factory.mktemp("perm") / "permutations.json"
    write_permutations(path, seed=11, count=3)
    return load_permutations(path)


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    # Distinct values everywhere, so any misplaced pixel shows.
    rng = np.random.default_rng(3)
    return np.stack([rng.permutation(784).reshape(28, 28) for _ in range(5)]).astype(np.int32)


def expected(name: str, image: np.ndarray, perms: dict[str, list[np.ndarray]]) -> np.ndarray:
    """The representation written out by its definition, one loop per step (the reference)."""
    if name == "original":
        return np.stack([image[t, :] for t in range(28)])
    if name == "transposed":
        return np.stack([image[:, t] for t in range(28)])
    if name.startswith("original-perm"):
        rows = perms["rows"][int(name[-1])]
        return np.stack([image[rows[t], :] for t in range(28)])
    if name.startswith("transposed-perm"):
        cols = perms["columns"][int(name[-1])]
        return np.stack([image[:, cols[t]] for t in range(28)])
    if name == "flattened":
        return np.array([[image[t // 28, t % 28]] for t in range(784)])
    if name == "transposed-flattened":
        return np.array([[image[t % 28, t // 28]] for t in range(784)])
    pixels = perms["pixels"][int(name[-1])]
    return np.array([[image[p // 28, p % 28]] for p in pixels[:784]])


@pytest.mark.parametrize("name", NAMES)
def test_representation_is_the_defined_rearrangement(name, images, permutations):
    order = pixel_order(name, permutations)
    seq = to_sequence(images, order)
    assert seq.shape == ((5, 28, 28) if order.shape[1] == 28 else (5, 784, 1))
    for n in range(len(images)):
        np.testing.assert_array_equal(seq[n], expected(name, images[n], permutations))
    # Exact rearrangement: every pixel used once, and the inverse recovers the images.
    assert np.array_equal(np.sort(order.ravel()), np.arange(784))
    np.testing.assert_array_equal(from_sequence(seq, order), images)


def test_accepts_channel_and_flat_layouts_and_torch(images, permutations):
    import torch

    order = pixel_order("flattened-perm1", permutations)
    ref = to_sequence(images, order)
    np.testing.assert_array_equal(to_sequence(images[:, None], order), ref)
    np.testing.assert_array_equal(to_sequence(images.reshape(5, 784), order), ref)
    np.testing.assert_array_equal(to_sequence(torch.from_numpy(images), torch.from_numpy(order))
                                  .numpy(), ref)


def test_permuted_orders_differ_and_use_the_saved_permutations(permutations):
    orders = [pixel_order(f"transposed-perm{k}", permutations) for k in range(3)]
    assert not np.array_equal(orders[0], orders[1])
    # Step t of transposed-perm k is column columns[k][t]: its features are that column.
    for k, order in enumerate(orders):
        np.testing.assert_array_equal(order[:, 0], permutations["columns"][k])
    np.testing.assert_array_equal(pixel_order("flattened-perm2", permutations)[:, 0],
                                  permutations["pixels"][2])


def test_names_groups_and_variants():
    assert group("transposed-perm2") == "transposed random permute"
    assert group("transposed-flattened") == "transposed-flattened"
    assert group("flattened-perm0") == "flattened random permute"
    assert len({group(n) for n in NAMES}) == 7
    assert display_name("original-perm1") == "original random permute 1"
    assert paper_name("transposed", 16, 128, 3e-5) == "transposed@16@128@3e-05"
    assert paper_name("flattened-perm1", 16, 128, 1e-6) == \
        "flattened random permute 1@16@128@1e-06"


def test_one_mapping_between_a_run_s_names():
    """Folder, the paper's Table 3 name and our table label of one run, and back."""
    assert run_folder("transposed", 3e-5, 0) == "transposed/lr3e-05/seed0"
    assert run_label("transposed-perm2", 3e-5) == "transposed-perm2@3e-05"
    for name in NAMES:
        for lr in (3e-5, 1e-6):
            assert from_paper_name(paper_name(name, 16, 128, lr)) == (
                name, run_label(name, lr).split("@")[1])
    with pytest.raises(ValueError, match="cannot read the Table 3 model name"):
        from_paper_name("transposed@16@128")


@pytest.mark.parametrize("bad", ["diagonal", "transposed-flattened-perm0", "original-perm"])
def test_unknown_names_are_rejected(bad):
    with pytest.raises(ValueError, match="unknown representation"):
        pixel_order(bad)


def test_missing_or_short_permutations_are_rejected(permutations):
    with pytest.raises(ValueError, match="needs the saved 'rows' permutations"):
        pixel_order("original-perm0", None)
    with pytest.raises(ValueError, match="only 3 are saved"):
        pixel_order("original-perm5", permutations)
    broken = {**permutations, "pixels": [np.zeros(784, dtype=np.int64)]}
    with pytest.raises(ValueError, match="not a permutation"):
        pixel_order("flattened-perm0", broken)
