"""What decides a training job's outputs, per stage, as the rules, the archive check and the
use of imported runs see it: derived from each stage's settings dataclass
(:mod:`rnnrepro.job_settings`).

A training job's outputs depend on its result settings (handed to it as ``--settings``), its
wildcards and the data it reads. :func:`stage_settings` flattens these config keys per stage,
so two configs train the same runs exactly when they agree on them. Left out: the speed keys
(``--speed``: evaluation batch sizes), ``device`` and threads (an archive trained on GPUs is
meant for CPU users), and the grid keys (which representations, seeds, tasks, datasets): they
decide which jobs exist, not what any one job computes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rnnrepro.increment.settings import (
    HoldoutSettings,
    IncrementSettings,
    PermutationSettings,
    job_settings,
)
from rnnrepro.job_settings import RESULT
from rnnrepro.memory.settings import MemorySettings
from rnnrepro.renet.settings import RenetSettings, with_precision

TRAINING_STAGES = ("memory", "increment", "renet")


def current_config(config: Any) -> Any:
    """An archived config as the current code reads it: ``renet.training.bf16`` of archives
    made before ``precision`` (runs/cpu.tar.gz and the others of that time) becomes
    ``precision`` (:func:`rnnrepro.renet.settings.with_precision`). Anything else, including a
    config too malformed to upgrade, is returned as it is, for the schema to judge."""
    renet = config.get("renet") if isinstance(config, dict) else None
    training = renet.get("training") if isinstance(renet, dict) else None
    if not isinstance(training, dict) or "bf16" not in training:
        return config
    return {**config, "renet": {**renet, "training": with_precision(training)}}


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
    memory_keys = MemorySettings.keys(RESULT)
    renet = config["renet"]
    nested: dict[str, dict[str, Any]] = {
        "memory": {
            "memory": {**{k: memory[k] for k in memory_keys},
                       "pixel_runs": memory.get("pixel_runs", {})},
            "data": {**_data_settings(config, "mnist"),
                     "permutations": config["data"]["permutations"]},
        },
        "increment": {"increment": {
            k: v for kind in (IncrementSettings, HoldoutSettings, PermutationSettings)
            for k, v in job_settings(config, kind).items()}},
        "renet": {
            "renet": {"models": renet["models"],
                      "training": {k: with_precision(renet["training"])[k]
                                   for k in RenetSettings.keys(RESULT)},
                      "train_subset": renet.get("train_subset")},
            "data": _merge(*(_data_settings(config, d) for d in renet["datasets"])),
        },
    }
    return {stage: dict(_flatten(values)) for stage, values in nested.items()}


Difference = tuple[str, Any, Any]  # (dotted key, archived value, current value)


def stage_differences(archived: Mapping[str, Any],
                      current: Mapping[str, Any]) -> dict[str, list[Difference]]:
    """Per training stage, every key of :func:`stage_settings` on which the configs differ,
    sorted; a key one config lacks has the value None there. A stage neither config runs (no
    representations, tasks or datasets) has no job whose results a key could change: none."""
    old, new = stage_settings(archived), stage_settings(current)
    return {stage: [(key, old[stage].get(key), new[stage].get(key))
                    for key in sorted(old[stage].keys() | new[stage].keys())
                    if old[stage].get(key) != new[stage].get(key)]
            if runs_stage(archived, stage) or runs_stage(current, stage) else []
            for stage in TRAINING_STAGES}


# The config list whose items are a training stage's jobs (each item times seeds, rates, ...).
STAGE_ITEMS = {"memory": ("memory", "representations"), "increment": ("increment", "tasks"),
               "renet": ("renet", "datasets")}


def runs_stage(config: Mapping[str, Any], stage: str) -> bool:
    """Whether ``config`` has any job of the training stage (its item list is not empty)."""
    section, key = STAGE_ITEMS[stage]
    return bool(config.get(section, {}).get(key))


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
