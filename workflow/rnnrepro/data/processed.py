"""The on-disk format every processed dataset shares, and its reader.

A processed dataset is a folder::

    manifest.json           split sizes, class counts, array checksums, normalization summary
    normalization.npz       ``offset`` and ``scale`` arrays shaped (C, H, W), float32
    {split}_images.npy      (N, C, H, W), uint8 or float32, memory-mappable
    {split}_labels.npy      (N,), int64, classes 0..9

The model input is ``(images.astype(float32) - offset) / scale``, applied per batch, so large
uint8 datasets (SVHN) are never expanded to float32 in full.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rnnrepro.files import atomic_path, read_json, write_json

SPLITS = ("train", "validation", "test")
MANIFEST = "manifest.json"
NORMALIZATION = "normalization.npz"


def array_sha256(array: np.ndarray, chunk_rows: int = 4096) -> str:
    """SHA-256 of an array's C-order bytes, computed in chunks (works on memmaps)."""
    digest = hashlib.sha256()
    for start in range(0, len(array), chunk_rows):
        digest.update(np.ascontiguousarray(array[start:start + chunk_rows]).tobytes())
    return digest.hexdigest()


def save_array(path: str | Path, array: np.ndarray) -> None:
    """np.save, atomically."""
    with atomic_path(path, suffix=".npy") as tmp:
        np.save(tmp, array)


def write_normalization(root: str | Path, offset: np.ndarray, scale: np.ndarray) -> None:
    """Save the per-pixel ``offset`` and ``scale`` (float32, shaped like one image)."""
    if np.any(np.asarray(scale) <= 0):
        raise ValueError("normalization scale must be positive everywhere")
    with atomic_path(Path(root) / NORMALIZATION, suffix=".npz") as tmp:
        np.savez(tmp, offset=np.asarray(offset, np.float32), scale=np.asarray(scale, np.float32))


def write_manifest(root: str | Path, name: str, extra: dict[str, Any] | None = None) -> dict:
    """Describe the arrays in ``root`` (sizes, class counts, checksums); written last."""
    root = Path(root)
    data = ProcessedDataset(root, require_manifest=False)
    manifest: dict[str, Any] = {"dataset": name, "splits": {}}
    for split in SPLITS:
        images, labels = data.images(split), data.labels(split)
        counts = np.bincount(labels, minlength=10)
        manifest["splits"][split] = {
            "size": len(labels),
            "image_shape": list(images.shape[1:]),
            "dtype": str(images.dtype),
            "class_counts": counts.tolist(),
            "images_sha256": array_sha256(images),
            "labels_sha256": array_sha256(labels),
        }
    manifest["normalization"] = {
        "offset_mean": float(data.offset.mean()), "scale_mean": float(data.scale.mean()),
        "sha256": array_sha256(np.concatenate([data.offset.ravel(), data.scale.ravel()])),
    }
    manifest.update(extra or {})
    write_json(root / MANIFEST, manifest)
    return manifest


@dataclass
class ProcessedDataset:
    """Read access to one processed dataset folder (arrays are memory-mapped)."""

    root: Path
    require_manifest: bool = True

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        if self.require_manifest and not (self.root / MANIFEST).exists():
            raise FileNotFoundError(
                f"{self.root / MANIFEST} missing: the dataset was not (fully) preprocessed; "
                "run its prepare rule (e.g. `snakemake results/<preset>/data/mnist/manifest.json`)")
        norm = np.load(self.root / NORMALIZATION)
        self.offset = norm["offset"].astype(np.float32)
        self.scale = norm["scale"].astype(np.float32)

    @property
    def manifest(self) -> dict[str, Any]:
        return read_json(self.root / MANIFEST)

    def images(self, split: str) -> np.ndarray:
        return np.load(self._path(split, "images"), mmap_mode="r")

    def labels(self, split: str) -> np.ndarray:
        return np.load(self._path(split, "labels"))

    def normalize(self, batch: np.ndarray) -> np.ndarray:
        """Map a batch of stored images (N, C, H, W) to model inputs, float32."""
        return (np.asarray(batch, dtype=np.float32) - self.offset) / self.scale

    def _path(self, split: str, kind: str) -> Path:
        if split not in SPLITS:
            raise KeyError(f"unknown split {split!r}; expected one of {SPLITS}")
        path = self.root / f"{split}_{kind}.npy"
        if not path.exists():
            raise FileNotFoundError(f"{path} missing; rerun the dataset's prepare rule")
        return path
