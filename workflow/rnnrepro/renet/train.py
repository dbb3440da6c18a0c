"""Training one ReNet (one dataset, one seed) as the paper describes (sec. 4.3).

Adam; dropout after every sweep and FC layer; input masking, flipping and shifting on the training
batches; early stopping on validation error; the best-validation weights (``best.safetensors``)
are evaluated once on the test set; no retraining on train + validation.

:func:`train` reads top to bottom: :func:`setup_run` (splits, model, optimizer, the named random
streams ``shuffle`` and ``augment``, checkpoint files), :func:`fit` (resume from the checkpoint,
then every epoch, until ``max_epochs`` or ``patience`` epochs without a better validation error:
train (:func:`train_epoch`), evaluate, checkpoint, keep the best weights, write the history so
far; helpers of :mod:`rnnrepro.checkpoint`), then the test error and :func:`final_metrics`. A
killed job continues from its last epoch.

History rows: epoch, train_loss, train_error (running means over the epoch's augmented, dropped-out
minibatches), val_loss, val_error, wall_time. Errors are fractions in [0, 1].
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from rnnrepro.checkpoint import (
    BestWeights,
    Checkpointer,
    HistoryFile,
    TrainingState,
)
from rnnrepro.data.processed import ProcessedDataset
from rnnrepro.execution import (
    Progress,
    check_finite,
    fingerprint,
    pick_device,
    seed_everything,
)
from rnnrepro.files import write_json
from rnnrepro.job_settings import check_against_schema
from rnnrepro.parameters import count_parameters
from rnnrepro.renet.augment import augment
from rnnrepro.renet.models import ModelSpec, ReNet
from rnnrepro.renet.precision import autocast, effective_precision
from rnnrepro.renet.settings import RenetSettings
from rnnrepro.renet.units import UNIT_NAMES
from rnnrepro.training_loop import Best, Loop, train_blocks

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    """Everything one training job needs besides the data."""

    dataset: str
    seed: int
    spec: ModelSpec
    settings: RenetSettings
    train_subset: int | None

    @classmethod
    def from_settings(cls, dataset: str, seed: int, settings: Mapping[str, Any],
                      speed: Mapping[str, Any] | None = None) -> Job:
        """From the command's ``--settings`` ({model: renet.models.<dataset>, training: the
        result keys of renet.training, train_subset}) and ``--speed`` (its speed keys)."""
        for key in ("model", "training", "train_subset"):
            if key not in settings:
                raise ValueError(f"--settings lacks {key!r} (expected renet.models.{dataset}, "
                                 "renet.training and renet.train_subset of config.yaml)")
        check_against_schema({"train_subset": settings["train_subset"]},
                             ("renet.schema.yaml", ()), "renet")
        return cls(dataset=dataset, seed=int(seed),
                   spec=ModelSpec.from_config(settings["model"], f"renet.models.{dataset}"),
                   settings=RenetSettings.from_parts(settings["training"], speed),
                   train_subset=settings["train_subset"])

    def fingerprint_data(self) -> dict[str, Any]:
        """What the job's numbers depend on (the checkpoint's fingerprint, with the data)."""
        return {"dataset": self.dataset, "seed": self.seed, "model": asdict(self.spec),
                "training": self.settings.results(), "train_subset": self.train_subset}


class Split:
    """Images (memory-mapped, normalized per batch) and labels of one split."""

    def __init__(self, data: ProcessedDataset, split: str, limit: int | None = None):
        self.data, self.name = data, split
        self.images = data.images(split)
        self.labels = data.labels(split)
        if len(self.images) != len(self.labels):
            raise ValueError(f"{data.root}: {split} has {len(self.images)} images but "
                             f"{len(self.labels)} labels; rerun the dataset's prepare rule")
        if limit is not None:
            if limit > len(self.labels):
                log.warning("train_subset %d exceeds the %d %s images; using all", limit,
                            len(self.labels), split)
            self.images, self.labels = self.images[:limit], self.labels[:limit]
        if len(self.labels) == 0:
            raise ValueError(f"{data.root}: split {split!r} is empty")

    def __len__(self) -> int:
        return len(self.labels)

    def batch(self, index: np.ndarray | slice, device: torch.device
              ) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.from_numpy(self.data.normalize(self.images[index]))
        y = torch.from_numpy(np.asarray(self.labels[index], dtype=np.int64))
        return x.to(device, non_blocking=True), y.to(device, non_blocking=True)


@torch.no_grad()
def evaluate(model: ReNet, split: Split, batch_size: int, device: torch.device,
             precision: str = "fp32") -> tuple[float, float]:
    """Mean cross-entropy and error rate (fraction) of ``model`` on a whole split."""
    model.eval()
    loss_sum, wrong = 0.0, 0
    for start in range(0, len(split), batch_size):
        x, y = split.batch(slice(start, start + batch_size), device)
        with autocast(device, precision):
            logits = model(x).float()
        loss_sum += F.cross_entropy(logits, y, reduction="sum").item()
        wrong += (logits.argmax(1) != y).sum().item()
    return loss_sum / len(split), wrong / len(split)


def make_optimizer(model: ReNet, settings: RenetSettings) -> torch.optim.Adam:
    """Adam; the fused kernel (CPU and CUDA) makes one pass over the ~10^8 FC parameters."""
    return torch.optim.Adam(model.parameters(), lr=settings.learning_rate,
                            weight_decay=settings.weight_decay, fused=True)


def training_step(model: ReNet, optimizer: torch.optim.Optimizer, x: torch.Tensor,
                  y: torch.Tensor, generator: torch.Generator, spec: ModelSpec,
                  settings: RenetSettings, what: str = "training loss",
                  precision: str = "fp32") -> tuple[float, int]:
    """Augment one batch, one Adam update; returns (mean loss, misclassified count).
    ``precision``: the effective one (the forward pass's autocast); the loss is float32."""
    x = augment(x, generator, flipping=spec.flip, shifting=spec.shift,
                input_mask=settings.input_mask)
    with autocast(x.device, precision):
        logits = model(x).float()
    loss = F.cross_entropy(logits, y)
    value = loss.item()
    check_finite(value, what)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return value, int((logits.detach().argmax(1) != y).sum().item())


def minibatches(order: np.ndarray, batch_size: int) -> Iterator[np.ndarray]:
    for start in range(0, len(order), batch_size):
        yield order[start:start + batch_size]


def train_epoch(model: ReNet, optimizer: torch.optim.Optimizer, split: Split, *, job: Job,
                epoch: int, shuffle_rng: np.random.Generator, augment_gen: torch.Generator,
                device: torch.device, check_stop: Callable[[], None],
                precision: str = "fp32") -> tuple[float, float]:
    """One pass over the reshuffled training split; running mean loss and error."""
    settings = job.settings
    model.train()
    order = shuffle_rng.permutation(len(split))
    progress = Progress(math.ceil(len(order) / settings.batch_size), f"epoch {epoch}")
    loss_sum, wrong, seen = 0.0, 0, 0
    for b, idx in enumerate(minibatches(order, settings.batch_size)):
        check_stop()
        x, y = split.batch(idx, device)
        value, batch_wrong = training_step(
            model, optimizer, x, y, augment_gen, job.spec, settings,
            what=f"{job.dataset} seed {job.seed}: training loss at epoch {epoch}, "
                 f"batch {b + 1}", precision=precision)
        loss_sum += value * len(y)
        wrong += batch_wrong
        seen += len(y)
        progress.update(b + 1, loss=loss_sum / seen, error=wrong / seen)
    return loss_sum / seen, wrong / seen


def out_of_patience(state: TrainingState, patience: int) -> bool:
    """Early stopping: ``patience`` epochs have passed without a better validation error."""
    return state.best_epoch is not None and state.blocks_done - state.best_epoch >= patience


@dataclass
class Run:
    """One job, set up: its splits, model, optimizer, random streams and checkpoint files."""

    job: Job
    device: torch.device
    splits: dict[str, Split]
    model: ReNet
    optimizer: torch.optim.Optimizer
    shuffle: np.random.Generator        # the training set's epoch order
    augment: torch.Generator            # masking, flipping and shifting of training batches
    checkpointer: Checkpointer
    best: BestWeights
    precision: str                      # the one used here (effective_precision)

    @property
    def label(self) -> str:
        return f"{self.job.dataset} seed {self.job.seed}"


def shuffle_stream(seed: int) -> np.random.Generator:
    """The epoch order's random stream: numpy's generator on the entropy ``[seed, 1]``."""
    return np.random.default_rng([seed, 1])


def augment_stream(seed: int) -> torch.Generator:
    """The augmentation's random stream (masks, flips, shifts): torch's generator on
    ``seed * 7919 + 17``, a prime multiple plus an offset, so that it never starts where the
    model's initial weights (``seed_everything(seed)``) do. Kept since the first ReNet runs,
    so that their numbers reproduce."""
    return torch.Generator().manual_seed(seed * 7919 + 17)


def setup_run(job: Job, data_root: str | Path, device: torch.device, checkpoint_path: Path,
              best_path: Path) -> Run:
    """Open the splits, build the model and optimizer from the seed, open the checkpoint."""
    data = ProcessedDataset(data_root)
    splits = {"train": Split(data, "train", job.train_subset),
              "validation": Split(data, "validation"), "test": Split(data, "test")}
    seed_everything(job.seed)  # the model's initial weights
    model = ReNet(job.spec, splits["train"].images.shape[1:], dropout=job.settings.dropout,
                  recurrent_init=job.settings.recurrent_init).to(device)
    fp = fingerprint({**job.fingerprint_data(), "data": _data_fingerprint(data)})
    return Run(job, device, splits, model, make_optimizer(model, job.settings),
               shuffle=shuffle_stream(job.seed), augment=augment_stream(job.seed),
               checkpointer=Checkpointer(checkpoint_path, fp, unit=UNIT_NAMES[job.spec.cell]),
               best=BestWeights(best_path, fp),
               precision=effective_precision(job.settings.precision, device))


def fit(run: Run, history: HistoryFile) -> TrainingState:
    """Resume, then train until ``max_epochs`` or ``patience`` epochs without a better
    validation error (:func:`rnnrepro.training_loop.train_blocks`)."""
    settings = run.job.settings

    def epoch(number: int, elapsed: Callable[[], float],
              check_stop: Callable[[], None]) -> list[dict[str, Any]]:
        train_loss, train_error = train_epoch(
            run.model, run.optimizer, run.splits["train"], job=run.job, epoch=number,
            shuffle_rng=run.shuffle, augment_gen=run.augment, device=run.device,
            check_stop=check_stop, precision=run.precision)
        val_loss, val_error = evaluate(run.model, run.splits["validation"],
                                       settings.eval_batch_size, run.device, run.precision)
        check_finite(val_loss, f"{run.label}: validation loss at epoch {number}")
        return [{"epoch": number, "train_loss": train_loss, "train_error": train_error,
                 "val_loss": val_loss, "val_error": val_error}]

    loop = Loop(run.model, run.optimizer, run.checkpointer, history,
                {"shuffle": run.shuffle, "augment": run.augment}, settings.max_epochs, run.best)
    return train_blocks(loop, epoch, best=Best("val_error", higher=False),
                        stop=lambda state: out_of_patience(state, settings.patience))


def final_metrics(run: Run, state: TrainingState, test_loss: float,
                  test_error: float) -> dict[str, Any]:
    """metrics.json of a finished job: its best epoch and that epoch's test error."""
    job = run.job
    return {
        "dataset": job.dataset,
        "seed": job.seed,
        "best_epoch": state.best_epoch,
        "val_error": state.best_value,
        "val_loss": state.best_row()["val_loss"],
        "test_error": test_error,
        "test_loss": test_loss,
        "parameters": count_parameters(run.model),
        "epochs_run": state.blocks_done,
        "stopped_early": state.blocks_done < job.settings.max_epochs,
        "train_images": len(run.splits["train"]),
        "wall_time": round(state.elapsed, 3),
        "device": str(run.device),
        "precision_used": run.precision,
        "architecture": {**job.spec.describe(), "input_shape": list(run.model.input_shape)},
        "training": job.settings.results(),
        "speed": job.settings.speeds(),
    }


def train(job: Job, *, data_root: str | Path, history_path: str | Path,
          metrics_path: str | Path, checkpoint_path: str | Path | None = None,
          best_path: str | Path | None = None, device: str | torch.device = "auto"
          ) -> dict[str, Any]:
    """Train (or resume) one job and write its history CSV, best.safetensors and
    metrics.json."""
    folder = Path(metrics_path).parent
    dev = device if isinstance(device, torch.device) else pick_device(device)
    run = setup_run(job, data_root, dev,
                    Path(checkpoint_path or folder / "checkpoint.safetensors"),
                    Path(best_path or folder / "best.safetensors"))
    sizes = " / ".join(f"{len(split)} {name}" for name, split in run.splits.items())
    log.info("ReNet %s: %d parameters, %s images, %s, %s", run.label,
             count_parameters(run.model), sizes, dev, run.precision)
    state = fit(run, HistoryFile(history_path))

    run.best.load(run.model, state.best_epoch)
    test_loss, test_error = evaluate(run.model, run.splits["test"],
                                     job.settings.eval_batch_size, dev, run.precision)
    metrics = final_metrics(run, state, test_loss, test_error)
    write_json(metrics_path, metrics)
    run.checkpointer.remove()
    log.info("%s: best epoch %d, validation error %.4f, test error %.4f", run.label,
             state.best_epoch, metrics["val_error"], test_error)
    return metrics


def _data_fingerprint(data: ProcessedDataset) -> Any:
    """Checksums of the processed arrays, so a checkpoint never resumes on changed data."""
    try:
        splits = data.manifest["splits"]
    except FileNotFoundError:
        return None
    return {name: [s.get("images_sha256"), s.get("labels_sha256")] for name, s in splits.items()}
