"""The recurrent units a ReNet sweep can use, by config name (no torch import: the paper stage
names them in Table 1)."""

from __future__ import annotations

RENET_CELLS = ("gru", "gru-reset-after", "lstm", "tanh")
# What each config name computes (Table 1's "recurrent unit" row, checkpoints).
UNIT_NAMES = {
    "gru": "GRU, reset before U (paper eq.)",
    "gru-reset-after": "GRU, reset after U (PyTorch/cuDNN)",
    "lstm": "LSTM",
    "tanh": "tanh RNN",
}
# Gate blocks per unit: the input and recurrent products of one step are (gates x d) wide.
GATES = {"gru": 3, "gru-reset-after": 3, "lstm": 4, "tanh": 1}
