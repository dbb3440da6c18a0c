"""What the training loop keeps: training state, checkpoint, best weights, history file.

Every training job (memory, increment, ReNet) runs :func:`rnnrepro.training_loop.train_blocks`:
resume from the checkpoint, then for every block (an epoch, or a run of minibatches) train,
evaluate, checkpoint, keep the best weights and write the history so far. It uses these:

- :class:`TrainingState`: history rows, training seconds, blocks done, best epoch and its value;
- :class:`Checkpointer`: ``checkpoint.safetensors`` with the model, optimizer, every RNG state
  and the state (``resume``, ``save``, ``remove``; refuses a checkpoint of other settings or of
  another recurrent unit);
- :class:`BestWeights`: ``best.safetensors`` with the best epoch's weights (``save``, ``load``);
- :class:`HistoryFile`: ``<history>.partial.csv`` while running, the history once complete;
- one log line per block (:meth:`HistoryFile.write_partial`).

Both files are safetensors files with a JSON document (:mod:`rnnrepro.state_format`,
:mod:`rnnrepro.state_file`): they load without unpickling, so an unfinished run's checkpoint can
travel in a part archive and resume on another machine. A ``checkpoint.pt`` of the pickle format
before them is never loaded: the job refuses to start (:class:`CheckpointError`) rather than
silently train again what it holds.

SIGTERM/SIGINT stop a loop at a safe point through :func:`rnnrepro.execution.stop_on_signal`. A job
killed by a time limit or preemption continues where its last checkpoint left off, and a resumed
run on CPU ends with the same numbers as an uninterrupted one.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from rnnrepro import state_file
from rnnrepro.files import write_csv
from rnnrepro.paths import BEST_FILE, CHECKPOINT_FILE, OLD_CHECKPOINT_FILE
from rnnrepro.state_file import Generators
from rnnrepro.state_format import FORMATS, StateFileError

log = logging.getLogger(__name__)


class CheckpointError(ValueError):
    """A checkpoint or best-weights file that cannot be used; one line naming the file and
    what to do."""


@dataclass
class TrainingState:
    """What a run carries from one block (an epoch, or a run of minibatches) to the next."""

    history: list[dict[str, Any]] = field(default_factory=list)
    elapsed: float = 0.0                # seconds of training, summed over sessions
    blocks_done: int = 0                # blocks finished and checkpointed
    best_epoch: int | None = None       # the epoch whose weights best.safetensors keeps
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

    def to_json(self) -> dict[str, Any]:
        """The state as JSON, the history as its CSV holds it: columns, then one list a row
        (a 51,201-row history takes half the bytes of one object a row)."""
        columns = list(self.history[0]) if self.history else []
        for number, row in enumerate(self.history, start=1):
            if list(row) != columns:
                raise ValueError(f"history row {number} has columns {list(row)}, the first "
                                 f"row {columns}: a history's rows share their columns")
        history = {"columns": columns, "rows": [list(row.values()) for row in self.history]}
        return {**asdict(self), "history": state_file.jsonable(history)}

    @classmethod
    def from_json(cls, values: dict[str, Any]) -> TrainingState:
        """The inverse of :meth:`to_json` (``values`` checked by the schema)."""
        columns, rows = values["history"]["columns"], values["history"]["rows"]
        if any(len(row) != len(columns) for row in rows):
            raise StateFileError(f"a history row does not have the {len(columns)} columns")
        return cls(**{**values, "history": [dict(zip(columns, row, strict=True))
                                            for row in rows]})


class Checkpointer:
    """Save and restore a run's full state at ``path`` (``checkpoint.safetensors``); refuses
    state from different settings."""

    def __init__(self, path: str | Path, fingerprint: str, unit: str | None = None):
        """``unit`` names the model's recurrent unit where two units share parameter names
        (e.g. the paper's GRU and PyTorch's): a checkpoint of another unit is refused."""
        self.path = Path(path)
        self.fingerprint = fingerprint
        self.unit = unit

    def save(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
             state: TrainingState, generators: Generators) -> None:
        """Write model, optimizer, RNG states and ``state`` atomically."""
        weights, model_index = state_file.encode_model(model.state_dict())
        moments, optimizer_index, optimizer_rest = state_file.encode_optimizer(
            optimizer.state_dict())
        random_states, rng_index, rng_rest = state_file.encode_rng(generators)
        state_file.write(self.path, {**weights, **moments, **random_states}, {
            "format": FORMATS["checkpoint"], "fingerprint": self.fingerprint, "unit": self.unit,
            "state": state.to_json(), "optimizer": optimizer_rest, "rng": rng_rest,
            "tensors": {"model": model_index, "optimizer": optimizer_index, "rng": rng_index}})

    def _error(self, problem: str) -> CheckpointError:
        return CheckpointError(f"{self.path}: {problem}; delete it (and {BEST_FILE} beside "
                               "it) to train this job from the start")

    def _refuse_old_format(self) -> None:
        old = self.path.with_name(OLD_CHECKPOINT_FILE)
        if old != self.path and old.exists():
            raise CheckpointError(
                f"{old}: a checkpoint of the pickle format rnnrepro no longer loads (loading it "
                "would unpickle); finish this run with the commit that wrote it, or delete "
                f"{old} to train this job from the start")

    def load(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
             generators: Generators) -> TrainingState | None:
        """Restore state if a checkpoint of the same settings exists; else return None. A file
        that is not a valid checkpoint (or only an old ``checkpoint.pt``) is a
        :class:`CheckpointError`."""
        if not self.path.exists():
            self._refuse_old_format()
            return None
        try:
            doc, tensors = state_file.read(self.path, "checkpoint")
        except StateFileError as err:
            raise self._error(f"not a valid checkpoint ({err})") from err
        if self.unit is not None and doc["unit"] != self.unit:
            written = doc["unit"]
            raise CheckpointError(
                f"{self.path} was written by a model with recurrent unit "
                f"{written or 'not recorded (before rnnrepro named GRU variants)'!r}, this job "
                f"uses {self.unit!r}: the units share parameter names but compute different "
                "functions, so the weights cannot be resumed. Delete the checkpoint to train "
                "this job from the start")
        if doc["fingerprint"] != self.fingerprint:
            log.warning("%s was written with different settings; starting from scratch",
                        self.path)
            return None
        index = doc["tensors"]
        try:
            state = TrainingState.from_json(doc["state"])
            model.load_state_dict(state_file.decode_model(index["model"], tensors))
            optimizer.load_state_dict(state_file.decode_optimizer(
                doc["optimizer"], index["optimizer"], tensors))
            state_file.restore_rng(doc["rng"], index["rng"], tensors, generators)
        except (StateFileError, RuntimeError, ValueError, KeyError, TypeError) as err:
            message = " ".join(str(err).split())[:240]
            raise self._error(f"does not fit this job ({type(err).__name__}: {message})"
                              ) from err
        return state

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
    """The best epoch's weights in ``best.safetensors``: the weights, and a JSON document with
    the run's fingerprint and the epoch.

    A loop keeps them (:meth:`keep`) right after the checkpoint that names their epoch as the
    best. A kill in between leaves the file one best behind; :meth:`keep` after the resume
    rewrites it from the resumed weights, which are those of the best epoch (the last one
    checkpointed).
    """

    def __init__(self, path: str | Path, fingerprint: str):
        self.path = Path(path)
        self.fingerprint = fingerprint

    def save(self, model: torch.nn.Module, epoch: int) -> None:
        """Write ``model``'s weights as those of ``epoch``, atomically."""
        weights, index = state_file.encode_model(model.state_dict())
        state_file.write(self.path, weights, {"format": FORMATS["best"],
                                              "fingerprint": self.fingerprint, "epoch": epoch,
                                              "tensors": {"model": index}})

    def keep(self, model: torch.nn.Module, state: TrainingState) -> None:
        """Save ``model``'s weights if the last finished epoch is the best one: right after its
        checkpoint, and again after a resume (the resumed weights are the last checkpoint's)."""
        if state.best_epoch is not None and state.best_epoch == state.blocks_done:
            self.save(model, state.best_epoch)

    def load(self, model: torch.nn.Module, epoch: int | None) -> None:
        """Load the best weights into ``model``; refuse weights of another run or epoch."""
        rerun = f"delete the folder's {CHECKPOINT_FILE} and {self.path.name} and rerun the job"
        if not self.path.exists():
            raise FileNotFoundError(f"{self.path} missing: the best-validation weights are "
                                    f"gone; {rerun}")
        try:
            doc, tensors = state_file.read(self.path, "best")
        except StateFileError as err:
            raise CheckpointError(f"{self.path}: not valid best weights ({err}); {rerun}"
                                  ) from err
        if doc["fingerprint"] != self.fingerprint or doc["epoch"] != epoch:
            raise CheckpointError(
                f"{self.path} holds epoch {doc['epoch']} of run {doc['fingerprint']}, but the "
                f"run's best epoch is {epoch} (run {self.fingerprint}); a killed job rerun "
                f"differently. {rerun[0].upper()}{rerun[1:]}")
        try:
            model.load_state_dict(state_file.decode_model(doc["tensors"]["model"], tensors))
        except RuntimeError as err:
            raise CheckpointError(f"{self.path}: does not fit this model "
                                  f"({' '.join(str(err).split())[:240]}); {rerun}") from err


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
