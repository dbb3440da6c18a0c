"""Resume after a hard kill, for each trainer (memory, ReNet, increment).

A training command is killed with SIGKILL right after its k-th checkpoint is written, then rerun
to completion: its history (wall_time aside), metrics (wall times aside), best weights and
latency must equal an uninterrupted run's exactly. The kill must really happen (exit -9, and the
rerun logs that it resumed after k blocks); blocks are made slow enough (~0.3 s) for that.
"""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

import test_increment_train as increment_tests
import test_memory_train as memory_tests
import test_renet_train as renet_tests
from rnnrepro.cli import main
from rnnrepro.data.permutations import write_permutations
from rnnrepro.paths import BEST_FILE, CHECKPOINT_FILE

ENV = {**os.environ, "PYTHONHASHSEED": "0"}
WALL_TIMES = {"wall_time", "train_wall_time"}


@dataclass
class Trainer:
    """A training command (by output folder) and its uninterrupted reference run."""

    command: Callable[[Path], list[str]]
    blocks: int
    reference: Path
    process: subprocess.Popen | None = None

    def start_reference(self) -> Trainer:
        """Run the reference in the background, beside the first kill test."""
        self.reference.mkdir(parents=True)
        with open(self.reference.parent / "reference.log", "w") as log:
            self.process = subprocess.Popen(self.command(self.reference), env=ENV,
                                            stdout=subprocess.DEVNULL, stderr=log)
        return self

    def finished_reference(self) -> Path:
        assert self.process is not None
        code = self.process.wait(timeout=300)
        assert code == 0, (self.reference.parent / "reference.log").read_text()[-3000:]
        return self.reference


def rnnrepro(*args: str) -> list[str]:
    return [sys.executable, "-m", "rnnrepro", *args]


@pytest.fixture(scope="module")
def memory(tmp_path_factory: pytest.TempPathFactory) -> Trainer:
    """784-step IRNN of 256 units on 48 images: ~0.3 s per epoch, 3 epochs."""
    root = tmp_path_factory.mktemp("memory")
    memory_tests.make_dataset(root / "results/data/mnist")
    write_permutations(root / "results/data/permutations.json", seed=5, count=3)
    settings = {**memory_tests.TINY, "hidden_size": 256, "epochs": 3}

    def command(out: Path) -> list[str]:
        args = memory_tests.train_args(root, out, "flattened", settings)
        args[args.index("--learning-rate") + 1] = "1e-4"  # 1e-3 diverges with 256 units
        return rnnrepro(*args)

    return Trainer(command, 3, root / "full" / "run").start_reference()


@pytest.fixture(scope="module")
def renet(tmp_path_factory: pytest.TempPathFactory) -> Trainer:
    """480 16x16 images in batches of 8: ~0.3 s per epoch; patience 1 (early stopping)."""
    root = tmp_path_factory.mktemp("renet")
    data = renet_tests.write_dataset(root / "data",
                                     {"train": 480, "validation": 60, "test": 60}, h=16, w=16)
    settings = renet_tests.settings(max_epochs=5, batch_size=8, patience=1)

    def command(out: Path) -> list[str]:
        return renet_tests.cli(data, out, settings)

    return Trainer(command, 5, root / "full" / "run").start_reference()


@pytest.fixture(scope="module")
def increment(tmp_path_factory: pytest.TempPathFactory) -> Trainer:
    """4 blocks of 100 minibatches (64 numbers, 64 GRU units): ~0.3 s per block."""
    root = tmp_path_factory.mktemp("increment")
    holdout = {"holdout_size": 1000, "holdout_seed": 7, "interesting_probability": 0.1}
    for command, name, task in (
            ("increment-permutation", "permutation.json", {"permutation_seed": 2018}),
            ("increment-holdout", "holdout.npz", holdout)):
        assert main([command, "--base", str(increment_tests.BASE), "--digits",
                     str(increment_tests.DIGITS), "--settings", json.dumps(task), "--output",
                     str(root / name)]) == 0
    settings = {**increment_tests.TINY, "hidden_size": 64, "batch_size": 64,
                "batches_per_epoch": 200, "eval_every": 25, "checkpoint_every": 100}

    def command(out: Path) -> list[str]:
        return rnnrepro(*increment_tests.train_args(root, out, "complicated", "gru", settings),
                        "--threads", "1")

    return Trainer(command, 4, root / "full" / "run").start_reference()


