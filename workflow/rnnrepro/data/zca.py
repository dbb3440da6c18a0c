"""ZCA whitening (zero-phase component analysis), fitted on training rows only.

``W = U diag(1 / sqrt(lambda + epsilon)) U^T`` from the eigendecomposition ``U diag(lambda) U^T``
of the training covariance; whitened rows are ``(x - mean) W``. Large inputs are processed in
chunks of rows; the covariance is accumulated in float64.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Zca:
    """A fitted ZCA transform: ``mean`` (D,) and symmetric ``matrix`` (D, D)."""

    mean: np.ndarray
    matrix: np.ndarray
    epsilon: float
    scale: float = 1.0

    @classmethod
    def fit(cls, rows: np.ndarray, epsilon: float, scale: float = 1.0,
            chunk: int = 4096) -> Zca:
        """Fit on ``rows * scale`` (N, D), e.g. uint8 pixels with ``scale=1/255``."""
        if rows.ndim != 2 or len(rows) < 2:
            raise ValueError(f"ZCA needs (N, D) rows with N >= 2, got {rows.shape}")
        if epsilon <= 0:
            raise ValueError(f"ZCA epsilon must be positive, got {epsilon}")
        n, dim = rows.shape
        mean = np.zeros(dim)
        for start in range(0, n, chunk):
            mean += np.sum(rows[start:start + chunk], axis=0, dtype=np.float64)
        mean *= scale / n
        cov = np.zeros((dim, dim))
        mean32 = mean.astype(np.float32)
        for start in range(0, n, chunk):
            centred = rows[start:start + chunk].astype(np.float32) * np.float32(scale) - mean32
            cov += centred.T @ centred
        cov /= n
        eigenvalues, eigenvectors = np.linalg.eigh(cov)
        eigenvalues = np.clip(eigenvalues, 0.0, None)
        matrix = (eigenvectors / np.sqrt(eigenvalues + epsilon)) @ eigenvectors.T
        return cls(mean=mean, matrix=(matrix + matrix.T) / 2, epsilon=float(epsilon),
                   scale=float(scale))

    def apply(self, rows: np.ndarray) -> np.ndarray:
        """Whiten ``rows`` (N, D) with the training statistics; returns float32."""
        x = rows.astype(np.float32) * np.float32(self.scale) - self.mean.astype(np.float32)
        return x @ self.matrix.astype(np.float32)
