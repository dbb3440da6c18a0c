"""``rnnrepro progress`` on a synthetic results tree: one line per training job (done, running,
stopped, failed, waiting) and the remaining wall time at the measured rates."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from rnnrepro.progress.status import duration, makespan

ROOT = Path(__file__).resolve().parents[1]
CONFIG = {
    "memory": {"representations": ["original", "flattened"], "learning_rates": [3e-5],
               "seeds": [0, 1], "epochs": 10, "pixel_runs": {"epochs": 2}},
    "increment": {"tasks": [{"base": 2, "digits": 4}], "orders": ["simple"], "cells": ["rnn"],
                  "seeds": [0], "epochs": 1, "batches_per_epoch": 100},
    "renet": {"datasets": ["mnist"], "seeds": [0]},
}


def history(path: Path, epochs: int, seconds_per_epoch: float = 10.0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"epoch": range(1, epochs + 1),
                  "val_acc": [0.5 + 0.05 * e for e in range(1, epochs + 1)],
                  "wall_time": [seconds_per_epoch * e for e in range(1, epochs + 1)]}
                 ).to_csv(path, index=False)


def results_tree(results: Path) -> None:
    """original seed 0 done, seed 1 running; flattened seed 0 stopped, seed 1 failed; the
    increment and ReNet jobs waiting."""
    done = results / "memory/original/lr3e-05/seed0"
    history(done / "history.csv", 10)
    (done / "metrics.json").write_text(json.dumps({"best": {"epoch": 7, "val_acc": 0.95}}))
    history(results / "memory/original/lr3e-05/seed1/history.partial.csv", 4)
    stopped = results / "memory/flattened/lr3e-05/seed0/history.partial.csv"
    history(stopped, 1)
    checkpoint = stopped.with_name("checkpoint.safetensors")
    checkpoint.write_bytes(b"")
    an_hour_ago = time.time() - 3600
    for path in (stopped, checkpoint):
        os.utime(path, (an_hour_ago, an_hour_ago))
    log = results / "logs/memory/flattened/lr3e-05/seed1.log"
    log.parent.mkdir(parents=True)
    log.write_text("12:00:00 INFO starting\nrnnrepro memory-train: error: data: boom\n")


def progress(tmp_path: Path, *args: str) -> list[str]:
    configfile = tmp_path / "small.yaml"
    configfile.write_text(yaml.safe_dump(CONFIG))
    done = subprocess.run(
        [sys.executable, "-m", "rnnrepro", "progress", "--root", str(ROOT), "--configfile",
         str(configfile), "--results-dir", str(tmp_path / "results"), *args],
        capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_one_line_per_job_and_the_remaining_time(tmp_path):
    results_tree(tmp_path / "results")
    lines = progress(tmp_path, "--cores", "2")
    by_job = {line.split()[1]: line for line in lines[:-1]}
    assert len(by_job) == 6
    assert "done" in by_job["original/lr3e-05/seed0"]
    assert "best epoch 7, val_acc 0.9500" in by_job["original/lr3e-05/seed0"]
    running = by_job["original/lr3e-05/seed1"]
    assert " running " in running and "epoch 4 of 10, val_acc 0.7000" in running
    assert "10 s/epoch" in running and "ETA 1 min" in running       # 6 epochs x 10 s
    stopped = by_job["flattened/lr3e-05/seed0"]
    assert " stopped " in stopped and "epoch 1 of 2" in stopped and "to resume)" in stopped
    failed = by_job["flattened/lr3e-05/seed1"]
    assert " failed " in failed and "error: data: boom" in failed
    assert " waiting " in by_job["K2-N4/simple/rnn/seed0"]
    assert " waiting " in by_job["mnist/seed0"]
    # Left: 60 s (running), 10 s (stopped), 20 s (failed: the rate of its kind, 784 steps);
    # the increment and ReNet kinds have no measured job yet.
    assert lines[-1] == ("6 training jobs: 1 done, 1 running, 1 stopped, 2 waiting, 1 failed; "
                         "remaining ≈ 1 min of wall time on 2 core(s) at the measured rates "
                         "(2 job(s) of a kind not measured yet are not counted)")


def test_one_stage_can_be_chosen(tmp_path):
    results_tree(tmp_path / "results")
    lines = progress(tmp_path, "--stage", "renet", "--cores", "1")
    assert len(lines) == 2 and lines[0].split()[:3] == ["renet", "mnist/seed0", "waiting"]


@pytest.mark.parametrize(("seconds", "cores", "expected"), [
    ([60, 20, 10], 2, 60), ([30, 30, 30, 30], 2, 60), ([50, 40, 30], 1, 120), ([], 4, 0)])
def test_makespan_longest_first(seconds, cores, expected):
    assert makespan(seconds, cores) == expected


def test_durations_read_as_a_person_writes_them():
    assert [duration(s) for s in (None, 40, 600, 3900)] == ["?", "40 s", "10 min", "1 h 05 min"]


def test_a_long_first_epoch_shows_its_batches_and_eta(tmp_path):
    """A ReNet epoch of Table 1's size takes half an hour: before its first history row, the
    trainer's last progress line gives the epoch's batches, rate and ETA."""
    results = tmp_path / "results"
    log = results / "logs/renet/mnist/seed0.log"
    log.parent.mkdir(parents=True)
    log.write_text("18:45:18 INFO rnnrepro.renet.train: ReNet mnist seed 0: ...\n"
                   "18:49:07 INFO rnnrepro: epoch 1: 191/782 batches (0.5/s, eta 1182s) "
                   "loss=2.217 error=0.8302\n")
    (lines,) = progress(tmp_path, "--stage", "renet", "--cores", "1")[:1]
    assert " running " in lines and "epoch 0 of" in lines
    assert "epoch 1: 191/782 batches at 0.5/s" in lines
    # 1182 s left of epoch 1, then the config's other epochs at 782 / 0.5 = 1564 s each.
    epochs = CONFIG["renet"].get("max_epochs") or yaml.safe_load(
        (ROOT / "config.yaml").read_text())["renet"]["training"]["max_epochs"]
    assert f"ETA {duration(1182 + (epochs - 1) * 1564)}" in lines
