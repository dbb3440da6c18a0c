"""Per-pixel mean and standard deviation accumulated over chunks (float64 accumulators)."""

from __future__ import annotations

import numpy as np


class PixelMoments:
    """Accumulate per-pixel sums over batches shaped (N, C, H, W); never holds the data."""

    def __init__(self) -> None:
        self.count = 0
        self.total: np.ndarray | None = None
        self.squares: np.ndarray | None = None

    def add(self, batch: np.ndarray) -> None:
        values = batch.astype(np.float64)
        if self.total is None:
            self.total = np.zeros(values.shape[1:])
            self.squares = np.zeros(values.shape[1:])
        self.total += values.sum(axis=0)
        self.squares += np.square(values).sum(axis=0)
        self.count += len(values)

    @property
    def mean(self) -> np.ndarray:
        if self.total is None or self.count == 0:
            raise ValueError("no data accumulated")
        return self.total / self.count

    @property
    def std(self) -> np.ndarray:
        """Population standard deviation; 1 where a pixel is constant (it stays at 0)."""
        assert self.squares is not None
        variance = np.clip(self.squares / self.count - np.square(self.mean), 0.0, None)
        std = np.sqrt(variance)
        return np.where(std > 1e-8 * np.maximum(1.0, np.abs(self.mean)), std, 1.0)
