"""Matmul FLOPs of a ReNet (Table 1's models), counted from the config's layer sizes: what a
training step costs, for the cluster time limits and ``benchmarks/renet_speed.py``. No torch."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rnnrepro.renet.datasets import INPUT_SHAPES  # noqa: F401  (the image shapes, re-exported)
from rnnrepro.renet.units import GATES

CLASSES = 10
# (channels, height, width) of each dataset's images, as the data stage writes them.


def forward_flops(model: Mapping[str, Any], input_shape: Sequence[int],
                  classes: int = CLASSES) -> int:
    """Matmul FLOPs (2 per multiply-add) of one forward pass of one sample; ``model`` is a
    ``renet.models.<dataset>`` entry, ``input_shape`` (channels, height, width)."""
    channels, height, width = input_shape
    gates = GATES[model["cell"]]
    total = 0
    for layer in model["layers"]:
        (ph, pw), d = layer["patch"], layer["hidden"]
        height, width = height // ph, width // pw
        recurrent = 2 * d * gates * d
        vertical = 2 * channels * ph * pw * gates * d + recurrent
        horizontal = 2 * (2 * d) * gates * d + recurrent
        total += 2 * height * width * (vertical + horizontal)  # two directions per sweep
        channels = 2 * d
    width_in = channels * height * width
    for units in (*model["fc"], classes):
        total += 2 * width_in * units
        width_in = units
    return total


def training_flops(model: Mapping[str, Any], input_shape: Sequence[int]) -> int:
    """Forward + backward ~ 3x forward (gradients with respect to inputs and weights)."""
    return 3 * forward_flops(model, input_shape)
