"""One training job of the memory-capacity experiment: one representation, learning rate, seed.

Follows the authors' Keras setup (``model.fit(..., batch_size=16, shuffle=True)`` one epoch at a
time): RMSprop, cross-entropy between the last output and the label, no gradient clipping, the
training set reshuffled every epoch. Each epoch adds one history row (``loss``/``acc`` are the
running means over the epoch's minibatches, as Keras reports them; ``val_*`` on the held-out
validation split and ``test_*`` on the test split, both after the epoch). The weights of the
epoch with the highest validation accuracy are kept (``best.pt``); latency is measured on the
test set with them.

:func:`train_memory` shows the loop: resume from the checkpoint, then every epoch train
(:func:`train_epoch`), evaluate, checkpoint, keep the best weights, write the history so far
(helpers of :mod:`rnnrepro.checkpoint`); a killed job continues from its last epoch.

torch's RMSprop with ``alpha=rho`` is Keras' update: ``a = rho*a + (1-rho)*g^2``,
``w -= lr * g / (sqrt(a) + eps)`` (eps outside the square root, accumulator starting at zero).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from rnnrepro.checkpoint import BestWeights, Checkpointer, HistoryFile
from rnnrepro.data.processed import ProcessedDataset
from rnnrepro.files import write_csv, write_json
from rnnrepro.memory import latency as latency_metric
from rnnrepro.memory.irnn import IRNNClassifier, count_parameters, trainable
from rnnrepro.memory.representations import (
    display_name,
    group,
    pixel_order,
    to_sequence,
)
from rnnrepro.memory.runs import paper_name
from rnnrepro.memory.settings import TrainSettings
from rnnrepro.runtime import Progress, check_finite, fingerprint, seed_everything, stop_on_signal

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


def rmsprop(model: IRNNClassifier, learning_rate: float, settings: TrainSettings
            ) -> torch.optim.RMSprop:
    """Keras' RMSprop (see the module docstring) over the trainable parameters."""
    return torch.optim.RMSprop(trainable(model), lr=learning_rate, alpha=settings.rho,
                               eps=settings.eps, momentum=0.0, centered=False, weight_decay=0.0)


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


def train_memory(*, data_dir: str | Path, representation: str, learning_rate: float, seed: int,
                 settings: TrainSettings, paths: RunPaths, device: torch.device,
                 permutations: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Train (or resume) one run, write history/latency/metrics and return the metrics."""
    dataset = ProcessedDataset(Path(data_dir))
    order = pixel_order(representation, permutations)
    steps, features = order.shape
    splits = {split: load_split(dataset, split, order,
                                settings.train_subset if split == "train" else None)
              for split in SPLITS}
    manifest = dataset.manifest
    run_settings = {
        "representation": representation, "learning_rate": learning_rate, "seed": seed,
        **asdict(settings), "order": _digest(order),
        "data": {s: manifest.get("splits", {}).get(s, {}).get("images_sha256") for s in SPLITS},
    }
    checkpointer = Checkpointer(paths.checkpoint, fingerprint(run_settings))

    seed_everything(seed)
    model = IRNNClassifier(features, settings.hidden_size,
                           input_std=settings.input_weight_std).to(device)
    optimizer = rmsprop(model, learning_rate, settings)
    shuffle = torch.Generator().manual_seed(seed)
    (train_x, train_y), (val_x, val_y), (test_x, test_y) = (splits[s] for s in SPLITS)
    train_x, train_y = train_x.to(device), train_y.to(device)
    label = f"{representation} lr={learning_rate:g} seed={seed}"
    log.info("%s: %d steps x %d features, %d/%d/%d samples, %d parameters, device %s", label,
             steps, features, len(train_y), len(val_y), len(test_y), count_parameters(model),
             device)

    best = BestWeights(paths.best, checkpointer.fingerprint)
    history = HistoryFile(paths.history)
    generators = {"shuffle": shuffle}
    start = time.monotonic()
    state = checkpointer.resume(model, optimizer, generators, units=settings.epochs)
    best.keep(model, state)
    with stop_on_signal() as check_stop:
        for epoch in range(state.units_done + 1, settings.epochs + 1):
            started = time.monotonic()
            loss, acc = train_epoch(model, optimizer, train_x, train_y, shuffle=shuffle,
                                    batch_size=settings.batch_size, device=device,
                                    label=f"{label} epoch {epoch}", check_stop=check_stop)
            check_finite(loss, f"{label}: training loss in epoch {epoch}")
            val_loss, val_acc = evaluate(model, val_x, val_y, settings.eval_batch_size, device)
            test_loss, test_acc = evaluate(model, test_x, test_y, settings.eval_batch_size,
                                           device)
            check_finite(val_loss, f"{label}: validation loss in epoch {epoch}")
            if state.best_value is None or val_acc > state.best_value:
                state.best_epoch, state.best_value = epoch, val_acc
            row = {"epoch": epoch, "loss": loss, "acc": acc, "val_loss": val_loss,
                   "val_acc": val_acc, "test_loss": test_loss, "test_acc": test_acc}
            state.end_unit([row], started)
            checkpointer.save(model, optimizer, state, generators)
            best.keep(model, state)
            history.write_partial(state, settings.epochs)
    history.write_final(state.history)

    best.load(model, state.best_epoch)
    best_row = state.best_row()
    latencies = latency_metric.latency(
        step_predictions(model, test_x, settings.eval_batch_size, device))
    write_csv(paths.latency, latency_metric.distribution(latencies, steps),
              columns=["latency", "count"])
    metrics = {
        "variant": paper_name(representation, settings.batch_size, settings.hidden_size,
                                learning_rate),
        "representation": representation,
        "display_name": display_name(representation),
        "group": group(representation),
        "learning_rate": learning_rate,
        "seed": seed,
        "steps": steps,
        "features": features,
        "epochs": settings.epochs,
        "best": {"epoch": best_row["epoch"], "acc": best_row["acc"],
                 "vacc": best_row["val_acc"], "loss": best_row["loss"],
                 "vloss": best_row["val_loss"], "test_acc": best_row["test_acc"],
                 "test_loss": best_row["test_loss"]},
        "latency_mean": float(latencies.mean()),
        "latency_median": float(np.median(latencies)),
        "parameters": count_parameters(model),
        "sizes": {s: len(splits[s][1]) for s in SPLITS},
        "train_wall_time": round(state.elapsed, 3),
        "device": str(device),
        "settings": asdict(settings),
        "fingerprint": checkpointer.fingerprint,
    }
    write_json(paths.metrics, metrics)
    checkpointer.remove()
    log.info("%s: best epoch %d vacc %.4f test_acc %.4f latency %.3f (%.0fs this session)",
             label, best_row["epoch"], best_row["val_acc"], best_row["test_acc"],
             metrics["latency_mean"],
             time.monotonic() - start)
    return metrics

