"""The ReNet layer (Visin et al., 2015, sec. 2): a vertical then a horizontal bidirectional sweep.

The input map (B, C, H, W) is cut into non-overlapping ``ph x pw`` patches, each flattened in
(ph, pw, C) order: pixel rows, then pixels, channels innermost (any fixed order is the same model
up to a permutation of the input weights; this one makes the patch copy read contiguous runs of
channels from the previous layer's output). The vertical sweep reads every
column of patches top to bottom and bottom to top; at each position the two hidden states are
concatenated (forward first, the reverse output re-aligned to its position), giving 2d features.
The horizontal sweep then reads every row of that map left to right and right to left, again
concatenated: the output map is (B, 2d, H/ph, W/pw).

Each sweep is ONE bidirectional RNN over all columns (or rows) of all images, batched as
(B*columns, rows, features) or (B*rows, columns, 2d); patches come from reshape/permute. There is
no Python loop over columns or rows. The RNNs take time-major input (steps, sequences,
features), ATen's own layout, so each sweep's input is built by exactly one copy; the output map
is a permuted view of the horizontal sweep's (columns, B, rows, 2d) result. ``cell: gru`` is the
paper's GRU (:mod:`rnnrepro.renet.paper_gru`: one input product, then a loop over the sweep's
steps only); ``gru-reset-after``, ``lstm`` and ``tanh`` are one ATen/cuDNN call per sweep.
"""

from __future__ import annotations

import torch
from torch import nn

from rnnrepro.cells import make_recurrent
from rnnrepro.renet.dropout import dropout
from rnnrepro.renet.paper_gru import PaperGRU
from rnnrepro.renet.units import RENET_CELLS


def sweep_rnn(cell: str, input_size: int, hidden: int) -> nn.Module:
    """One bidirectional, time-major sweep RNN. ``gru`` is the paper's equation (sec. 4.2: the
    reset gate multiplies h_{t-1} before U), ``gru-reset-after`` PyTorch's/cuDNN's nn.GRU
    (r ⊙ (U h_{t-1} + b)), same parameters; ``lstm`` and ``tanh`` are PyTorch's units."""
    if cell == "gru":
        return PaperGRU(input_size, hidden, bidirectional=True)
    torch_cell = "gru" if cell == "gru-reset-after" else cell
    return make_recurrent(torch_cell, input_size, hidden, bidirectional=True, batch_first=False)


def orthogonal_recurrent_(rnn: nn.Module) -> nn.Module:
    """Orthogonal init of every recurrent matrix, one d x d block per gate (Saxe et al., 2014)."""
    with torch.no_grad():
        for name, param in rnn.named_parameters():
            if name.startswith("weight_hh"):
                for block in param.split(param.shape[1], dim=0):
                    nn.init.orthogonal_(block)
    return rnn


class ReNetLayer(nn.Module):
    """One ReNet layer: patches, vertical bidirectional sweep, horizontal bidirectional sweep.

    ``patch`` is (height, width). Dropout (rate ``dropout``, training only) follows each sweep.
    """

    def __init__(self, in_channels: int, patch: tuple[int, int], hidden: int, cell: str = "gru",
                 dropout: float = 0.0, recurrent_init: str = "orthogonal"):
        super().__init__()
        if cell not in RENET_CELLS:
            raise ValueError(f"ReNet cell {cell!r} unknown; expected one of {RENET_CELLS}")
        if recurrent_init not in ("orthogonal", "default"):
            raise ValueError(f"recurrent_init {recurrent_init!r}: expected orthogonal or default")
        self.patch = (int(patch[0]), int(patch[1]))
        self.hidden = hidden
        self.cell = cell
        self.dropout = dropout
        self.in_features = in_channels * self.patch[0] * self.patch[1]
        self.vertical = sweep_rnn(cell, self.in_features, hidden)
        self.horizontal = sweep_rnn(cell, 2 * hidden, hidden)
        if recurrent_init == "orthogonal":
            orthogonal_recurrent_(self.vertical)
            orthogonal_recurrent_(self.horizontal)

    @property
    def out_channels(self) -> int:
        return 2 * self.hidden

    def grid(self, height: int, width: int) -> tuple[int, int]:
        """(rows, columns) of patches for an input of this size; errors if it does not divide."""
        ph, pw = self.patch
        if height % ph or width % pw:
            raise ValueError(f"input {height}x{width} is not divisible into {ph}x{pw} patches")
        return height // ph, width // pw

    def column_sequences(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (rows, B*columns, ph*pw*C): every column of patches, top to bottom,
        time-major."""
        b, c, h, w = x.shape
        (ph, pw), (rows, cols) = self.patch, self.grid(h, w)
        patches = x.permute(0, 2, 3, 1).reshape(b, rows, ph, cols, pw, c)
        return patches.permute(1, 0, 3, 2, 4, 5).reshape(rows, b * cols, ph * pw * c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        rows, cols = self.grid(h, w)
        v, _ = self.vertical(self.column_sequences(x))             # (rows, B*cols, 2d)
        v = dropout(v, self.dropout, self.training)
        # Re-batch the map by rows: (rows, B, cols, 2d) -> (cols, B*rows, 2d), one copy.
        v = v.reshape(rows, b, cols, -1).permute(2, 1, 0, 3).reshape(cols, b * rows, -1)
        out, _ = self.horizontal(v)                                # (cols, B*rows, 2d)
        out = dropout(out, self.dropout, self.training)
        return out.reshape(cols, b, rows, -1).permute(1, 3, 2, 0)  # (B, 2d, rows, cols) view
