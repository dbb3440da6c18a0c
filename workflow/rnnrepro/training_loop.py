"""The block loop every training job runs (memory, increment, ReNet): resume from the
checkpoint, then for each remaining block (an epoch, or a run of minibatches) train it, track the
best block, checkpoint, keep the best weights and write the history so far; the history once all
blocks are done. Each stage supplies only how to train and evaluate one block (its history rows)
and, for early stopping, when to stop."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from rnnrepro.checkpoint import BestWeights, Checkpointer, HistoryFile, TrainingState
from rnnrepro.execution import stop_on_signal

# train_block(block, elapsed, check_stop) -> the block's history rows: ``block`` counts from 1,
# ``elapsed()`` is the run's training seconds so far, ``check_stop()`` raises at a safe point
# after SIGTERM/SIGINT.
BlockTrainer = Callable[[int, Callable[[], float], Callable[[], None]], list[dict[str, Any]]]


@dataclass(frozen=True)
class Best:
    """Which history column picks the best block (of its last row), and its direction."""

    column: str
    higher: bool

    def better(self, value: float, best: float | None) -> bool:
        """Whether ``value`` beats the best so far (the first value always does)."""
        return best is None or (value > best if self.higher else value < best)


@dataclass(frozen=True)
class Loop:
    """What the loop keeps for a job: its model and optimizer, the files it resumes from and
    writes, the random generators its checkpoints carry, and how many blocks it trains."""

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    checkpointer: Checkpointer
    history: HistoryFile
    generators: dict[str, Any]
    blocks: int
    best_weights: BestWeights | None = None


def train_blocks(loop: Loop, train_block: BlockTrainer, *, best: Best | None = None,
                 stop: Callable[[TrainingState], bool] | None = None) -> TrainingState:
    """Resume ``loop``'s job and train its remaining blocks (until ``stop(state)``, if given);
    returns the final state, whose history is written."""
    state = loop.checkpointer.resume(loop.model, loop.optimizer, loop.generators,
                                     blocks=loop.blocks)
    if loop.best_weights is not None:
        loop.best_weights.keep(loop.model, state)
    with stop_on_signal() as check_stop:
        for block in range(state.blocks_done + 1, loop.blocks + 1):
            if stop is not None and stop(state):
                break
            started = time.monotonic()
            rows = train_block(block, lambda started=started: state.wall_time(started),
                               check_stop)
            if best is not None and best.better(rows[-1][best.column], state.best_value):
                state.best_epoch, state.best_value = block, rows[-1][best.column]
            state.end_block(rows, started)
            loop.checkpointer.save(loop.model, loop.optimizer, state, loop.generators)
            if loop.best_weights is not None:
                loop.best_weights.keep(loop.model, state)
            loop.history.write_partial(state, loop.blocks)
    loop.history.write_final(state.history)
    return state
