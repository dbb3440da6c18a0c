"""Where each preset's results live (``results/<preset>/``) and where each training job writes
below them: its run folder and its log, as Snakemake patterns (and ``str.format`` templates).
The rules (``workflow/rules/common.smk``), the summaries' folder checks, ``rnnrepro progress``
and ``rnnrepro results`` all take them from here."""

from __future__ import annotations

import re
from pathlib import Path

from rnnrepro.memory.runs import RUN_FOLDER as MEMORY_RUN_FOLDER

RESULTS_ROOT = "results"
# Results archives (`rnnrepro results pack`, the archive rules), named by their preset.
ARCHIVES = f"{RESULTS_ROOT}/archive"


def results_dir(preset: str) -> str:
    """The folder of one preset's results: data, runs, summaries, logs (presets live side by
    side in one clone; ``archive`` is the archives' folder, not a preset's)."""
    return f"{RESULTS_ROOT}/{preset}"


# What results/ held directly before each preset had its own folder.
LEGACY_FOLDERS = ("data", "memory", "increment", "renet", "claims", "logs", "paper", "imported")


def legacy_layout(root: str) -> str | None:
    """A one-line instruction where ``results/`` still holds one preset's results directly
    (the layout before ``results/<preset>/``), else None."""
    folder = Path(root) / RESULTS_ROOT
    found = [name for name in LEGACY_FOLDERS if (folder / name).is_dir()]
    if not found:
        return None
    names = ",".join(found)
    return (f"results/ holds results in the layout before each preset had its own folder "
            f"(results/{found[0]}/...): move them to the folder of the preset that made them, "
            f"e.g. mkdir results/quick && mv results/{{{names}}} results/quick/ (or delete them)")


def other_presets(root: str, preset: str) -> list[str]:
    """The presets other than ``preset`` whose results folders exist below ``root``."""
    folder = Path(root) / RESULTS_ROOT
    if not folder.is_dir():
        return []
    return sorted(path.name for path in folder.iterdir()
                  if path.is_dir() and path.name not in (preset, "archive", *LEGACY_FOLDERS)
                  and not path.name.startswith("."))


def unchosen_full_run(root: str, config: dict, configfiles: list, overrides: dict) -> str | None:
    """Why a run that chose no preset must not start, or None: it would train the full config
    in a clone whose results are another preset's (the user most likely forgot
    ``--configfile``). Choosing is giving a ``--configfile`` or ``--config preset=...``."""
    if configfiles or "preset" in overrides or config.get("preset") != "full":
        return None
    if (Path(root) / results_dir("full")).exists():
        return None
    others = other_presets(root, "full")
    if not others:
        return None
    files = " or ".join(f"--configfile workflow/presets/{name}.yaml" for name in others)
    return (f"results/ holds the results of the {', '.join(others)} preset(s), not the full "
            f"config's: add {files} to use them (the README's commands carry it), or "
            f"--config preset=full to train the full config (results/full/)")


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
