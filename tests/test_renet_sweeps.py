"""The ReNet layer against a straightforward reference with explicit loops over columns, rows and
time steps and hand-written GRU/LSTM/tanh equations (PyTorch's gate layout), same weights: the
paper's GRU (sec. 4.2, reset before U) for `gru`, PyTorch's (reset after) for `gru-reset-after`."""

from __future__ import annotations

import pytest
import torch

from rnnrepro.parameters import count_parameters
from rnnrepro.renet.models import ModelSpec, ReNet
from rnnrepro.renet.sweeps import ReNetLayer

torch.set_num_threads(1)


# --- reference -------------------------------------------------------------------------------

def paper_gru_step(x, state, w_ih, w_hh, b_ih, b_hh):
    """ReNet sec. 4.2, term by term: [u; r] = σ(W_g x + U_g h + b_g), h~ = tanh(W x +
    U (r ⊙ h) + b), h' = (1 − u) ⊙ h + u ⊙ h~. In PyTorch's layout the rows are r, z, n, the
    paper's u is 1 − z and its b is b_ih_n + b_hh_n."""
    h = state
    d = h.shape[-1]
    (w_r, w_z, w), (u_r, u_z, u_mat) = w_ih.split(d), w_hh.split(d)
    (bi_r, bi_z, bi_n), (bh_r, bh_z, bh_n) = b_ih.split(d), b_hh.split(d)
    r = torch.sigmoid(x @ w_r.T + h @ u_r.T + bi_r + bh_r)
    u = 1 - torch.sigmoid(x @ w_z.T + h @ u_z.T + bi_z + bh_z)
    candidate = torch.tanh(x @ w.T + (r * h) @ u_mat.T + bi_n + bh_n)
    h = (1 - u) * h + u * candidate
    return h, h


def gru_step(x, state, w_ih, w_hh, b_ih, b_hh):
    """PyTorch's nn.GRU: the reset gate after the recurrent product, r ⊙ (U h + b)."""
    h = state
    i_r, i_z, i_n = (x @ w_ih.T + b_ih).chunk(3, dim=-1)
    h_r, h_z, h_n = (h @ w_hh.T + b_hh).chunk(3, dim=-1)
    r = torch.sigmoid(i_r + h_r)
    z = torch.sigmoid(i_z + h_z)
    n = torch.tanh(i_n + r * h_n)
    h = (1 - z) * n + z * h
    return h, h


