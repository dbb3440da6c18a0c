"""How a job executes (not Snakemake's `runtime` resource, its time limit): device, seeds,
logging, progress, stop signals; shared by every training job."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import random
import signal
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

log = logging.getLogger("rnnrepro")


def setup_logging(level: int = logging.INFO) -> None:
    """Log to stderr with timestamps; Snakemake rules redirect stderr to the rule's log file."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        datefmt="%H:%M:%S")


def pick_device(requested: str = "auto") -> Any:
    """Return CUDA when present (or requested), else CPU. Same code path on both."""
    import torch

    if requested == "auto":
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {requested!r} requested but CUDA is not available; "
                           "use device: auto or cpu")
    return torch.device(requested)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) and ask torch for deterministic kernels."""
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")


def fingerprint(settings: Any) -> str:
    """Stable short hash of JSON-able settings: a checkpoint only resumes the run it came from."""
    blob = json.dumps(settings, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def check_finite(value: float, what: str) -> None:
    """Stop with a clear error on NaN/Inf (a diverged run must not look finished)."""
    if not math.isfinite(value):
        raise FloatingPointError(
            f"{what} is {value}: training diverged. Lower the learning rate in config.yaml "
            "or check the input data; the last good checkpoint is kept for inspection.")


class StopRequested(Exception):
    """Raised at a safe point after SIGTERM/SIGINT (time limit, preemption, scancel, Ctrl-C)."""

    exit_code = 75  # EX_TEMPFAIL: the job is incomplete, a retry resumes it


@contextlib.contextmanager
def stop_on_signal() -> Iterator[Callable[[], None]]:
    """Turn SIGTERM/SIGINT into a flag; yield ``check()`` which raises StopRequested once set.

    Training loops call ``check()`` between minibatches, so a stop never lands mid-update.
    """
    received: list[int] = []

    def handler(signum: int, _frame: Any) -> None:
        received.append(signum)
        log.warning("received signal %d: stopping at the next safe point", signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}

    def check() -> None:
        if received:
            raise StopRequested(f"stopped by signal {received[0]}")

    try:
        yield check
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


class Progress:
    """Log a progress line at most every ``interval`` seconds: done/total, rate, ETA."""

    def __init__(self, total: int, label: str, unit: str = "batches", interval: float = 30.0):
        self.total, self.label, self.unit, self.interval = total, label, unit, interval
        self.start = self.last = time.monotonic()

    def update(self, done: int, **metrics: float) -> None:
        now = time.monotonic()
        if now - self.last < self.interval and done < self.total:
            return
        self.last = now
        rate = done / max(now - self.start, 1e-9)
        eta = (self.total - done) / rate if rate > 0 else float("inf")
        extra = " ".join(f"{k}={v:.4g}" for k, v in metrics.items())
        log.info("%s: %d/%d %s (%.1f/s, eta %.0fs) %s", self.label, done, self.total, self.unit,
                 rate, eta, extra)
