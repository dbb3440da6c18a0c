"""Helpers for the training loops: training state, checkpoint, best weights, history file.

Each training job (memory, increment, ReNet) writes its loop out in its own ``train.py``: resume
from the checkpoint, then for every block (an epoch, or a run of minibatches) train, evaluate,
checkpoint, keep the best weights and write the history so far. The loop calls these helpers:

- :class:`TrainingState`: history rows, training seconds, blocks done, best epoch and its value;
- :class:`Checkpointer`: ``checkpoint.pt`` with the model, optimizer, every RNG state and the
  state (``resume``, ``save``, ``remove``; refuses a checkpoint of other settings or of another
  recurrent unit);
- :class:`BestWeights`: ``best.pt`` with the best epoch's weights (``save``, ``load``);
- :class:`HistoryFile`: ``<history>.partial.csv`` while running, the history once complete;
- one log line per block (:meth:`HistoryFile.write_partial`).

SIGTERM/SIGINT stop a loop at a safe point through :func:`rnnrepro.runtime.stop_on_signal`. A job
killed by a time limit or preemption continues where its last checkpoint left off, and a resumed
run on CPU ends with the same numbers as an uninterrupted one.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnnrepro.files import atomic_path, write_csv

log = logging.getLogger(__name__)

Generators = Mapping[str, "torch.Generator | np.random.Generator"]


def rng_state(generators: Generators) -> dict[str, Any]:
    """Capture every random state a run depends on."""
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "named": {},
    }
    for name, gen in generators.items():
        if isinstance(gen, torch.Generator):
            state["named"][name] = gen.get_state()
        else:
            state["named"][name] = gen.bit_generator.state
    return state


def restore_rng_state(state: dict[str, Any], generators: Generators) -> None:
    """Put back what :func:`rng_state` captured."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    for name, gen in generators.items():
        saved = state["named"][name]
        if isinstance(gen, torch.Generator):
            gen.set_state(saved)
        else:
            gen.bit_generator.state = saved


@dataclass
class TrainingState:
    """What a run carries from one block (an epoch, or a run of minibatches) to the next."""

    history: list[dict[str, Any]] = field(default_factory=list)
    elapsed: float = 0.0                # seconds of training, summed over sessions
    blocks_done: int = 0                # blocks finished and checkpointed
    best_epoch: int | None = None       # the epoch whose weights best.pt keeps
    best_value: float | None = None     # its validation number the trainer ranks epochs by

    def wall_time(self, started: float) -> float:
        """Training seconds so far, in a block that began at ``started`` (time.monotonic())."""
        return round(self.elapsed + time.monotonic() - started, 3)

    def end_block(self, rows: list[dict[str, Any]], started: float) -> None:
        """Count a finished block: add its seconds, stamp rows lacking ``wall_time`` with the
        total, append them to the history."""
        self.elapsed += time.monotonic() - started
        for row in rows:
            row.setdefault("wall_time", round(self.elapsed, 3))
        self.history.extend(rows)
        self.blocks_done += 1

    def best_row(self) -> dict[str, Any]:
        """The history row of :attr:`best_epoch`."""
        return next(row for row in self.history if row["epoch"] == self.best_epoch)


