"""bf16-mixed training on CPU: every recurrent unit trains under autocast with float32 weights,
the precision changes the numbers and so the fingerprint and cache key, and a device without
fast bfloat16 falls back to fp32 with one notice."""

from __future__ import annotations

import logging

import pytest
import torch
import yaml
from tests.test_renet_train import MODEL, TRAINING

from rnnrepro.renet import precision as precision_module
from rnnrepro.renet.models import ModelSpec, ReNet
from rnnrepro.renet.precision import autocast, effective_precision
from rnnrepro.renet.settings import RenetSettings, with_precision
from rnnrepro.renet.settings import run_settings as renet_run_settings
from rnnrepro.renet.train import Job, make_optimizer, training_step

CPU = torch.device("cpu")


def model_of(cell: str) -> tuple[ReNet, ModelSpec]:
    torch.manual_seed(0)
    spec = ModelSpec.from_config({**MODEL, "cell": cell, "flip": False, "shift": False})
    return ReNet(spec, (1, 8, 8), dropout=0.0, recurrent_init="orthogonal"), spec


@pytest.mark.parametrize("cell", ["gru", "gru-reset-after", "lstm"])
def test_bf16_mixed_trains_every_unit_with_float32_state(cell: str) -> None:
    model, spec = model_of(cell)
    settings = RenetSettings.from_parts({**TRAINING, "precision": "bf16-mixed"})
    optimizer = make_optimizer(model, settings)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    x, y = torch.randn(16, 1, 8, 8), torch.randint(0, 10, (16,))
    gen = torch.Generator().manual_seed(0)
    losses = [training_step(model, optimizer, x, y, gen, spec, settings,
                            precision="bf16-mixed")[0] for _ in range(3)]
    assert all(torch.isfinite(torch.tensor(losses)))
    for name, param in model.named_parameters():
        assert param.dtype == torch.float32, name
        assert param.grad is not None and param.grad.dtype == torch.float32, name
        assert not torch.equal(param, before[name]), f"{name} did not train"
    for state in optimizer.state.values():
        assert state["exp_avg"].dtype == state["exp_avg_sq"].dtype == torch.float32


@pytest.mark.parametrize("cell", ["gru", "gru-reset-after", "lstm"])
def test_bf16_mixed_rounds_the_products(cell: str) -> None:
    """Under autocast the logits differ from float32's by bfloat16 rounding (a few 1e-3), not
    more: the products really run in bfloat16 and the model is the same function."""
    model, _ = model_of(cell)
    model.eval()
    x = torch.randn(8, 1, 8, 8)
    with torch.no_grad():
        exact = model(x)
        with autocast(CPU, "bf16-mixed"):
            mixed = model(x).float()
    difference = (mixed - exact).abs().max().item()
    assert 0 < difference < 0.05 * exact.abs().max().item()


def test_paper_gru_keeps_float32_states_under_autocast() -> None:
    """The paper's GRU kernel takes bfloat16 product operands but returns float32 states."""
    model, _ = model_of("gru")
    layer = model.renet[0]
    sequences = torch.randn(4, 3, layer.vertical.input_size)
    with autocast(CPU, "bf16-mixed"):
        out, _ = layer.vertical(sequences)
    assert out.dtype == torch.float32


def test_precision_is_in_fingerprint_and_cache_key() -> None:
    def job(value: str) -> Job:
        return Job.from_settings("mnist", 0, {"model": MODEL, "train_subset": None,
                                              "training": {**TRAINING, "precision": value}})

    assert job("fp32").fingerprint_data() != job("bf16-mixed").fingerprint_data()
    assert job("bf16-mixed").fingerprint_data()["training"]["precision"] == "bf16-mixed"
    # The training rule's --settings (hashed into Snakemake's cache key) carry it.
    with open("config.yaml") as handle:
        config = yaml.safe_load(handle)
    for value in ("fp32", "bf16-mixed"):
        config["renet"]["training"]["precision"] = value
        assert renet_run_settings(config, "mnist")["training"]["precision"] == value


def test_configs_before_precision_read_as_it() -> None:
    assert with_precision({"bf16": False})["precision"] == "fp32"
    assert with_precision({"bf16": True})["precision"] == "bf16-mixed"
    assert "bf16" not in with_precision({"bf16": True})


def test_slow_bfloat16_falls_back_to_fp32_with_one_notice(monkeypatch, caplog) -> None:
    monkeypatch.setattr(precision_module, "bf16_speedup", lambda device: 0.4)
    with caplog.at_level(logging.INFO, logger="rnnrepro.renet.precision"):
        assert effective_precision("bf16-mixed", CPU) == "fp32"
    notices = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(notices) == 1 and "0.40x" in notices[0].getMessage()
    assert "\n" not in notices[0].getMessage()
    assert effective_precision("fp32", CPU) == "fp32"
    with pytest.raises(ValueError, match=r"renet\.training\.precision"):
        effective_precision("fp16", CPU)


def test_an_archived_config_before_precision_is_read_with_it() -> None:
    """runs/cpu.tar.gz and the other archives of that time say bf16; unpack validates them
    against today's schema after this upgrade (tests/test_shipped_runs.py runs them)."""
    from rnnrepro.results.training import current_config

    old = {"preset": "cpu", "renet": {"training": {"bf16": False, "max_epochs": 8}}}
    upgraded = current_config(old)
    assert upgraded["renet"]["training"] == {"precision": "fp32", "max_epochs": 8}
    assert old["renet"]["training"] == {"bf16": False, "max_epochs": 8}   # not modified
    for unchanged in ({"renet": {"training": {"precision": "fp32"}}}, {"renet": []}, [], None):
        assert current_config(unchanged) == unchanged
