"""Where each preset's results live (``results/<preset>/``), the archives' folder, and the files
a training job keeps in its run folder while unfinished. The run folders themselves are each
stage's (``memory.runs``, ``increment.runs``, ``renet.datasets``)."""

from __future__ import annotations

from pathlib import Path

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


# What a run folder holds while its job is unfinished (rnnrepro.checkpoint): the checkpoint the
# job resumes from, the best epoch's weights so far and the history so far. A part archive
# carries them (rnnrepro.results), so the run continues on another machine. Listed in the order
# they are put in place when unpacked: the checkpoint last, so a kill in between never leaves a
# checkpoint without the best weights it names.
CHECKPOINT_FILE = "checkpoint.safetensors"
BEST_FILE = "best.safetensors"
PARTIAL_HISTORY_FILE = "history.partial.csv"
RESUME_FILES = (BEST_FILE, PARTIAL_HISTORY_FILE, CHECKPOINT_FILE)
# The files of the checkpoint format before safetensors (pickles): never loaded.
OLD_CHECKPOINT_FILE = "checkpoint.pt"
