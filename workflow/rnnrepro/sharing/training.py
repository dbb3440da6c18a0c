"""What decides a training job's outputs, per stage: one definition for the rules' ``--settings``,
the results archive's config check and the use of imported runs.

A training job's outputs depend on its settings (the keys below, handed to it as ``--settings``),
its wildcards and the data it reads. :func:`stage_settings` flattens all of these config keys
per stage, so two configs train the same runs exactly when they agree on them. The grid keys
(which representations, seeds, tasks, datasets) are left out: they decide which jobs exist, not
what any one job computes; so is ``device`` (an archive trained on GPUs is meant for CPU users).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

TRAINING_STAGES = ("memory", "increment", "renet")
# Keys of the memory section one run depends on (a sweep change never reruns other runs).
MEMORY_RUN_KEYS = ("hidden_size", "batch_size", "epochs", "input_weight_std", "rmsprop",
                   "train_subset", "eval_batch_size")
# Keys of the increment section one training job depends on.
INCREMENT_TRAIN_KEYS = (
    "hidden_size", "batch_size", "learning_rate", "rmsprop", "epochs", "batches_per_epoch",
    "interesting_probability", "eval_every", "eval_batch_size", "checkpoint_every", "units",
)
# Keys of the task files every increment job reads: the hold-out set and the digit permutation.
INCREMENT_HOLDOUT_KEYS = ("holdout_size", "holdout_seed", "interesting_probability")
INCREMENT_PERMUTATION_KEYS = ("permutation_seed",)


def memory_run_settings(config: Mapping[str, Any], representation: str) -> dict[str, Any]:
    """``--settings`` of one memory run: the run keys, with ``memory.pixel_runs`` applied to
    the 784-step representations."""
    from rnnrepro.memory.representations import steps

    memory = config["memory"]
    settings = {key: memory[key] for key in MEMORY_RUN_KEYS}
    if steps(representation) == 784:
        settings.update(memory["pixel_runs"])
    return settings


def increment_train_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """``--settings`` of every increment training job."""
    return {key: config["increment"][key] for key in INCREMENT_TRAIN_KEYS}


def renet_run_settings(config: Mapping[str, Any], dataset: str) -> dict[str, Any]:
    """``--settings`` of one ReNet run: its dataset's model (Table 1), training, subset."""
    renet = config["renet"]
    return {"model": renet["models"][dataset], "training": renet["training"],
            "train_subset": renet["train_subset"]}


def raw_identity(config: Mapping[str, Any], dataset: str) -> dict[str, dict[str, Any]]:
    """What each raw file of a dataset is (checksum, gzip_payload), not where it comes from;
    a change here re-downloads it."""
    return {
        name: {"checksum": entry["checksum"], "gzip_payload": entry.get("gzip_payload", False)}
        for name, entry in config["data"]["files"][dataset].items()
    }


def _data_settings(config: Mapping[str, Any], dataset: str) -> dict[str, Any]:
    """How a dataset is prepared: its processing keys and what each raw file is."""
    return {dataset: config["data"][dataset], "files": {dataset: raw_identity(config, dataset)}}


def stage_settings(config: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Per training stage, every config key (dotted) its jobs' outputs depend on."""
    memory = config["memory"]
    renet = config["renet"]
    nested: dict[str, dict[str, Any]] = {
        "memory": {
            "memory": {k: memory[k] for k in (*MEMORY_RUN_KEYS, "pixel_runs") if k in memory},
            "data": {**_data_settings(config, "mnist"),
                     "permutations": config["data"]["permutations"]},
        },
        "increment": {"increment": {
            k: config["increment"][k] for k in (
                *INCREMENT_TRAIN_KEYS, *INCREMENT_HOLDOUT_KEYS, *INCREMENT_PERMUTATION_KEYS)}},
        "renet": {
            "renet": {"models": renet["models"], "training": renet["training"],
                      "train_subset": renet.get("train_subset")},
            "data": _merge(*(_data_settings(config, d) for d in renet["datasets"])),
        },
    }
    return {stage: dict(_flatten(values)) for stage, values in nested.items()}


Difference = tuple[str, Any, Any]  # (dotted key, archived value, current value)


def stage_differences(archived: Mapping[str, Any],
                      current: Mapping[str, Any]) -> dict[str, list[Difference]]:
    """Per training stage, every key of :func:`stage_settings` on which the configs differ,
    sorted; a key one config lacks has the value None there."""
    old, new = stage_settings(archived), stage_settings(current)
    return {stage: [(key, old[stage].get(key), new[stage].get(key))
                    for key in sorted(old[stage].keys() | new[stage].keys())
                    if old[stage].get(key) != new[stage].get(key)]
            for stage in TRAINING_STAGES}


def differences(archived: Mapping[str, Any], current: Mapping[str, Any]) -> list[Difference]:
    """Every training key on which the configs differ, once (a data key two stages share
    appears once), sorted."""
    found = {key: (key, a, b) for diffs in stage_differences(archived, current).values()
             for key, a, b in diffs}
    return [found[key] for key in sorted(found)]


def _merge(*parts: Mapping[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for part in parts:
        for key, value in part.items():
            if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
                merged[key] = _merge(merged[key], value)
            else:
                merged[key] = value
    return merged


def _flatten(values: Mapping[str, Any], prefix: str = ""):
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            yield from _flatten(value, f"{name}.")
        else:
            yield name, value
