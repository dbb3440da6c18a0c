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

Batched like ATen's RNN: per direction, one input product for every step of every sequence,
then a loop over the sweep's steps only, with a hand-written backward pass
(:func:`rnnrepro.gated_recurrence.gru_recurrence`, reset before the product, sigmoid gates).
Time-major input, as the sweeps call it.

Under autocast (``renet.training.precision: bf16-mixed``) the matrix products take bfloat16
operands, as autocast's own ``addmm`` does; the recurrence's states, gates and elementwise steps
stay in float32 (the products' results are added in float32), and so do the weights and their
gradients. The kernel writes through ``out=`` tensors, which autocast does not convert, so it
is told the products' dtype instead.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from rnnrepro.gated_recurrence import gru_recurrence


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

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        steps, batch, _ = x.shape
        flat = x.reshape(steps * batch, -1)
        low = autocast_dtype(x.device)
        outputs = []
        for suffix in self.suffixes:
            # Every bias of this equation is added outside the reset gate, so both go into
            # the input products of all steps at once; the reverse direction reads the steps
            # backwards.
            bias = getattr(self, f"bias_ih{suffix}") + getattr(self, f"bias_hh{suffix}")
            weight_hh = getattr(self, f"weight_hh{suffix}")
            gi = torch.addmm(bias, flat, getattr(self, f"weight_ih{suffix}").t())
            gi = gi.view(steps, batch, -1).to(weight_hh.dtype)   # autocast: bfloat16 back
            if suffix.endswith("reverse"):
                gi = gi.flip(0)
            states = gru_recurrence(gi, weight_hh, None, hard=False, low=low)
            outputs.append(states.flip(0) if suffix.endswith("reverse") else states)
        last = torch.stack([outputs[0][-1], *([outputs[1][0]] if self.bidirectional else [])])
        return torch.cat(outputs, dim=-1), last


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """The dtype autocast gives matrix products on ``device`` now, or None when it is off."""
    if torch.is_autocast_enabled(device.type):
        return torch.get_autocast_dtype(device.type)
    return None
