"""Where each training job writes, below ``results/``: its run folder and its log, as
Snakemake patterns (and ``str.format`` templates). The rules (``workflow/rules/common.smk``),
the summaries' folder checks and ``rnnrepro progress`` all take them from here."""

from __future__ import annotations

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
