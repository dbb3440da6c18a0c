"""The classifier of the memory-capacity experiment: one IRNN layer and a softmax output layer.

It mirrors the authors' Keras model (``SimpleRNN(128, relu, identity recurrent init, N(0,
0.001^2) input init)`` + ``Dense(10)`` + softmax):

* the recurrent layer is :func:`rnnrepro.cells.make_recurrent` ``("rnn", ...)``, one ATen/cuDNN
  call per batch whatever the sequence length;
* Keras' SimpleRNN has a single bias vector, PyTorch's RNN two (``bias_ih`` + ``bias_hh``). Both
  start at zero; ``bias_hh`` is frozen at zero so the model has Keras' parameters and the
  RMSprop updates of the bias match Keras' (two trainable copies would move twice as fast);
* the output layer uses Keras' Dense defaults: Glorot-uniform weights, zero bias.
"""

from __future__ import annotations

import torch
from torch import nn

from rnnrepro.cells import make_recurrent

CLASSES = 10


class IRNNClassifier(nn.Module):
    """IRNN over a (batch, steps, features) sequence; class logits from the last step."""

    def __init__(self, input_size: int, hidden_size: int = 128, classes: int = CLASSES,
                 input_std: float = 0.001):
        super().__init__()
        self.rnn = make_recurrent("rnn", input_size, hidden_size, irnn_input_std=input_std)
        self.rnn.bias_hh_l0.requires_grad_(False)
        self.output = nn.Linear(hidden_size, classes)
        nn.init.xavier_uniform_(self.output.weight)
        nn.init.zeros_(self.output.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (batch, classes) after the last step; softmax is in the loss."""
        _, last = self.rnn(x)
        return self.output(last[-1])

    def step_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (batch, steps, classes) of the output layer applied at every step."""
        states, _ = self.rnn(x)
        return self.output(states)


def trainable(model: nn.Module) -> list[nn.Parameter]:
    """The parameters the optimizer updates."""
    return [p for p in model.parameters() if p.requires_grad]


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters (equals the Keras model's count)."""
    return sum(p.numel() for p in trainable(model))
