"""The names of one memory run, all from one place.

A run is (representation, learning rate, seed). It is called

* on disk: ``transposed/lr3e-05/seed0`` (:func:`run_folder`; the rules' pattern
  :data:`RUN_FOLDER`);
* in the paper's Table 3: ``transposed@16@128@3e-05``, representation @ batch size @ hidden size
  @ learning rate (:func:`paper_name`; read back with :func:`from_paper_name`);
* in our tables, where its seeds are summarized: ``transposed@3e-05`` (:func:`run_label`).

Its numbers keep the names of the Keras 2 history they come from (``val_acc``, ``val_loss``) in
metrics.json, the summaries and the claims; only the printed tables say "vacc" and "vloss", as
the paper's do.

The learning rate is written the same way in all three (:func:`lr_label`).
"""

from __future__ import annotations

import re
from typing import Any

from rnnrepro.memory.representations import display_name

# A run's folder under results/<preset>/memory/, as a Snakemake pattern (wildcards lr =
# lr_label(lr)).
RUN_FOLDER = "{representation}/lr{lr}/seed{seed}"
# Below results/<preset>/: the run's folder and its job's log.
RUN = f"memory/{RUN_FOLDER}"
LOG = f"logs/memory/{RUN_FOLDER}.log"
# A run's best epoch in metrics.json: the history row's numbers, under the history's (Keras 2)
# names. The paper's tables print val_acc and val_loss as "vacc" and "vloss".
BEST_KEYS = ("acc", "val_acc", "loss", "val_loss", "test_acc", "test_loss")
# metrics.json of runs trained before the names were one (the shipped archives): best.vacc.
_OLD_BEST_KEYS = {"vacc": "val_acc", "vloss": "val_loss"}


def current_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """A memory run's metrics.json as this code reads it: an archived run's ``best.vacc`` and
    ``best.vloss`` under their current names ``val_acc`` and ``val_loss``."""
    best = metrics.get("best")
    if not isinstance(best, dict) or not _OLD_BEST_KEYS.keys() & best.keys():
        return metrics
    return {**metrics, "best": {_OLD_BEST_KEYS.get(key, key): value
                                for key, value in best.items()}}


# The paper's Table 3 model name: representation[ random permute k]@batch@hidden@learning rate.
_PAPER_NAME = re.compile(r"^(?P<name>[a-z -]+?)(?: random permute (?P<perm>\d+))?"
                         r"@(?P<batch>\d+)@(?P<hidden>\d+)@(?P<lr>[0-9.e+-]+)$")


def lr_label(learning_rate: float) -> str:
    """``3e-05``: the learning rate as the paper's run names (and our folders) write it."""
    return f"{float(learning_rate):g}"


def run_folder(representation: str, learning_rate: float, seed: int) -> str:
    """``transposed/lr3e-05/seed0``: where the run's files live under results/<preset>/memory/."""
    return RUN_FOLDER.format(representation=representation, lr=lr_label(learning_rate),
                             seed=int(seed))


def run_label(representation: str, learning_rate: float | str) -> str:
    """``transposed@3e-05``: a (representation, learning rate) over its seeds, in our tables."""
    lr = learning_rate if isinstance(learning_rate, str) else lr_label(learning_rate)
    return f"{representation}@{lr}"


def paper_name(representation: str, batch_size: int, hidden_size: int,
               learning_rate: float) -> str:
    """The paper's Table 3 name, e.g. ``transposed random permute 2@16@128@3e-05``."""
    return f"{display_name(representation)}@{batch_size}@{hidden_size}@{lr_label(learning_rate)}"


def from_paper_name(model: str) -> tuple[str, str]:
    """(our representation, learning-rate label) of a Table 3 name.

    ``transposed random permute 2@16@128@3e-05`` -> ``("transposed-perm2", "3e-05")``.
    """
    match = _PAPER_NAME.match(model)
    if not match:
        raise ValueError(f"cannot read the Table 3 model name {model!r}")
    name = match["name"]
    representation = name if match["perm"] is None else f"{name}-perm{match['perm']}"
    return representation, lr_label(float(match["lr"]))
