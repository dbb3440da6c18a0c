"""The increment model: one recurrent layer over one-hot digits, per-step softmax over K digits."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from rnnrepro.cells import make_recurrent
from rnnrepro.increment.keras_units import GATES, KerasRecurrent, UnitSettings


class IncrementModel(nn.Module):
    """One ``cell`` layer of ``hidden_size`` units (rnn = the memory experiment's IRNN, input
    weights N(0, irnn_input_std^2); lstm and gru computed as ``units`` says: config
    ``increment.units``) and a shared linear read-out at every step; ``forward`` returns
    logits (the softmax lives in the loss)."""

    def __init__(self, cell: str, base: int, hidden_size: int, units: UnitSettings,
                 irnn_input_std: float):
        super().__init__()
        self.base = base
        if cell in GATES:
            self.recurrent = KerasRecurrent(cell, base, hidden_size, units)
        else:
            self.recurrent = make_recurrent(cell, base, hidden_size,
                                            irnn_input_std=irnn_input_std)
        self.readout = nn.Linear(hidden_size, base)

    def forward(self, digits: torch.Tensor) -> torch.Tensor:
        """Digits (batch, steps) of any integer dtype -> logits (batch, steps, K)."""
        onehot = F.one_hot(digits.long(), self.base).to(self.readout.weight.dtype)
        states, _ = self.recurrent(onehot)
        return self.readout(states)


def sequence_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over every output step of every sequence (Keras' sequence loss)."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1).long())
