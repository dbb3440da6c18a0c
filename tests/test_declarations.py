"""What a stage declares once is what every other place uses: the ReNet datasets
(rnnrepro.renet.datasets) and the memory representations' name pattern
(rnnrepro.memory.representations) against the config schema, the rules and the commands."""

from __future__ import annotations

import re

import pytest
import yaml

from conftest import REPO
from rnnrepro.memory import representations
from rnnrepro.renet import datasets

SCHEMAS = REPO / "workflow" / "schemas"


def schema(name: str) -> dict:
    return yaml.safe_load((SCHEMAS / name).read_text())


def test_the_schemas_list_no_renet_dataset():
    """The schemas take any dataset name: which ones exist is the declaration's to say
    (checked by config_problems), so a new dataset edits no schema."""
    renet = schema("renet.schema.yaml")["properties"]
    assert "enum" not in renet["datasets"]["items"] and "required" not in renet["models"]
    data = schema("data.schema.yaml")
    assert set(data["required"]) == {"files", "mnist", "permutations"}   # memory reads MNIST
    assert data["additionalProperties"] == {"$ref": "#/$defs/dataset"}


def test_the_config_may_run_declared_datasets_only_with_their_sections(repo_config):
    assert datasets.config_problems(repo_config) == []
    config = {**repo_config, "renet": {**repo_config["renet"],
                                       "datasets": ["mnist", "toy", "cifar10"]}}
    assert datasets.config_problems(config) == [
        "renet.datasets: 'toy' is not a declared dataset (mnist, cifar10, svhn); declare it "
        "in workflow/rnnrepro/renet/datasets.py"]
    config = {**repo_config, "data": {k: v for k, v in repo_config["data"].items()
                                      if k != "svhn"}}
    assert datasets.config_problems(config) == [
        "data.svhn: missing; renet.datasets runs svhn, which needs it"]


def test_the_renet_datasets_reach_the_commands_and_the_tables():
    from rnnrepro.paper import renet_tables
    from rnnrepro.renet import figures, flops, summary

    assert summary.DATASET_ORDER == datasets.NAMES
    assert figures.DATASET_NAMES == renet_tables.DATASET_NAMES == datasets.DISPLAY
    assert flops.INPUT_SHAPES == datasets.INPUT_SHAPES
    rule = (REPO / "workflow/rules/renet.smk").read_text()
    assert 'dataset="|".join(RENET_DATASET_NAMES)' in rule


def test_renet_train_offers_exactly_the_declared_datasets(capsys):
    from rnnrepro.cli import main

    with pytest.raises(SystemExit):
        main(["renet-train", "--dataset", "imagenet"])
    error = capsys.readouterr().err
    assert f"choose from {', '.join(repr(n) for n in datasets.NAMES)}" in error


def test_the_representation_pattern_is_the_schemas_and_the_rules():
    item = schema("memory.schema.yaml")["properties"]["representations"]["items"]
    assert item["pattern"] == f"^{representations.NAME_PATTERN}$"
    rule = (REPO / "workflow/rules/memory.smk").read_text()
    assert "representation=memory_representations.NAME_PATTERN" in rule


@pytest.mark.parametrize("name", ["original", "transposed-flattened", "flattened-perm12",
                                  "transposed-perm0"])
def test_a_name_the_pattern_takes_the_code_takes(name):
    assert re.fullmatch(representations.NAME_PATTERN, name)
    representations.parse(name)


@pytest.mark.parametrize("name", ["transposed-flattened-perm0", "original-perm", "rows",
                                  "flattened-perm-1"])
def test_a_name_the_pattern_refuses_the_code_refuses(name):
    assert not re.fullmatch(representations.NAME_PATTERN, name)
    with pytest.raises(ValueError, match="unknown representation"):
        representations.parse(name)


def test_preset_names_exclude_the_results_folders_own_names():
    """A preset names its folder results/<preset>/: the schema refuses exactly the names the
    results folder already uses (the archives' folder and the old layout's stage folders)."""
    from rnnrepro.paths import LEGACY_FOLDERS

    pattern = schema("config.schema.yaml")["properties"]["preset"]["pattern"]
    excluded = re.match(r"\^\(\?!\(([^)]*)\)\$\)", pattern)[1].split("|")
    assert sorted(excluded) == sorted(("archive", *LEGACY_FOLDERS))
    assert schema("archive-manifest.schema.yaml")["properties"]["preset"] == {
        "$ref": "config.schema.yaml#/properties/preset"}
    assert not [name for name in excluded if re.match(pattern, name)]
    assert re.match(pattern, "paper-rows") and not re.match(pattern, "../quick")
