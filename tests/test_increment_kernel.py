"""The compiled hold-out kernel against the PyTorch evaluation: same predictions, same
accuracies, for every cell, unit variant, task and digit order; its build, cache and fallback."""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
import pytest
import torch

from rnnrepro.increment import native
from rnnrepro.increment.evaluation import HoldoutEvaluator
from rnnrepro.increment.holdout import build_holdout
from rnnrepro.increment.models import IncrementModel, sequence_loss
from rnnrepro.increment.numbers import draw_numbers
from rnnrepro.increment.sequences import make_permutation, make_sequences
from rnnrepro.increment.settings import UnitSettings

CPU = torch.device("cpu")
KERAS = UnitSettings(gate_activation="hard_sigmoid", gru_reset="before",
                     input_init="glorot_uniform", recurrent_init="orthogonal",
                     bias_init="zeros", lstm_forget_bias=1.0)
PYTORCH = UnitSettings(gate_activation="sigmoid", gru_reset="after", input_init="uniform",
                       recurrent_init="uniform", bias_init="uniform", lstm_forget_bias=0.0)


@pytest.fixture(autouse=True)
def fresh_kernel(tmp_path, monkeypatch):
    """Each test builds (or finds) the kernel in its own cache folder."""
    monkeypatch.setenv("RNNREPRO_KERNEL_CACHE", str(tmp_path / "kernels"))
    native.load.cache_clear()
    yield
    native.load.cache_clear()


def model_with_opinions(cell: str, base: int, units: UnitSettings, hidden: int = 16,
                        probe: torch.Tensor | None = None) -> IncrementModel:
    """An increment model whose predictions vary from number to number and step to step (a
    fresh model predicts nearly one digit everywhere, which would hide a wrong kernel): strong
    input weights and a weak recurrence, so the state follows the latest digits; the first
    seed whose model predicts at least two digits on ``probe`` (default: random sequences)."""
    if probe is None:
        probe = torch.from_numpy(np.random.default_rng(0).integers(0, base, (200, 30)))
    for seed in range(20):
        torch.manual_seed(seed)
        model = IncrementModel(cell, base, hidden, units, irnn_input_std=0.001)
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.add_(torch.randn_like(parameter), alpha=0.5)
            model.recurrent.weight_ih_l0.add_(torch.randn_like(model.recurrent.weight_ih_l0))
            model.recurrent.weight_hh_l0.mul_(0.3)
            model.readout.weight.mul_(4.0)
            model.readout.bias.zero_()
            if len(model(probe).argmax(dim=-1).unique()) >= 2:
                return model
    raise AssertionError(f"no seed gives a {cell} model with varied predictions")


def predictions_both_ways(model: IncrementModel, evaluator: HoldoutEvaluator) -> tuple:
    library = native.load()
    assert library is not None, "a C compiler is needed for these tests (gcc in setup.sh)"
    compiled, _ = native.predict(library, native.weights_of(model), evaluator.inputs.numpy())
    with torch.inference_mode():
        reference = model(evaluator.inputs).argmax(dim=-1).numpy()
    return compiled, reference


@pytest.mark.parametrize("base,digits", [(2, 32), (10, 7), (4, 15)])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("units", [KERAS, PYTORCH], ids=["keras", "pytorch"])
@pytest.mark.parametrize("order", ["simple", "complicated"])
def test_kernel_predicts_what_the_model_does(base, digits, cell, units, order):
    holdout = build_holdout(base, digits, size=600, seed=7, interesting_probability=0.1)
    permutation = make_permutation(base, digits, 2018) if order == "complicated" else None
    scores = {kernel: HoldoutEvaluator(holdout, permutation, CPU, 256, kernel=kernel)
              for kernel in ("compiled", "torch")}
    model = model_with_opinions(cell, base, units, probe=scores["torch"].inputs)
    accuracy = {kernel: evaluator(model) for kernel, evaluator in scores.items()}
    assert scores["compiled"].used == "compiled" and scores["torch"].used == "torch"
    assert accuracy["compiled"] == accuracy["torch"]
    assert 0 < accuracy["torch"].digit < 1
    compiled, reference = predictions_both_ways(model, scores["torch"])
    assert np.array_equal(compiled, reference)
    assert len(np.unique(reference)) >= 2  # not one digit everywhere


@pytest.mark.parametrize("hidden", [1, 5, 16, 33])
def test_kernel_handles_hidden_sizes_that_are_not_a_vector_width(hidden):
    holdout = build_holdout(4, 15, size=100, seed=7, interesting_probability=0.1)
    evaluator = HoldoutEvaluator(holdout, None, CPU, 64, kernel="torch")
    for cell in ("rnn", "lstm", "gru"):
        compiled, reference = predictions_both_ways(
            model_with_opinions(cell, 4, KERAS, hidden=hidden), evaluator)
        assert np.array_equal(compiled, reference), cell


