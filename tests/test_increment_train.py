"""Increment task model, batched hold-out evaluation, resumable training jobs, summary, figure."""

from __future__ import annotations

import json
import os
import signal

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from rnnrepro import cli
from rnnrepro.execution import StopRequested
from rnnrepro.files import read_json
from rnnrepro.increment import train as train_module
from rnnrepro.increment.evaluation import HoldoutEvaluator
from rnnrepro.increment.holdout import build_holdout
from rnnrepro.increment.models import IncrementModel, sequence_loss
from rnnrepro.increment.sequences import increment, make_permutation, make_sequences
from rnnrepro.increment.settings import IncrementSettings

BASE, DIGITS = 3, 3
TINY = {"hidden_size": 16, "batch_size": 16, "learning_rate": 3.0e-4,
        "rmsprop": {"rho": 0.9, "eps": 1.0e-7}, "epochs": 2, "batches_per_epoch": 20,
        "interesting_probability": 0.1, "eval_every": 5, "eval_batch_size": 10,
        "checkpoint_every": 10, "irnn_input_std": 0.001,
        "units": {"gate_activation": "hard_sigmoid", "gru_reset": "before",
                  "input_init": "glorot_uniform", "recurrent_init": "orthogonal",
                  "bias_init": "zeros", "lstm_forget_bias": 1.0}}
KERAS = IncrementSettings.from_parts(TINY).units


