"""MNIST: the four verified IDX files to the processed dataset, and the bundled sample.

Images are stored uint8 (N, 1, 28, 28) with offset 0 and scale 255, so model inputs are in
[0, 1]. Validation = the last ``validation`` images of the original training file.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from rnnrepro.data.checksums import verified
from rnnrepro.data.errors import DataError, setting
from rnnrepro.data.idx import check_images, check_labels, gzip_bytes, idx_bytes, read_idx
from rnnrepro.data.processed import save_array, write_manifest, write_normalization
from rnnrepro.data.splits import check_split_sizes, holdout_last
from rnnrepro.files import atomic_open

log = logging.getLogger("rnnrepro")

FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
# The raw files `rnnrepro prepare --dataset mnist` reads (data.files.mnist), in prepare's order.
RAW_FILES = tuple(FILES.values())


def prepare(files: Mapping[str, Path], output: Path, settings: dict[str, Any]) -> None:
    """``rnnrepro prepare --dataset mnist``: verify the four IDX files, then write the processed
    dataset (splits: ``data.mnist.splits``)."""
    paths = [files[name] for name in RAW_FILES]
    splits = setting(settings, "splits", "data.mnist.splits")
    prepare_mnist(*paths, output, splits, extra=verified(paths, settings, "mnist"))


def load_pair(images_path: str | Path, labels_path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 28, 28) uint8 and labels (N,) uint8 of one IDX file pair."""
    images = read_idx(images_path)
    check_images(images, str(images_path))
    labels = read_idx(labels_path)
    check_labels(labels, str(labels_path), len(images))
    return images, labels


def prepare_mnist(train_images: str | Path, train_labels: str | Path, test_images: str | Path,
                  test_labels: str | Path, output: str | Path, splits: dict[str, int],
                  extra: dict[str, Any] | None = None) -> dict:
    """Write the processed MNIST dataset; returns the manifest."""
    output = Path(output)
    images, labels = load_pair(train_images, train_labels)
    test_x, test_y = load_pair(test_images, test_labels)
    check_split_sizes("mnist", splits, len(images), len(test_x))
    train, validation = holdout_last(len(images), int(splits["validation"]))
    arrays = {"train": (images[train], labels[train]),
              "validation": (images[validation], labels[validation]),
              "test": (test_x, test_y)}
    for split, (split_images, split_labels) in arrays.items():
        save_array(output / f"{split}_images.npy", split_images[:, None])
        save_array(output / f"{split}_labels.npy", split_labels.astype(np.int64))
    write_normalization(output, np.zeros((1, 28, 28)), np.full((1, 28, 28), 255.0))
    info = {"preprocessing": "uint8 images; normalization offset 0, scale 255 (inputs in [0, 1])",
            "split": f"validation = the last {splits['validation']} images of the training file"}
    return write_manifest(output, "mnist", {**info, **(extra or {})})


def make_sample(source: str | Path, output: str | Path, train: int, test: int) -> list[Path]:
    """Cut the first ``train``/``test`` images (and labels) of the MNIST files in ``source``.

    Writes the four files to ``output`` in the original IDX format (header count patched),
    gzip-compressed deterministically (level 9, mtime 0, no file name), so the result is
    byte-identical on every run.
    """
    source, output = Path(source), Path(output)
    written = []
    for role, name in FILES.items():
        path = source / name
        if not path.is_file():
            raise DataError(f"{path}: not found; --source must be a folder holding the four "
                            f"MNIST files {sorted(FILES.values())}")
        array = read_idx(path)
        count = train if role.startswith("train") else test
        if count > len(array):
            raise DataError(f"{path}: holds {len(array)} items, cannot take the first {count}")
        (check_images if role.endswith("images") else _check_label_file)(array, str(path))
        with atomic_open(output / name, "wb") as fh:
            fh.write(gzip_bytes(idx_bytes(array[:count])))
        log.info("%s: first %d of %d items", output / name, count, len(array))
        written.append(output / name)
    return written


def _check_label_file(labels: np.ndarray, name: str) -> None:
    check_labels(labels, name, len(labels))
