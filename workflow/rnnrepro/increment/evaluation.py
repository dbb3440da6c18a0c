"""Batched hold-out evaluation: per-digit accuracy over all 2N outputs and exact-match rate.

Two ways to the same predictions: on the CPU the compiled kernel (:mod:`rnnrepro.increment.
native`, all numbers of the set in one call, SIMD lanes over numbers), elsewhere, for models it
does not know, or where no C compiler is found, the model's own PyTorch forward pass over
chunks. Both give the same accuracies (``tests/test_increment_kernel.py``: every cell, unit
variant and task); the kernel is about ten times faster (``benchmarks/increment_holdout_speed.
py``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from rnnrepro.increment import native
from rnnrepro.increment.holdout import Holdout
from rnnrepro.increment.sequences import make_sequences

log = logging.getLogger(__name__)

Kernel = Literal["auto", "compiled", "torch"]

# Numbers per PyTorch chunk on the CPU: a step's tensors of 2,048 numbers x 16 units stay in the
# second-level cache; the full 300,000-number set of (2, 32) took 3.8 s per GRU evaluation at
# 1,024 against 15 s at 50,000 (one thread; on a GPU the configured eval_batch_size is used).
CPU_CHUNK = 2048

# A prediction whose best logit leads the runner-up by less than this (relative to
# max(1, |best|)) is re-scored in PyTorch. The kernel and PyTorch differ by float rounding
# only (a few units in the 7th digit after 64 steps); 1e-4 leaves a wide berth.
NEAR_TIE = 1e-4


@dataclass(frozen=True)
class Accuracy:
    digit: float   # share of correct outputs over all 2N steps (what Keras reports)
    number: float  # share of numbers whose N incremented digits are all correct


class HoldoutEvaluator:
    """Holds a task's hold-out sequences on the device and scores a model on all of them.

    Sequences are built once (in the job's digit order). ``kernel``: ``auto`` uses the compiled
    kernel where it applies (CPU, an :class:`~rnnrepro.increment.models.IncrementModel`, a
    compiler found) and PyTorch otherwise; ``compiled`` or ``torch`` insist on one (the
    benchmark and the tests compare them). PyTorch runs chunks of ``batch_size`` sequences
    (on the CPU at most :data:`CPU_CHUNK`); no Python loop over numbers either way.
    """

    def __init__(self, holdout: Holdout, permutation: np.ndarray | None, device: torch.device,
                 batch_size: int, kernel: Kernel = "auto"):
        inputs, targets = make_sequences(holdout.numbers, holdout.base, permutation)
        self.inputs = torch.from_numpy(inputs).to(device)
        self.targets = torch.from_numpy(targets).to(device)
        self.digits = holdout.digits
        self.batch_size = min(batch_size, CPU_CHUNK) if device.type == "cpu" else batch_size
        self.kernel = kernel
        self.used: str | None = None  # which way the last call went: "compiled" or "torch"
        self.rescored = 0  # numbers of the last compiled call re-scored in PyTorch (near ties)
        self._numpy_inputs = inputs.astype(np.uint8) if device.type == "cpu" else None
        self._numpy_targets = targets.astype(np.uint8)

    def __len__(self) -> int:
        return len(self.inputs)

    @torch.inference_mode()
    def __call__(self, model: torch.nn.Module) -> Accuracy:
        library = native.load() if self.kernel != "torch" and self._numpy_inputs is not None \
            else None
        weights = native.weights_of(model) if library is not None else None
        if self.kernel == "compiled" and weights is None:
            raise RuntimeError("the compiled hold-out kernel does not apply here (no compiler, "
                               "a GPU device, or a model it does not know); use kernel='auto'")
        if weights is not None:
            predictions = self._compiled(model, library, weights)
            correct = predictions == self._numpy_targets
            self._note("compiled")
            return self._accuracy(int(correct.sum()),
                                  int(correct[:, self.digits:].all(axis=1).sum()))
        self._note("torch")
        return self._torch(model)

    def _note(self, way: str) -> None:
        if self.used != way:
            log.info("hold-out evaluation: %s", "compiled kernel" if way == "compiled" else
                     f"PyTorch, chunks of {self.batch_size:,} numbers")
        self.used = way

    def _compiled(self, model: torch.nn.Module, library: object,
                  weights: native.Weights) -> np.ndarray:
        """The kernel's predictions, with every number that has a near tie at some step
        (margin below :data:`NEAR_TIE`) re-scored by the model in PyTorch: there the two
        orders of summation could round to different digits, and PyTorch's is the reference."""
        predictions, margins = native.predict(library, weights, self._numpy_inputs)
        near = np.flatnonzero((margins < NEAR_TIE).any(axis=1))
        if len(near):
            predictions[near] = self._predict(model, self.inputs[torch.from_numpy(near)]).numpy()
        self.rescored = len(near)
        return predictions

    def _torch(self, model: torch.nn.Module) -> Accuracy:
        correct = self._predict(model, self.inputs) == self.targets
        return self._accuracy(correct.sum(), correct[:, self.digits:].all(dim=1).sum())

    def _predict(self, model: torch.nn.Module, inputs: torch.Tensor) -> torch.Tensor:
        """The model's digit (uint8) at every step of ``inputs``, in eval mode, ``batch_size``
        sequences at a time."""
        was_training = model.training
        model.eval()
        try:
            return torch.cat([model(inputs[start:start + self.batch_size]).argmax(dim=-1)
                              .to(torch.uint8)
                              for start in range(0, len(inputs), self.batch_size)])
        finally:
            model.train(was_training)

    def _accuracy(self, digit_hits: torch.Tensor | int, number_hits: torch.Tensor | int
                  ) -> Accuracy:
        return Accuracy(digit=int(digit_hits) / self.targets.numel(),
                        number=int(number_hits) / len(self))
