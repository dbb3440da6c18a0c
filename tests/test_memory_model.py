"""The IRNN classifier and its optimizer match the authors' Keras setup."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rnnrepro.memory.irnn import IRNNClassifier
from rnnrepro.memory.settings import MemorySettings
from rnnrepro.memory.settings import run_settings as memory_run_settings
from rnnrepro.memory.train import rmsprop
from rnnrepro.parameters import count_parameters, trainable


@pytest.mark.parametrize("features", [28, 1])
def test_initial_weights_match_the_spec(features):
    torch.manual_seed(0)
    model = IRNNClassifier(features, hidden_size=128, input_std=0.001)
    rnn = model.rnn
    assert rnn.nonlinearity == "relu" and rnn.num_layers == 1 and rnn.batch_first
    torch.testing.assert_close(rnn.weight_hh_l0, torch.eye(128), rtol=0, atol=0)
    w_ih = rnn.weight_ih_l0.detach()
    assert w_ih.shape == (128, features)
    # N(0, 0.001^2): sample std within 4 standard errors (128*features draws).
    n = w_ih.numel()
    assert abs(w_ih.std().item() - 0.001) < 4 * 0.001 / math.sqrt(2 * n)
    assert abs(w_ih.mean().item()) < 4 * 0.001 / math.sqrt(n)
    for bias in (rnn.bias_ih_l0, rnn.bias_hh_l0, model.output.bias):
        assert torch.count_nonzero(bias) == 0
    # Keras Dense default: Glorot uniform, limit sqrt(6 / (fan_in + fan_out)).
    limit = math.sqrt(6 / (128 + 10))
    w = model.output.weight.detach()
    assert w.shape == (10, 128) and w.abs().max() <= limit
    assert abs(w.std().item() - limit / math.sqrt(3)) < 0.1 * limit / math.sqrt(3)


def test_parameter_count_equals_keras():
    # Keras: SimpleRNN(128) has F*128 + 128*128 + 128 weights, Dense(10) 128*10 + 10.
    for features in (28, 1):
        model = IRNNClassifier(features, 128, input_std=0.001)
        assert count_parameters(model) == features * 128 + 128 * 128 + 128 + 1290
    assert count_parameters(IRNNClassifier(28, 128, input_std=0.001)) == 21386


def test_step_logits_end_with_the_model_output():
    torch.manual_seed(1)
    model = IRNNClassifier(3, hidden_size=8, input_std=0.5)
    x = torch.rand(4, 6, 3)
    steps = model.step_logits(x)
    assert steps.shape == (4, 6, 10)
    torch.testing.assert_close(steps[:, -1], model(x))
    # Step t only sees the first t inputs.
    torch.testing.assert_close(model.step_logits(x[:, :3]), steps[:, :3])


def test_rmsprop_is_the_keras_update_and_the_second_bias_stays_frozen(repo_config):
    torch.manual_seed(2)
    settings = MemorySettings.from_parts(memory_run_settings(repo_config, "original"),
                                        {"eval_batch_size": 1})
    constants = settings.rmsprop
    assert (constants.rho, constants.eps) == (0.9, 1e-7)  # Keras 2 RMSprop, as config.yaml says
    model = IRNNClassifier(3, hidden_size=4, input_std=0.001)
    opt = rmsprop(model, 0.01, constants)
    params = trainable(model)
    assert all(p is not model.rnn.bias_hh_l0 for p in params)
    weights = [p.detach().double().numpy().copy() for p in params]
    accum = [np.zeros_like(w) for w in weights]
    rng = np.random.default_rng(0)
    for step in range(6):
        scale = 1e-6 if step % 2 else 1.0  # tiny gradients make eps placement matter
        grads = [rng.normal(size=w.shape) * scale for w in weights]
        for p, g in zip(params, grads, strict=True):
            p.grad = torch.tensor(g, dtype=p.dtype)
        opt.step()
        for i, g in enumerate(grads):  # Keras: a = rho a + (1-rho) g^2; w -= lr g/(sqrt(a)+eps)
            accum[i] = 0.9 * accum[i] + 0.1 * g * g
            weights[i] = weights[i] - 0.01 * g / (np.sqrt(accum[i]) + 1e-7)
    for p, w in zip(params, weights, strict=True):
        np.testing.assert_allclose(p.detach().double().numpy(), w, rtol=1e-5, atol=1e-6)
    # A real training step leaves the frozen recurrent bias at zero.
    loss = F.cross_entropy(model(torch.rand(5, 7, 3)), torch.arange(5))
    loss.backward()
    opt.step()
    assert torch.count_nonzero(model.rnn.bias_hh_l0) == 0


def _reference_states(x, w_ih, w_hh, bias):
    """h_t = relu(W_ih x_t + W_hh h_{t-1} + b), step by step from the equation."""
    h = torch.zeros(x.shape[1], w_hh.shape[0], dtype=x.dtype)
    states = []
    for x_t in x:
        h = torch.relu(x_t @ w_ih.T + h @ w_hh.T + bias)
        states.append(h)
    return torch.stack(states)


def test_cpu_recurrence_is_the_equation_and_atens_rnn():
    """The hand-written CPU recurrence: same states and gradients as the equation and as
    nn.RNN (relu) with the very same weights, whichever outputs the loss uses."""
    from rnnrepro.memory.relu_recurrence import relu_recurrence

    torch.manual_seed(3)
    rnn = torch.nn.RNN(3, 5, nonlinearity="relu").double()
    x = torch.randn(7, 4, 3, dtype=torch.float64, requires_grad=True)
    weights = (rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0 + rnn.bias_hh_l0)
    states, last = relu_recurrence(x, *weights)
    torch.testing.assert_close(states, _reference_states(x, *weights))
    aten_states, aten_last = rnn(x)
    torch.testing.assert_close(states, aten_states)
    torch.testing.assert_close(last, aten_last[0])
    # Gradients of a loss on every state and on the last one, against ATen's.
    probe = torch.randn_like(states)
    for use_states, use_last in ((True, False), (False, True), (True, True)):
        grads = []
        for out_states, out_last in ((states, last), (aten_states, aten_last[0])):
            loss = (out_states * probe).sum() * use_states + out_last.pow(2).sum() * use_last
            grads.append(torch.autograd.grad(loss, [x, rnn.weight_ih_l0, rnn.weight_hh_l0,
                                                    rnn.bias_ih_l0], retain_graph=True))
        for ours, aten in zip(*grads, strict=True):
            torch.testing.assert_close(ours, aten)
    # And against finite differences.
    small = [torch.randn(*shape, dtype=torch.float64, requires_grad=True)
             for shape in ((6, 2, 3), (4, 3), (4, 4), (4,))]
    assert torch.autograd.gradcheck(lambda *a: relu_recurrence(*a), small)


def test_model_uses_the_cpu_recurrence_with_the_rnn_weights():
    """On the CPU the classifier runs no ATen RNN kernel, yet equals nn.RNN's output."""
    from torch.profiler import ProfilerActivity, profile

    torch.manual_seed(4)
    model = IRNNClassifier(1, hidden_size=16, input_std=0.3)
    x = torch.rand(4, 784, 1)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        logits = model(x)
    assert not {"aten::rnn_relu", "aten::_cudnn_rnn"} & {e.key for e in prof.key_averages()}
    _, last = model.rnn(x)
    torch.testing.assert_close(logits, model.output(last[-1]))
