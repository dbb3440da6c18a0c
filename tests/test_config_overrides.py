"""`snakemake --config` overrides of nested keys get the schema's types, as in a config file;
values that are really wrong are still refused, naming the key."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import copy_repo
from rnnrepro.config_types import coerce, load

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


def full_config(**overrides) -> dict:
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    for section, values in overrides.items():
        config[section] = {**config[section], **values}
    return config


def test_strings_become_the_schema_types():
    config = full_config(memory={"epochs": "5", "learning_rates": ["3e-5"],
                                 "train_subset": "null", "pixel_runs": {"epochs": "2"}},
                         increment={"tasks": [{"base": "2", "digits": "8"}]},
                         renet={"training": {"max_epochs": "3", "precision": "bf16-mixed",
                                             "learning_rate": "1e-3"}})
    config["data"]["mnist"] = {"splits": {"train": "100", "validation": "50", "test": "50"}}
    config["resources"]["memory_train"]["mem_mb"] = "3000"
    config["resources"]["memory_train"]["seconds_per"]["gpu"]["step"] = "3e-6"
    config["renet"]["models"]["mnist"]["flip"] = "true"
    coerce(config, SCHEMA)
    assert config["memory"]["epochs"] == 5 and config["memory"]["learning_rates"] == [3e-5]
    assert config["memory"]["train_subset"] is None
    assert config["memory"]["pixel_runs"] == {"epochs": 2}
    assert config["increment"]["tasks"] == [{"base": 2, "digits": 8}]
    assert config["data"]["mnist"]["splits"] == {"train": 100, "validation": 50, "test": 50}
    training = config["renet"]["training"]
    assert (training["max_epochs"], training["precision"], training["learning_rate"]) == (
        3, "bf16-mixed", 1e-3)
    assert config["renet"]["models"]["mnist"]["flip"] is True
    assert config["resources"]["memory_train"]["mem_mb"] == 3000
    assert config["resources"]["memory_train"]["seconds_per"]["gpu"]["step"] == 3e-6
    # Strings the schema wants stay strings, even when they read as numbers.
    config["preset"] = "5"
    config["memory"]["representations"] = ["original"]
    coerce(config, SCHEMA)
    assert config["preset"] == "5" and config["memory"]["representations"] == ["original"]


def test_unreadable_values_are_left_for_validation():
    config = full_config(memory={"epochs": "ten"}, increment={"orders": ["simple", "5"]})
    coerce(config, SCHEMA)
    assert config["memory"]["epochs"] == "ten" and config["increment"]["orders"][1] == "5"


def dry_run(workdir: Path, *config: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "snakemake", "-n", "-p", "--config", *config,
                           "--", "results/full/memory/original/lr3e-05/seed0/metrics.json",
                           "results/full/increment/K2-N8/simple/rnn/seed0/metrics.json",
                           "results/full/renet/mnist/seed0/metrics.json"],
                          cwd=workdir, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return copy_repo(tmp_path_factory.mktemp("overrides") / "repo")


def test_nested_overrides_on_the_command_line(workdir):
    done = dry_run(workdir, "memory={epochs: 5}", "increment={tasks: [{base: 2, digits: 8}]}",
                   "data={mnist: {splits: {train: 100, validation: 50, test: 50}}}",
                   "renet={training: {max_epochs: 3}}")
    assert done.returncode == 0, done.stderr[-3000:]
    settings = [json.loads(s) for s in re.findall(r"--settings '([^']*)'", done.stdout)]
    assert {"epochs": 5} .items() <= next(s for s in settings if "input_weight_std" in s).items()
    assert next(s for s in settings if "splits" in s)["splits"] == {"test": 50, "train": 100,
                                                                    "validation": 50}
    assert next(s for s in settings if "training" in s)["training"]["max_epochs"] == 3
    assert "increment-train --base 2 --digits 8" in done.stdout


@pytest.mark.parametrize(("override", "message"), [
    ("memory={epochs: ten}", "memory.epochs = \"ten\": 'ten' is not of type 'integer'"),
    ("memory={epochs: -1}", "memory.epochs = -1: -1 is less than the minimum of 1"),
    ("memory={epoch: 5}", "memory.epoch: not a key of memory (did you mean epochs?)"),
    ("memory={input_weight_std: .nan}", "memory.input_weight_std = \".nan\": '.nan' is not of "
                                        "type 'number'"),
    ("renet={training: {precision: fp16}}", "renet.training.precision = \"fp16\": 'fp16' is not "
                                           "one of ['fp32', 'bf16-mixed']"),
])
def test_wrong_overrides_are_refused_naming_the_key(workdir, override, message):
    """One line names the dotted key, the value and what the schema allows; no schema dump:
    at most three lines after Snakemake's own header lines."""
    done = dry_run(workdir, override)
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert f"config key {message}. Set it in config.yaml" in output
    ours = [line for line in output.splitlines()
            if not line.startswith(("Using workflow specific profile", "Config file "))]
    assert len(ours) <= 3, output


STAGE_SCHEMAS = ("memory", "increment", "renet")


