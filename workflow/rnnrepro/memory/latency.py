"""Latency (Kolesau et al., Table 2): how many steps a model needs before its answer settles.

For one sample with per-step predictions ``p_1 .. p_T`` (argmax of the output layer applied at
every step), latency is the 1-based step ``s`` such that ``p_s .. p_T`` all equal the final
prediction ``p_T`` and ``p_{s-1}`` (if any) does not. It compares with the final answer, not
with the label. Examples: [3,3,3,3] -> 1, [1,3,3,3] -> 2, [3,1,3,3] -> 3, [3,3,3,1] -> 4.
This is what the authors' ``when`` command computed (pop equal answers off the end, count the
rest plus one).
"""

from __future__ import annotations

import numpy as np


def latency(predictions: np.ndarray) -> np.ndarray:
    """Latency of each row of ``predictions`` (samples, steps) of class indices, as int64.

    Vectorised: the last step whose prediction differs from the final one, plus two.
    """
    predictions = np.asarray(predictions)
    if predictions.ndim != 2 or predictions.shape[1] == 0:
        raise ValueError(f"predictions must be (samples, steps) with steps >= 1, "
                         f"got shape {predictions.shape}")
    steps = predictions.shape[1]
    differs = predictions != predictions[:, -1:]
    # Index (0-based) of the last differing step, found as the first in the reversed rows.
    last_differing = steps - 1 - np.argmax(differs[:, ::-1], axis=1)
    return np.where(differs.any(axis=1), last_differing + 2, 1).astype(np.int64)


def distribution(latencies: np.ndarray, steps: int) -> list[dict[str, int]]:
    """Rows ``{"latency": s, "count": n}`` for every step s = 1..steps (zeros included)."""
    latencies = np.asarray(latencies, dtype=np.int64)
    if latencies.size and (latencies.min() < 1 or latencies.max() > steps):
        raise ValueError(f"latencies must lie in 1..{steps}")
    counts = np.bincount(latencies, minlength=steps + 1)[1:]
    return [{"latency": s, "count": int(c)} for s, c in enumerate(counts, start=1)]
