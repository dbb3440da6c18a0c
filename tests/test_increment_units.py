"""The increment task's LSTM and GRU against Keras 2's equations, written here step by step in
Keras' own layout (kernel (in, gates*h), gate order LSTM i f c o, GRU z r h), and their
initialisers against the stated distributions."""

from __future__ import annotations

import math
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pytest
import torch

from rnnrepro.config_types import load
from rnnrepro.gated_recurrence import gate_, gru_recurrence, lstm_recurrence
from rnnrepro.increment.keras_units import KerasRecurrent, keras_orthogonal
from rnnrepro.increment.models import IncrementModel
from rnnrepro.increment.settings import IncrementSettings, UnitSettings

HIDDEN, INPUTS = 5, 3
# Keras 2's definitions, as config.yaml states them (increment.units).
KERAS = UnitSettings(**load(Path(__file__).resolve().parents[1])["increment"]["units"])
PYTORCH = UnitSettings(gate_activation="sigmoid", gru_reset="after", input_init="pytorch",
                       recurrent_init="pytorch", bias_init="pytorch", lstm_forget_bias=0.0)


def np_hard_sigmoid(x):
    return np.clip(0.2 * x + 0.5, 0.0, 1.0)


def keras_lstm(x, kernel, recurrent, bias):
    """keras.layers.LSTMCell.call (implementation 1), recurrent_activation hard_sigmoid."""
    h = np.zeros((x.shape[0], HIDDEN))
    c = np.zeros_like(h)
    out = []
    for t in range(x.shape[1]):
        z = x[:, t] @ kernel + h @ recurrent + bias
        i, f, cand, o = (z[:, k * HIDDEN:(k + 1) * HIDDEN] for k in range(4))
        c = np_hard_sigmoid(f) * c + np_hard_sigmoid(i) * np.tanh(cand)
        h = np_hard_sigmoid(o) * np.tanh(c)
        out.append(h)
    return np.stack(out, axis=1)


def keras_gru(x, kernel, recurrent, bias):
    """keras.layers.GRUCell.call with reset_after=False: gates z, r, h in that order."""
    h = np.zeros((x.shape[0], HIDDEN))
    split = lambda m: [m[..., k * HIDDEN:(k + 1) * HIDDEN] for k in range(3)]  # noqa: E731
    (k_z, k_r, k_h), (u_z, u_r, u_h), (b_z, b_r, b_h) = split(kernel), split(recurrent), split(
        bias)
    out = []
    for t in range(x.shape[1]):
        xt = x[:, t]
        z = np_hard_sigmoid(xt @ k_z + h @ u_z + b_z)
        r = np_hard_sigmoid(xt @ k_r + h @ u_r + b_r)
        hh = np.tanh(xt @ k_h + (r * h) @ u_h + b_h)
        h = z * h + (1 - z) * hh
        out.append(h)
    return np.stack(out, axis=1)


def keras_weights(unit: KerasRecurrent):
    """Our PyTorch-layout parameters as Keras' kernel, recurrent kernel and bias."""
    kernel = unit.weight_ih_l0.detach().double().numpy().T
    recurrent = unit.weight_hh_l0.detach().double().numpy().T
    bias = unit.bias_l0.detach().double().numpy()
    if unit.cell == "gru":  # ours: r, z, n; Keras: z, r, h
        order = np.r_[HIDDEN:2 * HIDDEN, 0:HIDDEN, 2 * HIDDEN:3 * HIDDEN]
        kernel, recurrent, bias = kernel[:, order], recurrent[:, order], bias[order]
    return kernel, recurrent, bias


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_forward_is_keras_2(cell):
    torch.manual_seed(0)
    unit = KerasRecurrent(cell, INPUTS, HIDDEN, KERAS)
    with torch.no_grad():  # non-zero biases and larger weights, so every term matters
        unit.bias_l0.uniform_(-1, 1)
        unit.weight_ih_l0.mul_(3)
    x = torch.randn(4, 7, INPUTS)
    got, _ = unit(x)
    reference = (keras_lstm if cell == "lstm" else keras_gru)(x.double().numpy(),
                                                               *keras_weights(unit))
    np.testing.assert_allclose(got.detach().numpy(), reference, atol=1e-5, rtol=0)
    # With PyTorch's gate function the numbers change: the choice is really applied.
    sig = KerasRecurrent(cell, INPUTS, HIDDEN, replace(KERAS, gate_activation="sigmoid"))
    sig.load_state_dict(unit.state_dict())
    assert (sig(x)[0] - got).abs().max() > 1e-2