def lstm_step(x, state, w_ih, w_hh, b_ih, b_hh):
    h, c = state
    i, f, g, o = (x @ w_ih.T + b_ih + h @ w_hh.T + b_hh).chunk(4, dim=-1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    h = torch.sigmoid(o) * torch.tanh(c)
    return h, (h, c)


def tanh_step(x, state, w_ih, w_hh, b_ih, b_hh):
    h = torch.tanh(x @ w_ih.T + b_ih + state @ w_hh.T + b_hh)
    return h, h


STEPS = {"gru": paper_gru_step, "gru-reset-after": gru_step, "lstm": lstm_step,
         "tanh": tanh_step}


def weights(rnn, reverse):
    suffix = "_l0_reverse" if reverse else "_l0"
    return [getattr(rnn, f"{name}{suffix}")
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]


def run_sequence(cell, rnn, inputs, reverse, realign=True):
    """One direction of ``rnn`` over a list of (B, F) inputs; outputs listed by position
    (or, with ``realign=False``, the reverse direction's outputs in processing order)."""
    step = STEPS[cell]
    w = weights(rnn, reverse)
    zeros = inputs[0].new_zeros(len(inputs[0]), rnn.hidden_size)
    state = (zeros, zeros) if cell == "lstm" else zeros
    order = range(len(inputs) - 1, -1, -1) if reverse else range(len(inputs))
    outputs = [None] * len(inputs)
    for k, t in enumerate(order):
        h, state = step(inputs[t], state, *w)
        outputs[t if realign else k] = h
    return outputs


def reference_layer(layer, x, *, horizontal_first=False, realign=True):
    """ReNet layer by the paper's equations, looping over columns, rows and steps."""
    b, _, height, width = x.shape
    ph, pw = layer.patch
    rows, cols = height // ph, width // pw
    # Patch (i, j) flattened in (ph, pw, C) order, as the layer documents.
    patch = [[x[:, :, i * ph:(i + 1) * ph, j * pw:(j + 1) * pw].permute(0, 2, 3, 1)
              .reshape(b, -1) for j in range(cols)] for i in range(rows)]

    def sweep(grid, rnn, along_columns):
        n_rows, n_cols = len(grid), len(grid[0])
        out = [[None] * n_cols for _ in range(n_rows)]
        lines = range(n_cols) if along_columns else range(n_rows)
        for line in lines:
            seq = ([grid[i][line] for i in range(n_rows)] if along_columns
                   else [grid[line][j] for j in range(n_cols)])
            fwd = run_sequence(layer.cell, rnn, seq, reverse=False)
            rev = run_sequence(layer.cell, rnn, seq, reverse=True, realign=realign)
            for t in range(len(seq)):
                i, j = (t, line) if along_columns else (line, t)
                out[i][j] = torch.cat([fwd[t], rev[t]], dim=-1)
        return out

    if horizontal_first:
        first = sweep(patch, layer.vertical, along_columns=False)
        grid = sweep(first, layer.horizontal, along_columns=True)
    else:
        first = sweep(patch, layer.vertical, along_columns=True)
        grid = sweep(first, layer.horizontal, along_columns=False)
    out = torch.stack([torch.stack(row, dim=1) for row in grid], dim=1)  # (B, rows, cols, 2d)
    return out.permute(0, 3, 1, 2)


# --- tests -----------------------------------------------------------------------------------

CASES = [
    ("gru", (1, 1), (2, 2, 5, 3)),
    ("gru", (2, 2), (3, 3, 6, 4)),
    ("lstm", (1, 1), (2, 2, 3, 5)),
    ("lstm", (2, 2), (3, 3, 4, 8)),
    ("tanh", (1, 1), (2, 1, 4, 3)),
    ("tanh", (2, 2), (2, 3, 8, 6)),
    ("gru", (1, 2), (2, 2, 3, 4)),
    ("gru-reset-after", (1, 1), (2, 2, 5, 3)),
    ("gru-reset-after", (2, 2), (3, 3, 6, 4)),
]


def make_layer(cell, patch, channels, hidden=5, seed=0):
    torch.manual_seed(seed)
    layer = ReNetLayer(channels, patch, hidden, cell, dropout=0.0).eval()
    with torch.no_grad():  # non-zero biases everywhere, so a misplaced bias shows
        for name, p in layer.named_parameters():
            if name.split(".")[-1].startswith("bias"):
                p.uniform_(-0.5, 0.5)
    return layer


@pytest.mark.parametrize(("cell", "patch", "shape"), CASES)
def test_layer_matches_loop_reference(cell, patch, shape):
    layer = make_layer(cell, patch, shape[1])
    x = torch.randn(shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        got = layer(x)
        want = reference_layer(layer, x)
    rows, cols = shape[2] // patch[0], shape[3] // patch[1]
    assert got.shape == (shape[0], 2 * layer.hidden, rows, cols)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=0)


@pytest.mark.parametrize("cell", ["gru", "gru-reset-after", "lstm", "tanh"])
def test_wrong_variants_fail_the_comparison(cell):
    """The reference is strict: sweeping horizontally first, or leaving the backward outputs in
    processing order, gives clearly different maps."""
    layer = make_layer(cell, (2, 2), 2)
    x = torch.randn((2, 2, 6, 8), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        got = layer(x)
        for wrong in (reference_layer(layer, x, horizontal_first=True),
                      reference_layer(layer, x, realign=False)):
            assert (got - wrong).abs().max() > 1e-2


def test_each_sweep_is_one_rnn_call_over_all_columns_or_rows():
    layer = make_layer("gru", (2, 2), 3, hidden=4)
    calls = []
    for name in ("vertical", "horizontal"):
        getattr(layer, name).register_forward_hook(
            lambda _m, inputs, _out, name=name: calls.append((name, tuple(inputs[0].shape))))
    layer(torch.randn(5, 3, 6, 10))  # 3 rows x 5 columns of patches; time-major sequences
    assert calls == [("vertical", (3, 5 * 5, 12)), ("horizontal", (5, 5 * 3, 8))]


@pytest.mark.parametrize("cell", ["gru", "gru-reset-after"])
def test_gradients_match_reference(cell):
    layer = make_layer(cell, (2, 2), 2, hidden=3)
    x = torch.randn(2, 2, 4, 6)
    layer(x).square().sum().backward()
    got = [p.grad.clone() for p in layer.parameters()]
    layer.zero_grad()
    reference_layer(layer, x).square().sum().backward()
    for g, p in zip(got, layer.parameters(), strict=True):
        torch.testing.assert_close(g, p.grad, atol=1e-4, rtol=1e-4)


def test_orthogonal_recurrent_blocks():
    layer = ReNetLayer(3, (2, 2), 6, "lstm", recurrent_init="orthogonal")
    for rnn in (layer.vertical, layer.horizontal):
        for name, p in rnn.named_parameters():
            if name.startswith("weight_hh"):
                for block in p.detach().split(6):
                    torch.testing.assert_close(block @ block.T, torch.eye(6), atol=1e-5,
                                               rtol=0)


def test_indivisible_input_is_a_clear_error():
    layer = ReNetLayer(1, (2, 2), 4)
    with pytest.raises(ValueError, match="not divisible"):
        layer(torch.randn(1, 1, 5, 4))


def test_paper_models_shapes_and_parameter_count():
    """Table 1 MNIST model: parameter count equals the count from layer sizes."""
    spec = ModelSpec.from_config({"cell": "gru", "layers": [{"patch": [2, 2], "hidden": 8},
                                                            {"patch": [2, 2], "hidden": 8}],
                                  "fc": [16, 16], "flip": False, "shift": True})
    model = ReNet(spec, (1, 28, 28), dropout=0.2)

    def gru(inp, d):  # two directions, 3 gates, weights + 2 biases
        return 2 * 3 * (d * inp + d * d + 2 * d)

    expected = (gru(4, 8) + gru(16, 8) + gru(4 * 16, 8) + gru(16, 8)
                + (7 * 7 * 16 + 1) * 16 + (16 + 1) * 16 + (16 + 1) * 10)
    assert count_parameters(model) == expected
    assert model.feature_shape == (16, 7, 7)
    x = torch.randn(3, 1, 28, 28)
    model.eval()
    torch.testing.assert_close(model(x), model(x))
    model.train()  # dropout active: two passes differ
    assert not torch.equal(model(x), model(x))
    assert model(x).shape == (3, 10)


def test_bad_model_config_names_the_key():
    with pytest.raises(ValueError, match=r"renet.models.mnist.cell"):
        ModelSpec.from_config({"cell": "gruu", "layers": [{"patch": [2, 2], "hidden": 4}],
                               "fc": [], "flip": False, "shift": False}, "renet.models.mnist")
    with pytest.raises(ValueError, match=r"layers\[0\]"):
        ModelSpec.from_config({"cell": "gru", "layers": [{"patch": [2], "hidden": 4}],
                               "fc": [], "flip": False, "shift": False})


def test_dropout_rate_scaling_and_eval():
    from rnnrepro.renet.dropout import dropout

    x = torch.full((400, 1000), 2.0)
    torch.manual_seed(0)
    out = dropout(x, 0.2, True)
    assert (out == 0).float().mean().item() == pytest.approx(0.2, abs=0.003)
    assert torch.all((out == 0) | (out == 2.0 / 0.8))
    assert dropout(x, 0.2, False) is x


def test_dropout_follows_every_sweep_and_fc_layer(monkeypatch):
    """Dropout is applied to the vertical sweep's output, the horizontal sweep's output and
    every FC ReLU layer's output, in that order, and not to the logits."""
    import rnnrepro.renet.models as models_module
    import rnnrepro.renet.sweeps as sweeps_module

    seen = []

    def record(x, p, training):
        seen.append((tuple(x.shape), p, training))
        return x

    monkeypatch.setattr(sweeps_module, "dropout", record)
    monkeypatch.setattr(models_module, "dropout", record)
    spec = ModelSpec("gru", (((2, 2), 3), ((1, 2), 4)), (7, 5), False, False)
    model = ReNet(spec, (1, 4, 8), dropout=0.3).train()
    model(torch.randn(2, 1, 4, 8))
    assert seen == [((2, 2 * 4, 6), 0.3, True),   # layer 1 vertical: (rows, B*cols, 2d)
                    ((4, 2 * 2, 6), 0.3, True),   # layer 1 horizontal: (cols, B*rows, 2d)
                    ((2, 2 * 2, 8), 0.3, True),   # layer 2 vertical
                    ((2, 2 * 2, 8), 0.3, True),   # layer 2 horizontal
                    ((2, 7), 0.3, True), ((2, 5), 0.3, True)]


# --- the paper's GRU against PyTorch's -----------------------------------------------------

def test_paper_gru_and_pytorch_gru_differ_only_where_the_reset_applies():
    """Same weights in both (the layouts match, so a state dict moves across): the outputs
    differ clearly, so a silent fallback to nn.GRU cannot pass; with the reset gate forced
    open (r = 1: huge reset biases) the two equations coincide."""
    paper = make_layer("gru", (2, 2), 2, hidden=4)
    pytorch = make_layer("gru-reset-after", (2, 2), 2, hidden=4)
    pytorch.load_state_dict(paper.state_dict())
    assert type(paper.vertical).__name__ == "PaperGRU"
    assert isinstance(pytorch.vertical, torch.nn.GRU)
    x = torch.randn((2, 2, 6, 4), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        assert (paper(x) - pytorch(x)).abs().max() > 1e-2
        for layer in (paper, pytorch):
            for name, p in layer.named_parameters():
                if name.split(".")[-1].startswith("bias_ih"):
                    p[:layer.hidden] = 1e4  # r = sigmoid(1e4 + ...) = 1
        torch.testing.assert_close(paper(x), pytorch(x), atol=1e-6, rtol=0)


def test_paper_gru_gradcheck_in_double():
    """Gradients of input and every weight, both directions, against finite differences."""
    from rnnrepro.renet.paper_gru import PaperGRU

    torch.manual_seed(5)
    gru = PaperGRU(3, 2).double()
    names = [name for name, _ in gru.named_parameters()]
    x = torch.randn(4, 2, 3, dtype=torch.float64, requires_grad=True)
    weights = [p.detach().clone().requires_grad_() for p in gru.parameters()]

    def run(inputs, *values):
        return torch.func.functional_call(gru, dict(zip(names, values, strict=True)),
                                          (inputs,))[0]

    assert torch.autograd.gradcheck(run, (x, *weights))


def test_checkpoint_of_the_other_gru_is_refused(tmp_path):
    from rnnrepro.checkpoint import Checkpointer, TrainingState
    from rnnrepro.renet.units import UNIT_NAMES

    model = make_layer("gru-reset-after", (2, 2), 1, hidden=3)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    path = tmp_path / "checkpoint.safetensors"

    Checkpointer(path, "fp", unit=UNIT_NAMES["gru-reset-after"]).save(
        model, optimizer, TrainingState(history=[]), {})
    paper = make_layer("gru", (2, 2), 1, hidden=3)
    with pytest.raises(ValueError) as err:
        Checkpointer(path, "fp", unit=UNIT_NAMES["gru"]).load(
            paper, torch.optim.SGD(paper.parameters(), lr=0.1), {})
    message = str(err.value)
    assert UNIT_NAMES["gru"] in message and UNIT_NAMES["gru-reset-after"] in message
