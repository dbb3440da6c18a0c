"""One training job of the memory-capacity experiment: one representation, learning rate, seed.

Follows the authors' Keras setup (``model.fit(..., batch_size=16, shuffle=True)`` one epoch at a
time): RMSprop, cross-entropy between the last output and the label, no gradient clipping, the
training set reshuffled every epoch. Each epoch adds one history row (``loss``/``acc`` are the
running means over the epoch's minibatches, as Keras reports them; ``val_*`` on the held-out
validation split and ``test_*`` on the test split, both after the epoch). The weights of the
epoch with the highest validation accuracy are kept (``best.safetensors``); latency is
measured on the test set with them.

:func:`train_memory` reads top to bottom: :func:`setup_run` (data, model, optimizer, random
stream, checkpoint files), :func:`fit` (resume from the checkpoint, then every epoch train
(:func:`train_epoch`), evaluate, checkpoint, keep the best weights, write the history so far;
helpers of :mod:`rnnrepro.checkpoint`), then latency and :func:`final_metrics`. A killed job
continues from its last epoch.

torch's RMSprop with ``alpha=rho`` is Keras' update: ``a = rho*a + (1-rho)*g^2``,
``w -= lr * g / (sqrt(a) + eps)`` (eps outside the square root, accumulator starting at zero).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from rnnrepro.checkpoint import BestWeights, Checkpointer, HistoryFile, TrainingState
from rnnrepro.data.processed import ProcessedDataset
from rnnrepro.execution import Progress, check_finite, fingerprint, seed_everything
from rnnrepro.files import write_csv, write_json
from rnnrepro.job_settings import RMSprop
from rnnrepro.memory import latency as latency_metric
from rnnrepro.memory.irnn import IRNNClassifier
from rnnrepro.memory.representations import (
    display_name,
    group,
    pixel_order,
    to_sequence,
)
from rnnrepro.memory.runs import BEST_KEYS, paper_name
from rnnrepro.memory.settings import MemorySettings
from rnnrepro.parameters import count_parameters, trainable
from rnnrepro.training_loop import Best, Loop, train_blocks

log = logging.getLogger(__name__)

SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class RunPaths:
    """Every file one run writes (each on the command line; the rule passes them all)."""

    history: Path
    metrics: Path
    latency: Path
    checkpoint: Path
    best: Path


def load_split(dataset: ProcessedDataset, split: str, order: np.ndarray,
               limit: int | None = None, chunk: int = 5000) -> tuple[torch.Tensor, torch.Tensor]:
    """One split as model inputs (N, steps, features) float32 and labels (N,) int64.

    Normalises in image space (per-pixel offset/scale), then rearranges with ``order``; works
    in chunks so a split never exists twice in memory as float32.
    """
    images, labels = dataset.images(split), dataset.labels(split)
    count = len(labels) if limit is None else min(limit, len(labels))
    steps, features = order.shape
    out = np.empty((count, steps, features), dtype=np.float32)
    for start in range(0, count, chunk):
        stop = min(start + chunk, count)
        out[start:stop] = to_sequence(dataset.normalize(images[start:stop]), order)
    return torch.from_numpy(out), torch.from_numpy(np.asarray(labels[:count], dtype=np.int64))


@torch.no_grad()
def evaluate(model: IRNNClassifier, x: torch.Tensor, y: torch.Tensor, batch_size: int,
             device: torch.device) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of the last-step output over a whole split."""
    model.eval()
    loss_sum, correct = 0.0, 0
    for start in range(0, len(y), batch_size):
        xb = x[start:start + batch_size].to(device)
        yb = y[start:start + batch_size].to(device)
        logits = model(xb)
        loss_sum += F.cross_entropy(logits, yb, reduction="sum").item()
        correct += int((logits.argmax(1) == yb).sum().item())
    return loss_sum / len(y), correct / len(y)


