"""Where each training job writes, below ``results/``: its run folder and its log, as
Snakemake patterns (and ``str.format`` templates). The rules (``workflow/rules/common.smk``),
the summaries' folder checks and ``rnnrepro progress`` all take them from here."""

from __future__ import annotations

import re

from rnnrepro.memory.runs import RUN_FOLDER as MEMORY_RUN_FOLDER

MEMORY_RUN = f"memory/{MEMORY_RUN_FOLDER}"
MEMORY_LOG = f"logs/memory/{MEMORY_RUN_FOLDER}.log"
INCREMENT_RUN_FOLDER = "K{base}-N{digits}/{order}/{cell}/seed{seed}"
INCREMENT_TASK = "increment/K{base}-N{digits}"
INCREMENT_RUN = f"increment/{INCREMENT_RUN_FOLDER}"
INCREMENT_LOG = "logs/increment/K{base}-N{digits}/{order}-{cell}-seed{seed}.log"
RENET_RUN_FOLDER = "{dataset}/seed{seed}"
RENET_RUN = f"renet/{RENET_RUN_FOLDER}"
RENET_LOG = "logs/renet/{dataset}/seed{seed}.log"

# What a run folder holds while its job is unfinished (rnnrepro.checkpoint): the checkpoint the
# job resumes from, the best epoch's weights so far and the history so far. A part archive
# carries them (rnnrepro.sharing), so the run continues on another machine. Listed in the order
# they are put in place when unpacked: the checkpoint last, so a kill in between never leaves a
# checkpoint without the best weights it names.
CHECKPOINT_FILE = "checkpoint.safetensors"
BEST_FILE = "best.safetensors"
PARTIAL_HISTORY_FILE = "history.partial.csv"
RESUME_FILES = (BEST_FILE, PARTIAL_HISTORY_FILE, CHECKPOINT_FILE)
# The files of the checkpoint format before safetensors (pickles): never loaded.
OLD_CHECKPOINT_FILE = "checkpoint.pt"

RUN_PATTERNS = (MEMORY_RUN, INCREMENT_RUN, RENET_RUN)


def is_run_folder(folder: str) -> bool:
    """Whether ``folder`` (below ``results/``, e.g. ``renet/mnist/seed0``) is a training run's
    folder: one of :data:`RUN_PATTERNS`, each wildcard a plain name (no ``/``, no leading dot)."""
    return any(re.fullmatch(_WILDCARD.sub(_NAME, re.escape(pattern)), folder)
               for pattern in RUN_PATTERNS)


_WILDCARD = re.compile(r"\\\{\w+\\\}")     # an escaped {name}
_NAME = r"\\w[\\w.+-]*"