def test_hard_sigmoid_is_keras_not_pytorch():
    x = torch.tensor([-3.0, -2.5, -1.0, 0.0, 1.0, 2.5, 3.0])
    torch.testing.assert_close(gate_(x.clone(), hard=True),
                               torch.tensor([0, 0, 0.3, 0.5, 0.7, 1, 1.0]))
    assert torch.nn.functional.hardsigmoid(torch.tensor(1.0)) != gate_(torch.tensor(1.0), True)
    torch.testing.assert_close(gate_(x.clone(), hard=False), torch.sigmoid(x))


@pytest.mark.parametrize("hard", [True, False])
@pytest.mark.parametrize("variant", ["lstm", "gru-before", "gru-after"])
def test_hand_written_backward_against_gradcheck_and_autograd(variant, hard):
    """The recurrences' backward passes: finite differences (double), and autograd through a
    plain step loop of the same equations on the same inputs."""
    torch.manual_seed(4)
    steps, batch, hidden = 5, 3, 4
    gates = 4 if variant == "lstm" else 3
    gi = (0.5 * torch.randn(steps, batch, gates * hidden, dtype=torch.float64)).requires_grad_()
    w = (0.3 * torch.randn(gates * hidden, hidden, dtype=torch.float64)).requires_grad_()
    b = (0.3 * torch.randn(hidden, dtype=torch.float64)).requires_grad_()
    if variant == "lstm":
        fast = lambda gi, w, b: lstm_recurrence(gi, w, hard)  # noqa: E731
    else:
        fast = lambda gi, w, b: gru_recurrence(  # noqa: E731
            gi, w, b if variant == "gru-after" else None, hard)
    inputs = (gi, w, b) if variant == "gru-after" else (gi, w)
    assert torch.autograd.gradcheck(lambda *a: fast(*a, *([None] * (3 - len(a)))), inputs)
    probe = torch.randn(steps, batch, hidden, dtype=torch.float64)
    ours = torch.autograd.grad((fast(gi, w, b) * probe).sum(), inputs)
    plain = torch.autograd.grad((loop_reference(variant, gi, w, b, hard) * probe).sum(), inputs)
    for got, want in zip(ours, plain, strict=True):
        torch.testing.assert_close(got, want)


def gate(x, hard):
    """The gate function written from its definition (Keras 2's hard sigmoid, or sigmoid)."""
    return torch.clamp(0.2 * x + 0.5, 0.0, 1.0) if hard else torch.sigmoid(x)


def loop_reference(variant, gi, w, b, hard):
    """The same recurrences as a plain loop (autograd differentiates it)."""
    hidden = w.shape[1]
    h = gi.new_zeros(gi.shape[1], hidden)
    c = torch.zeros_like(h)
    out = []
    for g in gi:
        if variant == "lstm":  # the recurrence's row order: i, f, o, g
            i, f, o, cand = (g + h @ w.T).chunk(4, dim=1)
            c = gate(f, hard) * c + gate(i, hard) * torch.tanh(cand)
            h = gate(o, hard) * torch.tanh(c)
        else:
            r, z = gate(g[:, :2 * hidden] + h @ w[:2 * hidden].T, hard).chunk(2, dim=1)
            if variant == "gru-after":
                n = torch.tanh(g[:, 2 * hidden:] + r * (h @ w[2 * hidden:].T + b))
            else:
                n = torch.tanh(g[:, 2 * hidden:] + (r * h) @ w[2 * hidden:].T)
            h = (1 - z) * n + z * h
        out.append(h)
    return torch.stack(out)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_pytorch_choices_reproduce_nn_units(cell):
    """units = PyTorch's choices, with nn.LSTM/nn.GRU's weights copied in: the same outputs."""
    torch.manual_seed(1)
    reference = (torch.nn.LSTM if cell == "lstm" else torch.nn.GRU)(INPUTS, HIDDEN,
                                                                     batch_first=True)
    unit = KerasRecurrent(cell, INPUTS, HIDDEN, PYTORCH)
    with torch.no_grad():
        unit.weight_ih_l0.copy_(reference.weight_ih_l0)
        unit.weight_hh_l0.copy_(reference.weight_hh_l0)
        if cell == "lstm":
            unit.bias_l0.copy_(reference.bias_ih_l0 + reference.bias_hh_l0)
        else:  # r and z biases add up; the n gate keeps its recurrent bias inside r * (...)
            unit.bias_l0.copy_(reference.bias_ih_l0)
            unit.bias_l0[:2 * HIDDEN] += reference.bias_hh_l0[:2 * HIDDEN]
            unit.bias_hn_l0.copy_(reference.bias_hh_l0[2 * HIDDEN:])
    x = torch.randn(3, 6, INPUTS)
    torch.testing.assert_close(unit(x)[0], reference(x)[0], atol=1e-6, rtol=0)