def test_a_trained_model_scores_the_same_both_ways():
    """A model trained a few hundred minibatches (sharp, confident outputs) on (10, 7)."""
    torch.manual_seed(1)
    model = IncrementModel("lstm", 10, 16, KERAS, irnn_input_std=0.001)
    optimizer = torch.optim.RMSprop(model.parameters(), lr=1e-2)
    rng = np.random.default_rng(0)
    for _ in range(300):
        inputs, targets = make_sequences(draw_numbers(rng, 64, 10, 7, 0.1), 10, None)
        loss = sequence_loss(model(torch.from_numpy(inputs)), torch.from_numpy(targets))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    holdout = build_holdout(10, 7, size=2000, seed=7, interesting_probability=0.1)
    scores = [HoldoutEvaluator(holdout, None, CPU, 500, kernel=kernel)(model)
              for kernel in ("compiled", "torch")]
    assert scores[0] == scores[1]
    assert scores[1].digit > 0.5


def test_the_kernel_is_built_once_and_found_in_the_cache(tmp_path):
    assert native.load() is not None
    built = list((tmp_path / "kernels").glob("holdout_kernel-*.so"))
    assert len(built) == 1
    stamp = built[0].stat().st_mtime_ns
    native.load.cache_clear()
    assert native.load() is not None
    assert [path.stat().st_mtime_ns for path in built] == [stamp]


def test_without_a_compiler_the_evaluation_runs_in_pytorch_and_says_so(monkeypatch, caplog):
    monkeypatch.setenv("CC", "no-such-compiler")
    holdout = build_holdout(4, 15, size=200, seed=7, interesting_probability=0.1)
    model = model_with_opinions("gru", 4, KERAS)
    with caplog.at_level(logging.WARNING):
        auto = HoldoutEvaluator(holdout, None, CPU, 64)
        accuracy = auto(model)
    assert auto.used == "torch"
    notices = [record.getMessage() for record in caplog.records]
    assert len(notices) == 1 and "no C compiler (no-such-compiler)" in notices[0]
    assert accuracy == HoldoutEvaluator(holdout, None, CPU, 64, kernel="torch")(model)
    with pytest.raises(RuntimeError, match="compiled hold-out kernel does not apply"):
        HoldoutEvaluator(holdout, None, CPU, 64, kernel="compiled")(model)


def test_a_failing_build_falls_back_with_the_compilers_first_line(monkeypatch, tmp_path,
                                                                  caplog):
    broken = tmp_path / "broken.c"
    broken.write_text("this is not C\n")
    monkeypatch.setattr(native, "SOURCE", broken)
    with caplog.at_level(logging.WARNING):
        assert native.load() is None
    assert "compiled kernel unavailable" in caplog.text and "broken.c" in caplog.text
    assert not list((tmp_path / "kernels").glob("*.so"))  # nothing half-built is kept


def test_models_the_kernel_does_not_know_run_in_pytorch():
    holdout = build_holdout(2, 8, size=100, seed=7, interesting_probability=0.1)
    model = model_with_opinions("gru", 2, KERAS)
    model.readout = torch.nn.Linear(16, 2, bias=False)
    assert native.weights_of(model) is None
    evaluator = HoldoutEvaluator(holdout, None, CPU, 64)
    evaluator(model)
    assert evaluator.used == "torch"
    assert dataclasses.is_dataclass(native.weights_of(model_with_opinions("rnn", 2, KERAS)))


def test_near_ties_are_rescored_in_pytorch(monkeypatch):
    """Where the kernel's best logit barely leads, PyTorch's rounding decides: the evaluator
    re-scores those numbers with the model and keeps the kernel's answer elsewhere."""
    holdout = build_holdout(4, 15, size=300, seed=7, interesting_probability=0.1)
    evaluator = HoldoutEvaluator(holdout, None, CPU, 64, kernel="compiled")
    model = model_with_opinions("gru", 4, KERAS, probe=evaluator.inputs)
    honest = native.predict

    def wrong_on_near_ties(library, weights, digits):
        predictions, margins = honest(library, weights, digits)
        predictions[:40] = (predictions[:40] + 1) % 4   # wrong answers ...
        margins[:40, 3] = 1e-6                           # ... flagged as near ties
        predictions[40:50] = (predictions[40:50] + 1) % 4  # wrong and confident: kept
        return predictions, margins

    monkeypatch.setattr(native, "predict", wrong_on_near_ties)
    with torch.inference_mode():
        reference = model(evaluator.inputs).argmax(dim=-1).numpy()
    scored = evaluator._compiled(model, native.load(), native.weights_of(model))
    assert evaluator.rescored == 40
    assert np.array_equal(scored[:40], reference[:40])
    assert not np.array_equal(scored[40:50], reference[40:50])
    assert np.array_equal(scored[50:], reference[50:])
