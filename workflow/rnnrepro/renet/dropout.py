"""Dropout for the ReNet sweeps and FC layers: inverted dropout with a uniform-draw mask.

Same distribution as ``torch.nn.functional.dropout`` (each value zeroed with probability p, the
rest scaled by 1/(1-p)), but on CPU the mask comes from ``torch.rand`` (one uniform draw per
value) rather than ``bernoulli_``, which PyTorch's CPU kernel makes about twice as slow: with the
sweeps' (steps, B*columns, 2d) maps this halved the cost of dropout in a training step
(benchmarks/renet_speed.py). CUDA keeps PyTorch's fused kernel.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F


def dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    if not training or p == 0:
        return x
    if x.is_cuda:
        return F.dropout(x, p, True)
    mask = torch.rand_like(x).ge_(p).div_(1 - p)
    return x * mask
