"""``rnnrepro plan``: the jobs a dry run plans, priced with the time limits' work model; the
full preset's budgets and time limits against the real runs they are measured from."""

from __future__ import annotations

import json
import re
import statistics
import tarfile

import pytest

from conftest import copy_repo, planned_memory_runs, planned_rules, run_snakemake
from rnnrepro import cli
from rnnrepro.config_types import load
from rnnrepro.progress import job_time
from rnnrepro.progress.plan import RULES, kinds

PRESETS = {"full": [], "quick": ["workflow/presets/quick.yaml"],
           "cpu": ["workflow/presets/cpu.yaml"]}


def plan_lines(capsys, *args: str) -> list[str]:
    assert cli.main(["plan", *args]) == 0
    return capsys.readouterr().out.splitlines()


@pytest.fixture(scope="module")
def dry_runs(tmp_path_factory, repo_root) -> dict[str, str]:
    """``snakemake -n -p`` of the full and quick configs in a copy of the repository."""
    repo = copy_repo(tmp_path_factory.mktemp("plan") / "repo")
    plans = {}
    for name, files in PRESETS.items():
        given = [arg for path in files for arg in ("--configfile", path)]
        done = run_snakemake(repo, "-n", "-p", *given, "--config", "device=cpu", timeout=120)
        plans[name] = done.stdout + done.stderr
    return plans


@pytest.mark.parametrize("preset", PRESETS)
def test_the_plan_counts_the_training_jobs_a_dry_run_plans(preset, dry_runs, repo_root,
                                                           capsys):
    config = load(repo_root, PRESETS[preset])
    found = kinds(config)
    planned = planned_rules(dry_runs[preset])
    for stage, rule in RULES.items():
        assert sum(k.jobs for k in found if k.label.startswith(f"{stage}:")) == planned[rule]
    lines = plan_lines(capsys, "--root", str(repo_root), "--cores", "2",
                       *[arg for path in PRESETS[preset] for arg in ("--configfile", path)])
    total = next(line for line in lines if line.startswith("total"))
    assert int(total.split()[1]) == sum(planned[rule] for rule in RULES.values())
    assert len(lines) == 2 + len(found) + 2 and lines[-1].startswith("wall time on 2 core(s)")


def test_each_kind_costs_what_its_jobs_time_limit_is_made_of(dry_runs, repo_root):
    """core-h per job = (time limit - fixed minutes) / margin, for every job of the full plan
    (the limits are whole minutes: within one minute's rounding)."""
    config = load(repo_root, [])
    resources = config["resources"]
    by_label = {kind.label: kind for kind in kinds(config)}
    limits = {int(runtime) for runtime in re.findall(
        r"^rule memory_train:.*?runtime=(\d+)", dry_runs["full"], re.M | re.S)}
    short = by_label["memory: 28 steps, 250 epochs of 50,000 images"]
    long = by_label["memory: 784 steps, 250 epochs of 50,000 images"]
    expected = {job_time.minutes(resources, "memory_train",
                                 job_time.memory_work(config, representation), "cpu")
                for representation in ("original", "flattened")}
    assert limits == expected
    for kind in (short, long):
        limit = resources["memory_train"]["minutes"] + resources["margin"] * kind.cpu_seconds / 60
        assert any(abs(limit - found) <= 1 for found in expected), (kind, expected)


def test_the_full_preset_trains_every_irnn_250_epochs(dry_runs):
    runs = planned_memory_runs(dry_runs["full"])
    assert len(runs) == 26
    assert {settings["epochs"] for *_, settings in runs} == {250}


def test_a_28_step_jobs_time_limit_is_within_3x_of_the_real_runs(repo_root, tmp_path):
    """The 12 paper-rows runs (28 steps, 250 epochs, the full preset's size) measured their
    training time; the cpu time limit the full preset gives such a job covers each of them
    and asks for at most 3x."""
    with tarfile.open(repo_root / "runs" / "paper-rows.tar.gz") as archive:
        measured = [json.load(archive.extractfile(member))["train_wall_time"] / 60
                    for member in archive.getmembers() if member.name.endswith("metrics.json")]
    assert len(measured) == 12
    config = load(repo_root, [])
    limit = job_time.minutes(config["resources"], "memory_train",
                             job_time.memory_work(config, "original"), "cpu")
    assert max(measured) < limit <= 3 * min(measured), (limit, sorted(measured))
    assert statistics.median(measured) < limit / 1.5


def test_plan_refuses_bad_options_in_one_line(repo_root, capsys):
    assert cli.main(["plan", "--root", str(repo_root), "--cores", "0"]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0
    assert cli.main(["plan", "--root", str(repo_root), "--configfile", "no-such.yaml"]) == 2
    error = capsys.readouterr().err.strip()
    assert "no-such.yaml" in error and error.count("\n") == 0


def test_a_run_without_cache_prints_no_caching_notices(dry_runs):
    """The training rules are cache-eligible only under --cache: no notice per rule otherwise."""
    assert all("eligible for caching" not in plan for plan in dry_runs.values())
