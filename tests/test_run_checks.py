"""Run files are checked against what the run is: a memory run against its representation's
steps, its history and the config's epochs; an increment job's metrics against its history.
Each forgery below once reached ``tables.tex`` (or crashed the claims job); now the summary
refuses it in one message naming the file and the value."""

from __future__ import annotations

import json
import tarfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from conftest import REPO
from rnnrepro.increment.summary import evaluation_rows
from rnnrepro.memory.summary import load_runs

ARCHIVE = REPO / "runs" / "paper-rows.tar.gz"
RUN = "memory/original/lr3e-05/seed0"
MEMORY = {"epochs": 250, "pixel_runs": {}}


@pytest.fixture
def run(tmp_path) -> Path:
    """One real 250-epoch run (metrics.json, history.csv) from the shipped paper-rows archive."""
    with tarfile.open(ARCHIVE) as archive:
        for name in ("metrics.json", "history.csv"):
            member = archive.getmember(f"{RUN}/{name}")
            target = tmp_path / RUN / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.extractfile(member).read())
    return tmp_path / RUN


def load(folder: Path, memory: dict | None = MEMORY) -> list[dict]:
    return load_runs([folder / "metrics.json"], [folder / "history.csv"],
                     None if memory is None else {"memory": memory})


def edit_metrics(folder: Path, change: Callable[[dict], None]) -> None:
    path = folder / "metrics.json"
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def test_the_real_run_passes(run):
    [loaded] = load(run)
    assert loaded["steps"] == 28 and len(loaded["history"]) == 250


FORGERIES = {
    # Issue 29's case: a 28-step run claiming 784 steps and a latency of 700.
    "impossible latency": (lambda m: m.update(steps=784, latency_mean=700.0),
                           r"steps = 784 is not a number in \[28, 28\]"),
    "latency beyond the steps": (lambda m: m.update(latency_mean=29.0),
                                 r"latency_mean = 29.0 is not a number in \[1, 28\]"),
    "latency below one step": (lambda m: m.update(latency_mean=0.5),
                               r"latency_mean = 0.5 is not a number in \[1, 28\]"),
    "a boolean accuracy": (lambda m: m["best"].update(acc=True),
                           r"best.acc = True is not a number"),
    "a fractional best epoch": (lambda m: m["best"].update(epoch=1.5),
                                r"best.epoch = 1.5 is not a whole number"),
    "a best epoch beyond the history": (lambda m: m["best"].update(epoch=251),
                                        r"best.epoch = 251 is not a number in \[1, 250\]"),
    "a forged best value": (lambda m: m["best"].update(val_acc=0.999),
                            r"best.val_acc = 0.999, but the history's epoch \d+ has val_acc"),
}


@pytest.mark.parametrize("forgery", FORGERIES)
def test_a_forged_metrics_file_is_refused_naming_the_value(run, forgery):
    change, message = FORGERIES[forgery]
    edit_metrics(run, change)
    with pytest.raises(ValueError, match=message) as caught:
        load(run)
    assert str(run / "metrics.json") in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_history_of_other_epochs_than_the_config_trains_is_refused(run):
    with pytest.raises(ValueError, match=r"history.csv: 250 epochs, but the config trains 2 "):
        load(run, {"epochs": 2, "pixel_runs": {}})
    load(run, None)  # without the config (a bare summary call) the length is not known


def test_history_epochs_must_run_one_to_n(run):
    path = run / "history.csv"
    frame = pd.read_csv(path)
    frame.loc[10, "epoch"] = 12
    frame.to_csv(path, index=False)
    with pytest.raises(ValueError, match=r"row 11 is epoch 12, expected 11"):
        load(run)


# -- an increment job's metrics.json against its history ---------------------------------

INCREMENT_RUN = "increment/K10-N7/simple/gru/seed0"


@pytest.fixture
def increment_run(tmp_path) -> Path:
    """One real increment job (51,200 minibatches) from the shipped cpu archive."""
    with tarfile.open(REPO / "runs" / "cpu.tar.gz") as archive:
        for name in ("metrics.json", "history.csv"):
            target = tmp_path / INCREMENT_RUN / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.extractfile(f"{INCREMENT_RUN}/{name}").read())
    return tmp_path / INCREMENT_RUN


def increment_rows(folder: Path) -> list[dict]:
    return evaluation_rows([folder / "metrics.json"], [folder / "history.csv"])


@pytest.mark.parametrize(("change", "message"), [
    (lambda m: m.update(final_digit_acc=0.999),
     r"final_digit_acc = 0.999, but its history ends with digit_acc"),
    (lambda m: m.update(minibatches=60000), r"minibatches = 60000 is not a number in \[51200"),
    (lambda m: m.update(minibatches=51200.5), r"minibatches = 51200.5 is not a number"),
])
def test_an_increment_metrics_file_must_agree_with_its_history(increment_run, change, message):
    assert len(increment_rows(increment_run)) == 51
    edit_metrics(increment_run, change)
    with pytest.raises(ValueError, match=message):
        increment_rows(increment_run)
