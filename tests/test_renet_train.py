"""ReNet training jobs on a tiny synthetic dataset: outputs, determinism, resume after a kill,
NaN loss, summary and figure."""

from __future__ import annotations

import csv
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from rnnrepro.data.processed import save_array, write_manifest, write_normalization
from rnnrepro.renet.train import Job, train

MODEL = {"cell": "gru", "layers": [{"patch": [2, 2], "hidden": 6}], "fc": [16], "flip": True,
         "shift": True}
torch.set_num_threads(1)

TRAINING = {"learning_rate": 0.01, "batch_size": 16, "dropout": 0.1, "input_mask": 0.2,
            "max_epochs": 4, "patience": 10, "recurrent_init": "orthogonal",
            "weight_decay": 0.0, "precision": "fp32", "eval_batch_size": 50}


def write_dataset(root: Path, sizes: dict[str, int], h: int = 8, w: int = 8,
                  nan: bool = False) -> Path:
    """Class k = a bright bar at row k % h (learnable), plus noise; uint8 like MNIST."""
    rng = np.random.default_rng(0)
    for split, n in sizes.items():
        labels = rng.integers(0, 10, n).astype(np.int64)
        images = rng.integers(0, 60, (n, 1, h, w)).astype(np.uint8)
        images[np.arange(n), 0, labels % h, :] = 250
        if nan:
            images = images.astype(np.float32)
            images[:, :, 0, 0] = np.nan
        save_array(root / f"{split}_images.npy", images)
        save_array(root / f"{split}_labels.npy", labels)
    write_normalization(root, np.zeros((1, h, w)), np.full((1, h, w), 255.0))
    write_manifest(root, "synthetic")
    return root


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("data"),
                         {"train": 160, "validation": 60, "test": 60})


def settings(**training) -> dict:
    return {"model": MODEL, "training": {**TRAINING, **training}, "train_subset": None}


def read_history(path: Path) -> list[dict]:
    with open(path) as fh:
        return [{k: v for k, v in row.items() if k != "wall_time"} for row in csv.DictReader(fh)]


def test_train_writes_outputs_and_is_deterministic(dataset, tmp_path):
    job = Job.from_settings("mnist", 3, settings(max_epochs=3))
    runs = []
    for name in ("a", "b"):
        out = tmp_path / name
        metrics = train(job, data_root=dataset, history_path=out / "history.csv",
                        metrics_path=out / "metrics.json", device="cpu")
        runs.append((read_history(out / "history.csv"), metrics))
        assert not (out / "checkpoint.safetensors").exists()
        assert (out / "best.safetensors").exists()
        assert not (out / "history.partial.csv").exists()
    (history, metrics), (history_b, metrics_b) = runs
    assert history == history_b
    assert [float(r["val_error"]) for r in history] == \
        [float(r["val_error"]) for r in history_b]
    assert metrics["test_error"] == metrics_b["test_error"]
    assert list(history[0]) == ["epoch", "train_loss", "train_error", "val_loss", "val_error"]
    assert [int(r["epoch"]) for r in history] == [1, 2, 3]
    val = [float(r["val_error"]) for r in history]
    assert metrics["best_epoch"] == 1 + val.index(min(val))
    assert metrics["val_error"] == min(val)
    saved = json.loads((tmp_path / "a" / "metrics.json").read_text())
    for key in ("dataset", "seed", "best_epoch", "val_error", "test_error", "test_loss",
                "parameters", "epochs_run", "stopped_early", "architecture"):
        assert key in saved
    assert saved["seed"] == 3 and saved["epochs_run"] == 3 and not saved["stopped_early"]
    assert saved["architecture"]["renet_hidden"] == [6]
    assert 0 <= saved["test_error"] <= 1


def test_early_stopping_uses_patience(dataset, tmp_path):
    # lr 0 never improves after epoch 1: stops after 1 + patience epochs.
    job = Job.from_settings("mnist", 0, settings(learning_rate=1e-12, max_epochs=6,
                                                 patience=2))
    metrics = train(job, data_root=dataset, history_path=tmp_path / "history.csv",
                    metrics_path=tmp_path / "metrics.json", device="cpu")
    history = read_history(tmp_path / "history.csv")
    val = [float(r["val_error"]) for r in history]
    best = 1 + val.index(min(val))
    assert len(history) == min(best + 2, 6) and metrics["stopped_early"] == (len(history) < 6)
    assert metrics["best_epoch"] == best


def test_nan_loss_stops_with_clear_error(tmp_path):
    data = write_dataset(tmp_path / "data", {"train": 32, "validation": 16, "test": 16},
                         nan=True)
    job = Job.from_settings("mnist", 0, settings(input_mask=0.0))
    with pytest.raises(FloatingPointError, match="training loss at epoch 1, batch 1"):
        train(job, data_root=data, history_path=tmp_path / "h.csv",
              metrics_path=tmp_path / "m.json", device="cpu")
    assert not (tmp_path / "m.json").exists() and not (tmp_path / "h.csv").exists()


