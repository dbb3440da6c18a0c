"""One training job of the memory-capacity experiment: one representation, learning rate, seed.

Follows the authors' Keras setup (``model.fit(..., batch_size=16, shuffle=True)`` one epoch at a
time): RMSprop, cross-entropy between the last output and the label, no gradient clipping, the
training set reshuffled every epoch. Each epoch adds one history row (``loss``/``acc`` are the
running means over the epoch's minibatches, as Keras reports them; ``val_*`` on the held-out
validation split and ``test_*`` on the test split, both after the epoch). The weights of the
epoch with the highest validation accuracy are kept (``best.pt``); latency is measured on the
test set with them.

torch's RMSprop with ``alpha=rho`` is Keras' update: ``a = rho*a + (1-rho)*g^2``,
``w -= lr * g / (sqrt(a) + eps)`` (eps outside the square root, accumulator starting at zero).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from rnnrepro.checkpoint import Checkpointer, RunState, run_resumable
from rnnrepro.data.processed import ProcessedDataset
from rnnrepro.files import atomic_path, write_csv, write_json
from rnnrepro.memory import latency as latency_metric
from rnnrepro.memory.irnn import IRNNClassifier, count_parameters, trainable
from rnnrepro.memory.representations import (
    display_name,
    group,
    pixel_order,
    to_sequence,
    variant_name,
)
from rnnrepro.memory.settings import TrainSettings
from rnnrepro.runtime import Progress, check_finite, fingerprint, seed_everything

log = logging.getLogger(__name__)

SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class RunPaths:
    """Files of one run; the checkpoint and best weights live beside the metrics."""

    history: Path
    metrics: Path
    latency: Path
    checkpoint: Path
    best: Path

    @classmethod
    def beside(cls, history: str | Path, metrics: str | Path, latency: str | Path,
               checkpoint: str | Path | None = None) -> RunPaths:
        metrics = Path(metrics)
        checkpoint = Path(checkpoint) if checkpoint else metrics.parent / "checkpoint.pt"
        return cls(Path(history), metrics, Path(latency), checkpoint,
                   checkpoint.parent / "best.pt")


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

    def run_epoch(index: int, run: RunState, check_stop: Any) -> dict[str, Any]:
        model.train()
        perm = torch.randperm(len(train_y), generator=shuffle).to(device)
        loss_sum = torch.zeros((), dtype=torch.float64, device=device)
        correct = torch.zeros((), dtype=torch.int64, device=device)
        batches = -(-len(train_y) // settings.batch_size)
        progress = Progress(batches, f"{label} epoch {index + 1}")
        for b in range(batches):
            check_stop()
            idx = perm[b * settings.batch_size:(b + 1) * settings.batch_size]
            xb, yb = train_x[idx], train_y[idx]
            logits = model(xb)
            loss = F.cross_entropy(logits, yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach().double() * len(idx)
            correct += (logits.detach().argmax(1) == yb).sum()
            progress.update(b + 1)
        train_loss = loss_sum.item() / len(train_y)
        check_finite(train_loss, f"{label}: training loss in epoch {index + 1}")
        val_loss, val_acc = evaluate(model, val_x, val_y, settings.eval_batch_size, device)
        test_loss, test_acc = evaluate(model, test_x, test_y, settings.eval_batch_size, device)
        check_finite(val_loss, f"{label}: validation loss in epoch {index + 1}")
        row = {"epoch": index + 1, "loss": train_loss, "acc": correct.item() / len(train_y),
               "val_loss": val_loss, "val_acc": val_acc, "test_loss": test_loss,
               "test_acc": test_acc}
        if not run.history or val_acc > max(r["val_acc"] for r in run.history):
            run.extra["best_epoch"] = index + 1
            run.extra["best_state"] = {k: v.detach().cpu().clone()
                                       for k, v in model.state_dict().items()}
            save_best(paths.best, run.extra, checkpointer.fingerprint)
        return row

    start = time.monotonic()
    run = run_resumable(checkpointer=checkpointer, model=model, optimizer=optimizer,
                        units=settings.epochs, run_unit=run_epoch, history_path=paths.history,
                        generators={"shuffle": shuffle})
    best = next(r for r in run.history if r["epoch"] == run.extra["best_epoch"])
    save_best(paths.best, run.extra, checkpointer.fingerprint)
    model.load_state_dict(run.extra["best_state"])
    latencies = latency_metric.latency(
        step_predictions(model, test_x, settings.eval_batch_size, device))
    write_csv(paths.latency, latency_metric.distribution(latencies, steps),
              columns=["latency", "count"])
    metrics = {
        "variant": variant_name(representation, settings.batch_size, settings.hidden_size,
                                learning_rate),
        "representation": representation,
        "display_name": display_name(representation),
        "group": group(representation),
        "learning_rate": learning_rate,
        "seed": seed,
        "steps": steps,
        "features": features,
        "epochs": settings.epochs,
        "best": {"epoch": best["epoch"], "acc": best["acc"], "vacc": best["val_acc"],
                 "loss": best["loss"], "vloss": best["val_loss"], "test_acc": best["test_acc"],
                 "test_loss": best["test_loss"]},
        "latency_mean": float(latencies.mean()),
        "latency_median": float(np.median(latencies)),
        "parameters": count_parameters(model),
        "sizes": {s: len(splits[s][1]) for s in SPLITS},
        "train_wall_time": round(run.elapsed, 3),
        "device": str(device),
        "settings": asdict(settings),
        "fingerprint": checkpointer.fingerprint,
    }
    write_json(paths.metrics, metrics)
    checkpointer.remove()
    log.info("%s: best epoch %d vacc %.4f test_acc %.4f latency %.3f (%.0fs this session)",
             label, best["epoch"], best["val_acc"], best["test_acc"], metrics["latency_mean"],
             time.monotonic() - start)
    return metrics


def save_best(path: Path, extra: Mapping[str, Any], run_fingerprint: str) -> None:
    """Write the best epoch's weights atomically (``best.pt``: fingerprint, epoch, model)."""
    with atomic_path(path, suffix=".pt") as tmp:
        torch.save({"fingerprint": run_fingerprint, "epoch": extra["best_epoch"],
                    "model": extra["best_state"]}, tmp)
