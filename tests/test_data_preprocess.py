"""ZCA whitening, split sizes at the datasets' real counts, statistics, permutations, the
chunked .npy writer and the bundled MNIST sample."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from rnnrepro.cli import main
from rnnrepro.data.cifar10 import split_cifar10, whiten_and_save
from rnnrepro.data.errors import DataError
from rnnrepro.data.moments import PixelMoments
from rnnrepro.data.npyfile import NpyWriter
from rnnrepro.data.permutations import LENGTHS, load_permutations, make_permutations
from rnnrepro.data.processed import ProcessedDataset
from rnnrepro.data.splits import check_split_sizes, holdout_last
from rnnrepro.data.svhn import svhn_split
from rnnrepro.data.zca import Zca

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "config.yaml").read_text())
SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist"


def correlated(n: int, dim: int, seed: int) -> np.ndarray:
    """Rows with a strongly non-diagonal covariance and a non-zero mean."""
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(dim, dim)) * np.linspace(0.2, 3.0, dim)
    return rng.normal(size=(n, dim)) @ mixing + rng.normal(size=dim) * 5


# ---------------------------------------------------------------------------------- ZCA
def test_zca_whitens_training_data_to_identity_covariance():
    train = correlated(4000, 12, seed=0)
    assert np.abs(np.cov(train.T) - np.eye(12)).max() > 1  # far from white before
    zca = Zca.fit(train, epsilon=1e-6, chunk=700)
    white = zca.apply(train).astype(np.float64)
    np.testing.assert_allclose(white.mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(np.cov(white.T, bias=True), np.eye(12), atol=2e-3)
    np.testing.assert_allclose(zca.matrix, zca.matrix.T)  # zero-phase: symmetric


def test_zca_epsilon_shrinks_low_variance_directions():
    train = correlated(3000, 8, seed=1)
    strong = np.cov(Zca.fit(train, epsilon=10.0).apply(train).T, bias=True)
    assert np.all(np.linalg.eigvalsh(strong) < 1)  # lambda / (lambda + eps) < 1


def test_whitening_uses_training_statistics_only(tmp_path):
    rng = np.random.default_rng(2)
    shape = (3, 2, 2)

    def images(n: int, shift: float) -> np.ndarray:
        rows = correlated(n, 12, seed=int(rng.integers(1000)))
        rows = (rows - rows.mean(axis=0)) / rows.std() * 15 + 128 + shift
        return np.clip(np.rint(rows), 0, 255).astype(np.uint8).reshape(n, *shape)

    train, validation, test = images(3000, 0), images(400, 40), images(300, -30)
    labels = {s: np.arange(n) % 10 for s, n in (("train", 3000), ("validation", 400),
                                                 ("test", 300))}
    first, second = tmp_path / "a", tmp_path / "b"
    epsilon = 1e-8  # far below the smallest eigenvalue (>= the uint8 rounding noise, ~1e-6)
    whiten_and_save({"train": train, "validation": validation, "test": test}, labels, first,
                    epsilon=epsilon, chunk=512)
    # Same training set, completely different validation/test sets.
    whiten_and_save({"train": train, "validation": 255 - validation, "test": test[::-1]},
                    labels, second, epsilon=epsilon, chunk=512)
    a, b = ProcessedDataset(first), ProcessedDataset(second)
    np.testing.assert_array_equal(a.images("train"), b.images("train"))
    np.testing.assert_array_equal(a.offset, b.offset)
    np.testing.assert_array_equal(a.scale, b.scale)

    zca = Zca.fit(train.reshape(3000, -1), epsilon, scale=1 / 255, chunk=512)
    expected = zca.apply(validation.reshape(400, -1)).reshape(400, *shape)
    np.testing.assert_allclose(a.images("validation"), expected, rtol=1e-5, atol=1e-5)
    # Before standardisation the whitened training covariance is close to the identity.
    white = a.images("train").reshape(3000, -1).astype(np.float64)
    np.testing.assert_allclose(np.cov(white.T, bias=True), np.eye(12), atol=0.02)
    # The validation set is shifted, so transforming it with its own mean would centre it.
    assert np.abs(a.normalize(a.images("validation")).mean()) > 0.5
    normalized = a.normalize(a.images("train")).reshape(3000, -1)
    np.testing.assert_allclose(normalized.mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(normalized.std(axis=0), 1, atol=1e-4)
    assert a.manifest["zca_epsilon"] == epsilon


# ---------------------------------------------------------------------------------- splits
def sizes(splits: dict) -> tuple[int, int, int]:
    return splits["train"], splits["validation"], splits["test"]


def test_config_states_the_papers_split_sizes():
    assert sizes(CONFIG["data"]["mnist"]["splits"]) == (50_000, 10_000, 10_000)
    assert sizes(CONFIG["data"]["cifar10"]["splits"]) == (40_000, 10_000, 10_000)
    assert sizes(CONFIG["data"]["svhn"]["splits"]) == (543_949, 60_439, 26_032)


def test_mnist_split_at_real_counts():
    splits = CONFIG["data"]["mnist"]["splits"]
    check_split_sizes("mnist", splits, 60_000, 10_000)
    train, validation = holdout_last(60_000, splits["validation"])
    index = np.arange(60_000)
    assert len(index[train]) == 50_000 and len(index[validation]) == 10_000
    assert index[validation][0] == 50_000 and index[validation][-1] == 59_999


def test_cifar10_split_at_real_counts():
    train, validation = split_cifar10(50_000, 10_000, CONFIG["data"]["cifar10"]["splits"])
    index = np.arange(50_000)
    assert len(index[train]) == 40_000
    np.testing.assert_array_equal(index[validation], np.arange(40_000, 50_000))  # data_batch_5
    with pytest.raises(DataError, match=r"data\.cifar10\.splits"):
        split_cifar10(50_000, 9_999, CONFIG["data"]["cifar10"]["splits"])


def test_svhn_split_at_real_counts():
    splits = CONFIG["data"]["svhn"]["splits"]
    seed = CONFIG["data"]["svhn"]["split_seed"]
    train, validation = svhn_split(73_257, 531_131, 26_032, splits, seed)
    assert len(train) == 543_949 and len(validation) == 60_439
    everything = np.concatenate([train, validation])
    np.testing.assert_array_equal(np.sort(everything), np.arange(604_388))  # disjoint, complete
    again, _ = svhn_split(73_257, 531_131, 26_032, splits, seed)
    np.testing.assert_array_equal(train, again)                             # seeded
    other, _ = svhn_split(73_257, 531_131, 26_032, splits, seed + 1)
    assert not np.array_equal(train, other)
    # A shuffle, not a cut: validation draws from both train_32x32 and extra_32x32.
    assert 0 < np.mean(validation < 73_257) < 0.5
    with pytest.raises(DataError, match=r"data\.svhn\.splits"):
        svhn_split(73_257, 531_130, 26_032, splits, seed)


# ---------------------------------------------------------------------------------- helpers
def test_pixel_moments_match_numpy_and_keep_constant_pixels_finite():
    rng = np.random.default_rng(3)
    data = rng.integers(0, 256, (1000, 3, 4, 4), dtype=np.uint8)
    data[:, 1, 2, 3] = 17
    moments = PixelMoments()
    for start in range(0, 1000, 300):
        moments.add(data[start:start + 300])
    expected = data.astype(np.float64)
    np.testing.assert_allclose(moments.mean, expected.mean(axis=0))
    std = expected.std(axis=0)
    std[1, 2, 3] = 1.0
    np.testing.assert_allclose(moments.std, std, rtol=1e-9)


def test_npy_writer_appends_scatters_and_discards_incomplete_files(tmp_path):
    data = np.arange(5 * 2 * 3, dtype=np.uint8).reshape(5, 2, 3)
    path = tmp_path / "a.npy"
    with NpyWriter(path, data.shape, np.uint8) as writer:
        writer.append(data[:2])
        writer.scatter(np.array([4, 2, 3]), data[[4, 2, 3]])
    np.testing.assert_array_equal(np.load(path), data)
    with pytest.raises(ValueError, match="3 rows written, expected 5"), \
            NpyWriter(tmp_path / "b.npy", data.shape, np.uint8) as writer:
        writer.append(data[:3])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npy"]


# ---------------------------------------------------------------------------------- permutations
def test_permutations_are_seeded_true_permutations(tmp_path):
    settings = CONFIG["data"]["permutations"]
    out = tmp_path / "permutations.json"
    assert main(["make-permutations", "--output", str(out), "--settings",
                 json.dumps(settings)]) == 0
    data = json.loads(out.read_text())
    assert data["seed"] == settings["seed"] and data["count"] == settings["count"] == 3
    loaded = load_permutations(out)
    assert set(loaded) == {"rows", "columns", "pixels"}
    for kind, length in LENGTHS.items():
        assert len(loaded[kind]) == 3
        for perm in loaded[kind]:
            np.testing.assert_array_equal(np.sort(perm), np.arange(length))
        assert len({tuple(p) for p in loaded[kind]}) == 3  # three different orders
    assert make_permutations(settings["seed"], 3) == data
    assert make_permutations(settings["seed"] + 1, 3) != data


def test_broken_permutations_file_is_rejected(tmp_path):
    data = make_permutations(0, 3)
    data["pixels"][1][5] = data["pixels"][1][6]  # a duplicate index
    path = tmp_path / "permutations.json"
    path.write_text(json.dumps(data))
    with pytest.raises(DataError, match=r"pixels\[1\] is not a permutation of 0..783"):
        load_permutations(path)
    data = make_permutations(0, 3)
    data["rows"][0] = data["rows"][0][:-1]
    path.write_text(json.dumps(data))
    with pytest.raises(DataError, match=r"rows\[0\]"):
        load_permutations(path)


# ---------------------------------------------------------------------------------- sample
@pytest.mark.skipif(not SHARED_MNIST.is_dir(), reason="needs the full MNIST in ../shared")
def test_sample_command_reproduces_the_bundled_files(tmp_path):
    out = tmp_path / "sample"
    assert main(["make-mnist-sample", "--source", str(SHARED_MNIST), "--output", str(out),
                 "--train", "10000", "--test", "2000"]) == 0
    quick = yaml.safe_load((ROOT / "workflow/presets/quick.yaml").read_text())
    expected = quick["data"]["files"]["mnist"]
    for name, entry in expected.items():
        payload = gzip.decompress((out / name).read_bytes())
        assert entry["checksum"] == "sha256:" + hashlib.sha256(payload).hexdigest()
        bundled = ROOT / "workflow/resources/mnist-sample" / name
        assert gzip.decompress(bundled.read_bytes()) == payload
