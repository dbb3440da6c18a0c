"""Training one ReNet (one dataset, one seed) as the paper describes (sec. 4.3).

Adam; dropout after every sweep and FC layer; input masking, flipping and shifting on the training
batches; early stopping on validation error; the best-validation weights (``best.pt``) are
evaluated once on the test set; no retraining on train + validation.

:func:`train` shows the loop: resume from the checkpoint, then every epoch (until ``max_epochs``
or ``patience`` epochs without a better validation error) train (:func:`train_epoch`), evaluate,
checkpoint, keep the best weights, write the history so far (helpers of
:mod:`rnnrepro.checkpoint`); a killed job continues from its last epoch.

History rows: epoch, train_loss, train_error (running means over the epoch's augmented, dropped-out
minibatches), val_loss, val_error, wall_time. Errors are fractions in [0, 1].
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
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
from rnnrepro.files import write_json
from rnnrepro.renet.augment import augment
from rnnrepro.renet.models import ModelSpec, ReNet, count_parameters
from rnnrepro.renet.settings import TrainSettings
from rnnrepro.renet.units import UNIT_NAMES
from rnnrepro.runtime import (
    Progress,
    check_finite,
    fingerprint,
    pick_device,
    seed_everything,
    stop_on_signal,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    """Everything one training job needs besides the data."""

    dataset: str
    seed: int
    spec: ModelSpec
    settings: TrainSettings
    train_subset: int | None

    @classmethod
    def from_settings(cls, dataset: str, seed: int, settings: Mapping[str, Any]) -> Job:
        """From the command's ``--settings``: {model: {...}, training: {...}, train_subset}."""
        for key in ("model", "training", "train_subset"):
            if key not in settings:
                raise ValueError(f"--settings lacks {key!r} (expected renet.models.{dataset}, "
                                 "renet.training and renet.train_subset of config.yaml)")
        subset = settings["train_subset"]
        if subset is not None and (not isinstance(subset, int) or subset < 1):
            raise ValueError(f"renet.train_subset = {subset!r}: expected null or a positive int")
        return cls(dataset=dataset, seed=int(seed),
                   spec=ModelSpec.from_config(settings["model"], f"renet.models.{dataset}"),
                   settings=TrainSettings.from_config(settings["training"]), train_subset=subset)

    def fingerprint_data(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "seed": self.seed, "model": asdict(self.spec),
                "training": asdict(self.settings), "train_subset": self.train_subset}


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


