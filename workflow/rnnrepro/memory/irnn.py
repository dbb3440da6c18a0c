"""The classifier of the memory-capacity experiment: one IRNN layer and a softmax output layer.

It mirrors the authors' Keras model (``SimpleRNN(128, relu, identity recurrent init, N(0,
0.001^2) input init)`` + ``Dense(10)`` + softmax):

* the recurrent layer is :func:`rnnrepro.cells.make_recurrent` ``("rnn", ...)``: one cuDNN call
  per batch on CUDA; on the CPU the same parameters run through
  :func:`rnnrepro.memory.relu_recurrence.relu_recurrence` (the same function, a faster
  backward pass than ATen's CPU RNN);
* Keras' SimpleRNN has a single bias vector, PyTorch's RNN two (``bias_ih`` + ``bias_hh``). Both
  start at zero; ``bias_hh`` is frozen at zero so the model has Keras' parameters and the
  RMSprop updates of the bias match Keras' (two trainable copies would move twice as fast);
* the output layer uses Keras' Dense defaults: Glorot-uniform weights, zero bias.
"""

from __future__ import annotations

import torch
from torch import nn

from rnnrepro.cells import make_recurrent
from rnnrepro.memory.relu_recurrence import relu_recurrence

CLASSES = 10


class IRNNClassifier(nn.Module):
    """IRNN over a (batch, steps, features) sequence; class logits from the last step."""

    def __init__(self, input_size: int, hidden_size: int, input_std: float,
                 classes: int = CLASSES):
        super().__init__()
        self.rnn = make_recurrent("rnn", input_size, hidden_size, irnn_input_std=input_std)
        self.rnn.bias_hh_l0.requires_grad_(False)
        self.output = nn.Linear(hidden_size, classes)
        nn.init.xavier_uniform_(self.output.weight)
        nn.init.zeros_(self.output.bias)

    def recur(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """States (batch, steps, hidden) and the last state (batch, hidden) of the IRNN."""
        if x.device.type != "cpu":
            states, last = self.rnn(x)
            return states, last[-1]
        rnn = self.rnn
        states, last = relu_recurrence(x.transpose(0, 1), rnn.weight_ih_l0, rnn.weight_hh_l0,
                                       rnn.bias_ih_l0 + rnn.bias_hh_l0)
        return states.transpose(0, 1), last

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (batch, classes) after the last step; softmax is in the loss."""
        return self.output(self.recur(x)[1])

    def step_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (batch, steps, classes) of the output layer applied at every step."""
        return self.output(self.recur(x)[0])
