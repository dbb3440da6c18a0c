"""The original file formats (MNIST IDX, CIFAR-10 pickles in a tar.gz, SVHN v5 .mat), their
parsers' safety checks, and the prepare commands on small files in those formats."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from rnnrepro.cli import main
from rnnrepro.data.archive import UnsafeArchiveError, read_members
from rnnrepro.data.checksums import ChecksumError
from rnnrepro.data.cifar10 import load_cifar10
from rnnrepro.data.errors import DataError
from rnnrepro.data.idx import IdxFormatError, parse_idx, read_idx
from rnnrepro.data.processed import ProcessedDataset, array_sha256
from rnnrepro.data.splits import shuffled_split
from rnnrepro.data.svhn import load_mat, map_labels

RNG = np.random.default_rng(1234)


def sha256_file(path: Path, gz: bool = False) -> str:
    data = gzip.decompress(path.read_bytes()) if gz else path.read_bytes()
    return "sha256:" + hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------------------- builders
def idx_images(images: np.ndarray) -> bytes:
    """IDX3 exactly as in the MNIST distribution: magic 2051, count, rows, cols, pixels."""
    n, rows, cols = images.shape
    return struct.pack(">IIII", 2051, n, rows, cols) + images.astype(np.uint8).tobytes()


def idx_labels(labels: np.ndarray) -> bytes:
    return struct.pack(">II", 2049, len(labels)) + labels.astype(np.uint8).tobytes()


def write_mnist(folder: Path, n_train: int, n_test: int) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train-images-idx3-ubyte.gz": idx_images(RNG.integers(0, 256, (n_train, 28, 28))),
        "train-labels-idx1-ubyte.gz": idx_labels(np.arange(n_train) % 10),
        "t10k-images-idx3-ubyte.gz": idx_images(RNG.integers(0, 256, (n_test, 28, 28))),
        "t10k-labels-idx1-ubyte.gz": idx_labels((np.arange(n_test) * 3) % 10),
    }
    paths = {}
    for name, payload in arrays.items():
        (folder / name).write_bytes(gzip.compress(payload, compresslevel=6))
        paths[name] = folder / name
    return paths


def cifar_batch(first: int, count: int, label: str) -> bytes:
    """One batch as the Python-2 pickles of the CIFAR-10 distribution (bytes keys)."""
    index = np.arange(first, first + count)
    data = RNG.integers(0, 256, (count, 3072), dtype=np.uint8)
    data[:, 0] = index % 256                      # first red pixel: which image this is
    batch = {b"batch_label": label.encode(), b"labels": [int(i) % 10 for i in index],
             b"data": data, b"filenames": [f"img_{i}.png".encode() for i in index]}
    return pickle.dumps(batch, protocol=2)


def add_member(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def write_cifar(path: Path, per_batch: int, n_test: int, extra: tuple = ()) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        folder = tarfile.TarInfo("cifar-10-batches-py")
        folder.type = tarfile.DIRTYPE
        tar.addfile(folder)
        for i in range(1, 6):
            add_member(tar, f"cifar-10-batches-py/data_batch_{i}",
                       cifar_batch((i - 1) * per_batch, per_batch, f"training batch {i} of 5"))
        add_member(tar, "cifar-10-batches-py/test_batch",
                   cifar_batch(10_000, n_test, "testing batch 1 of 1"))
        add_member(tar, "cifar-10-batches-py/batches.meta", pickle.dumps({b"num_vis": 3072}))
        for name, data in extra:
            add_member(tar, name, data)
    return path


def write_svhn_mat(path: Path, count: int, first: int) -> tuple[np.ndarray, np.ndarray]:
    """A v5 .mat file like train_32x32.mat: X (32, 32, 3, N) uint8, y (N, 1) in 1..10."""
    images = RNG.integers(0, 256, (32, 32, 3, count), dtype=np.uint8)
    index = np.arange(first, first + count)
    images[0, 0, 0, :] = index % 256              # which image this is
    labels = (index % 10 + 1).astype(np.uint8).reshape(-1, 1)  # 1..10, 10 = digit 0
    scipy.io.savemat(path, {"X": images, "y": labels}, format="5")
    return images, labels


# ---------------------------------------------------------------------------------- IDX
def test_idx_reads_the_mnist_layout(tmp_path):
    images = RNG.integers(0, 256, (7, 28, 28), dtype=np.uint8)
    path = tmp_path / "x-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx_images(images)))
    np.testing.assert_array_equal(read_idx(path), images)
    labels = np.array([3, 1, 4, 1, 5], np.uint8)
    np.testing.assert_array_equal(parse_idx(idx_labels(labels)), labels)


def test_idx_rejects_bad_magic_and_truncation():
    good = idx_images(np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(IdxFormatError, match="magic"):
        parse_idx(b"\x01\x00" + good[2:], "bad.idx")
    with pytest.raises(IdxFormatError, match="truncated"):
        parse_idx(good[:-10], "short.idx")
    with pytest.raises(IdxFormatError, match="truncated"):
        parse_idx(good + b"\x00", "long.idx")


# ---------------------------------------------------------------------------------- CIFAR-10
def test_cifar_archive_parses_in_order(tmp_path):
    archive = write_cifar(tmp_path / "cifar-10-python.tar.gz", per_batch=6, n_test=4)
    train, train_labels, test, test_labels = load_cifar10(archive, sha256_file(archive))
    assert train.shape == (30, 3, 32, 32) and train.dtype == np.uint8
    assert test.shape == (4, 3, 32, 32)
    np.testing.assert_array_equal(train[:, 0, 0, 0], np.arange(30))  # data_batch_1..5 in order
    np.testing.assert_array_equal(train_labels, np.arange(30) % 10)
    np.testing.assert_array_equal(test_labels, np.arange(10_000, 10_004) % 10)


def test_cifar_pickles_are_not_opened_before_the_checksum_matched(tmp_path):
    marker = tmp_path / "pickle-ran"

    class Evil:
        def __reduce__(self):
            return (os.mkdir, (str(marker),))

    evil = pickle.dumps(Evil(), protocol=2)
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for i in range(1, 6):
            add_member(tar, f"cifar-10-batches-py/data_batch_{i}", evil)
        add_member(tar, "cifar-10-batches-py/test_batch", evil)
    with pytest.raises(ChecksumError, match="checksum mismatch"):
        load_cifar10(archive, "md5:c58f30108f718f92721af3b95e74349a")
    assert not marker.exists()


@pytest.mark.parametrize("name", ["../evil.txt", "cifar-10-batches-py/../../evil.txt",
                                  "/tmp/evil.txt"])
def test_tar_members_escaping_the_folder_are_refused(tmp_path, name):
    archive = write_cifar(tmp_path / "a.tar.gz", per_batch=2, n_test=2,
                          extra=((name, b"owned"),))
    with pytest.raises(UnsafeArchiveError, match="refusing"):
        read_members(archive, ["cifar-10-batches-py/test_batch"])
    assert not (tmp_path.parent / "evil.txt").exists()


def test_tar_links_are_refused(tmp_path):
    archive = tmp_path / "links.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        link = tarfile.TarInfo("cifar-10-batches-py/test_batch")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    with pytest.raises(UnsafeArchiveError, match="link"):
        read_members(archive, ["cifar-10-batches-py/test_batch"])


def test_prepare_cifar10_refuses_a_traversal_archive_with_a_clear_error(tmp_path, capsys):
    archive = write_cifar(tmp_path / "cifar-10-python.tar.gz", per_batch=2, n_test=2,
                          extra=(("../../escape.sh", b"rm -rf /"),))
    settings = {"splits": {"train": 8, "validation": 2, "test": 2}, "zca_epsilon": 0.01,
                "files": {archive.name: {"checksum": sha256_file(archive)}}}
    code = main(["prepare", "--dataset", "cifar10", "--raw", str(archive), "--output",
                 str(tmp_path / "out"), "--settings", json.dumps(settings)])
    err = capsys.readouterr().err
    assert code == 2 and "../../escape.sh" in err and "refusing" in err
    assert not (tmp_path / "out" / "manifest.json").exists()


@pytest.mark.slow
def test_prepare_cifar10_command(tmp_path):
    """End to end on a small archive (the 3072x3072 ZCA eigendecomposition takes seconds)."""
    archive = write_cifar(tmp_path / "cifar-10-python.tar.gz", per_batch=8, n_test=6)
    settings = {"splits": {"train": 32, "validation": 8, "test": 6}, "zca_epsilon": 0.1,
                "files": {archive.name: {"checksum": sha256_file(archive)}}}
    out = tmp_path / "cifar10"
    assert main(["prepare", "--dataset", "cifar10", "--raw", str(archive), "--output", str(out),
                 "--settings", json.dumps(settings)]) == 0
    data = ProcessedDataset(out)
    manifest = data.manifest
    assert {s: manifest["splits"][s]["size"] for s in ("train", "validation", "test")} == \
        settings["splits"]
    assert manifest["zca_epsilon"] == 0.1
    assert manifest["splits"]["train"]["dtype"] == "float32"
    np.testing.assert_array_equal(data.labels("validation"), np.arange(32, 40) % 10)
    train = data.normalize(data.images("train"))
    np.testing.assert_allclose(train.mean(axis=0), 0, atol=1e-3)
    np.testing.assert_allclose(train.std(axis=0), 1, atol=1e-3)


# ---------------------------------------------------------------------------------- SVHN
def test_svhn_mat_layout_and_label_mapping(tmp_path):
    images, labels = write_svhn_mat(tmp_path / "test_32x32.mat", 12, first=0)
    raw, mapped = load_mat(tmp_path / "test_32x32.mat")
    np.testing.assert_array_equal(raw, images)
    expected = labels.ravel().astype(int)
    expected[expected == 10] = 0
    np.testing.assert_array_equal(mapped, expected)
    assert set(mapped) == set(range(10))


def test_svhn_labels_outside_1_to_10_are_rejected():
    np.testing.assert_array_equal(map_labels(np.array([[10], [1], [9]])), [0, 1, 9])
    with pytest.raises(DataError, match=r"1\.\.10"):
        map_labels(np.array([0, 5]))
    with pytest.raises(DataError, match=r"1\.\.10"):
        map_labels(np.array([11]))


def test_prepare_svhn_command(tmp_path):
    train_x, train_y = write_svhn_mat(tmp_path / "train_32x32.mat", 30, first=0)
    extra_x, extra_y = write_svhn_mat(tmp_path / "extra_32x32.mat", 50, first=30)
    test_x, test_y = write_svhn_mat(tmp_path / "test_32x32.mat", 20, first=1000)
    files = {p.name: {"checksum": sha256_file(p)} for p in tmp_path.glob("*.mat")}
    settings = {"splits": {"train": 64, "validation": 16, "test": 20}, "split_seed": 5,
                "files": files}
    out = tmp_path / "svhn"
    assert main(["prepare", "--dataset", "svhn", "--raw",
                 *(str(tmp_path / f"{name}_32x32.mat") for name in ("test", "train", "extra")),
                 "--output", str(out), "--settings", json.dumps(settings)]) == 0
    data = ProcessedDataset(out)
    # Independent reference: every image as (C, H, W), labels with 10 -> 0.
    pooled_x = np.stack([np.concatenate([train_x, extra_x], axis=3)[..., i].transpose(2, 0, 1)
                         for i in range(80)])
    pooled_y = np.concatenate([train_y, extra_y]).ravel().astype(int) % 10
    train_idx, validation_idx = shuffled_split(80, 64, 16, seed=5)
    np.testing.assert_array_equal(data.images("train"), pooled_x[train_idx])
    np.testing.assert_array_equal(data.labels("train"), pooled_y[train_idx])
    np.testing.assert_array_equal(data.images("validation"), pooled_x[validation_idx])
    np.testing.assert_array_equal(data.labels("validation"), pooled_y[validation_idx])
    np.testing.assert_array_equal(data.images("test"), test_x.transpose(3, 2, 0, 1))
    np.testing.assert_array_equal(data.labels("test"), test_y.ravel().astype(int) % 10)
    assert data.images("train").dtype == np.uint8
    train = pooled_x[train_idx].astype(np.float64)
    np.testing.assert_allclose(data.offset, train.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(data.scale, train.std(axis=0), rtol=1e-5)
    manifest = data.manifest
    assert manifest["split_seed"] == 5
    assert manifest["splits"]["validation"]["images_sha256"] == \
        array_sha256(pooled_x[validation_idx])
    assert manifest["splits"]["test"]["class_counts"] == \
        np.bincount(test_y.ravel() % 10, minlength=10).tolist()
    assert set(manifest["raw"]) == set(files)


def test_prepare_svhn_split_mismatch_names_the_config_key(tmp_path, capsys):
    for name, count in (("train", 5), ("extra", 7), ("test", 3)):
        write_svhn_mat(tmp_path / f"{name}_32x32.mat", count, first=0)
    files = {p.name: {"checksum": sha256_file(p)} for p in tmp_path.glob("*.mat")}
    settings = {"splits": {"train": 10, "validation": 1, "test": 3}, "split_seed": 0,
                "files": files}
    code = main(["prepare", "--dataset", "svhn", "--raw",
                 *(str(tmp_path / f"{name}_32x32.mat") for name in ("test", "train", "extra")),
                 "--output", str(tmp_path / "svhn"), "--settings", json.dumps(settings)])
    assert code == 2
    assert "data.svhn.splits" in capsys.readouterr().err
    assert not (tmp_path / "svhn" / "train_images.npy").exists()


# ---------------------------------------------------------------------------------- MNIST
def mnist_settings(paths: dict[str, Path], splits: dict[str, int]) -> str:
    files = {name: {"checksum": sha256_file(path, gz=True), "gzip_payload": True}
             for name, path in paths.items()}
    return json.dumps({"splits": splits, "files": files})


def mnist_args(paths: dict[str, Path], out: Path, settings: str) -> list[str]:
    return ["prepare", "--dataset", "mnist", "--raw", *(str(path) for path in paths.values()),
            "--output", str(out), "--settings", settings]


def test_prepare_mnist_command(tmp_path):
    paths = write_mnist(tmp_path / "raw", n_train=60, n_test=15)
    out = tmp_path / "mnist"
    splits = {"train": 50, "validation": 10, "test": 15}
    assert main(mnist_args(paths, out, mnist_settings(paths, splits))) == 0
    data = ProcessedDataset(out)
    raw_train = read_idx(paths["train-images-idx3-ubyte.gz"])
    np.testing.assert_array_equal(data.images("train")[:, 0], raw_train[:50])
    np.testing.assert_array_equal(data.images("validation")[:, 0], raw_train[50:])  # the last
    np.testing.assert_array_equal(data.labels("validation"), np.arange(50, 60) % 10)
    assert data.images("test").shape == (15, 1, 28, 28)
    batch = data.normalize(data.images("test"))
    assert batch.dtype == np.float32 and batch.min() >= 0 and batch.max() <= 1
    np.testing.assert_allclose(batch * 255, data.images("test"), atol=1e-4)
    manifest = data.manifest
    assert manifest["dataset"] == "mnist"
    assert {s: manifest["splits"][s]["size"] for s in splits} == splits
    assert manifest["splits"]["train"]["class_counts"] == [5] * 10
    assert manifest["splits"]["train"]["labels_sha256"] == array_sha256(data.labels("train"))
    assert manifest["raw"]["t10k-images-idx3-ubyte.gz"].startswith("sha256:")


def test_prepare_mnist_split_mismatch_names_the_config_key(tmp_path, capsys):
    paths = write_mnist(tmp_path / "raw", n_train=60, n_test=15)
    settings = mnist_settings(paths, {"train": 50000, "validation": 10000, "test": 10000})
    assert main(mnist_args(paths, tmp_path / "mnist", settings)) == 2
    err = capsys.readouterr().err
    assert "data.mnist.splits" in err and "60" in err
    assert not (tmp_path / "mnist" / "manifest.json").exists()


def test_prepare_mnist_verifies_checksums_before_parsing(tmp_path, capsys):
    paths = write_mnist(tmp_path / "raw", n_train=20, n_test=5)
    settings = mnist_settings(paths, {"train": 15, "validation": 5, "test": 5})
    paths["t10k-labels-idx1-ubyte.gz"].write_bytes(gzip.compress(idx_labels(np.zeros(5))))
    assert main(mnist_args(paths, tmp_path / "mnist", settings)) == 2
    err = capsys.readouterr().err
    assert "t10k-labels-idx1-ubyte.gz" in err and "checksum mismatch" in err
    assert not (tmp_path / "mnist").exists()


def test_prepare_names_a_missing_reader_or_raw_file(tmp_path, capsys):
    """A dataset without a reader module, or raw files missing one the reader reads: one line
    each, saying what to add."""
    paths = write_mnist(tmp_path / "raw", n_train=20, n_test=5)
    settings = mnist_settings(paths, {"train": 15, "validation": 5, "test": 5})
    args = mnist_args(paths, tmp_path / "mnist", settings)
    assert main(["prepare", "--dataset", "toy", *args[3:]]) == 2
    assert "--dataset toy: no reader; add workflow/rnnrepro/data/toy.py with RAW_FILES and " \
           "prepare(files, output, settings)" in capsys.readouterr().err
    assert main(["prepare", "--dataset", "Toy!", *args[3:]]) == 2
    assert "a dataset name is lowercase letters" in capsys.readouterr().err
    assert main(["prepare", "--dataset", "errors", *args[3:]]) == 2
    assert "rnnrepro.data.errors is not a dataset reader" in capsys.readouterr().err
    without = [a for a in args if not a.endswith("t10k-labels-idx1-ubyte.gz")]
    assert main(without) == 2
    assert "--raw lacks ['t10k-labels-idx1-ubyte.gz'], the raw files of mnist" in \
        capsys.readouterr().err
    assert not (tmp_path / "mnist").exists()