class Checkpointer:
    """Save and restore a run's full state at ``path``; refuses state from different settings."""

    def __init__(self, path: str | Path, fingerprint: str, unit: str | None = None):
        """``unit`` names the model's recurrent unit where two units share parameter names
        (e.g. the paper's GRU and PyTorch's): a checkpoint of another unit is refused."""
        self.path = Path(path)
        self.fingerprint = fingerprint
        self.unit = unit

    def save(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
             state: TrainingState, generators: Generators) -> None:
        """Write model, optimizer, RNG states and ``state`` atomically."""
        payload = {
            "fingerprint": self.fingerprint,
            "unit": self.unit,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "state": asdict(state),
            "rng": rng_state(generators),
        }
        with atomic_path(self.path) as tmp:
            torch.save(payload, tmp)

    def load(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
             generators: Generators) -> TrainingState | None:
        """Restore state if a checkpoint of the same settings exists; else return None."""
        if not self.path.exists():
            return None
        payload = torch.load(self.path, map_location="cpu", weights_only=False)
        if self.unit is not None and payload.get("unit") != self.unit:
            written = payload.get("unit")
            raise ValueError(
                f"{self.path} was written by a model with recurrent unit "
                f"{written or 'not recorded (before rnnrepro named GRU variants)'!r}, this job "
                f"uses {self.unit!r}: the units share parameter names but compute different "
                "functions, so the weights cannot be resumed. Delete the checkpoint to train "
                "this job from the start")
        if payload.get("fingerprint") != self.fingerprint:
            log.warning("%s was written with different settings; starting from scratch",
                        self.path)
            return None
        if "state" not in payload:
            log.warning("%s was written by an older rnnrepro (no training state); starting "
                        "from scratch", self.path)
            return None
        model.load_state_dict(payload["model"])
        optimizer.load_state_dict(payload["optimizer"])
        restore_rng_state(payload["rng"], generators)
        return TrainingState(**payload["state"])

    def resume(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
               generators: Generators, blocks: int) -> TrainingState:
        """:meth:`load`, logging the resume, or a fresh state when there is nothing to resume."""
        state = self.load(model, optimizer, generators)
        if state is None:
            return TrainingState()
        log.info("resuming from %s after %d of %d blocks", self.path, state.blocks_done, blocks)
        return state

    def remove(self) -> None:
        """Delete the checkpoint (once the run's final outputs are written)."""
        self.path.unlink(missing_ok=True)


class BestWeights:
    """The best epoch's weights in ``best.pt``: {"fingerprint", "epoch", "model"}.

    A loop keeps them (:meth:`keep`) right after the checkpoint that names their epoch as the
    best. A kill in between leaves ``best.pt`` one best behind; :meth:`keep` after the resume
    rewrites it from the resumed weights, which are those of the best epoch (the last one
    checkpointed).
    """

    def __init__(self, path: str | Path, fingerprint: str):
        self.path = Path(path)
        self.fingerprint = fingerprint

    def save(self, model: torch.nn.Module, epoch: int) -> None:
        """Write ``model``'s weights as those of ``epoch``, atomically."""
        weights = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        with atomic_path(self.path, suffix=".pt") as tmp:
            torch.save({"fingerprint": self.fingerprint, "epoch": epoch, "model": weights}, tmp)

    def keep(self, model: torch.nn.Module, state: TrainingState) -> None:
        """Save ``model``'s weights if the last finished epoch is the best one: right after its
        checkpoint, and again after a resume (the resumed weights are the last checkpoint's)."""
        if state.best_epoch is not None and state.best_epoch == state.blocks_done:
            self.save(model, state.best_epoch)

    def load(self, model: torch.nn.Module, epoch: int | None) -> None:
        """Load ``best.pt`` into ``model``; refuse weights of another run or another epoch."""
        if not self.path.exists():
            raise FileNotFoundError(f"{self.path} missing: the best-validation weights are gone; "
                                    "delete the job's checkpoint.pt and rerun it")
        payload = torch.load(self.path, map_location="cpu", weights_only=True)
        if payload["fingerprint"] != self.fingerprint or payload["epoch"] != epoch:
            raise ValueError(
                f"{self.path} holds epoch {payload['epoch']} of run {payload['fingerprint']}, but "
                f"the run's best epoch is {epoch} (run {self.fingerprint}); a killed job rerun "
                "differently. Delete the folder's checkpoint.pt and best.pt and rerun the job")
        model.load_state_dict(payload["model"])


class HistoryFile:
    """A run's history CSV: ``<history>.partial.csv`` while the run goes on (for watching a long
    job), the history itself only once the run is complete."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.partial = self.path.with_suffix(".partial.csv")

    def write_partial(self, state: TrainingState, blocks: int) -> None:
        """Write the history so far and log the block just finished (``i/blocks`` and its last
        row)."""
        write_csv(self.partial, state.history)
        log.info("block %d/%d: %s", state.blocks_done, blocks,
                 " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                          for k, v in state.history[-1].items()))

    def write_final(self, rows: list[dict[str, Any]]) -> None:
        write_csv(self.path, rows)
        self.partial.unlink(missing_ok=True)