def test_keras_initialisers():
    torch.manual_seed(2)
    hidden, inputs = 16, 10
    lstm = KerasRecurrent("lstm", inputs, hidden, KERAS)
    gru = KerasRecurrent("gru", inputs, hidden, KERAS)
    for unit, gates in ((lstm, 4), (gru, 3)):
        # Orthogonal: Keras draws one (h, gates*h) kernel with orthonormal rows, so the
        # stacked matrix (ours: its transpose) has W^T W = I.
        w_hh = unit.weight_hh_l0.detach().double()
        torch.testing.assert_close(w_hh.T @ w_hh, torch.eye(hidden, dtype=torch.float64),
                                   atol=1e-5, rtol=0)
        # Glorot uniform over Keras' (in, gates*h) kernel.
        limit = math.sqrt(6 / (inputs + gates * hidden))
        w_ih = unit.weight_ih_l0.detach()
        assert w_ih.abs().max() <= limit and w_ih.abs().max() > 0.8 * limit
        assert w_ih.std().item() == pytest.approx(limit / math.sqrt(3), rel=0.15)
    bias = lstm.bias_l0.detach()
    assert torch.equal(bias[hidden:2 * hidden], torch.ones(hidden))  # unit_forget_bias
    assert torch.count_nonzero(bias) == hidden
    assert torch.count_nonzero(gru.bias_l0) == 0
    q = keras_orthogonal(7, 3)  # a tall kernel: orthonormal columns
    torch.testing.assert_close(q.T @ q, torch.eye(3), atol=1e-5, rtol=0)


def test_units_reach_the_model_and_bad_values_name_the_key():
    model = IncrementModel("gru", 10, 16, replace(KERAS, gru_reset="after"), 0.001)
    assert isinstance(model.recurrent, KerasRecurrent) and model.recurrent.reset_after
    irnn = IncrementModel("rnn", 10, 16, KERAS, 0.001).recurrent
    assert isinstance(irnn, torch.nn.RNN)  # the IRNN
    base = {"hidden_size": 16, "batch_size": 16, "learning_rate": 3e-4,
            "rmsprop": {"rho": 0.9, "eps": 1e-7}, "epochs": 1, "batches_per_epoch": 10,
            "interesting_probability": 0.1, "eval_every": 5, "eval_batch_size": 10,
            "checkpoint_every": 5, "irnn_input_std": 0.001}
    assert UnitSettings("hard_sigmoid", "before", "glorot_uniform", "orthogonal",
                                 "zeros", 1.0) == KERAS  # config.yaml states Keras 2's definitions
    keras = asdict(KERAS)
    assert IncrementSettings.from_parts({**base, "units": keras}).units == KERAS
    with pytest.raises(ValueError, match=r"increment\.units\.gate_activation = 'relu'"):
        IncrementSettings.from_parts({**base, "units": {**keras, "gate_activation": "relu"}})
    with pytest.raises(ValueError, match="'reset' was unexpected"):
        IncrementSettings.from_parts({**base, "units": {**keras, "reset": "before"}})
    with pytest.raises(ValueError, match="'lstm_forget_bias' is a required property"):
        IncrementSettings.from_parts({**base, "units": {k: v for k, v in keras.items()
                                                    if k != "lstm_forget_bias"}})
