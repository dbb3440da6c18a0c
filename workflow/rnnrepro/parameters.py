"""What a model trains: its parameters that take gradients, and how many there are."""

from __future__ import annotations

from torch import nn


def trainable(model: nn.Module) -> list[nn.Parameter]:
    """The parameters an optimizer updates (those with ``requires_grad``)."""
    return [p for p in model.parameters() if p.requires_grad]


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters, as Keras' ``count_params`` of a model counts them (the
    memory IRNN's frozen second bias is left out)."""
    return sum(p.numel() for p in trainable(model))
