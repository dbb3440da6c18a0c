"""The ReNet classifier of Table 1: stacked ReNet layers, flatten, FC ReLU layers, softmax."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from rnnrepro.renet.dropout import dropout
from rnnrepro.renet.sweeps import ReNetLayer
from rnnrepro.renet.units import RENET_CELLS

CLASSES = 10


@dataclass(frozen=True)
class ModelSpec:
    """One row of Table 1: recurrent cell, ReNet layers (patch, hidden), FC widths, augmentation."""

    cell: str
    layers: tuple[tuple[tuple[int, int], int], ...]
    fc: tuple[int, ...]
    flip: bool
    shift: bool

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any], where: str = "renet.models") -> ModelSpec:
        """Build from a ``renet.models.<dataset>`` config entry, naming any bad key."""
        missing = {"cell", "layers", "fc", "flip", "shift"} - set(cfg)
        if missing:
            raise ValueError(f"{where}: missing key(s) {sorted(missing)}")
        if cfg["cell"] not in RENET_CELLS:
            raise ValueError(f"{where}.cell = {cfg['cell']!r}; expected one of {RENET_CELLS}")
        if not cfg["layers"]:
            raise ValueError(f"{where}.layers is empty; ReNet needs at least one layer")
        layers = []
        for i, layer in enumerate(cfg["layers"]):
            try:
                ph, pw = (int(v) for v in layer["patch"])
                hidden = int(layer["hidden"])
            except (KeyError, TypeError, ValueError) as err:
                raise ValueError(f"{where}.layers[{i}] = {layer!r}: expected "
                                 "{patch: [height, width], hidden: units}") from err
            if min(ph, pw, hidden) < 1:
                raise ValueError(f"{where}.layers[{i}] = {layer!r}: sizes must be positive")
            layers.append(((ph, pw), hidden))
        return cls(cell=cfg["cell"], layers=tuple(layers), fc=tuple(int(v) for v in cfg["fc"]),
                   flip=bool(cfg["flip"]), shift=bool(cfg["shift"]))

    def describe(self) -> dict[str, Any]:
        """Architecture summary (Table 1 columns) for metrics.json."""
        return {
            "cell": self.cell,
            "renet_layers": len(self.layers),
            "patches": ["x".join(map(str, p)) for p, _ in self.layers],
            "renet_hidden": [h for _, h in self.layers],
            "fc_layers": len(self.fc),
            "fc_hidden": list(self.fc),
            "fc_activation": "relu",
            "flip": self.flip,
            "shift": self.shift,
        }


class ReNet(nn.Module):
    """ReNet layers -> flatten -> [Linear, ReLU, dropout] per FC width -> Linear to class logits.

    Dropout follows every sweep (inside :class:`ReNetLayer`) and every FC ReLU layer. The
    softmax lives in the loss (``cross_entropy``); :meth:`forward` returns logits.
    """

    def __init__(self, spec: ModelSpec, input_shape: Sequence[int], *, dropout: float = 0.0,
                 recurrent_init: str = "orthogonal", classes: int = CLASSES):
        super().__init__()
        channels, height, width = (int(v) for v in input_shape)
        self.spec = spec
        self.input_shape = (channels, height, width)
        self.dropout = dropout
        self.renet = nn.ModuleList()
        for i, (patch, hidden) in enumerate(spec.layers):
            layer = ReNetLayer(channels, patch, hidden, spec.cell, dropout, recurrent_init)
            try:
                height, width = layer.grid(height, width)
            except ValueError as err:
                raise ValueError(f"ReNet layer {i + 1}: {err} (input shape {input_shape})") \
                    from err
            channels = layer.out_channels
            self.renet.append(layer)
        self.feature_shape = (channels, height, width)
        self.fc = nn.ModuleList()
        width_in = channels * height * width
        for units in spec.fc:
            self.fc.append(nn.Linear(width_in, units))
            width_in = units
        self.classifier = nn.Linear(width_in, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.renet:
            x = layer(x)
        x = x.flatten(1)
        for fc in self.fc:
            x = dropout(F.relu(fc(x)), self.dropout, self.training)
        return self.classifier(x)
