"""The GRU of the ReNet paper (sec. 4.2): the reset gate applied *before* the recurrent product.

    h_t = (1 − u_t) ⊙ h_{t−1} + u_t ⊙ h̃_t
    h̃_t = tanh(W x_t + U (r_t ⊙ h_{t−1}) + b)
    [u_t; r_t] = σ(W_g x_t + U_g h_{t−1} + b_g)

(Cho et al., 2014; Keras' ``GRU(reset_after=False)``). PyTorch's and cuDNN's ``nn.GRU`` apply
the reset gate *after* the product, ``r_t ⊙ (U h_{t−1} + b)``: a different function of the same
weights. :class:`PaperGRU` keeps ``nn.GRU``'s parameter names, shapes and gate meanings
(``weight_ih_l0``, ``weight_hh_l0``, ``bias_ih_l0``, ``bias_hh_l0`` and the ``_reverse`` set;
gate rows in the order r, z, n; ``h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_{t−1}``, so the paper's u_t is
1 − z_t and its b is ``bias_ih_n + bias_hh_n``), so weights move between the two and only where
r_t applies differs.

Batched like ATen's RNN: one input product for every step of every sequence and both
directions, then a loop over the sweep's steps only, both directions in the same batched
products (``baddbmm`` over a direction axis of 2). Time-major input, as the sweeps call it.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class PaperGRU(nn.Module):
    """One-layer (bi)directional GRU with the reset gate before the recurrent product.

    ``forward(x)`` takes (steps, batch, input_size) and returns ``(output, h_n)`` like
    ``nn.GRU(batch_first=False)``: output (steps, batch, directions * hidden), the reverse
    direction's outputs aligned with their positions; h_n (directions, batch, hidden).
    """

    def __init__(self, input_size: int, hidden_size: int, bidirectional: bool = True):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.bidirectional = bidirectional
        self.suffixes = ("_l0", "_l0_reverse") if bidirectional else ("_l0",)
        gates = 3 * hidden_size
        for suffix in self.suffixes:
            self.register_parameter(f"weight_ih{suffix}",
                                    nn.Parameter(torch.empty(gates, input_size)))
            self.register_parameter(f"weight_hh{suffix}",
                                    nn.Parameter(torch.empty(gates, hidden_size)))
            self.register_parameter(f"bias_ih{suffix}", nn.Parameter(torch.empty(gates)))
            self.register_parameter(f"bias_hh{suffix}", nn.Parameter(torch.empty(gates)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """nn.GRU's initialisation: every weight and bias uniform(±1/√hidden)."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for param in self.parameters():
            nn.init.uniform_(param, -bound, bound)

    def _stacked(self, name: str) -> torch.Tensor:
        return torch.stack([getattr(self, f"{name}{s}") for s in self.suffixes])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        steps, batch, _ = x.shape
        hidden, directions = self.hidden_size, len(self.suffixes)
        # Every bias of this equation is added outside the reset gate, so both bias vectors
        # go into the input products: (directions, steps * batch, 3H), the reverse direction
        # on the steps read backwards.
        inputs = x.reshape(1, steps * batch, -1) if directions == 1 else torch.stack(
            (x, x.flip(0))).view(2, steps * batch, -1)
        bias = (self._stacked("bias_ih") + self._stacked("bias_hh")).unsqueeze(1)
        gi = torch.baddbmm(bias, inputs, self._stacked("weight_ih").transpose(1, 2))
        gi_rz, gi_n = gi.view(directions, steps, batch, 3 * hidden).split(
            [2 * hidden, hidden], dim=-1)
        w_hh = self._stacked("weight_hh").transpose(1, 2)        # (directions, H, 3H)
        w_rz, w_n = w_hh[..., :2 * hidden], w_hh[..., 2 * hidden:]
        h = x.new_zeros(directions, batch, hidden)
        # Per-step views made by unbind, whose backward is one stack: indexing the big tensors
        # step by step would make autograd fill a full-size zero gradient per step.
        outputs = []
        for g_rz, g_n in zip(gi_rz.unbind(1), gi_n.unbind(1), strict=True):
            r, z = torch.sigmoid(torch.baddbmm(g_rz, h, w_rz)).chunk(2, dim=-1)
            n = torch.tanh(torch.baddbmm(g_n, r * h, w_n))
            h = torch.lerp(n, h, z)                               # (1 − z) n + z h
            outputs.append(h)
        states = torch.stack(outputs)                             # (steps, directions, B, H)
        if directions == 1:
            return states[:, 0], h
        return torch.cat((states[:, 0], states[:, 1].flip(0)), dim=-1), h