def autocast_context(device: torch.device, bf16: bool) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA when asked; CPU runs stay in float32 (bit-exact resumes)."""
    if bf16 and device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@torch.no_grad()
def evaluate(model: ReNet, split: Split, batch_size: int, device: torch.device,
             bf16: bool = False) -> tuple[float, float]:
    """Mean cross-entropy and error rate (fraction) of ``model`` on a whole split."""
    model.eval()
    loss_sum, wrong = 0.0, 0
    for start in range(0, len(split), batch_size):
        x, y = split.batch(slice(start, start + batch_size), device)
        with autocast_context(device, bf16):
            logits = model(x).float()
        loss_sum += F.cross_entropy(logits, y, reduction="sum").item()
        wrong += (logits.argmax(1) != y).sum().item()
    return loss_sum / len(split), wrong / len(split)


def make_optimizer(model: ReNet, settings: TrainSettings) -> torch.optim.Adam:
    """Adam; the fused kernel (CPU and CUDA) makes one pass over the ~10^8 FC parameters."""
    return torch.optim.Adam(model.parameters(), lr=settings.learning_rate,
                            weight_decay=settings.weight_decay, fused=True)


def training_step(model: ReNet, optimizer: torch.optim.Optimizer, x: torch.Tensor,
                  y: torch.Tensor, generator: torch.Generator, spec: ModelSpec,
                  settings: TrainSettings, what: str = "training loss") -> tuple[float, int]:
    """Augment one batch, one Adam update; returns (mean loss, misclassified count)."""
    x = augment(x, generator, flipping=spec.flip, shifting=spec.shift,
                input_mask=settings.input_mask)
    with autocast_context(x.device, settings.bf16):
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
                device: torch.device, check_stop: Callable[[], None]) -> tuple[float, float]:
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
                 f"batch {b + 1}")
        loss_sum += value * len(y)
        wrong += batch_wrong
        seen += len(y)
        progress.update(b + 1, loss=loss_sum / seen, error=wrong / seen)
    return loss_sum / seen, wrong / seen


def out_of_patience(state: TrainingState, patience: int) -> bool:
    """Early stopping: ``patience`` epochs have passed without a better validation error."""
    return state.best_epoch is not None and state.units_done - state.best_epoch >= patience


def train(job: Job, *, data_root: str | Path, history_path: str | Path,
          metrics_path: str | Path, checkpoint_path: str | Path | None = None,
          best_path: str | Path | None = None, device: str | torch.device = "auto"
          ) -> dict[str, Any]:
    """Train (or resume) one job and write its history CSV, best.pt and metrics.json."""
    metrics_path = Path(metrics_path)
    folder = metrics_path.parent
    checkpoint_path = Path(checkpoint_path or folder / "checkpoint.pt")
    best_path = Path(best_path or folder / "best.pt")
    data = ProcessedDataset(data_root)
    train_split = Split(data, "train", job.train_subset)
    val_split, test_split = Split(data, "validation"), Split(data, "test")
    dev = device if isinstance(device, torch.device) else pick_device(device)
    settings, spec = job.settings, job.spec

    seed_everything(job.seed)
    model = ReNet(spec, train_split.images.shape[1:], dropout=settings.dropout,
                  recurrent_init=settings.recurrent_init).to(dev)
    optimizer = make_optimizer(model, settings)
    parameters = count_parameters(model)
    shuffle_rng = np.random.default_rng([job.seed, 1])
    augment_gen = torch.Generator().manual_seed(job.seed * 7919 + 17)
    fp = fingerprint({**job.fingerprint_data(), "data": _data_fingerprint(data)})
    checkpointer = Checkpointer(checkpoint_path, fp, unit=UNIT_NAMES[spec.cell])
    log.info("ReNet %s seed %d: %d parameters, %d train / %d validation / %d test images, %s",
             job.dataset, job.seed, parameters, len(train_split), len(val_split),
             len(test_split), dev)

    best = BestWeights(best_path, fp)
    history = HistoryFile(history_path)
    generators = {"shuffle": shuffle_rng, "augment": augment_gen}
    state = checkpointer.resume(model, optimizer, generators, units=settings.max_epochs)
    best.keep(model, state)
    with stop_on_signal() as check_stop:
        for epoch in range(state.units_done + 1, settings.max_epochs + 1):
            if out_of_patience(state, settings.patience):
                break
            started = time.monotonic()
            train_loss, train_error = train_epoch(
                model, optimizer, train_split, job=job, epoch=epoch, shuffle_rng=shuffle_rng,
                augment_gen=augment_gen, device=dev, check_stop=check_stop)
            val_loss, val_error = evaluate(model, val_split, settings.eval_batch_size, dev,
                                           settings.bf16)
            check_finite(val_loss, f"{job.dataset} seed {job.seed}: validation loss at epoch "
                                   f"{epoch}")
            if state.best_value is None or val_error < state.best_value:
                state.best_epoch, state.best_value = epoch, val_error
            state.end_unit([{"epoch": epoch, "train_loss": train_loss,
                             "train_error": train_error, "val_loss": val_loss,
                             "val_error": val_error}], started)
            checkpointer.save(model, optimizer, state, generators)
            best.keep(model, state)
            history.write_partial(state, settings.max_epochs)
    history.write_final(state.history)

    best.load(model, state.best_epoch)
    test_loss, test_error = evaluate(model, test_split, settings.eval_batch_size, dev,
                                     settings.bf16)
    metrics = {
        "dataset": job.dataset,
        "seed": job.seed,
        "best_epoch": state.best_epoch,
        "val_error": state.best_value,
        "val_loss": state.best_row()["val_loss"],
        "test_error": test_error,
        "test_loss": test_loss,
        "parameters": parameters,
        "epochs_run": state.units_done,
        "stopped_early": state.units_done < settings.max_epochs,
        "train_images": len(train_split),
        "wall_time": round(state.elapsed, 3),
        "device": str(dev),
        "architecture": {**spec.describe(), "input_shape": list(model.input_shape)},
        "training": asdict(settings),
    }
    write_json(metrics_path, metrics)
    checkpointer.remove()
    log.info("%s seed %d: best epoch %d, validation error %.4f, test error %.4f", job.dataset,
             job.seed, state.best_epoch, metrics["val_error"], test_error)
    return metrics


def _data_fingerprint(data: ProcessedDataset) -> Any:
    """Checksums of the processed arrays, so a checkpoint never resumes on changed data."""
    try:
        splits = data.manifest["splits"]
    except FileNotFoundError:
        return None
    return {name: [s.get("images_sha256"), s.get("labels_sha256")] for name, s in splits.items()}
