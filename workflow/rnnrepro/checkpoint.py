"""Resumable training: one checkpoint file per job holding model, optimizer, RNG states and history.

Every training job (memory, increment, ReNet) runs through :func:`run_resumable`, so a job killed
by a time limit or preemption continues where its last checkpoint left off, and a resumed run on
CPU ends with the same numbers as an uninterrupted one.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnnrepro.files import atomic_path, write_csv
from rnnrepro.runtime import stop_on_signal

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
class RunState:
    """What a resumable run carries from one unit (epoch, evaluation block) to the next."""

    history: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    elapsed: float = 0.0
    units_done: int = 0


class Checkpointer:
    """Save and restore a run's full state at ``path``; refuses state from different settings."""

    def __init__(self, path: str | Path, fingerprint: str, unit: str | None = None):
        """``unit`` names the model's recurrent unit where two units share parameter names
        (e.g. the paper's GRU and PyTorch's): a checkpoint of another unit is refused."""
        self.path = Path(path)
        self.fingerprint = fingerprint
        self.unit = unit

    def save(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer, run: RunState,
             generators: Generators) -> None:
        payload = {
            "fingerprint": self.fingerprint,
            "unit": self.unit,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "history": run.history,
            "extra": run.extra,
            "elapsed": run.elapsed,
            "units_done": run.units_done,
            "rng": rng_state(generators),
        }
        with atomic_path(self.path) as tmp:
            torch.save(payload, tmp)

    def load(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
             generators: Generators) -> RunState | None:
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
        model.load_state_dict(payload["model"])
        optimizer.load_state_dict(payload["optimizer"])
        restore_rng_state(payload["rng"], generators)
        return RunState(history=payload["history"], extra=payload["extra"],
                        elapsed=payload["elapsed"], units_done=payload["units_done"])

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def run_resumable(
    *,
    checkpointer: Checkpointer,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    units: int,
    run_unit: Callable[[int, RunState, Callable[[], None]], dict[str, Any] | list[dict[str, Any]]],
    history_path: str | Path,
    generators: Generators | None = None,
    should_stop: Callable[[RunState], bool] | None = None,
) -> RunState:
    """Run ``units`` training units (epochs or evaluation blocks), checkpointing after each.

    ``run_unit(index, state, check_stop)`` trains one unit and returns its history row (or rows,
    e.g. one per evaluation inside the unit; a row may set its own ``wall_time``); it must
    call ``check_stop()`` between minibatches so SIGTERM stops the job at a safe point (the job
    then exits non-zero and the last checkpoint stays on disk for the retry). While running, the
    history so far is kept in ``<history>.partial.csv`` beside the target (for watching a long
    job); ``history_path`` itself appears only when the run is complete. Rows get a
    ``wall_time`` column (seconds of training, summed across resumes).
    ``should_stop`` implements early stopping. The checkpoint stays on disk: the caller removes it
    (``checkpointer.remove()``) after writing its final outputs, so a kill in between loses nothing.
    """
    generators = dict(generators or {})
    history_path = Path(history_path)
    partial = history_path.with_suffix(".partial.csv")
    run = checkpointer.load(model, optimizer, generators)
    if run is None:
        run = RunState()
    else:
        log.info("resuming from %s after %d of %d units", checkpointer.path, run.units_done,
                 units)
    with stop_on_signal() as check_stop:
        while run.units_done < units and not (run.units_done and should_stop
                                               and should_stop(run)):
            index = run.units_done
            start = time.monotonic()
            result = run_unit(index, run, check_stop)
            run.elapsed += time.monotonic() - start
            rows = result if isinstance(result, list) else [result]
            for row in rows:
                row.setdefault("wall_time", round(run.elapsed, 3))
            run.history.extend(rows)
            run.units_done += 1
            checkpointer.save(model, optimizer, run, generators)
            write_csv(partial, run.history)
            if rows:
                log.info("unit %d/%d: %s", index + 1, units,
                         " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                  for k, v in rows[-1].items()))
    write_csv(history_path, run.history)
    partial.unlink(missing_ok=True)
    return run
