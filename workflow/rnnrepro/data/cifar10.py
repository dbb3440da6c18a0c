"""CIFAR-10 (python version): parse the verified tarball, split, ZCA-whiten, standardise.

The archive holds ``cifar-10-batches-py/data_batch_1..5`` and ``test_batch``, Python pickles
of ``{data: (10000, 3072) uint8, labels: [10000 ints], ...}`` with rows in C, H, W order.
A pickle can execute code, so the archive's checksum is verified before anything is unpickled.
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from rnnrepro.data.archive import read_members
from rnnrepro.data.checksums import verify_inputs
from rnnrepro.data.errors import DataError, setting
from rnnrepro.data.moments import PixelMoments
from rnnrepro.data.npyfile import NpyWriter
from rnnrepro.data.processed import save_array, write_manifest, write_normalization
from rnnrepro.data.splits import check_split_sizes, holdout_last
from rnnrepro.data.zca import Zca

log = logging.getLogger("rnnrepro")

FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"{FOLDER}/data_batch_{i}" for i in range(1, 6))
TEST_BATCH = f"{FOLDER}/test_batch"
# The raw file `rnnrepro prepare --dataset cifar10` reads (data.files.cifar10).
RAW_FILES = ("cifar-10-python.tar.gz",)


def prepare(files: Mapping[str, Path], output: Path, settings: dict[str, Any]) -> None:
    """``rnnrepro prepare --dataset cifar10``: the tarball (verified before anything is
    unpickled) to the processed dataset (``data.cifar10.splits``, ``zca_epsilon``)."""
    archive = files[RAW_FILES[0]]
    splits = setting(settings, "splits", "data.cifar10.splits")
    epsilon = float(setting(settings, "zca_epsilon", "data.cifar10.zca_epsilon"))
    entry = setting(settings, "files", "data.files.cifar10").get(archive.name)
    if entry is None:
        raise DataError(f"--settings files has no checksum for {archive.name!r}")
    prepare_cifar10(archive, output, splits, epsilon, entry["checksum"])
SHAPE = (3, 32, 32)


def parse_batch(data: bytes, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 3, 32, 32) uint8 and labels (N,) int64 of one unpickled batch."""
    try:
        batch = pickle.loads(data, encoding="bytes")
    except Exception as err:
        raise DataError(f"{name}: cannot unpickle the CIFAR-10 batch ({err})") from err
    if not isinstance(batch, dict):
        raise DataError(f"{name}: expected a dict, found {type(batch).__name__}")
    images, labels = _key(batch, "data", name), _key(batch, "labels", name)
    images = np.asarray(images)
    labels = np.asarray(labels, dtype=np.int64)
    if images.dtype != np.uint8 or images.ndim != 2 or images.shape[1] != np.prod(SHAPE):
        raise DataError(f"{name}: 'data' should be uint8 (N, 3072), found {images.dtype} "
                        f"{images.shape}")
    if labels.shape != (len(images),) or (labels.size and not 0 <= labels.min() <= labels.max()
                                          <= 9):
        raise DataError(f"{name}: 'labels' should be {len(images)} ints in 0..9")
    return images.reshape(-1, *SHAPE), labels


def _key(batch: dict[Any, Any], key: str, name: str) -> Any:
    for candidate in (key.encode(), key):
        if candidate in batch:
            return batch[candidate]
    raise DataError(f"{name}: no {key!r} entry; is it a CIFAR-10 python batch?")


def load_cifar10(archive: str | Path, checksum: str
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Training (50,000) and test (10,000) images and labels, after verifying ``checksum``."""
    verify_inputs([archive], {Path(archive).name: {"checksum": checksum}})  # before unpickling
    members = read_members(archive, (*TRAIN_BATCHES, TEST_BATCH))
    parts = [parse_batch(members.pop(name), f"{archive}:{name}") for name in TRAIN_BATCHES]
    train_images = np.concatenate([images for images, _ in parts])
    train_labels = np.concatenate([labels for _, labels in parts])
    test_images, test_labels = parse_batch(members.pop(TEST_BATCH), f"{archive}:{TEST_BATCH}")
    return train_images, train_labels, test_images, test_labels


def split_cifar10(train_count: int, test_count: int,
                  splits: dict[str, int]) -> tuple[slice, slice]:
    """Train/validation slices of the 50,000 training images (validation = the last ones)."""
    check_split_sizes("cifar10", splits, train_count, test_count)
    return holdout_last(train_count, int(splits["validation"]))


def whiten_and_save(images: dict[str, np.ndarray], labels: dict[str, np.ndarray],
                    output: str | Path, epsilon: float, extra: dict[str, Any] | None = None,
                    chunk: int = 2000) -> dict:
    """ZCA fitted on ``images['train']`` only, applied to every split; write the dataset.

    Images are uint8 (N, C, H, W), scaled to [0, 1] before whitening. The whitened images are
    stored as float32; the per-pixel mean/std of the whitened training set become the
    normalization offset/scale (applied per batch by ``ProcessedDataset.normalize``).
    """
    output = Path(output)
    train = images["train"]
    log.info("fitting ZCA on %d training images (epsilon %g)", len(train), epsilon)
    zca = Zca.fit(train.reshape(len(train), -1), epsilon, scale=1 / 255, chunk=chunk)
    moments = PixelMoments()
    for split, split_images in images.items():
        shape = split_images.shape
        with NpyWriter(output / f"{split}_images.npy", shape, np.float32) as writer:
            for start in range(0, len(split_images), chunk):
                block = split_images[start:start + chunk]
                white = zca.apply(block.reshape(len(block), -1)).reshape(block.shape)
                if split == "train":
                    moments.add(white)
                writer.append(white)
        save_array(output / f"{split}_labels.npy", labels[split].astype(np.int64))
    write_normalization(output, moments.mean, moments.std)
    info = {"preprocessing": "pixels / 255, ZCA whitening fitted on the training split, then "
                             "per-pixel standardisation with training statistics",
            "zca_epsilon": float(epsilon), "zca_fitted_on": "train"}
    return write_manifest(output, "cifar10", {**info, **(extra or {})})


def prepare_cifar10(archive: str | Path, output: str | Path, splits: dict[str, int],
                    epsilon: float, checksum: str) -> dict:
    """The processed CIFAR-10 dataset: 40k/10k/10k, ZCA-whitened float32, standardised."""
    train_images, train_labels, test_images, test_labels = load_cifar10(archive, checksum)
    train, validation = split_cifar10(len(train_images), len(test_images), splits)
    images = {"train": train_images[train], "validation": train_images[validation],
              "test": test_images}
    labels = {"train": train_labels[train], "validation": train_labels[validation],
              "test": test_labels}
    extra = {"raw": {Path(archive).name: checksum},
             "split": f"validation = the last {splits['validation']} training images "
                      "(data_batch_5 for 10,000)"}
    return whiten_and_save(images, labels, output, epsilon, extra)
