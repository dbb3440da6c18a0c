"""Training speed of the three ReNet models of Table 1 at their real sizes, against the machine's
dense matmul rate.

    python benchmarks/renet_speed.py                      # all three models, batch 64, CPU
    python benchmarks/renet_speed.py --models mnist --steps 10 --threads 2

For each model: full training steps (augmentation, input masking, forward, cross-entropy,
backward, fused Adam: the training job's own `training_step`) on random data, after warm-up.
It prints samples/s, the model's FLOPs per training sample counted analytically from the layer
sizes (forward matmul FLOPs of every sweep's input and recurrent products and the FC layers;
training = 3x forward), the FLOP/s this throughput implies, and its share of the dense matmul
rate (torch.mm on large square float32 matrices), measured before and after every model so
noise from other processes shows. It also times a version that runs one RNN call per column
(and per row) instead of one call per sweep, and prints the ratio.
"""

from __future__ import annotations

import argparse
import os
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
from rnnrepro.renet.models import ModelSpec, ReNet
from rnnrepro.renet.sweeps import _GATES, ReNetLayer
from rnnrepro.renet.train import TrainSettings, make_optimizer, training_step

INPUT_SHAPES = {"mnist": (1, 28, 28), "cifar10": (3, 32, 32), "svhn": (3, 32, 32)}
REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "config.yaml"
# The narrow MNIST model of the quick preset (and of the documented full-MNIST CPU run): there
# the per-step overhead, not the matmuls, dominates, which is where batching all columns pays.
NARROW = ("mnist-narrow", REPO / "workflow/presets/quick.yaml")


# --- analytic FLOPs --------------------------------------------------------------------------

def forward_flops(spec: ModelSpec, input_shape: tuple[int, int, int], classes: int = 10) -> int:
    """Matmul FLOPs (2 per multiply-add) of one forward pass of one sample."""
    channels, height, width = input_shape
    gates = _GATES[spec.cell]
    total = 0
    for (ph, pw), d in spec.layers:
        height, width = height // ph, width // pw
        positions = height * width
        recurrent = 2 * d * gates * d
        vertical = 2 * channels * ph * pw * gates * d + recurrent
        horizontal = 2 * (2 * d) * gates * d + recurrent
        total += 2 * positions * (vertical + horizontal)  # two directions per sweep
        channels = 2 * d
    width_in = channels * height * width
    for units in (*spec.fc, classes):
        total += 2 * width_in * units
        width_in = units
    return total


def training_flops(spec: ModelSpec, input_shape: tuple[int, int, int]) -> int:
    """Forward + backward ~ 3x forward (gradients w.r.t. inputs and weights)."""
    return 3 * forward_flops(spec, input_shape)


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

def matmul_rate(size: int = 4096, repeats: int = 5) -> float:
    """Median FLOP/s of torch.mm on two size x size float32 matrices."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        rates.append(2 * size**3 / (time.perf_counter() - start))
    return statistics.median(rates)


def time_steps(step: Callable[[], None], warmup: int, steps: int,
               seconds: float = 0.0) -> list[float]:
    """Times of at least ``steps`` steps, and of more until ``seconds`` have passed."""
    for _ in range(warmup):
        step()
    times: list[float] = []
    while len(times) < steps or sum(times) < seconds:
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return times


def make_step(model: ReNet, spec: ModelSpec, settings: TrainSettings,
              batch: int) -> Callable[[], None]:
    optimizer = make_optimizer(model, settings)
    shape = model.input_shape
    x, y = torch.randn(batch, *shape), torch.randint(0, 10, (batch,))
    gen = torch.Generator().manual_seed(0)
    return lambda: training_step(model, optimizer, x, y, gen, spec, settings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=[*INPUT_SHAPES, NARROW[0]],
                        choices=[*INPUT_SHAPES, NARROW[0]])
    parser.add_argument("--config", type=Path, default=CONFIG)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=5, help="timed steps per model")
    parser.add_argument("--seconds", type=float, default=5.0,
                        help="time more steps until this many seconds (small models)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--column-steps", type=int, default=2,
                        help="timed steps of the per-column version (0: skip it)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="torch threads (default: all cores)")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    cfg = yaml.safe_load(args.config.read_text())["renet"]
    settings = TrainSettings.from_config(cfg["training"])
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch "
          f"{args.batch_size}, >= {args.steps} timed steps and >= {args.seconds:g} s after "
          f"{args.warmup} warm-up; "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}")
    rates = [matmul_rate()]
    print(f"dense matmul (torch.mm 4096^2 float32): {rates[0] / 1e9:.1f} GFLOP/s")
    header = (f"{'model':12} {'samples/s':>9} {'step s (min-max)':>17} {'GFLOP/sample':>12} "
              f"{'GFLOP/s':>8} {'matmul GFLOP/s':>14} {'share':>11} {'per-column':>12}")
    print(header)
    narrow = yaml.safe_load(NARROW[1].read_text())["renet"]["models"]["mnist"]
    for name in args.models:
        entry = narrow if name == NARROW[0] else cfg["models"][name]
        spec = ModelSpec.from_config(entry, f"renet.models.{name}")
        shape = INPUT_SHAPES[name.split("-")[0]]
        torch.manual_seed(0)
        model = ReNet(spec, shape, dropout=settings.dropout,
                      recurrent_init=settings.recurrent_init).train()
        times = time_steps(make_step(model, spec, settings, args.batch_size), args.warmup,
                           args.steps, args.seconds)
        del model
        rates.append(matmul_rate())
        flops = training_flops(spec, shape)
        best, median = min(times), statistics.median(times)
        achieved = flops * args.batch_size / median
        step_range = f"{median:.2f} ({best:.2f}-{max(times):.2f})"
        mm_lo, mm_hi = min(rates[-2:]), max(rates[-2:])
        column = ""
        if args.column_steps:
            torch.manual_seed(0)
            slow = per_column(ReNet(spec, shape, dropout=settings.dropout,
                                    recurrent_init=settings.recurrent_init))
            check_same_function(slow, spec, shape, settings)
            slow.train()
            slow_times = time_steps(make_step(slow, spec, settings, args.batch_size), 1,
                                    args.column_steps, args.seconds / 2)
            del slow
            column = f"{statistics.median(slow_times) / median:.2f}x"
        print(
            f"{name:12} {args.batch_size / median:9.1f} {step_range:>17} "
            f"{flops / 1e9:12.2f} {achieved / 1e9:8.1f} "
            f"{f'{mm_lo / 1e9:.0f}-{mm_hi / 1e9:.0f}':>14} "
            f"{f'{achieved / mm_hi:.0%}-{achieved / mm_lo:.0%}':>11} {column:>12}", flush=True)
    print("samples/s and GFLOP/s from the median step; share = achieved / matmul rate measured "
          "just before and after the model (range = noise); per-column = median step time "
          "of one RNN call per column/row divided by the batched version's (>1: batching wins).")


if __name__ == "__main__":
    main()
