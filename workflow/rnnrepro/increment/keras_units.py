"""LSTM and GRU as Keras 2 defined them, for the increment task (Kolesau et al. trained in Keras 2).

Keras 2's ``LSTM``/``GRU`` defaults (keras/layers/recurrent.py, initializers.py), each a field
of ``increment.settings.UnitSettings`` (config ``increment.units``), against PyTorch's units:

=================  ==========================================  ==================================
choice             Keras 2 default                             PyTorch
=================  ==========================================  ==================================
gate_activation    hard_sigmoid: clip(0.2 x + 0.5, 0, 1)       sigmoid
gru_reset          before: tanh(W x + U (r ⊙ h) + b)           after: tanh(W x + r ⊙ (U h + b))
                   (``reset_after=False``)
input_init         glorot_uniform over the whole (in, g·h)     uniform(±1/√h)
                   kernel: limit √(6 / (in + g·h))
recurrent_init     orthogonal: one (h, g·h) matrix with        uniform(±1/√h)
                   orthonormal rows (SVD of a normal draw)
bias_init          zeros                                       uniform(±1/√h)
lstm_forget_bias   1 (``unit_forget_bias=True``)               0 (on top of the draw)
=================  ==========================================  ==================================

Parameters use PyTorch's layout (``weight_ih_l0`` (g·h, in), ``weight_hh_l0`` (g·h, h); gate
rows i, f, g, o for the LSTM, r, z, n for the GRU, with h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}) and
one bias ``bias_l0``, as Keras has (g: 4 gates for the LSTM, 3 for the GRU); a GRU with the
reset after the product also has the recurrent bias ``bias_hn_l0`` inside it, as PyTorch's and
Keras' ``reset_after=True`` GRU have (there the biases of r and z only ever appear summed, so
one vector holds them).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from rnnrepro.gated_recurrence import gru_recurrence, lstm_recurrence
from rnnrepro.increment.settings import WEIGHT_BLOCKS, UnitSettings

# The gated cells and their weight blocks.
GATES = {cell: blocks for cell, blocks in WEIGHT_BLOCKS.items() if cell != "rnn"}


class KerasRecurrent(nn.Module):
    """One batch-first LSTM or GRU layer computing Keras 2's equations (see the module doc);
    ``forward(x)`` takes (batch, steps, input_size) and returns ``(states, None)``, states
    (batch, steps, hidden), like a batch-first ``nn.RNNBase`` (its second output unused)."""

    def __init__(self, cell: str, input_size: int, hidden_size: int, units: UnitSettings):
        super().__init__()
        if cell not in GATES:
            raise ValueError(f"Keras unit {cell!r}: expected lstm or gru")
        self.cell, self.units, self.hidden_size = cell, units, hidden_size
        rows = GATES[cell] * hidden_size
        self.weight_ih_l0 = nn.Parameter(torch.empty(rows, input_size))
        self.weight_hh_l0 = nn.Parameter(torch.empty(rows, hidden_size))
        self.bias_l0 = nn.Parameter(torch.empty(rows))
        self.reset_after = cell == "gru" and units.gru_reset == "after"
        if cell == "lstm":  # rows i, f, o, g of PyTorch's i, f, g, o (a buffer: moves with .to())
            blocks = torch.arange(rows).view(4, hidden_size)
            self.register_buffer("lstm_order", blocks[[0, 1, 3, 2]].reshape(-1),
                                 persistent=False)
        if self.reset_after:
            self.bias_hn_l0 = nn.Parameter(torch.empty(hidden_size))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        units, hidden = self.units, self.hidden_size
        rows, inputs = self.weight_ih_l0.shape
        bound = 1.0 / math.sqrt(hidden)
        with torch.no_grad():
            if units.input_init == "glorot_uniform":  # fans of Keras' (in, g·h) kernel
                limit = math.sqrt(6.0 / (inputs + rows))
                self.weight_ih_l0.uniform_(-limit, limit)
            else:
                self.weight_ih_l0.uniform_(-bound, bound)
            if units.recurrent_init == "orthogonal":
                self.weight_hh_l0.copy_(keras_orthogonal(hidden, rows).T)
            else:
                self.weight_hh_l0.uniform_(-bound, bound)
            biases = [self.bias_l0, *([self.bias_hn_l0] if self.reset_after else [])]
            for bias in biases:
                if units.bias_init == "zeros":
                    bias.zero_()
                else:
                    bias.uniform_(-bound, bound)
            if self.cell == "lstm":
                self.bias_l0[hidden:2 * hidden] += units.lstm_forget_bias

    def recurrence_weights(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(weight_ih, weight_hh, bias) with the gate rows in the order the recurrences take
        them: the LSTM's as i, f, o, g (the three gates contiguous), the GRU's as stored."""
        w_ih, w_hh, bias = self.weight_ih_l0, self.weight_hh_l0, self.bias_l0
        if self.cell == "lstm":
            order = self.lstm_order
            w_ih, w_hh, bias = w_ih[order], w_hh[order], bias[order]
        return w_ih, w_hh, bias

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:
        batch, steps, _ = x.shape
        # Input products of every step at once, time-major; the recurrence runs with a
        # hand-written backward pass (rnnrepro.gated_recurrence).
        w_ih, w_hh, bias = self.recurrence_weights()
        gi = torch.addmm(bias, x.transpose(0, 1).reshape(steps * batch, -1),
                         w_ih.T).view(steps, batch, -1)
        hard = self.units.gate_activation == "hard_sigmoid"
        if self.cell == "lstm":
            states = lstm_recurrence(gi, w_hh, hard)
        else:
            states = gru_recurrence(gi, self.weight_hh_l0,
                                    self.bias_hn_l0 if self.reset_after else None, hard)
        return states.transpose(0, 1), None


def keras_orthogonal(rows: int, columns: int, generator: torch.Generator | None = None
                     ) -> torch.Tensor:
    """Keras 2's Orthogonal initializer for a (rows, columns) kernel: SVD of a standard normal
    draw, keeping the factor of that shape, so rows (or columns) are orthonormal."""
    draw = torch.randn(rows, columns, generator=generator, dtype=torch.float64)
    u, _, v = torch.linalg.svd(draw, full_matrices=False)
    q = u if u.shape == (rows, columns) else v
    return q.to(torch.float32)
