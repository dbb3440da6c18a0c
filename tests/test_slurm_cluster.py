"""The pipeline on a real SLURM cluster: `snakemake --profile slurm` (slurm/config.yaml).

Run with ``python -m pytest -m slurm``. Needs a reachable cluster with a GPU GRES, e.g. the one of
``bash workflow/scripts/slurm-local.sh start``; skipped when ``sinfo`` fails. The partition the
tests submit to is the only thing they change in the shipped profile: ``$RNNREPRO_SLURM_PARTITION``
(default ``local-gpu``, the partition of slurm-local.sh).

What is asserted comes from SLURM's own records (``scontrol show job``, polled during each run):
every training job is its own SLURM job asking for one GPU, local rules never reach SLURM, and a
training job cancelled with ``scancel`` is resubmitted and resumes from its checkpoint.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from conftest import QUICK, copy_repo, run_snakemake

PARTITION = os.environ.get("RNNREPRO_SLURM_PARTITION", "local-gpu")
TRAINING_RULES = {"memory_train", "increment_train", "renet_train"}
# The only other rules allowed on the cluster: CPU preprocessing of the datasets.
CLUSTER_CPU_RULES = {"prepare_dataset"}
# The override the tests add to `--profile slurm`, and nothing else.
PARTITION_OVERRIDE = ("--default-resources", f"slurm_partition={PARTITION}")


def _cluster_problem() -> str | None:
    """Why no SLURM cluster can be used here, or None when one answers."""
    if shutil.which("sinfo") is None:
        return "sinfo not found: no SLURM (start one: bash workflow/scripts/slurm-local.sh start)"
    try:
        proc = subprocess.run(["sinfo", "-h", "-p", PARTITION, "-o", "%a %G"],
                              capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        return "sinfo got no answer within 30 s: no SLURM controller reachable"
    if proc.returncode != 0:
        return (f"sinfo failed ({proc.stderr.strip()}): start the local cluster with "
                "bash workflow/scripts/slurm-local.sh start")
    if "gpu" not in proc.stdout:
        return f"partition {PARTITION!r} has no GPU GRES (sinfo: {proc.stdout.strip()!r})"
    return None


_PROBLEM = _cluster_problem()
pytestmark = [pytest.mark.slurm,
              pytest.mark.skipif(_PROBLEM is not None, reason=_PROBLEM or "")]


# ---------------------------------------------------------------------------------------------
# SLURM's records of the jobs a run submitted


def slurm_jobs(workdir: Path) -> dict[str, dict[str, str]]:
    """``scontrol show job`` of every job SLURM still knows that runs in ``workdir``."""
    proc = subprocess.run(["scontrol", "-o", "show", "job"], capture_output=True, text=True,
                          timeout=60)
    if proc.returncode != 0:
        return {}
    jobs = {}
    for line in proc.stdout.splitlines():
        fields = dict(re.findall(r"(\w[\w/:]*)=(\S*)", line))
        if fields.get("WorkDir") == str(workdir):
            jobs[fields["JobId"]] = fields
    return jobs


class JobRecorder:
    """Polls SLURM while a run goes on and keeps the last record of each job it saw."""

    def __init__(self, workdir: Path, interval: float = 2.0):
        self.workdir, self.interval = workdir, interval
        self.jobs: dict[str, dict[str, str]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._stop.is_set():
            self.jobs.update(slurm_jobs(self.workdir))
            self._stop.wait(self.interval)

    def __enter__(self) -> JobRecorder:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.jobs.update(slurm_jobs(self.workdir))


def rule_of(job: dict[str, str]) -> str:
    """The Snakemake rule a SLURM job ran (the plugin's comment: rule_<name>_wildcards_<...>)."""
    match = re.match(r"rule_(\w+?)(_wildcards_.*)?$", job.get("Comment", ""))
    assert match, f"SLURM job {job['JobId']} has no Snakemake rule comment: {job}"
    return match.group(1)


def asks_one_gpu(job: dict[str, str]) -> bool:
    """--gpus=1 shows as TresPerJob=gres:gpu:1 (gres/gpu=1 in newer SLURM)."""
    tres = job.get("TresPerJob", "") + "," + job.get("TresPerNode", "")
    return bool(re.search(r"gres[:/]gpu[:=]1(,|$)", tres))


# ---------------------------------------------------------------------------------------------
# Snakemake helpers


def job_stats(workdir: Path, *args: str) -> Counter[str]:
    """Jobs per rule in a dry run (the "Job stats" table)."""
    proc = run_snakemake(workdir, "-n", *args)
    table = proc.stdout.split("Job stats:", 1)[1].split("total", 1)[0]
    return Counter({m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", table, re.M)})


def read_history(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


# ---------------------------------------------------------------------------------------------
# Tests


def test_full_config_dry_run_lists_every_job_with_resources(tmp_path: Path):
    """`snakemake -n --profile slurm`, full paper config: every job and its resources.

    Its speed (target < 10 s) is measured by benchmarks/slurm_dry_run_speed.py, not here.
    """
    workdir = copy_repo(tmp_path / "repo")
    out = run_snakemake(workdir, "-n", "--cores", "all", "--profile", "slurm", timeout=300).stdout

    counts = Counter(re.findall(r"^(?:local)?rule (\w+):$", out, re.M))
    stats = Counter({m[1]: int(m[2]) for m in re.finditer(
        r"^(\w+)\s+(\d+)\s*$", out.split("Job stats:", 1)[1].split("total", 1)[0], re.M)})
    assert counts == stats, "every job of the plan is listed"
    # The full grid: 13 representations x 2 learning rates; 3 tasks x 2 orders x 3 cells;
    # 3 ReNet datasets (one seed each).
    assert stats["memory_train"] == 26
    assert stats["increment_train"] == 18
    assert stats["renet_train"] == 3

    blocks = re.split(r"\n(?=\[[^\]]+\]\n(?:local)?rule \w+:)", out)
    listed = 0
    for block in blocks:
        name = re.search(r"^(?:local)?rule (\w+):", block, re.M)
        if not name:
            continue
        listed += 1
        resources = re.search(r"^\s+resources: (.*)$", block, re.M)
        assert resources, f"no resources listed for a {name[1]} job:\n{block}"
        if name[1] in TRAINING_RULES:
            res = dict(kv.split("=", 1) for kv in resources[1].split(", "))
            assert res["gpu"] == "1", block
            assert int(res["runtime"]) > 0 and int(res["mem_mb"]) > 0, block
            assert res["slurm_partition"], block
    assert listed == sum(stats.values())


@pytest.fixture(scope="module")
def slurm_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The output cache (`--cache`) of the quick preset's SLURM runs."""
    return tmp_path_factory.mktemp("slurm-output-cache")


@pytest.fixture(scope="module")
def slurm_quick_run(tmp_path_factory: pytest.TempPathFactory, slurm_cache: Path):
    """The quick preset through `--profile slurm --cache`: (workdir, planned jobs, SLURM jobs,
    snakemake's output)."""
    workdir = copy_repo(tmp_path_factory.mktemp("slurm-quick") / "repo")
    args = ("--cores", "all", "--profile", "slurm", *PARTITION_OVERRIDE, "--configfile", QUICK)
    planned = job_stats(workdir, *args)
    start = time.monotonic()
    with JobRecorder(workdir) as recorder:
        proc = run_snakemake(workdir, *args, timeout=3600, cache=slurm_cache)
    minutes = (time.monotonic() - start) / 60
    print(f"quick preset on SLURM: {minutes:.1f} min, {len(recorder.jobs)} SLURM jobs")
    return workdir, planned, recorder.jobs, proc


def test_quick_preset_on_slurm_one_gpu_job_per_model(slurm_quick_run):
    """The quick preset end to end through `--profile slurm`; training jobs are GPU jobs."""
    workdir, planned, jobs, proc = slurm_quick_run
    assert planned["memory_train"] and planned["increment_train"] and planned["renet_train"]
    assert "steps (100%) done" in proc.stderr
    assert (workdir / "paper" / "tables.tex").is_file()

    by_rule: dict[str, list[dict[str, str]]] = {}
    for job in jobs.values():
        by_rule.setdefault(rule_of(job), []).append(job)

    # Every training job was its own SLURM job, asked for one GPU and completed.
    for rule in TRAINING_RULES:
        submitted = by_rule.get(rule, [])
        assert len(submitted) == planned[rule], f"{rule}: {len(submitted)} SLURM jobs"
        assert len({job["Comment"] for job in submitted}) == planned[rule], \
            f"{rule}: one SLURM job per model variant"
        for job in submitted:
            assert asks_one_gpu(job), f"{rule} job {job['JobId']} did not ask for one GPU: {job}"
            assert job["JobState"] == "COMPLETED", job
            assert job["Partition"] == PARTITION, job

    # Downloads, summaries, figures, tables and the PDF ran on the submit host.
    submitted_rules = set(by_rule)
    assert submitted_rules <= TRAINING_RULES | CLUSTER_CPU_RULES, submitted_rules
    local = set(planned) - TRAINING_RULES - CLUSTER_CPU_RULES
    assert {"download", "paper_tables", "memory_figure_curves", "renet_figure"} <= local
    assert not local & submitted_rules
    for job in jobs.values():
        if rule_of(job) not in TRAINING_RULES:
            assert not asks_one_gpu(job), f"a CPU job asked for a GPU: {job}"


def test_a_second_clone_submits_no_training_job_with_the_output_cache(
        slurm_quick_run, slurm_cache: Path, tmp_path: Path):
    """A fresh clone, same config and cache: every training job is restored on the submit
    host; SLURM never sees one, and the tables are the same."""
    first, planned, _, _ = slurm_quick_run
    workdir = copy_repo(tmp_path / "repo")
    args = ("--cores", "all", "--profile", "slurm", *PARTITION_OVERRIDE, "--configfile", QUICK)
    with JobRecorder(workdir) as recorder:
        proc = run_snakemake(workdir, *args, timeout=1800, cache=slurm_cache)
    submitted = Counter(rule_of(job) for job in recorder.jobs.values())
    assert not set(submitted) & TRAINING_RULES, submitted
    assert set(submitted) <= CLUSTER_CPU_RULES, submitted
    restored = re.findall(r"(\w+) \(jobid \d+\): outputs in the output cache, restored on the "
                          r"submit host", proc.stderr)
    assert Counter(restored) == Counter({rule: planned[rule] for rule in TRAINING_RULES})
    assert (workdir / "paper/tables.tex").read_bytes() == \
        (first / "paper/tables.tex").read_bytes()


def test_scancel_training_job_resumes_from_checkpoint(tmp_path: Path):
    """scancel a running training job: it stops, the retry resumes and the history is whole."""
    workdir = copy_repo(tmp_path / "repo")
    epochs = 60
    (workdir / "preempt.yaml").write_text(f"memory:\n  epochs: {epochs}\n")
    run_dir = workdir / "results/quick/memory/original/lr3e-05/seed0"
    target = str(run_dir.relative_to(workdir) / "history.csv")
    log = workdir / "results/quick/logs/memory/original/lr3e-05/seed0.log"
    partial = run_dir / "history.partial.csv"
    cmd = [sys.executable, "-m", "snakemake", target, "--cores", "all", "--profile", "slurm",
           *PARTITION_OVERRIDE, "--configfile", QUICK, "preempt.yaml"]

    with JobRecorder(workdir, interval=1.0) as recorder:
        snakemake = subprocess.Popen(cmd, cwd=workdir, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        try:
            # Wait until the training job runs and has checkpointed a few epochs.
            deadline = time.monotonic() + 900
            cancelled = None
            while cancelled is None:
                assert snakemake.poll() is None, "snakemake ended before the cancel"
                assert time.monotonic() < deadline, "the training job never got going"
                running = [job for job in slurm_jobs(workdir).values()
                           if rule_of(job) == "memory_train" and job["JobState"] == "RUNNING"]
                done = len(read_history(partial)) if partial.exists() else 0
                if running and 3 <= done < epochs:
                    cancelled = running[0]["JobId"]
                    subprocess.run(["scancel", cancelled], check=True, timeout=60)
                time.sleep(0.5)
            # The first attempt's own log, before the retry starts and rewrites it.
            stopped = ""
            deadline = time.monotonic() + 60
            while "checkpoint is kept" not in stopped and time.monotonic() < deadline:
                time.sleep(0.2)
                stopped = log.read_text()
            out, _ = snakemake.communicate(timeout=1200)
        finally:
            if snakemake.poll() is None:
                snakemake.terminate()
                snakemake.wait(60)
    assert snakemake.returncode == 0, out[-6000:]
    jobs = [job for job in recorder.jobs.values() if rule_of(job) == "memory_train"]

    # The cancelled job stopped without finishing and Snakemake submitted it again.
    first = recorder.jobs[cancelled]
    assert first["JobState"] in {"CANCELLED", "FAILED"}, first
    assert first["ExitCode"] != "0:0", first
    # It stopped at a safe point on SIGTERM: exit code 75, checkpoint kept.
    assert re.search(r"received signal 15", stopped), stopped[-3000:]
    assert "stopped by signal 15; the checkpoint is kept" in stopped, stopped[-3000:]
    retries = [job for job in jobs if int(job["JobId"]) > int(cancelled)]
    assert len(retries) == 1 and retries[0]["JobState"] == "COMPLETED", jobs
    assert retries[0]["Comment"] == first["Comment"]
    assert asks_one_gpu(retries[0])
    # The retry asks for attempt x the first runtime and memory (2 x quick preset).
    assert int(retries[0]["MinMemoryNode"].rstrip("M")) == 2 * int(
        first["MinMemoryNode"].rstrip("M")), (first, retries[0])

    # The retry resumed from the checkpoint and the history is whole: epochs 1..N, once each.
    text = log.read_text()
    resumed = re.search(r"resuming from \S+ after (\d+) of (\d+) blocks", text)
    assert resumed, f"the retry did not resume from its checkpoint:\n{text[-3000:]}"
    assert 3 <= int(resumed[1]) < epochs and int(resumed[2]) == epochs
    epochs_seen = [int(row["epoch"]) for row in read_history(run_dir / "history.csv")]
    assert epochs_seen == list(range(1, epochs + 1)), epochs_seen
    wall = [float(row["wall_time"]) for row in read_history(run_dir / "history.csv")]
    assert wall == sorted(wall), "training time accumulates across the resume"
    assert not partial.exists()
    assert (run_dir / "metrics.json").is_file()