def object_schemas(schema: dict, where: str):
    """(dotted path, schema) of every object schema with properties, nested ones included."""
    if isinstance(schema, dict):
        if "properties" in schema:
            yield where, schema
        for key, value in schema.items():
            if isinstance(value, dict):
                yield from object_schemas(value, f"{where}.{key}" if key not in (
                    "properties", "$defs") else where)


@pytest.mark.parametrize("stage", STAGE_SCHEMAS)
def test_config_yaml_is_the_one_source_of_stage_defaults(stage):
    """The stage's schema holds no default and requires every key; config.yaml states them."""
    text = (REPO / f"workflow/schemas/{stage}.schema.yaml").read_text()
    schema = yaml.safe_load(text)
    assert "default:" not in re.sub(r"#.*", "", text)
    for where, sub in object_schemas(schema, stage):
        if where == "memory.pixel_runs":     # overrides for the 784-step runs: all optional
            assert "required" not in sub
            continue
        assert set(sub.get("required", ())) == set(sub["properties"]), where
    assert set(schema["properties"]) == set(yaml.safe_load((REPO / "config.yaml").read_text())
                                            [stage])


def test_a_key_a_preset_leaves_out_takes_config_yaml_s_value(tmp_path):
    preset = tmp_path / "preset.yaml"
    preset.write_text("memory: {epochs: 3}\nrenet: {training: {max_epochs: 2}}\n")
    config = load(REPO, [preset])
    stated = yaml.safe_load((REPO / "config.yaml").read_text())
    assert config["memory"]["epochs"] == 3 and config["renet"]["training"]["max_epochs"] == 2
    assert config["memory"]["eval_batch_size"] == stated["memory"]["eval_batch_size"] == 1000
    assert config["memory"]["rmsprop"] == {"rho": 0.9, "eps": 1e-7}
    assert config["renet"]["training"]["patience"] == stated["renet"]["training"]["patience"]
    assert config["increment"]["units"]["gate_activation"] == "hard_sigmoid"


def test_a_key_missing_from_config_yaml_is_refused_naming_it(tmp_path):
    root = tmp_path / "repo"
    (root / "workflow").mkdir(parents=True)
    shutil.copytree(REPO / "workflow/schemas", root / "workflow/schemas")
    stated = yaml.safe_load((REPO / "config.yaml").read_text())
    del stated["memory"]["eval_batch_size"]
    (root / "config.yaml").write_text(yaml.safe_dump(stated))
    with pytest.raises(Exception, match="'eval_batch_size' is a required property"):
        load(root)


def test_a_nan_in_a_config_file_is_refused_naming_the_key(repo_root, tmp_path):
    """JSON schema's number admits NaN; a NaN compares unequal to itself, so every archive
    comparison would fail silently: the config check refuses it."""
    preset = tmp_path / "nan.yaml"
    preset.write_text("memory:\n  input_weight_std: .nan\nincrement:\n  learning_rate: .inf\n")
    with pytest.raises(ValueError, match=r"^config key memory\.input_weight_std = nan: not a "
                                         r"finite number$"):
        load(repo_root, [preset])


@pytest.mark.parametrize(("entry", "nested"), [
    ("memory.epochs=5", "memory='{epochs: 5}'"),
    ("renet.training.max_epochs=3", "renet='{training: {max_epochs: 3}}'"),
])
def test_a_dotted_config_key_gets_one_line_with_the_nested_form(workdir, entry, nested):
    """Snakemake refuses a dotted --config key with a traceback before the workflow loads;
    the rnnrepro logger plugin, imported earlier, answers in one line with what to write."""
    done = dry_run(workdir, entry)
    assert done.returncode == 2
    assert done.stderr.strip() == (f"snakemake --config {entry}: Snakemake takes no dotted "
                                   f"keys; give the nested value instead: --config {nested}")
    assert "Traceback" not in done.stdout + done.stderr


def test_only_dotted_keys_are_answered():
    """Keys Snakemake takes, flags after --config and other programs are left alone."""
    from snakemake_logger_plugin_rnnrepro import dotted_config_error

    assert dotted_config_error(["-n", "--config", "memory={epochs: 5}", "seed=1"]) is None
    assert dotted_config_error(["--config", "a=1", "-n", "b.c=2"]) is None
    assert dotted_config_error(["--config=a.b=1"]).endswith("--config a='{b: 1}'")
    assert dotted_config_error(["-C", "x=1", "y.z=[1, 2]"]).endswith("--config y='{z: [1, 2]}'")


def test_the_plugin_is_a_working_logger(workdir):
    """Snakemake validates the plugin as a logger plugin on every start; selected with
    `--logger rnnrepro`, it writes Snakemake's messages as plain lines."""
    done = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--cores", "1",
                           "--logger", "rnnrepro", "--",
                           "results/full/renet/mnist/seed0/metrics.json"],
                          cwd=workdir, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Rule: renet_train" in done.stderr + done.stdout


def test_an_undeclared_renet_dataset_is_refused_in_one_line(workdir):
    done = dry_run(workdir, "renet={datasets: [mnist, toy]}")
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert ("config key renet.datasets: 'toy' is not a declared dataset (mnist, cifar10, svhn); "
            "declare it in workflow/rnnrepro/renet/datasets.py") in output
    ours = [line for line in output.splitlines()
            if not line.startswith(("Using workflow specific profile", "Config file "))]
    assert len(ours) <= 3, output