def kill_after_checkpoint(command: list[str], checkpoint: Path, k: int, log: Path) -> None:
    """Start ``command``; SIGKILL it as soon as ``checkpoint`` has been written ``k`` times."""
    with open(log, "w") as err:
        proc = subprocess.Popen(command, env=ENV, stdout=subprocess.DEVNULL, stderr=err)
    written, last = 0, None
    deadline = time.monotonic() + 120
    try:
        while written < k:
            if proc.poll() is not None:
                pytest.fail(f"the job ended (exit {proc.returncode}) before checkpoint {k} "
                            f"could be killed:\n{log.read_text()[-3000:]}")
            assert time.monotonic() < deadline, f"no checkpoint {k} after 120 s"
            try:
                stat = checkpoint.stat()
                version = (stat.st_ino, stat.st_mtime_ns)
            except FileNotFoundError:
                version = None
            if version is not None and version != last:
                written, last = written + 1, version
            else:
                time.sleep(0.001)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, log.read_text()[-3000:]


def history(folder: Path) -> list[dict[str, str]]:
    with open(folder / "history.csv") as fh:
        return [{k: v for k, v in row.items() if k != "wall_time"} for row in csv.DictReader(fh)]


def metrics(folder: Path) -> dict:
    data = json.loads((folder / "metrics.json").read_text())
    return {k: v for k, v in data.items() if k not in WALL_TIMES}


def outputs(folder: Path) -> list[str]:
    """File names, without the temporary files of writes a SIGKILL cut short
    (``.<name>.<random>.partial[.ext]``, see :func:`rnnrepro.files.atomic_path`)."""
    return sorted(p.name for p in folder.iterdir()
                  if not re.fullmatch(r"\..+\.partial(\.\w+)?", p.name))


def assert_same_run(resumed: Path, full: Path) -> None:
    """Same files; history, metrics, latency and best weights equal (wall times aside)."""
    assert outputs(resumed) == outputs(full)
    assert history(resumed) == history(full)
    assert metrics(resumed) == metrics(full)
    if (full / "latency.csv").exists():
        assert (resumed / "latency.csv").read_text() == (full / "latency.csv").read_text()
    if (full / BEST_FILE).exists():  # same epoch, run and weights: the same bytes
        assert (resumed / BEST_FILE).read_bytes() == (full / BEST_FILE).read_bytes()


def kill_resume_compare(trainer: Trainer, k: int, tmp_path: Path) -> None:
    out = tmp_path / "run"
    checkpoint = out / CHECKPOINT_FILE
    kill_after_checkpoint(trainer.command(out), checkpoint, k, tmp_path / "killed.log")
    assert checkpoint.exists()
    assert not (out / "history.csv").exists() and not (out / "metrics.json").exists()

    rerun = subprocess.run(trainer.command(out), env=ENV, capture_output=True, text=True,
                           timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    resumed = re.search(r"resuming from (\S+) after (\d+) of (\d+) blocks", rerun.stderr)
    assert resumed, rerun.stderr[-3000:]
    assert resumed.groups() == (str(checkpoint), str(k), str(trainer.blocks)), \
        "the kill did not land right after checkpoint k (blocks too fast?)"
    assert not checkpoint.exists() and not (out / "history.partial.csv").exists()
    assert_same_run(out, trainer.finished_reference())


@pytest.mark.slow  # real trainer processes killed and restarted: about 10-15 s each
@pytest.mark.parametrize("k", [1, 2, 3])
def test_memory_resumes_after_sigkill(memory: Trainer, k: int, tmp_path: Path):
    """k = 3: killed after the last epoch's checkpoint, the rerun only writes the outputs."""
    kill_resume_compare(memory, k, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("k", [1, 2])
def test_renet_resumes_after_sigkill(renet: Trainer, k: int, tmp_path: Path):
    kill_resume_compare(renet, k, tmp_path)
    assert metrics(renet.reference)["stopped_early"]  # the rerun stopped early as well


@pytest.mark.slow
@pytest.mark.parametrize("k", [1, 2])
def test_increment_resumes_after_sigkill(increment: Trainer, k: int, tmp_path: Path):
    kill_resume_compare(increment, k, tmp_path)
