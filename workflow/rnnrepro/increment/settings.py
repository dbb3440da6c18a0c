"""The increment stage's jobs' settings: the ``increment:`` keys each job reads, each marked as
changing its results or only its speed (:mod:`rnnrepro.job_settings`).

Every key is required: config.yaml states each value with its source and the schema
(``increment.schema.yaml``) its type and range; nothing here holds a value of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rnnrepro.job_settings import RESULT, JobSettings, RMSprop, result, speed

SCHEMA = ("increment.schema.yaml", ())

# Weight blocks of each cell: the IRNN's one, the GRU's r, z, n, the LSTM's i, f, g, o (the
# models' layout, and the evaluation's cost per digit in rnnrepro.progress.job_time).
WEIGHT_BLOCKS = {"rnn": 1, "gru": 3, "lstm": 4}


@dataclass(frozen=True)
class UnitSettings:
    """How the increment task's LSTM and GRU compute and start (config ``increment.units``)."""

    gate_activation: str
    gru_reset: str
    input_init: str
    recurrent_init: str
    bias_init: str
    lstm_forget_bias: float


@dataclass(frozen=True)
class PermutationSettings(JobSettings):
    """What the ``increment_permutation`` job reads: the seed of each task's digit order."""

    WHERE, SCHEMA = "increment", SCHEMA

    permutation_seed: int = result()


@dataclass(frozen=True)
class HoldoutSettings(JobSettings):
    """What the ``increment_holdout`` job reads: the size, seed and mix of the hold-out set."""

    WHERE, SCHEMA = "increment", SCHEMA

    holdout_size: int = result()
    holdout_seed: int = result()
    interesting_probability: float = result()


@dataclass(frozen=True)
class IncrementSettings(JobSettings):
    """What one ``increment_train`` job reads."""

    WHERE, SCHEMA = "increment", SCHEMA

    hidden_size: int = result()
    batch_size: int = result()
    learning_rate: float = result()
    rmsprop: RMSprop = result()
    epochs: int = result()
    batches_per_epoch: int = result()
    interesting_probability: float = result()
    eval_every: int = result()
    # Minibatches between checkpoints (rounded to a multiple of eval_every). Not a result key in
    # principle (a resumed job computes the same numbers), but a checkpoint is only valid for
    # the block size it was cut with, so it stays in the fingerprint with the result keys.
    checkpoint_every: int = result()
    units: UnitSettings = result()   # the LSTM's and GRU's equations
    # The IRNN (cell rnn) is the memory experiment's: its input weights' std is config.yaml's
    # memory.input_weight_std (job_settings passes it).
    irnn_input_std: float = result()
    eval_batch_size: int = speed()

    @property
    def minibatches(self) -> int:
        return self.epochs * self.batches_per_epoch

    @property
    def block_size(self) -> int:
        """Minibatches per checkpointed block: a multiple of ``eval_every`` near
        ``checkpoint_every``, so evaluations never straddle a checkpoint."""
        return self.eval_every * max(1, round(self.checkpoint_every / self.eval_every))


def job_settings(config: Mapping[str, Any], kind: type[JobSettings], which: str = RESULT
                 ) -> dict[str, Any]:
    """``--settings`` (or, with ``which`` SPEED, ``--speed``) of an increment job whose settings
    class is ``kind`` (permutation, hold-out or training), from the config. The IRNN's input
    weight std is the memory experiment's (``memory.input_weight_std``): the same IRNN."""
    section = {**config["increment"], "irnn_input_std": config["memory"]["input_weight_std"]}
    return {key: section[key] for key in kind.keys(which)}