def test_bad_settings_name_the_key():
    with pytest.raises(ValueError, match=r"renet.training: missing key\(s\) \['patience'\]"):
        Job.from_settings("mnist", 0, {"model": MODEL, "train_subset": None, "training": {
            k: v for k, v in TRAINING.items() if k != "patience"}})
    with pytest.raises(ValueError, match="--settings lacks 'train_subset'"):
        Job.from_settings("mnist", 0, {"model": MODEL, "training": TRAINING})
    with pytest.raises(ValueError, match=r"renet\.training\.dropout"):
        Job.from_settings("mnist", 0, settings(dropout=1.5))


def cli(dataset: Path, out: Path, cfg: dict) -> list[str]:
    return [sys.executable, "-m", "rnnrepro", "renet-train", "--data",
            str(dataset / "manifest.json"), "--dataset", "mnist", "--seed", "1", "--device",
            "cpu", "--threads", "1", "--settings", json.dumps(cfg), "--history",
            str(out / "history.csv"), "--metrics", str(out / "metrics.json")]


@pytest.mark.slow  # a trainer process killed and resumed: about 15 s
def test_resume_after_kill_gives_identical_history(tmp_path):
    data = write_dataset(tmp_path / "data", {"train": 480, "validation": 100, "test": 100},
                         h=16, w=16)
    cfg = settings(max_epochs=4, batch_size=8)
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    full, killed = tmp_path / "full", tmp_path / "killed"
    ref = subprocess.Popen(cli(data, full, cfg), env=env, stderr=subprocess.PIPE, text=True)

    proc = subprocess.Popen(cli(data, killed, cfg), env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (killed / "checkpoint.safetensors").exists():
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline, "no checkpoint after 120 s"
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 75, err
    assert (killed / "checkpoint.safetensors").exists()
    assert not (killed / "history.csv").exists() and not (killed / "metrics.json").exists()
    done = len(read_history(killed / "history.partial.csv"))
    assert 1 <= done < 4

    resumed = subprocess.run(cli(data, killed, cfg), env=env, capture_output=True, text=True,
                             timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert f"after {done} of 4 blocks" in resumed.stderr
    _, err = ref.communicate(timeout=300)
    assert ref.returncode == 0, err

    assert read_history(killed / "history.csv") == read_history(full / "history.csv")
    a = json.loads((killed / "metrics.json").read_text())
    b = json.loads((full / "metrics.json").read_text())
    for key in ("best_epoch", "val_error", "test_error", "test_loss", "epochs_run"):
        assert a[key] == b[key], key
    assert not (killed / "checkpoint.safetensors").exists()


def test_summary_and_figure(tmp_path):
    from rnnrepro.renet.figures import plot_curves
    from rnnrepro.renet.summary import SUMMARY_COLUMNS, write_summary

    paths = []
    for dataset, seed, errors in (("cifar10", 0, [0.5, 0.4, 0.45]), ("mnist", 1, [0.1, 0.05]),
                                  ("mnist", 0, [0.2, 0.1])):
        folder = tmp_path / dataset / f"seed{seed}"
        folder.mkdir(parents=True)
        with open(folder / "history.csv", "w") as fh:
            fh.write("epoch,train_loss,train_error,val_loss,val_error,wall_time\n")
            for i, e in enumerate(errors, start=1):
                fh.write(f"{i},1.0,{e + 0.05},1.0,{e},{i}.0\n")
        best = 1 + errors.index(min(errors))
        metrics = {"dataset": dataset, "seed": seed, "test_error": min(errors) + 0.01,
                   "val_error": min(errors), "best_epoch": best, "epochs_run": len(errors),
                   "parameters": 123}
        (folder / "metrics.json").write_text(json.dumps(metrics))
        paths.append(folder / "metrics.json")
    write_summary(paths, tmp_path / "summary.csv", tmp_path / "errors.csv")
    with open(tmp_path / "summary.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == list(SUMMARY_COLUMNS)
    assert [(r["dataset"], r["seed"]) for r in rows] == [("mnist", "0"), ("mnist", "1"),
                                                         ("cifar10", "0")]
    assert float(rows[2]["test_error"]) == pytest.approx(0.41)
    errors = pd.read_csv(tmp_path / "errors.csv")
    assert errors["dataset"].tolist() == ["mnist", "cifar10"]
    assert errors["n"].tolist() == [2, 1]
    assert errors["test_error_percent_mean"].tolist() == pytest.approx([8.5, 41.0])
    assert errors["test_error_percent_std"].iloc[0] == pytest.approx(
        statistics.stdev([11.0, 6.0]))
    assert pd.isna(errors["test_error_percent_std"].iloc[1])  # one seed: no std
    histories = [p.parent / "history.csv" for p in paths]
    figure = tmp_path / "fig"
    plot_curves(paths, histories, figure / "renet-curves.pdf", figure / "curves.png")
    assert (figure / "renet-curves.pdf").stat().st_size > 1000
    assert sorted(p.name for p in figure.iterdir()) == ["curves.png", "renet-curves.pdf"]
    with pytest.raises(ValueError, match="is not the history of"):
        plot_curves(paths, histories[::-1], figure / "x.pdf", figure / "x.png")
    with pytest.raises(ValueError, match="both mnist seed 0"):
        write_summary([paths[2], paths[2]], tmp_path / "dup.csv", tmp_path / "dup-errors.csv")
