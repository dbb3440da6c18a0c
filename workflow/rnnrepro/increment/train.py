"""One increment training job: (K, N) x order x cell x seed, hold-out accuracy after every
``eval_every`` minibatches.

:func:`train_job` shows the loop: resume from the checkpoint, then every checkpointed block of
``settings.block_size`` minibatches (the first opens with an evaluation of the untrained model at
minibatch 0): train ``eval_every`` minibatches (:func:`train_span`) and evaluate on the hold-out
set, repeatedly; checkpoint; write the history so far (helpers of :mod:`rnnrepro.checkpoint`).
A killed job continues from its last block.

Training numbers are drawn fresh for every minibatch by a generator seeded with (seed, K, N), and
the model is initialised from ``seed``: for one seed, every order and cell of a task sees the same
numbers, so simple vs complicated is a paired comparison.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnnrepro.checkpoint import Checkpointer, HistoryFile
from rnnrepro.execution import Progress, check_finite, fingerprint, seed_everything
from rnnrepro.files import write_json
from rnnrepro.increment.evaluation import Accuracy, HoldoutEvaluator
from rnnrepro.increment.holdout import Holdout
from rnnrepro.increment.models import IncrementModel, sequence_loss
from rnnrepro.increment.numbers import draw_numbers
from rnnrepro.increment.sequences import make_sequences
from rnnrepro.increment.settings import IncrementSettings
from rnnrepro.training_loop import Loop, train_blocks

log = logging.getLogger(__name__)

HISTORY_COLUMNS = ("minibatch", "epoch", "train_loss", "digit_acc", "number_acc", "wall_time")
TARGET_NUMBER_ACC = 0.99  # metrics report the first minibatch reaching this exact-match rate


@dataclass(frozen=True)
class Job:
    """Which model variant a training job trains."""

    base: int
    digits: int
    order: str   # simple | complicated
    cell: str    # rnn | lstm | gru
    seed: int

    @property
    def label(self) -> str:
        return f"K{self.base}-N{self.digits} {self.order} {self.cell} seed{self.seed}"


def train_job(job: Job, settings: IncrementSettings, holdout: Holdout,
              permutation: np.ndarray | None, device: torch.device, *,
              history_path: str | Path, metrics_path: str | Path,
              checkpoint_path: str | Path) -> dict[str, Any]:
    """Train, write ``history_path`` and ``metrics_path``, remove the checkpoint; return metrics."""
    if (job.order == "complicated") != (permutation is not None):
        raise ValueError(f"order {job.order!r} needs "
                         f"{'a' if job.order == 'complicated' else 'no'} permutation")
    seed_everything(job.seed)
    model = IncrementModel(job.cell, job.base, settings.hidden_size, settings.units,
                           settings.irnn_input_std).to(device)
    optimizer = torch.optim.RMSprop(model.parameters(), lr=settings.learning_rate,
                                    alpha=settings.rmsprop.rho, eps=settings.rmsprop.eps)
    data_rng = np.random.default_rng([job.seed, job.base, job.digits])
    evaluator = HoldoutEvaluator(holdout, permutation, device, settings.eval_batch_size)
    checkpointer = Checkpointer(checkpoint_path, fingerprint({
        "job": asdict(job), "settings": settings.results(), "holdout": holdout.digest(),
        "permutation": None if permutation is None else permutation.tolist()}))
    total = settings.minibatches
    blocks = math.ceil(total / settings.block_size)
    progress = Progress(total, job.label)
    log.info("%s: %d minibatches, evaluation every %d on %d hold-out numbers, device %s",
             job.label, total, settings.eval_every, len(evaluator), device)

    def train_block(block: int, elapsed: Callable[[], float],
                    check_stop: Callable[[], None]) -> list[dict[str, Any]]:
        rows = [history_row(0, math.nan, evaluator(model), settings, elapsed())] \
            if block == 1 else []
        for span in evaluation_spans(block - 1, settings):
            train_loss = train_span(model, optimizer, span, job=job, settings=settings,
                                    rng=data_rng, permutation=permutation, device=device,
                                    check_stop=check_stop)
            check_finite(train_loss, f"{job.label}: training loss at minibatch {span[-1]}")
            rows.append(history_row(span[-1], train_loss, evaluator(model), settings,
                                    elapsed()))
            progress.update(span[-1], loss=train_loss, digit_acc=rows[-1]["digit_acc"],
                            number_acc=rows[-1]["number_acc"])
        return rows

    state = train_blocks(Loop(model, optimizer, checkpointer, HistoryFile(history_path),
                              {"data": data_rng}, blocks), train_block)

    metrics = summarize_history(state.history, job, settings, holdout, permutation, device,
                                state.elapsed)
    write_json(metrics_path, metrics)
    checkpointer.remove()
    return metrics


def evaluation_spans(block: int, settings: IncrementSettings) -> list[range]:
    """The minibatch numbers (from 1) of checkpointed block ``block`` (from 0), cut after each
    evaluation: every ``eval_every``-th minibatch and the last one. ``block_size`` is a multiple
    of ``eval_every``, so every block ends with an evaluation."""
    total, size = settings.minibatches, settings.block_size
    spans, first = [], block * size + 1
    for minibatch in range(first, min(total, (block + 1) * size) + 1):
        if minibatch % settings.eval_every == 0 or minibatch == total:
            spans.append(range(first, minibatch + 1))
            first = minibatch + 1
    return spans


def train_span(model: IncrementModel, optimizer: torch.optim.Optimizer, span: range, *,
               job: Job, settings: IncrementSettings, rng: np.random.Generator,
               permutation: np.ndarray | None, device: torch.device,
               check_stop: Callable[[], None]) -> float:
    """One RMSprop update per minibatch of ``span`` on freshly drawn numbers; the mean loss."""
    loss_sum = torch.zeros((), device=device)
    for _ in span:
        check_stop()
        numbers = draw_numbers(rng, settings.batch_size, job.base, job.digits,
                               settings.interesting_probability)
        inputs, targets = make_sequences(numbers, job.base, permutation)
        loss = sequence_loss(model(torch.from_numpy(inputs).to(device)),
                             torch.from_numpy(targets).to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss_sum += loss.detach()
    return loss_sum.item() / len(span)


def history_row(minibatch: int, train_loss: float, accuracy: Accuracy, settings: IncrementSettings,
                wall_time: float) -> dict[str, Any]:
    """One history row: an evaluation after ``minibatch`` minibatches."""
    return {"minibatch": minibatch, "epoch": round(minibatch / settings.batches_per_epoch, 6),
            "train_loss": train_loss, "digit_acc": accuracy.digit,
            "number_acc": accuracy.number, "wall_time": wall_time}


def summarize_history(history: list[dict[str, Any]], job: Job, settings: IncrementSettings,
                      holdout: Holdout, permutation: np.ndarray | None, device: torch.device,
                      wall_time: float) -> dict[str, Any]:
    """metrics.json: the job, final and best hold-out accuracies, and what produced them."""
    final = history[-1]
    best_digit = max(history, key=lambda row: row["digit_acc"])
    best_number = max(history, key=lambda row: row["number_acc"])
    reached = [row["minibatch"] for row in history if row["number_acc"] >= TARGET_NUMBER_ACC]
    return {
        **asdict(job),
        "minibatches": final["minibatch"],
        "epochs": final["epoch"],
        "evaluations": len(history),
        "final_train_loss": final["train_loss"],
        "final_digit_acc": final["digit_acc"],
        "final_number_acc": final["number_acc"],
        "best_digit_acc": best_digit["digit_acc"],
        "best_digit_acc_minibatch": best_digit["minibatch"],
        "best_number_acc": best_number["number_acc"],
        "best_number_acc_minibatch": best_number["minibatch"],
        f"minibatches_to_number_acc_{TARGET_NUMBER_ACC:g}": reached[0] if reached else None,
        "wall_time": round(wall_time, 3),
        "device": str(device),
        "holdout": {"size": len(holdout.numbers), "exhaustive": holdout.exhaustive,
                    "digest": holdout.digest()},
        "permutation": None if permutation is None else permutation.tolist(),
        "settings": settings.results(),
        "speed": settings.speeds(),
    }
