"""One definition of a training job per stage (rnnrepro.job_settings): the result keys make the
rule's --settings, the checkpoint fingerprint, the cache key and the archive comparison; the
speed keys (evaluation batch sizes) change none of them. And the cluster time limit of a job
follows from its work (rnnrepro.progress.job_time)."""

from __future__ import annotations

import copy
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from conftest import QUICK, REPO, copy_repo, run_snakemake
from rnnrepro.increment import settings as increment_settings
from rnnrepro.increment.settings import HoldoutSettings, IncrementSettings, PermutationSettings
from rnnrepro.job_settings import RESULT, SPEED
from rnnrepro.memory import settings as memory_settings
from rnnrepro.memory.settings import MemorySettings
from rnnrepro.memory.train import RunPaths, setup_run
from rnnrepro.progress import job_time
from rnnrepro.renet import settings as renet_settings
from rnnrepro.renet.settings import RenetSettings
from rnnrepro.renet.train import Job
from rnnrepro.results import training
from test_memory_train import make_dataset

TRAINING_RULES = ("memory_train", "increment_train", "renet_train")
SPEED_CHANGE = ["memory={eval_batch_size: 7}", "increment={eval_batch_size: 11}",
                "renet={training: {eval_batch_size: 13}}"]


def with_speeds_changed(config: dict) -> dict:
    changed = copy.deepcopy(config)
    changed["memory"]["eval_batch_size"] = 7
    changed["increment"]["eval_batch_size"] = 11
    changed["renet"]["training"]["eval_batch_size"] = 13
    return changed


def schema_keys(name: str, *path: str) -> set[str]:
    section = yaml.safe_load((REPO / "workflow/schemas" / name).read_text())
    for key in path:
        section = section[key]
    return set(section["properties"])


def test_every_field_is_a_key_of_its_config_section_and_only_eval_batch_sizes_are_speed():
    for kind, keys in ((MemorySettings, schema_keys("memory.schema.yaml")),
                       (IncrementSettings, schema_keys("increment.schema.yaml")),
                       (HoldoutSettings, schema_keys("increment.schema.yaml")),
                       (PermutationSettings, schema_keys("increment.schema.yaml")),
                       (RenetSettings, schema_keys("renet.schema.yaml", "properties",
                                                   "training"))):
        # increment's IRNN reads memory.input_weight_std (the same IRNN), passed under its name
        assert set(kind.keys(RESULT)) - {"irnn_input_std"} <= keys, kind
        assert kind.keys(SPEED) in ((), ("eval_batch_size",)), kind
    for kind in (MemorySettings, IncrementSettings, RenetSettings):
        assert kind.keys(SPEED) == ("eval_batch_size",)


def test_the_archive_comparison_ignores_speed_keys_and_sees_result_keys(repo_config):
    assert training.differences(repo_config, with_speeds_changed(repo_config)) == []
    wider = copy.deepcopy(repo_config)
    wider["memory"]["hidden_size"] = 64
    wider["increment"]["units"]["gate_activation"] = "sigmoid"
    wider["renet"]["training"]["patience"] = 9
    changed = {key for key, _, _ in training.differences(repo_config, wider)}
    assert changed == {"memory.hidden_size", "increment.units.gate_activation",
                       "renet.training.patience"}
    # The increment IRNN's input weights are the memory experiment's: both stages see a change.
    std = copy.deepcopy(repo_config)
    std["memory"]["input_weight_std"] = 0.01
    stages = training.stage_differences(repo_config, std)
    assert [k for k, _, _ in stages["memory"]] == ["memory.input_weight_std"]
    assert [k for k, _, _ in stages["increment"]] == ["increment.irnn_input_std"]


def test_keys_of_a_stage_neither_config_runs_change_no_job(repo_config):
    """A preset that leaves the memory stage out (renet-mnist) imports an archive made when
    config.yaml's memory budget differed; once either config runs the stage, the key counts."""
    archived, current = copy.deepcopy(repo_config), copy.deepcopy(repo_config)
    archived["memory"]["epochs"] = current["memory"]["epochs"] + 10
    assert [k for k, _, _ in training.differences(archived, current)] == ["memory.epochs"]
    current["memory"]["representations"] = []
    assert [k for k, _, _ in training.differences(archived, current)] == ["memory.epochs"]
    archived["memory"]["representations"] = []
    assert training.differences(archived, current) == []
    archived["increment"]["tasks"] = current["increment"]["tasks"] = []
    archived["increment"]["hidden_size"] = 3
    assert training.differences(archived, current) == []


def test_settings_and_speed_split_the_section_and_rebuild_the_same_settings(repo_config):
    results = memory_settings.run_settings(repo_config, "original")
    speeds = memory_settings.run_settings(repo_config, "original", SPEED)
    assert speeds == {"eval_batch_size": repo_config["memory"]["eval_batch_size"]}
    assert "eval_batch_size" not in results
    settings = MemorySettings.from_parts(results, speeds)
    assert settings.results() == results and settings.speeds() == speeds
    with pytest.raises(ValueError, match=r"memory: missing key\(s\) \['eval_batch_size'\]"):
        MemorySettings.from_parts(results)


