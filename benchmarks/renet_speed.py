"""Training speed of the three ReNet models of Table 1 at their real sizes, against the machine's
dense matmul rate.

    python benchmarks/renet_speed.py                      # the three models + the narrow one
    python benchmarks/renet_speed.py --models mnist --rounds 10 --threads 2

For each model: full training steps (augmentation, input masking, forward, cross-entropy,
backward, fused Adam: the training job's own `training_step`) on random data, batch 64, after
warm-up. It prints samples/s, the model's FLOPs per training sample counted analytically from
the layer sizes (forward matmul FLOPs of every sweep's input and recurrent products and the FC
layers; training = 3x forward), the FLOP/s this throughput implies, and its share of the
machine's dense matmul rate (torch.mm on 4096 x 4096 float32 matrices). On a shared machine both
rates move with the load, so each model runs in rounds: a matmul probe, then training steps for
a few seconds; the share is taken per round and reported as median (min-max). It also times, in
the same rounds, a version that runs one RNN call per column (and per row) instead of one call
per sweep, and, for the GRU models, the same model with PyTorch's nn.GRU (`gru-reset-after`,
the same weights) instead of the paper's GRU (`gru`, rnnrepro.renet.paper_gru), and prints the
ratios of step times.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import statistics
import time
from collections.abc import Callable
from pathlib import Path

# libgomp spin-waits between the sweeps' many small ops; under CPU contention that is ruinous.
# renet-train sets the same default (see renet/commands.py); it must precede `import torch`.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch
import yaml

from rnnrepro.renet.dropout import dropout
from rnnrepro.renet.flops import INPUT_SHAPES, training_flops
from rnnrepro.renet.models import ModelSpec, ReNet
from rnnrepro.renet.settings import TrainSettings
from rnnrepro.renet.sweeps import ReNetLayer
from rnnrepro.renet.train import make_optimizer, training_step

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "config.yaml"
# The narrow MNIST model of the quick preset (and of the documented full-MNIST CPU run): there
# the per-step overhead, not the matmuls, dominates, which is where batching all columns pays.
NARROW = ("mnist-narrow", REPO / "workflow/presets/quick.yaml")


# --- the per-column baseline -----------------------------------------------------------------

class PerColumnLayer(ReNetLayer):
    """Same weights and maths, but one RNN call per column (vertical) and per row (horizontal)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        rows, cols = self.grid(h, w)
        seqs = self.column_sequences(x).reshape(rows, b, cols, -1)
        v = torch.stack([self.vertical(seqs[:, :, j])[0] for j in range(cols)], dim=2)
        v = dropout(v, self.dropout, self.training)            # (rows, B, cols, 2d)
        out = torch.stack([self.horizontal(v[i].transpose(0, 1))[0] for i in range(rows)],
                          dim=2)                                 # (cols, B, rows, 2d)
        out = dropout(out, self.dropout, self.training)
        return out.permute(1, 3, 2, 0)


def per_column(model: ReNet) -> ReNet:
    for layer in model.renet:
        layer.__class__ = PerColumnLayer
    return model


def check_same_function(slow: ReNet, spec: ModelSpec, shape: tuple[int, int, int],
                        settings: TrainSettings) -> None:
    """The per-column model computes the same function as the batched one (same weights)."""
    fast = ReNet(spec, shape, dropout=settings.dropout).eval()
    fast.load_state_dict(slow.state_dict())
    x = torch.randn(2, *shape)
    with torch.no_grad():
        torch.testing.assert_close(slow.eval()(x), fast(x), atol=1e-4, rtol=1e-4)


# --- measurements ----------------------------------------------------------------------------

class MatmulProbe:
    """FLOP/s of one torch.mm of two size x size float32 matrices (the machine's dense rate)."""

    def __init__(self, size: int = 4096):
        self.size = size
        self.a, self.b = torch.randn(size, size), torch.randn(size, size)
        torch.mm(self.a, self.b)

    def __call__(self) -> float:
        start = time.perf_counter()
        torch.mm(self.a, self.b)
        return 2 * self.size**3 / (time.perf_counter() - start)


def timed(step: Callable[[], object], seconds: float) -> float:
    """Seconds per step over at least one step and at least ``seconds``."""
    n, start = 0, time.perf_counter()
    while n == 0 or time.perf_counter() - start < seconds:
        step()
        n += 1
    return (time.perf_counter() - start) / n


def make_step(model: ReNet, spec: ModelSpec, settings: TrainSettings,
              batch: int) -> Callable[[], object]:
    optimizer = make_optimizer(model, settings)
    shape = model.input_shape
    x, y = torch.randn(batch, *shape), torch.randint(0, 10, (batch,))
    gen = torch.Generator().manual_seed(0)
    return lambda: training_step(model, optimizer, x, y, gen, spec, settings)


