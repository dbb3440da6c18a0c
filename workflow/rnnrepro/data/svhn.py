"""SVHN format 2 (cropped 32x32 digits): parse the verified ``.mat`` files, split, normalise.

Each MATLAB v5 file holds ``X`` (32, 32, 3, N) uint8 and ``y`` (N, 1) with labels 1..10, where
10 stands for the digit 0. The preprocessing keeps the images uint8 (1.86 GB for train + extra)
and stores per-pixel statistics: it never builds a float32 copy, holds one ``.mat`` file in
memory at a time and writes the shuffled train/validation arrays row by row at their
destination (see :class:`~rnnrepro.data.npyfile.NpyWriter`), so the peak stays far below 4 GiB.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from rnnrepro.data.checksums import verified
from rnnrepro.data.errors import DataError, setting
from rnnrepro.data.moments import PixelMoments
from rnnrepro.data.npyfile import NpyWriter
from rnnrepro.data.processed import save_array, write_manifest, write_normalization
from rnnrepro.data.splits import check_split_sizes, shuffled_split

log = logging.getLogger("rnnrepro")

SHAPE = (3, 32, 32)
# The raw files `rnnrepro prepare --dataset svhn` reads (data.files.svhn), in prepare's order.
RAW_FILES = ("train_32x32.mat", "extra_32x32.mat", "test_32x32.mat")


def prepare(files: Mapping[str, Path], output: Path, settings: dict[str, Any]) -> None:
    """``rnnrepro prepare --dataset svhn``: verify the three ``.mat`` files, then write the
    processed dataset (``data.svhn.splits``, ``split_seed``)."""
    paths = [files[name] for name in RAW_FILES]
    splits = setting(settings, "splits", "data.svhn.splits")
    seed = int(setting(settings, "split_seed", "data.svhn.split_seed"))
    prepare_svhn(*paths, output, splits, seed, extra=verified(paths, settings, "svhn"))


def mat_count(path: str | Path) -> int:
    """Number of images in an SVHN ``.mat`` file, read from the headers only."""
    import scipy.io

    try:
        variables = {name: shape for name, shape, _ in scipy.io.whosmat(str(path))}
    except Exception as err:  # scipy raises several types for non-v5 or corrupt files
        raise DataError(f"{path}: not a readable MATLAB v5 .mat file ({err}); delete it and "
                        "rerun its download rule") from err
    shape = variables.get("X")
    if shape is None or "y" not in variables:
        raise DataError(f"{path}: no 'X' and 'y' variables (found {sorted(variables)}); is it "
                        "an SVHN format-2 file such as train_32x32.mat?")
    if len(shape) != 4 or tuple(shape[:3]) != (32, 32, 3):
        raise DataError(f"{path}: X is shaped {shape}, expected (32, 32, 3, N)")
    return int(shape[3])


def load_mat(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """``X`` as stored (32, 32, 3, N) uint8, and labels (N,) int64 with 10 mapped to 0."""
    import scipy.io

    try:
        mat = scipy.io.loadmat(str(path), variable_names=("X", "y"))
    except Exception as err:
        raise DataError(f"{path}: cannot read the .mat file ({err})") from err
    images, raw_labels = mat.pop("X", None), mat.pop("y", None)
    if images is None or raw_labels is None:
        raise DataError(f"{path}: no 'X' and 'y' variables; is it an SVHN format-2 file?")
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[:3] != (32, 32, 3):
        raise DataError(f"{path}: X should be uint8 (32, 32, 3, N), found {images.dtype} "
                        f"{images.shape}")
    labels = map_labels(raw_labels, str(path))
    if len(labels) != images.shape[3]:
        raise DataError(f"{path}: {len(labels)} labels for {images.shape[3]} images")
    return images, labels


def map_labels(raw: np.ndarray, name: str = "y") -> np.ndarray:
    """SVHN labels 1..10 to classes 0..9 (the digit 0 is stored as 10)."""
    values = np.asarray(raw).reshape(-1)
    labels = values.astype(np.int64)
    if values.size and (np.any(labels != values) or labels.min() < 1 or labels.max() > 10):
        raise DataError(f"{name}: labels must be integers in 1..10 (10 = digit 0), found "
                        f"values in {values.min()}..{values.max()}")
    return np.where(labels == 10, 0, labels)


def to_nchw(block: np.ndarray) -> np.ndarray:
    """(32, 32, 3, k) as stored in the .mat file to (k, 3, 32, 32), C-contiguous."""
    return np.ascontiguousarray(block.transpose(3, 2, 0, 1))


def svhn_split(train_count: int, extra_count: int, test_count: int, splits: dict[str, int],
               seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices into train + extra (concatenated) for the train and validation splits."""
    pool = train_count + extra_count
    check_split_sizes("svhn", splits, pool, test_count)
    return shuffled_split(pool, int(splits["train"]), int(splits["validation"]), seed)