def test_the_checkpoint_fingerprint_ignores_speed_keys(tmp_path, repo_config):
    make_dataset(tmp_path / "mnist")
    paths = RunPaths(*(tmp_path / name for name in ("h.csv", "m.json", "l.csv", "c.pt",
                                                    "b.pt")))

    def memory_fingerprint(eval_batch_size: int, hidden_size: int = 8) -> str:
        results = {**memory_settings.run_settings(repo_config, "original"),
                   "hidden_size": hidden_size}
        settings = MemorySettings.from_parts(results, {"eval_batch_size": eval_batch_size})
        run = setup_run(data_dir=tmp_path / "mnist", representation="original",
                        learning_rate=1e-3, seed=0, settings=settings, paths=paths,
                        device=torch.device("cpu"))
        return run.checkpointer.fingerprint

    assert memory_fingerprint(5) == memory_fingerprint(500)
    assert memory_fingerprint(5) != memory_fingerprint(5, hidden_size=16)

    renet = renet_settings.run_settings(repo_config, "mnist")
    jobs = [Job.from_settings("mnist", 0, renet, {"eval_batch_size": size}) for size in (1, 9)]
    assert jobs[0].fingerprint_data() == jobs[1].fingerprint_data()
    increment = [IncrementSettings.from_parts(
        increment_settings.job_settings(repo_config, IncrementSettings), {"eval_batch_size": size})
        for size in (1, 9)]
    assert increment[0].results() == increment[1].results()


def memory_runtimes(output: str) -> dict[str, int]:
    """representation -> runtime of every memory_train job of a dry run."""
    found = {}
    for block in output.split("\nrule ")[1:]:
        if not block.startswith("memory_train"):
            continue
        representation = re.search(r"representation=([\w-]+)", block)[1]
        found[representation] = int(re.search(r"runtime=(\d+)", block)[1])
    return found


def test_a_28_step_job_asks_for_a_small_fraction_of_a_784_step_job(tmp_path):
    plan = run_snakemake(copy_repo(tmp_path / "repo"), "-n", "memory_summary", "--config",
                         "device=cuda")
    runtimes = memory_runtimes(plan.stdout)
    assert len(runtimes) == 13
    short, long = runtimes["original"], runtimes["flattened-perm1"]
    assert {runtimes[r] for r in runtimes if "flattened" not in r} == {short}
    assert short <= long / 10, runtimes


def test_a_time_limit_grows_with_work_and_attempts_and_stops_at_the_cap(repo_config):
    resources = repo_config["resources"]
    work = job_time.memory_work(repo_config, "original")
    epochs = repo_config["memory"]["epochs"]
    assert work == {"trained_step": 28.0 * epochs * 50_000, "trained_sequence": epochs * 50_000.0,
                    "evaluated_step": 28.0 * epochs * 20_000}
    first = job_time.minutes(resources, "memory_train", work, "cuda")
    rates = resources["memory_train"]["seconds_per"]["gpu"]
    expected = resources["memory_train"]["minutes"] + resources["margin"] * sum(
        work[q] * rates[q] for q in work) / 60
    assert first == int(-(-expected // 1))
    assert job_time.minutes(resources, "memory_train", work, "cpu") > first  # cpu rate is slower
    doubled = {q: 2 * amount for q, amount in work.items()}
    assert job_time.minutes(resources, "memory_train", doubled, "cuda") > first
    with pytest.raises(ValueError, match=r"resources\.memory_train\.seconds_per\.gpu lacks"):
        job_time.minutes(resources, "memory_train", {"flop": 1.0}, "cuda")


def test_an_increment_evaluation_costs_in_proportion_to_the_cells_weight_blocks(repo_config):
    works = {cell: job_time.increment_work(repo_config, 2, 32, cell)
             for cell in ("rnn", "gru", "lstm")}
    assert len({work["trained_digit"] for work in works.values()}) == 1
    rnn = works["rnn"]["evaluated_block"]
    assert rnn == (51_200 + 1) * 300_000 * 64
    assert (works["gru"]["evaluated_block"], works["lstm"]["evaluated_block"]) == (3 * rnn,
                                                                                   4 * rnn)


@pytest.mark.slow
def test_changing_eval_batch_sizes_reruns_nothing_and_hidden_size_reruns_memory(quick_run):
    plan = run_snakemake(quick_run, "-n", "--configfile", QUICK, "--config", *SPEED_CHANGE)
    text = plan.stdout + plan.stderr
    assert not any(re.search(rf"^rule {rule}:", text, re.M) for rule in TRAINING_RULES), text
    plan = run_snakemake(quick_run, "-n", "--configfile", QUICK, "--config",
                         "memory={hidden_size: 64}")
    stats = plan.stdout.split("Job stats:", 1)[1]
    assert re.search(r"^memory_train\s+26$", stats, re.M), stats
    assert not re.search(r"^(increment|renet)_train\s", stats, re.M), stats


@pytest.mark.slow
def test_an_archive_made_with_other_eval_batch_sizes_imports_without_adopting(quick_run,
                                                                             tmp_path):
    archive = "results/archive/quick.tar.gz"
    run_snakemake(quick_run, archive, "--cores", "1", "--configfile", QUICK)
    clone = copy_repo(tmp_path / "clone")
    preset = yaml.safe_load((REPO / QUICK).read_text())
    other = tmp_path / "other-speeds.yaml"
    preset["memory"]["eval_batch_size"] = 7
    preset["increment"]["eval_batch_size"] = 11
    preset.setdefault("renet", {}).setdefault("training", {})["eval_batch_size"] = 13
    other.write_text(yaml.safe_dump(preset))
    unpack = subprocess.run(
        [sys.executable, "-m", "rnnrepro", "results", "unpack", str(quick_run / archive),
         "--configfile", QUICK, "--configfile", str(other)], cwd=clone, capture_output=True,
        text=True, timeout=300)
    assert unpack.returncode == 0, unpack.stderr
    assert "45 training runs (116 files) imported" in unpack.stderr
    plan = run_snakemake(clone, "-n", "--configfile", QUICK, "--configfile", str(other))
    text = plan.stdout + plan.stderr
    assert not any(re.search(rf"^rule {rule}:", text, re.M) for rule in TRAINING_RULES), text
    assert Path(clone / "results/quick/imported").is_dir()