@pytest.fixture(autouse=True)
def one_thread():
    """Jobs run single-threaded (``--threads 1``); restore torch's setting afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def task_files(tmp_path_factory):
    """Permutation and hold-out files of the tiny task, made by the CLI."""
    folder = tmp_path_factory.mktemp("task")
    holdout = {"holdout_size": 1000, "holdout_seed": 7, "interesting_probability": 0.1}
    for command, name, settings in (
            ("increment-permutation", "permutation.json", {"permutation_seed": 2018}),
            ("increment-holdout", "holdout.npz", holdout)):
        assert cli.main([command, "--base", str(BASE), "--digits", str(DIGITS), "--settings",
                         json.dumps(settings), "--output", str(folder / name)]) == 0
    return folder


def train_args(task_files, run_dir, order="complicated", cell="gru", settings=None):
    args = ["increment-train", "--base", str(BASE), "--digits", str(DIGITS), "--order", order,
            "--cell", cell, "--seed", "3", "--settings", json.dumps(settings or TINY),
            "--holdout", str(task_files / "holdout.npz"),
            "--history", str(run_dir / "history.csv"), "--metrics", str(run_dir / "metrics.json"),
            "--device", "cpu"]
    if order == "complicated":
        args += ["--permutation", str(task_files / "permutation.json")]
    return args


class Oracle(nn.Module):
    """Answers the simple-order task perfectly (the target is a function of the input)."""

    def __init__(self, base: int, digits: int):
        super().__init__()
        self.base, self.digits = base, digits

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        numbers = inputs[:, :self.digits].numpy()
        _, targets = make_sequences(numbers, self.base)
        return torch.nn.functional.one_hot(torch.from_numpy(targets).long(), self.base).float()


class Echo(nn.Module):
    """Repeats its input digit at every step: right on the first half, wrong on every number."""

    def __init__(self, base: int):
        super().__init__()
        self.base = base

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.one_hot(inputs.long(), self.base).float()


def test_model_outputs_and_loss():
    torch.manual_seed(0)
    model = IncrementModel("lstm", 10, 16, KERAS, 0.001)
    inputs, targets = make_sequences(np.array([[1, 2, 3], [9, 9, 9]], dtype=np.uint8), 10)
    logits = model(torch.from_numpy(inputs))
    assert logits.shape == (2, 6, 10)
    target = torch.from_numpy(targets).long()
    manual = -torch.log_softmax(logits, -1).gather(-1, target[..., None]).mean()
    assert torch.allclose(sequence_loss(logits, target), manual)
    # Keras' LSTM: one bias vector (PyTorch's nn.LSTM has two).
    assert sum(p.numel() for p in model.recurrent.parameters()) == 4 * 16 * (10 + 16 + 1)


def test_irnn_cell_is_identity_initialised():
    model = IncrementModel("rnn", 4, 16, KERAS, 0.001)
    assert torch.equal(model.recurrent.weight_hh_l0, torch.eye(16))
    assert model.recurrent.nonlinearity == "relu"


@pytest.mark.parametrize("batch_size", [7, 100_000])
def test_evaluation_scores_oracle_and_echo(batch_size):
    holdout = build_holdout(4, 5, size=300, seed=7, interesting_probability=0.1)
    evaluator = HoldoutEvaluator(holdout, None, torch.device("cpu"), batch_size)
    perfect = evaluator(Oracle(4, 5))
    assert perfect.digit == 1.0 and perfect.number == 1.0
    echo = evaluator(Echo(4))
    unchanged = (increment(holdout.numbers, 4) == holdout.numbers).sum()
    total = holdout.numbers.size
    assert echo.digit == pytest.approx((total + unchanged) / (2 * total))
    assert echo.number == 0.0


def test_evaluation_does_not_depend_on_batch_size():
    holdout = build_holdout(2, 12, size=1000, seed=7, interesting_probability=0.1)
    permutation = make_permutation(2, 12, 0)
    torch.manual_seed(1)
    model = IncrementModel("gru", 2, 16, KERAS, 0.001)
    scores = {size: HoldoutEvaluator(holdout, permutation, torch.device("cpu"), size)(model)
              for size in (99, 1000)}
    assert len(set(scores.values())) == 1


def test_settings_errors_name_the_key():
    with pytest.raises(ValueError, match=r"increment: missing key\(s\) \['eval_every'\]"):
        IncrementSettings.from_parts({k: v for k, v in TINY.items() if k != "eval_every"})
    with pytest.raises(ValueError, match=r"unknown.*'eval_evry'"):
        IncrementSettings.from_parts({**TINY, "eval_evry": 3})
    with pytest.raises(ValueError, match=r"increment\.rmsprop\.rho = 2"):
        IncrementSettings.from_parts({**TINY, "rmsprop": {"rho": 2, "eps": 1e-7}})
    with pytest.raises(ValueError, match=r"increment\.eval_batch_size = 0"):
        IncrementSettings.from_parts(TINY, {"eval_batch_size": 0})
    assert IncrementSettings.from_parts({**TINY, "eval_every": 4, "checkpoint_every": 10}
                                    ).block_size == 8


def test_training_job_resumes_with_identical_history(task_files, tmp_path, monkeypatch):
    """A SIGTERM mid-unit stops the job (exit 75, checkpoint kept); the rerun resumes and ends
    with the same history as an uninterrupted run (wall_time aside)."""
    whole, resumed = tmp_path / "whole", tmp_path / "resumed"
    assert cli.main(train_args(task_files, whole)) == 0

    calls = {"n": 0}
    real_draw = train_module.draw_numbers

    def draw_then_stop(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 23:  # inside the third unit (minibatches 21-30)
            os.kill(os.getpid(), signal.SIGTERM)
        return real_draw(*args, **kwargs)

    monkeypatch.setattr(train_module, "draw_numbers", draw_then_stop)
    assert cli.main(train_args(task_files, resumed)) == StopRequested.exit_code
    assert (resumed / "checkpoint.safetensors").exists()
    assert (resumed / "history.partial.csv").exists()
    assert not (resumed / "history.csv").exists() and not (resumed / "metrics.json").exists()
    partial = pd.read_csv(resumed / "history.partial.csv")
    assert partial["minibatch"].tolist() == [0, 5, 10, 15, 20]
    monkeypatch.setattr(train_module, "draw_numbers", real_draw)
    assert cli.main(train_args(task_files, resumed)) == 0

    a = pd.read_csv(whole / "history.csv")
    b = pd.read_csv(resumed / "history.csv")
    assert a["minibatch"].tolist() == list(range(0, 41, 5))
    pd.testing.assert_frame_equal(a.drop(columns="wall_time"), b.drop(columns="wall_time"))
    assert sorted(p.name for p in resumed.iterdir()) == ["history.csv", "metrics.json"]
    metrics = read_json(whole / "metrics.json")
    assert metrics["final_digit_acc"] == a["digit_acc"].iloc[-1]
    assert metrics["best_number_acc"] == a["number_acc"].max()
    assert metrics["minibatches"] == 40 and metrics["holdout"]["exhaustive"]
    assert metrics["permutation"] == make_permutation(BASE, DIGITS, 2018).tolist()


def test_training_learns(task_files, tmp_path):
    """With a larger learning rate a few hundred minibatches take an LSTM on the simple order
    from chance to well above it."""
    fast = {**TINY, "learning_rate": 0.01, "epochs": 1, "batches_per_epoch": 300,
            "eval_every": 300, "checkpoint_every": 300, "eval_batch_size": 1000}
    assert cli.main(train_args(task_files, tmp_path, "simple", "lstm", fast)) == 0
    history = pd.read_csv(tmp_path / "history.csv")
    assert history["minibatch"].tolist() == [0, 300]
    assert history["digit_acc"].iloc[-1] > 0.8 > 1 / BASE + 0.1 > history["digit_acc"].iloc[0]


def test_summary_and_figure(task_files, tmp_path):
    """The summary and the figure read the jobs' files, one row / one line per job."""
    short = {**TINY, "epochs": 1, "batches_per_epoch": 10, "checkpoint_every": 10}
    runs = []
    for order, cell in (("simple", "rnn"), ("complicated", "rnn"), ("simple", "gru"),
                        ("complicated", "gru")):
        run_dir = tmp_path / f"K{BASE}-N{DIGITS}" / order / cell / "seed3"
        assert cli.main(train_args(task_files, run_dir, order, cell, short)) == 0
        runs.append(run_dir)

    summary, evaluations = tmp_path / "summary.csv", tmp_path / "evaluations.csv"
    assert cli.main(["increment-summary", "--metrics",
                     *[str(r / "metrics.json") for r in reversed(runs)],
                     "--history", *[str(r / "history.csv") for r in reversed(runs)],
                     "--output", str(summary), "--evaluations", str(evaluations)]) == 0
    table = pd.read_csv(summary)
    assert list(table.columns) == ["base", "digits", "order", "cell", "seed", "minibatches",
                                   "final_digit_acc", "final_number_acc"]
    assert table[["order", "cell"]].values.tolist() == [
        ["complicated", "gru"], ["complicated", "rnn"], ["simple", "gru"], ["simple", "rnn"]]
    assert set(table["minibatches"]) == {10} and set(table["base"]) == {BASE}
    history = pd.read_csv(runs[2] / "history.csv")
    assert table["final_digit_acc"].iloc[2] == history["digit_acc"].iloc[-1]
    # Every evaluation of every job, with the job's keys, in the summary's order.
    rows = pd.read_csv(evaluations)
    assert len(rows) == sum(len(pd.read_csv(r / "history.csv")) for r in runs)
    gru = rows[(rows["order"] == "simple") & (rows["cell"] == "gru")]
    assert gru["digit_acc"].tolist() == history["digit_acc"].tolist()
    assert rows[["order", "cell"]].drop_duplicates().values.tolist() == table[
        ["order", "cell"]].values.tolist()
    twice = [str(runs[0] / "metrics.json")] * 2
    assert cli.main(["increment-summary", "--metrics", *twice,
                     "--history", *[str(runs[0] / "history.csv")] * 2,
                     "--output", str(summary), "--evaluations", str(evaluations)]) == 2
    # A history from another job's folder is refused.
    assert cli.main(["increment-summary", "--metrics", str(runs[0] / "metrics.json"),
                     "--history", str(runs[1] / "history.csv"),
                     "--output", str(summary), "--evaluations", str(evaluations)]) == 2

    figure = tmp_path / "fig" / "increment-K3-N3.pdf"
    assert cli.main(["increment-figure", "--base", str(BASE), "--digits", str(DIGITS),
                     "--history", *[str(r / "history.csv") for r in runs],
                     "--metrics", *[str(r / "metrics.json") for r in runs],
                     "--output", str(figure), "--png", str(figure.with_suffix(".png"))]) == 0
    assert figure.read_bytes().startswith(b"%PDF") and figure.with_suffix(".png").stat().st_size
    assert sorted(p.name for p in figure.parent.iterdir()) == ["increment-K3-N3.pdf",
                                                               "increment-K3-N3.png"]
    assert cli.main(["increment-figure", "--base", "4", "--digits", str(DIGITS),
                     "--history", str(runs[0] / "history.csv"),
                     "--metrics", str(runs[0] / "metrics.json"),
                     "--output", str(tmp_path / "other.pdf"),
                     "--png", str(tmp_path / "other.png")]) == 2


def test_cli_reports_bad_inputs(task_files, tmp_path, capsys):
    run_dir = tmp_path / "run"
    args = train_args(task_files, run_dir, order="complicated")
    without = args[:args.index("--permutation")]
    assert cli.main(without) == 2
    assert "needs --permutation" in capsys.readouterr().err
    wrong_task = list(args)
    wrong_task[args.index("--digits") + 1] = str(DIGITS + 1)
    assert cli.main(wrong_task) == 2
    assert "holdout.npz: written for K=3, N=3" in capsys.readouterr().err
    bad = train_args(task_files, run_dir, settings={**TINY, "batch_size": 0})
    assert cli.main(bad) == 2
    assert "increment.batch_size" in capsys.readouterr().err
    assert not run_dir.exists()