def spread(values: list[float], fmt: str) -> str:
    """``median (min-max)``."""
    return (f"{format(statistics.median(values), fmt)} "
            f"({format(min(values), fmt)}-{format(max(values), fmt)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=[*INPUT_SHAPES, NARROW[0]],
                        choices=[*INPUT_SHAPES, NARROW[0]])
    parser.add_argument("--config", type=Path, default=CONFIG)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5,
                        help="rounds per model: a matmul probe, then timed training steps")
    parser.add_argument("--seconds", type=float, default=2.0,
                        help="minimum time of the batched (and per-column) steps per round")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--no-per-column", action="store_true",
                        help="skip the one-RNN-call-per-column comparison")
    parser.add_argument("--no-gru-variant", action="store_true",
                        help="skip the paper GRU vs nn.GRU comparison")
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="torch threads (default: all cores)")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    cfg = yaml.safe_load(args.config.read_text())["renet"]
    settings = TrainSettings.from_parts(cfg["training"])
    probe = MatmulProbe()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch "
          f"{args.batch_size}, {args.rounds} rounds per model (torch.mm 4096^2 float32 probe, "
          f"then >= {args.seconds:g} s of training steps), {args.warmup} warm-up steps; "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}")
    print(f"{'model':12} {'samples/s':>18} {'GFLOP/sample':>12} {'GFLOP/s':>8} "
          f"{'matmul GFLOP/s':>15} {'share of matmul':>16} {'per-column/batched':>18} "
          f"{'paper GRU/nn.GRU':>17}")
    narrow = yaml.safe_load(NARROW[1].read_text())["renet"]["models"]["mnist"]
    for name in args.models:
        entry = narrow if name == NARROW[0] else cfg["models"][name]
        spec = ModelSpec.from_config(entry, f"renet.models.{name}")
        shape = INPUT_SHAPES[name.split("-")[0]]
        flops = training_flops(entry, shape) * args.batch_size  # per step
        torch.manual_seed(0)
        model = ReNet(spec, shape, dropout=settings.dropout,
                      recurrent_init=settings.recurrent_init).train()
        step = make_step(model, spec, settings, args.batch_size)
        slow_step = None
        if not args.no_per_column:
            torch.manual_seed(0)
            slow = per_column(ReNet(spec, shape, dropout=settings.dropout,
                                    recurrent_init=settings.recurrent_init))
            check_same_function(slow, spec, shape, settings)
            slow_step = make_step(slow.train(), spec, settings, args.batch_size)
        gru_step = None
        if spec.cell == "gru" and not args.no_gru_variant:
            variant = ReNet(dataclasses.replace(spec, cell="gru-reset-after"), shape,
                            dropout=settings.dropout).train()
            variant.load_state_dict(model.state_dict())  # same parameter names and shapes
            gru_step = make_step(variant, variant.spec, settings, args.batch_size)
        for _ in range(args.warmup):
            for each in (step, slow_step, gru_step):
                if each:
                    each()
        rates, step_times, shares, ratios, gru_ratios = [], [], [], [], []
        for _ in range(args.rounds):
            rates.append(probe())
            step_times.append(timed(step, args.seconds))
            shares.append(flops / step_times[-1] / rates[-1])
            if slow_step:
                ratios.append(timed(slow_step, args.seconds) / step_times[-1])
            if gru_step:
                gru_ratios.append(step_times[-1] / timed(gru_step, args.seconds))
        del model, step, slow_step, gru_step
        samples = [args.batch_size / t for t in step_times]
        achieved = flops / statistics.median(step_times)
        print(f"{name:12} {spread(samples, '.1f'):>18} {flops / args.batch_size / 1e9:12.3f} "
              f"{achieved / 1e9:8.1f} {spread([r / 1e9 for r in rates], '.0f'):>15} "
              f"{spread([100 * s for s in shares], '.0f'):>16}% "
              f"{spread(ratios, '.2f') if ratios else '-':>18} "
              f"{spread(gru_ratios, '.2f') if gru_ratios else '-':>17}", flush=True)
    print("median (min-max) over rounds; share = training FLOP/s of a round / the matmul rate "
          "probed just before it; per-column/batched = step time of one RNN call per column "
          "(and row) over the batched version's in the same round (>1: batching wins); paper "
          "GRU/nn.GRU = step time of the model with the paper's GRU over the same model with "
          "PyTorch's nn.GRU in the same round (<1: the paper's GRU is faster).")
    # ru_maxrss is in KiB on Linux. It covers the whole process (every model run and the
    # matmul probe's 4096 x 4096 matrices), so size a job from a run with one model.
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"peak RSS of this process: {peak_gib:.2f} GiB (config.yaml `resources.renet_train`)")


if __name__ == "__main__":
    main()
