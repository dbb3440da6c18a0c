"""Recurrent layers shared by the experiments, with the initialisations the papers used."""

from __future__ import annotations

import torch
from torch import nn

CELLS = ("rnn", "lstm", "gru", "tanh")


def init_irnn_(rnn: nn.RNN, input_std: float) -> nn.RNN:
    """IRNN initialisation (Le et al., 2015; Keras mnist_irnn): identity recurrent weights,
    N(0, input_std^2) input weights, zero biases. Works on every layer and direction."""
    with torch.no_grad():
        for name, param in rnn.named_parameters():
            if name.startswith("weight_hh"):
                param.copy_(torch.eye(param.shape[0], param.shape[1]))
            elif name.startswith("weight_ih"):
                param.normal_(0.0, input_std)
            elif name.startswith("bias"):
                param.zero_()
    return rnn


def make_recurrent(cell: str, input_size: int, hidden_size: int, *, bidirectional: bool = False,
                   irnn_input_std: float | None = None, batch_first: bool = True) -> nn.RNNBase:
    """One batch-first recurrent layer run by a single cuDNN/ATen call per sequence batch.

    ``rnn`` is the IRNN (ReLU, identity init) of the memory-capacity paper; ``tanh`` is a plain
    tanh RNN with PyTorch's default initialisation; ``lstm``/``gru`` use PyTorch defaults.
    ``batch_first=False`` takes time-major (steps, batch, features) input, ATen's native layout
    (no transposed copies inside the call). ``irnn_input_std`` (the IRNN's input weight std,
    config.yaml's ``memory.input_weight_std``) is required for ``rnn`` and unused otherwise.
    """
    kwargs = {"batch_first": batch_first, "bidirectional": bidirectional}
    if cell == "rnn":
        if irnn_input_std is None:
            raise ValueError("cell 'rnn' (the IRNN) needs irnn_input_std "
                             "(config.yaml: memory.input_weight_std)")
        return init_irnn_(nn.RNN(input_size, hidden_size, nonlinearity="relu", **kwargs),
                          irnn_input_std)
    if cell == "tanh":
        return nn.RNN(input_size, hidden_size, nonlinearity="tanh", **kwargs)
    if cell == "lstm":
        return nn.LSTM(input_size, hidden_size, **kwargs)
    if cell == "gru":
        return nn.GRU(input_size, hidden_size, **kwargs)
    raise ValueError(f"unknown recurrent cell {cell!r}; expected one of {CELLS}")
