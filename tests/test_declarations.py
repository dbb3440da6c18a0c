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


def test_the_renet_datasets_are_the_schemas():
    renet = schema("renet.schema.yaml")["properties"]
    assert renet["datasets"]["items"]["enum"] == list(datasets.NAMES)
    assert renet["models"]["required"] == list(datasets.NAMES)
    data = schema("data.schema.yaml")
    assert set(datasets.NAMES) <= set(data["required"])


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