def prepare_svhn(train_mat: str | Path, extra_mat: str | Path, test_mat: str | Path,
                 output: str | Path, splits: dict[str, int], seed: int,
                 extra: dict[str, Any] | None = None, chunk: int = 4096) -> dict:
    """Write the processed SVHN dataset (uint8 images, per-pixel training statistics)."""
    output = Path(output)
    counts = [mat_count(path) for path in (train_mat, extra_mat, test_mat)]
    train_idx, validation_idx = svhn_split(*counts, splits, seed)
    pool = counts[0] + counts[1]
    # Destination of every pooled image: split 0 = train, 1 = validation, and its row there.
    split_of = np.empty(pool, np.int8)
    row_of = np.empty(pool, np.int64)
    split_of[train_idx], row_of[train_idx] = 0, np.arange(len(train_idx))
    split_of[validation_idx], row_of[validation_idx] = 1, np.arange(len(validation_idx))
    pooled_labels = np.empty(pool, np.int64)
    moments = PixelMoments()
    with NpyWriter(output / "train_images.npy", (len(train_idx), *SHAPE), np.uint8) as train_w, \
            NpyWriter(output / "validation_images.npy", (len(validation_idx), *SHAPE),
                      np.uint8) as validation_w:
        writers = (train_w, validation_w)
        offset = 0
        for path in (train_mat, extra_mat):
            log.info("reading %s", path)
            images, labels = load_mat(path)
            count = images.shape[3]
            pooled_labels[offset:offset + count] = labels
            for start in range(0, count, chunk):
                block = to_nchw(images[..., start:start + chunk])
                where = slice(offset + start, offset + start + len(block))
                to_split, rows = split_of[where], row_of[where]
                is_train = to_split == 0
                moments.add(block[is_train])
                for split, mask in ((0, is_train), (1, ~is_train)):
                    writers[split].scatter(rows[mask], block[mask])
            offset += count
            del images, labels
            gc.collect()
    save_array(output / "train_labels.npy", pooled_labels[train_idx])
    save_array(output / "validation_labels.npy", pooled_labels[validation_idx])
    log.info("reading %s", test_mat)
    images, labels = load_mat(test_mat)
    with NpyWriter(output / "test_images.npy", (images.shape[3], *SHAPE), np.uint8) as test_w:
        for start in range(0, images.shape[3], chunk):
            test_w.append(to_nchw(images[..., start:start + chunk]))
    save_array(output / "test_labels.npy", labels)
    del images, labels
    gc.collect()
    write_normalization(output, moments.mean, moments.std)
    info = {"preprocessing": "uint8 images; per-pixel mean/std of the training split as the "
                             "normalization (applied per batch); labels 10 -> 0",
            "split": f"train + extra ({pool}) shuffled with seed {seed}: first "
                     f"{len(train_idx)} train, the remaining {len(validation_idx)} validation",
            "split_seed": int(seed)}
    return write_manifest(output, "svhn", {**info, **(extra or {})})
