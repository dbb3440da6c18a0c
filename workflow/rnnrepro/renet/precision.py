"""Numeric precision of a ReNet run (``renet.training.precision``): ``fp32`` or ``bf16-mixed``.

``bf16-mixed`` autocasts the model's matrix products to bfloat16 on CPU and CUDA alike; weights,
their gradients, Adam's state, the loss and the recurrences' states stay float32
(:mod:`rnnrepro.renet.paper_gru` takes bfloat16 product operands inside its kernel). Other
rounding gives other numbers, so precision is a result key.

bfloat16 pays only where the hardware multiplies it natively (AVX-512 BF16 or AMX on x86, a
GPU with bfloat16 support); elsewhere PyTorch emulates it and it is several times slower than
float32. :func:`effective_precision` therefore times one product in both dtypes on the run's
device and falls back to fp32, with one log line, where bfloat16 is not faster. The precision
actually used is written to ``metrics.json`` (``precision_used``).
"""

from __future__ import annotations

import contextlib
import logging
import time
from functools import cache

import torch

log = logging.getLogger(__name__)

PRECISIONS = ("fp32", "bf16-mixed")
PROBE_SIZE = 1024      # the product timed: about a sweep's per-step product at Table 1's sizes


def matmul_seconds(dtype: torch.dtype, device: torch.device, size: int = PROBE_SIZE,
                   repeats: int = 3) -> float:
    """Best-of-``repeats`` seconds of one ``size``-square matrix product in ``dtype``."""
    a = torch.randn(size, size, device=device).to(dtype)
    b = torch.randn(size, size, device=device).to(dtype)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        torch.mm(a, b)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        best = min(best, time.perf_counter() - start)
    return best


@cache
def bf16_speedup(device: torch.device) -> float:
    """float32 seconds over bfloat16 seconds of one product on ``device`` (> 1: bf16 faster)."""
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        return 0.0
    return matmul_seconds(torch.float32, device) / matmul_seconds(torch.bfloat16, device)


def effective_precision(precision: str, device: torch.device) -> str:
    """The precision a run uses on ``device``: ``precision``, or fp32 with a one-line notice
    where bfloat16 products are not faster than float32 there."""
    if precision not in PRECISIONS:
        raise ValueError(f"renet.training.precision = {precision!r}; expected one of "
                         f"{', '.join(PRECISIONS)}")
    if precision == "fp32":
        return precision
    speedup = bf16_speedup(device)
    if speedup <= 1.0:
        log.warning("precision bf16-mixed: bfloat16 products run at %.2fx the float32 rate on "
                    "this %s (no native bfloat16); training in fp32", speedup, device.type)
        return "fp32"
    log.info("precision bf16-mixed: bfloat16 products at %.1fx the float32 rate on this %s",
             speedup, device.type)
    return precision


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """The context a forward pass runs in: bfloat16 autocast for ``bf16-mixed``, else none.
    ``precision`` is an effective one (:func:`effective_precision`)."""
    if precision == "bf16-mixed":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()
