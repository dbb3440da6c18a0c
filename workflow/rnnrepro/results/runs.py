"""Which folders below ``results/<preset>/`` are training runs: every stage's run folder
pattern (``memory.runs``, ``increment.runs``, ``renet.datasets``)."""

from __future__ import annotations

import re

from rnnrepro.increment import runs as increment_runs
from rnnrepro.memory import runs as memory_runs
from rnnrepro.renet import datasets as renet_datasets

RUN_PATTERNS = (memory_runs.RUN, increment_runs.RUN, renet_datasets.RUN)
_WILDCARD = re.compile(r"\\\{\w+\\\}")     # an escaped {name}
_NAME = r"\\w[\\w.+-]*"


def is_run_folder(folder: str) -> bool:
    """Whether ``folder`` (below ``results/``, e.g. ``renet/mnist/seed0``) is a training run's
    folder: one of :data:`RUN_PATTERNS`, each wildcard a plain name (no ``/``, no leading dot)."""
    return any(re.fullmatch(_WILDCARD.sub(_NAME, re.escape(pattern)), folder)
               for pattern in RUN_PATTERNS)
