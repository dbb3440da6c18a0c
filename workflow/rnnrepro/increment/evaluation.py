"""Batched hold-out evaluation: per-digit accuracy over all 2N outputs and exact-match rate."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from rnnrepro.increment.holdout import Holdout
from rnnrepro.increment.sequences import make_sequences


@dataclass(frozen=True)
class Accuracy:
    digit: float   # share of correct outputs over all 2N steps (what Keras reports)
    number: float  # share of numbers whose N incremented digits are all correct


class HoldoutEvaluator:
    """Holds a task's hold-out sequences on the device and scores a model on all of them.

    Sequences are built once (in the job's digit order); each call runs the model over chunks
    of ``batch_size`` sequences; no Python loop over numbers.
    """

    def __init__(self, holdout: Holdout, permutation: np.ndarray | None, device: torch.device,
                 batch_size: int):
        inputs, targets = make_sequences(holdout.numbers, holdout.base, permutation)
        self.inputs = torch.from_numpy(inputs).to(device)
        self.targets = torch.from_numpy(targets).to(device)
        self.digits = holdout.digits
        self.batch_size = batch_size

    def __len__(self) -> int:
        return len(self.inputs)

    @torch.inference_mode()
    def __call__(self, model: torch.nn.Module) -> Accuracy:
        was_training = model.training
        model.eval()
        digit_hits = torch.zeros((), dtype=torch.int64, device=self.inputs.device)
        number_hits = torch.zeros_like(digit_hits)
        for start in range(0, len(self), self.batch_size):
            inputs = self.inputs[start:start + self.batch_size]
            correct = model(inputs).argmax(dim=-1) == self.targets[start:start + self.batch_size]
            digit_hits += correct.sum()
            number_hits += correct[:, self.digits:].all(dim=1).sum()
        model.train(was_training)
        return Accuracy(digit=digit_hits.item() / self.targets.numel(),
                        number=number_hits.item() / len(self))