@torch.no_grad()
def step_predictions(model: IRNNClassifier, x: torch.Tensor, batch_size: int,
                     device: torch.device) -> np.ndarray:
    """Per-step predicted classes (N, steps): argmax of the output layer at every step."""
    model.eval()
    parts = [model.step_logits(x[s:s + batch_size].to(device)).argmax(-1).cpu().numpy()
             for s in range(0, len(x), batch_size)]
    return np.concatenate(parts)


def rmsprop(model: IRNNClassifier, learning_rate: float, constants: RMSprop
            ) -> torch.optim.RMSprop:
    """Keras' RMSprop (see the module docstring) over the trainable parameters."""
    return torch.optim.RMSprop(trainable(model), lr=learning_rate, alpha=constants.rho,
                               eps=constants.eps, momentum=0.0, centered=False, weight_decay=0.0)


def train_epoch(model: IRNNClassifier, optimizer: torch.optim.Optimizer, x: torch.Tensor,
                y: torch.Tensor, *, shuffle: torch.Generator, batch_size: int,
                device: torch.device, label: str, check_stop: Callable[[], None]
                ) -> tuple[float, float]:
    """One pass over the reshuffled training set; running mean loss and accuracy (as Keras)."""
    model.train()
    perm = torch.randperm(len(y), generator=shuffle).to(device)
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    correct = torch.zeros((), dtype=torch.int64, device=device)
    batches = -(-len(y) // batch_size)
    progress = Progress(batches, label)
    for b in range(batches):
        check_stop()
        idx = perm[b * batch_size:(b + 1) * batch_size]
        xb, yb = x[idx], y[idx]
        logits = model(xb)
        loss = F.cross_entropy(logits, yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss_sum += loss.detach().double() * len(idx)
        correct += (logits.detach().argmax(1) == yb).sum()
        progress.update(b + 1)
    return loss_sum.item() / len(y), correct.item() / len(y)


def _digest(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()[:16]


@dataclass
class Run:
    """One run, set up: its data, model, optimizer, random stream and checkpoint files."""

    representation: str
    learning_rate: float
    seed: int
    settings: MemorySettings
    device: torch.device
    order: np.ndarray                                   # (steps, features) pixel indices
    splits: dict[str, tuple[torch.Tensor, torch.Tensor]]
    model: IRNNClassifier
    optimizer: torch.optim.Optimizer
    shuffle: torch.Generator                            # the training set's epoch order
    checkpointer: Checkpointer
    best: BestWeights

    @property
    def label(self) -> str:
        return f"{self.representation} lr={self.learning_rate:g} seed={self.seed}"


def setup_run(*, data_dir: str | Path, representation: str, learning_rate: float, seed: int,
              settings: MemorySettings, paths: RunPaths, device: torch.device,
              permutations: Mapping[str, Any] | None = None) -> Run:
    """Load the splits, build the model and optimizer from ``seed``, open the checkpoint."""
    dataset = ProcessedDataset(Path(data_dir))
    order = pixel_order(representation, permutations)
    splits = {split: load_split(dataset, split, order,
                                settings.train_subset if split == "train" else None)
              for split in SPLITS}
    images = dataset.manifest.get("splits", {})
    checkpointer = Checkpointer(paths.checkpoint, fingerprint({
        "representation": representation, "learning_rate": learning_rate, "seed": seed,
        **settings.results(), "order": _digest(order),
        "data": {s: images.get(s, {}).get("images_sha256") for s in SPLITS}}))
    seed_everything(seed)  # the model's initial weights
    model = IRNNClassifier(order.shape[1], settings.hidden_size,
                           input_std=settings.input_weight_std).to(device)
    train_x, train_y = splits["train"]
    splits["train"] = (train_x.to(device), train_y.to(device))
    return Run(representation, learning_rate, seed, settings, device, order, splits, model,
               optimizer=rmsprop(model, learning_rate, settings.rmsprop),
               shuffle=torch.Generator().manual_seed(seed),  # as Keras' fit(shuffle=True)
               checkpointer=checkpointer, best=BestWeights(paths.best, checkpointer.fingerprint))


def fit(run: Run, history: HistoryFile) -> TrainingState:
    """Resume, then train every remaining epoch (:func:`rnnrepro.training_loop.train_blocks`):
    evaluate on the validation and test splits, keep the best validation accuracy."""
    settings = run.settings
    (train_x, train_y), (val_x, val_y), (test_x, test_y) = (run.splits[s] for s in SPLITS)

    def epoch(number: int, elapsed: Callable[[], float],
              check_stop: Callable[[], None]) -> list[dict[str, Any]]:
        loss, acc = train_epoch(run.model, run.optimizer, train_x, train_y, shuffle=run.shuffle,
                                batch_size=settings.batch_size, device=run.device,
                                label=f"{run.label} epoch {number}", check_stop=check_stop)
        check_finite(loss, f"{run.label}: training loss in epoch {number}")
        val_loss, val_acc = evaluate(run.model, val_x, val_y, settings.eval_batch_size,
                                     run.device)
        test_loss, test_acc = evaluate(run.model, test_x, test_y, settings.eval_batch_size,
                                       run.device)
        check_finite(val_loss, f"{run.label}: validation loss in epoch {number}")
        return [{"epoch": number, "loss": loss, "acc": acc, "val_loss": val_loss,
                 "val_acc": val_acc, "test_loss": test_loss, "test_acc": test_acc}]

    loop = Loop(run.model, run.optimizer, run.checkpointer, history, {"shuffle": run.shuffle},
                settings.epochs, run.best)
    return train_blocks(loop, epoch, best=Best("val_acc", higher=True))


def final_metrics(run: Run, state: TrainingState, latencies: np.ndarray) -> dict[str, Any]:
    """metrics.json of a finished run: its best epoch's row and the test latency."""
    settings, best = run.settings, state.best_row()
    steps, features = run.order.shape
    return {
        "variant": paper_name(run.representation, settings.batch_size, settings.hidden_size,
                              run.learning_rate),
        "representation": run.representation,
        "display_name": display_name(run.representation),
        "group": group(run.representation),
        "learning_rate": run.learning_rate,
        "seed": run.seed,
        "steps": steps,
        "features": features,
        "epochs": settings.epochs,
        "best": {"epoch": best["epoch"],
                 **{key: best[key] for key in BEST_KEYS}},
        "latency_mean": float(latencies.mean()),
        "latency_median": float(np.median(latencies)),
        "parameters": count_parameters(run.model),
        "sizes": {s: len(run.splits[s][1]) for s in SPLITS},
        "train_wall_time": round(state.elapsed, 3),
        "device": str(run.device),
        "settings": settings.results(),
        "speed": settings.speeds(),
        "fingerprint": run.checkpointer.fingerprint,
    }


def train_memory(*, data_dir: str | Path, representation: str, learning_rate: float, seed: int,
                 settings: MemorySettings, paths: RunPaths, device: torch.device,
                 permutations: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Train (or resume) one run, write history/latency/metrics and return the metrics."""
    started = time.monotonic()
    run = setup_run(data_dir=data_dir, representation=representation,
                    learning_rate=learning_rate, seed=seed, settings=settings, paths=paths,
                    device=device, permutations=permutations)
    sizes = "/".join(str(len(run.splits[s][1])) for s in SPLITS)
    log.info("%s: %d steps x %d features, %s samples, %d parameters, device %s", run.label,
             *run.order.shape, sizes, count_parameters(run.model), device)
    state = fit(run, HistoryFile(paths.history))

    run.best.load(run.model, state.best_epoch)
    steps = run.order.shape[0]
    latencies = latency_metric.latency(step_predictions(
        run.model, run.splits["test"][0], settings.eval_batch_size, device))
    write_csv(paths.latency, latency_metric.distribution(latencies, steps),
              columns=["latency", "count"])
    metrics = final_metrics(run, state, latencies)
    write_json(paths.metrics, metrics)
    run.checkpointer.remove()
    log.info("%s: best epoch %d val_acc %.4f test_acc %.4f latency %.3f (%.0fs this session)",
             run.label, metrics["best"]["epoch"], metrics["best"]["val_acc"],
             metrics["best"]["test_acc"], metrics["latency_mean"], time.monotonic() - started)
    return metrics
