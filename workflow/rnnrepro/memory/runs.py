"""The names of one memory run, all from one place.

A run is (representation, learning rate, seed). It is called

* on disk: ``transposed/lr3e-05/seed0`` (:func:`run_folder`; the rules' pattern
  :data:`RUN_FOLDER`);
* in the paper's Table 3: ``transposed@16@128@3e-05``, representation @ batch size @ hidden size
  @ learning rate (:func:`paper_name`; read back with :func:`from_paper_name`);
* in our tables, where its seeds are summarized: ``transposed@3e-05`` (:func:`run_label`).

Its numbers are named the paper's way (``vacc``) from metrics.json on, and Keras 2's way
(``val_acc``) in the epoch history it is computed from: :data:`PAPER_COLUMNS` maps one to the
other, in one place.

The learning rate is written the same way in all three (:func:`lr_label`).
"""

from __future__ import annotations

import re

from rnnrepro.memory.representations import display_name

# A run's folder under results/<preset>/memory/, as a Snakemake pattern (wildcards lr =
# lr_label(lr)).
RUN_FOLDER = "{representation}/lr{lr}/seed{seed}"
# Below results/<preset>/: the run's folder and its job's log.
RUN = f"memory/{RUN_FOLDER}"
LOG = f"logs/memory/{RUN_FOLDER}.log"
# The paper's column names (Tables 3-4: metrics.json's best epoch, the summaries, our tables)
# and the Keras 2 history columns they are (history.csv: what the authors' fit() returned).
PAPER_COLUMNS = {"acc": "acc", "vacc": "val_acc", "loss": "loss", "vloss": "val_loss",
                 "test_acc": "test_acc", "test_loss": "test_loss"}
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
