"""Training speed of the three ReNet models of Table 1 at their real sizes, in each precision,
against the rate of the step's own matrix products and the machine's dense matmul rate.

    python benchmarks/renet_speed.py                      # the three models + the narrow one
    python benchmarks/renet_speed.py --models mnist --rounds 10 --threads 2
    python benchmarks/renet_speed.py --precisions fp32    # fp32 only

For each model and precision (fp32, bf16-mixed): full training steps (augmentation, input
masking, forward, cross-entropy, backward, fused Adam: the training job's own `training_step`)
on random data, batch 64, after warm-up. It prints samples/s and seconds per step, the model's
FLOPs per training sample counted analytically from the layer sizes (forward matmul FLOPs of
every sweep's input and recurrent products and the FC layers; training = 3x forward), the FLOP/s
this throughput implies and its share of the machine's dense matmul rate (torch.mm on 4096 x 4096
float32 matrices), and:

- **own matmul**: the step's rate over the rate of its own matrix products timed alone. One step
  runs under the PyTorch profiler, which records every matrix product (aten::mm, addmm, bmm,
  baddbmm) with its shapes and dtypes; each distinct product is then timed by itself on fresh
  operands (best of 3) and the sum over the step's calls is divided by the step's time. 100 %
  would be a step that does nothing but its products at their stand-alone speed; the rest is
  elementwise work, copies, the optimizer and the products running slower inside the step.
  Products inside a fused kernel (the LSTM's oneDNN RNN under bf16-mixed) are not visible to the
  profiler, so the share is then shown as "-" (not measurable this way).
- **fp32/this**: fp32 step time over this precision's, in the same round (>1: faster than fp32).

Times are CPU-seconds of this process (time.process_time: every thread's time on a core), so
that other work on the machine slows them only through shared caches and memory bandwidth, not
by taking the cores: with --threads 1 they are core-seconds per step. Even so every rate moves
with the load, so each model runs in rounds (a matmul
probe, then each precision's steps for a few seconds); figures are medians (min-max) over rounds.
It also times, in the same rounds and in fp32, a version that runs one RNN call per column (and
per row) instead of one call per sweep, and, for the GRU models, the same model with PyTorch's
nn.GRU (`gru-reset-after`, the same weights) instead of the paper's GRU (`gru`,
rnnrepro.renet.paper_gru), and prints the ratios of step times.

Like the training command, it keeps freed memory for reuse (rnnrepro.allocator) unless run with
--system-allocator.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import resource
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

# libgomp spin-waits between the sweeps' many small ops; under CPU contention that is ruinous.
# renet-train sets the same default (see renet/commands.py); it must precede `import torch`.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from rnnrepro.allocator import reuse_freed_memory

if "--system-allocator" not in sys.argv:
    reuse_freed_memory()

import torch
import yaml
from torch.profiler import ProfilerActivity, profile

from rnnrepro.renet.dropout import dropout
from rnnrepro.renet.flops import INPUT_SHAPES, training_flops
from rnnrepro.renet.models import ModelSpec, ReNet
from rnnrepro.renet.settings import RenetSettings
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
                        settings: RenetSettings) -> None:
    """The per-column model computes the same function as the batched one (same weights)."""
    fast = ReNet(spec, shape, dropout=settings.dropout).eval()
    fast.load_state_dict(slow.state_dict())
    x = torch.randn(2, *shape)
    with torch.no_grad():
        torch.testing.assert_close(slow.eval()(x), fast(x), atol=1e-4, rtol=1e-4)


# --- measurements ----------------------------------------------------------------------------

PRECISIONS = ("fp32", "bf16-mixed")
MATMUL_OPS = {"aten::mm": torch.mm, "aten::addmm": torch.addmm, "aten::bmm": torch.bmm,
              "aten::baddbmm": torch.baddbmm}
MATMUL_OPS_ARITY = {"aten::mm": 2, "aten::bmm": 2, "aten::addmm": 3, "aten::baddbmm": 3}
DTYPES = {"float": torch.float32, "c10::BFloat16": torch.bfloat16, "double": torch.float64}
# The oneDNN RNN kernels a bf16-mixed LSTM runs: their products are invisible to the profiler.
FUSED_RNN_OPS = ("aten::mkldnn_rnn_layer", "aten::mkldnn_rnn_layer_backward")

Product = tuple[str, tuple[tuple[int, ...], ...], tuple[str, ...]]


class MatmulProbe:
    """FLOP/s of one torch.mm of two size x size float32 matrices (the machine's dense rate)."""

    def __init__(self, size: int = 4096):
        self.size = size
        self.a, self.b = torch.randn(size, size), torch.randn(size, size)
        torch.mm(self.a, self.b)

    def __call__(self) -> float:
        start = time.process_time()
        torch.mm(self.a, self.b)
        return 2 * self.size**3 / (time.process_time() - start)


def timed(step: Callable[[], object], seconds: float) -> float:
    """Seconds per step over at least one step and at least ``seconds``."""
    n, start = 0, time.process_time()
    while n == 0 or time.process_time() - start < seconds:
        step()
        n += 1
    return (time.process_time() - start) / n


def products_of(step: Callable[[], object]) -> tuple[Counter[Product], bool]:
    """Every matrix product one ``step`` runs, counted by (op, operand shapes, dtypes), and
    whether the step ran a fused RNN kernel whose products the profiler cannot see."""
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        step()
    calls: Counter[Product] = Counter()
    fused = False
    for event in prof.events():
        fused = fused or event.name in FUSED_RNN_OPS
        parent = event.cpu_parent
        if event.name in MATMUL_OPS and not (parent and parent.name in MATMUL_OPS):
            operands = MATMUL_OPS_ARITY[event.name]
            calls[(event.name, tuple(tuple(s) for s in event.input_shapes[:operands]),
                   tuple(event.input_dtypes[:operands]))] += 1
    return calls, fused



def products_alone(calls: Counter[Product], repeats: int = 3) -> float:
    """Seconds the products of ``calls`` take timed one by one on fresh operands (best of
    ``repeats`` each), summed over the calls."""
    total = 0.0
    for (op, shapes, dtypes), count in calls.items():
        operands = [torch.randn(shape).to(DTYPES[dtype]) for shape, dtype in zip(shapes, dtypes,
                                                                                  strict=True)]
        MATMUL_OPS[op](*operands)
        best = float("inf")
        for _ in range(repeats):
            start = time.process_time()
            MATMUL_OPS[op](*operands)
            best = min(best, time.process_time() - start)
        total += count * best
    return total


def make_step(model: ReNet, spec: ModelSpec, settings: RenetSettings, batch: int,
              precision: str = "fp32") -> Callable[[], object]:
    optimizer = make_optimizer(model, settings)
    shape = model.input_shape
    x, y = torch.randn(batch, *shape), torch.randint(0, 10, (batch,))
    gen = torch.Generator().manual_seed(0)
    return lambda: training_step(model, optimizer, x, y, gen, spec, settings,
                                 precision=precision)


def epoch_cost(name: str, entry: dict, config: dict, step_seconds: dict[str, float],
               batch: int) -> str:
    """One line: a ``name`` epoch's cost per precision (training steps of the config's training
    split, plus a forward pass over its validation split at a third of a training step's cost
    per image) and the GPU estimate from config.yaml's rate per GFLOP."""
    splits = config["data"][name]["splits"]
    train, validation = splits["train"], splits["validation"]
    minimum = config["renet"]["training"]["patience"] + 1
    cap = config["renet"]["training"]["max_epochs"]
    parts = []
    for precision, seconds in step_seconds.items():
        epoch = math.ceil(train / batch) * seconds + validation / batch * seconds / 3
        parts.append(f"{precision} {epoch / 3600:.2f} per epoch, {minimum * epoch / 3600:.1f} "
                     f"to {cap * epoch / 3600:.0f} in all")
    gflop = training_flops(entry, INPUT_SHAPES[name]) / 1e9 * (train + validation / 3)
    gpu = gflop * config["resources"]["renet_train"]["seconds_per"]["gpu"]["gflop"]
    parts.append(f"GPU (estimate) {gpu / 60:.0f} min per epoch, {minimum * gpu / 3600:.1f}-"
                 f"{cap * gpu / 3600:.0f} h")
    return f"{name:8} ({train:,} training images): " + "; ".join(parts)


def spread(values: list[float], fmt: str) -> str:
    """``median (min-max)``."""
    return (f"{format(statistics.median(values), fmt)} "
            f"({format(min(values), fmt)}-{format(max(values), fmt)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=[*INPUT_SHAPES, NARROW[0]],
                        choices=[*INPUT_SHAPES, NARROW[0]])
    parser.add_argument("--precisions", nargs="+", default=list(PRECISIONS), choices=PRECISIONS)
    parser.add_argument("--config", type=Path, default=CONFIG)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5,
                        help="rounds per model: a matmul probe, then timed training steps")
    parser.add_argument("--seconds", type=float, default=2.0,
                        help="minimum time of each precision's (and variant's) steps per round")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--no-per-column", action="store_true",
                        help="skip the one-RNN-call-per-column comparison")
    parser.add_argument("--no-gru-variant", action="store_true",
                        help="skip the paper GRU vs nn.GRU comparison")
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="torch threads (default: all cores)")
    parser.add_argument("--system-allocator", action="store_true",
                        help="leave freed memory to the system (the training command keeps it)")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    cfg = yaml.safe_load(args.config.read_text())["renet"]
    settings = RenetSettings.from_parts(cfg["training"])
    probe = MatmulProbe()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch "
          f"{args.batch_size}, {args.rounds} rounds per model (torch.mm 4096^2 float32 probe, "
          f"then >= {args.seconds:g} s of training steps per precision), {args.warmup} warm-up "
          f"steps; OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}, "
          f"{'system allocator' if args.system_allocator else 'freed memory reused'}")
    print(f"{'model':12} {'precision':10} {'s/step':>16} {'samples/s':>16} {'GFLOP/sample':>12} "
          f"{'GFLOP/s':>8} {'share of 4096^2':>16} {'own matmul':>11} {'fp32/this':>16} "
          f"{'per-column/batched':>18} {'paper GRU/nn.GRU':>17}")
    narrow = yaml.safe_load(NARROW[1].read_text())["renet"]["models"]["mnist"]
    config = yaml.safe_load(args.config.read_text())
    costs: list[str] = []
    for name in args.models:
        entry = narrow if name == NARROW[0] else cfg["models"][name]
        spec = ModelSpec.from_config(entry, f"renet.models.{name}")
        shape = INPUT_SHAPES[name.split("-")[0]]
        flops = training_flops(entry, shape) * args.batch_size  # per step
        steps, own = {}, {}
        for precision in args.precisions:
            torch.manual_seed(0)
            model = ReNet(spec, shape, dropout=settings.dropout,
                          recurrent_init=settings.recurrent_init).train()
            steps[precision] = make_step(model, spec, settings, args.batch_size, precision)
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
            gru_step = make_step(variant, variant.spec, settings, args.batch_size)
        for _ in range(args.warmup):
            for each in (*steps.values(), slow_step, gru_step):
                if each:
                    each()
        for precision, step in steps.items():
            calls, fused = products_of(step)
            own[precision] = None if fused else products_alone(calls)
        rates: list[float] = []
        times: dict[str, list[float]] = {precision: [] for precision in steps}
        shares: dict[str, list[float]] = {precision: [] for precision in steps}
        ratios, gru_ratios = [], []
        for _ in range(args.rounds):
            rates.append(probe())
            for precision, step in steps.items():
                times[precision].append(timed(step, args.seconds))
                shares[precision].append(flops / times[precision][-1] / rates[-1])
            base = times[args.precisions[0]][-1]
            if slow_step:
                ratios.append(timed(slow_step, args.seconds) / base)
            if gru_step:
                gru_ratios.append(base / timed(gru_step, args.seconds))
        for row, precision in enumerate(steps):
            step_times = times[precision]
            achieved = flops / statistics.median(step_times)
            own_share = ("-" if own[precision] is None else
                         f"{100 * own[precision] / statistics.median(step_times):.0f}%")
            versus = ([a / b for a, b in zip(times["fp32"], step_times, strict=True)]
                      if "fp32" in times else [])
            first = row == 0
            print(f"{name if first else '':12} {precision:10} {spread(step_times, '.3f'):>16} "
                  f"{spread([args.batch_size / t for t in step_times], '.1f'):>16} "
                  f"{flops / args.batch_size / 1e9:12.3f} {achieved / 1e9:8.1f} "
                  f"{spread([100 * s for s in shares[precision]], '.0f'):>15}% "
                  f"{own_share:>11} {spread(versus, '.2f') if versus else '-':>16} "
                  f"{spread(ratios, '.2f') if ratios and first else '-':>18} "
                  f"{spread(gru_ratios, '.2f') if gru_ratios and first else '-':>17}",
                  flush=True)
        del steps, slow_step, gru_step
        if name in INPUT_SHAPES:
            costs.append(epoch_cost(name, entry, config, {p: statistics.median(t)
                                                          for p, t in times.items()},
                                    args.batch_size))
    print("median (min-max) over rounds. share of 4096^2 = training FLOP/s / the float32 "
          "4096^2 matmul rate probed in the same round; own matmul = the step's own products "
          "timed alone / the step's time (see the module docstring); fp32/this = fp32 step time "
          "/ this precision's in the same round; per-column/batched = fp32 step time of one RNN "
          "call per column (and row) over the batched version's (>1: batching wins); paper "
          "GRU/nn.GRU = fp32 step time of the model with the paper's GRU over the same model "
          "with PyTorch's nn.GRU (<1: the paper's GRU is faster).")
    if costs:
        unit = "core-h" if args.threads == 1 else f"h at {args.threads} threads"
        print(f"\ncost of one epoch (training + validation) and to early stopping (at least "
              f"patience + 1 = {config['renet']['training']['patience'] + 1} epochs; the cap is "
              f"max_epochs = {config['renet']['training']['max_epochs']}), in {unit} from the "
              "step times above; GPU: ESTIMATED from config.yaml's "
              "resources.renet_train.seconds_per.gpu rate, not measured:")
        print("\n".join(costs))
    # ru_maxrss is in KiB on Linux. It covers the whole process (every model run and the
    # matmul probe's 4096 x 4096 matrices), so size a job from a run with one model.
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"peak RSS of this process: {peak_gib:.2f} GiB (config.yaml `resources.renet_train`)")


if __name__ == "__main__":
    main()
