"""Where an increment job writes, below ``results/<preset>/``: its task's folder (the hold-out
numbers and permutation), its run folder and its log, as Snakemake patterns (and
``str.format`` templates)."""

from __future__ import annotations

RUN_FOLDER = "K{base}-N{digits}/{order}/{cell}/seed{seed}"
TASK = "increment/K{base}-N{digits}"
RUN = f"increment/{RUN_FOLDER}"
LOG = "logs/increment/K{base}-N{digits}/{order}-{cell}-seed{seed}.log"
